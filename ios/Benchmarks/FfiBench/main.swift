// "Across the FFI" (issue 5), from Swift: what a call into the Rust library costs through the generated
// bindings and through `QuartierStore`. bench/ffi.sh builds it with `-c release` and runs it next to the
// same program in Kotlin and the same calls in Rust (the baseline), and writes the report;
// scripts/test-shells.sh runs it with --smoke (debug build, tiny sizes) so that it never rots. No figure
// is ever asserted.
//
// It opens a store in a temporary folder, fills one neighbourhood with favours through the API, then
// times each call: a warm-up, then samples, each the mean time per call of a batch of calls. It prints
// one JSON line per call (`median_ns` and `p90_ns` are per call):
//
//     {"lang":"swift","call":"identity","batch":100,"samples":2000,"records":0,"median_ns":…,"p90_ns":…}
//
// Usage: QuartierFfiBench [--smoke]
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
let sizes: Sizes
switch arguments {
case []: sizes = .full
case ["--smoke"]: sizes = .smoke
default:
    FileHandle.standardError.write("usage: QuartierFfiBench [--smoke]\n".data(using: .utf8)!)
    exit(2)
}
do {
    try await bench(sizes)
} catch {
    FileHandle.standardError.write("QuartierFfiBench: \(error)\n".data(using: .utf8)!)
    exit(1)
}
