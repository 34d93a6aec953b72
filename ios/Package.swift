// swift-tools-version:5.9
//
// The Swift shell of Quartier: the bindings generated from the Rust library (QuartierCore, over the C
// module QuartierCoreFFI), and a small Swift API over them (Quartier).
//
// The generated files are not committed: scripts/test-shells.sh generates
// Sources/QuartierCore/QuartierCore.swift and Sources/QuartierCoreFFI/QuartierCoreFFI.h from the built
// library, then runs `swift test` with the folder of libquartier_ffi in the linker's and the loader's
// search paths. In an app, the library comes as an XCFramework built for the iOS targets.
import Foundation
import PackageDescription

// In an app: the XCFramework that ios/build-xcframework.sh builds (Rust library for devices and
// simulators, with the C header). Without it (Linux, the tests): the library found by the linker,
// through the committed module map.
let xcframework = "build/QuartierCoreFFI.xcframework"
let packageDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
let ffiTarget: Target = FileManager.default.fileExists(atPath: "\(packageDir)/\(xcframework)")
    ? .binaryTarget(name: "QuartierCoreFFI", path: xcframework)
    : .systemLibrary(name: "QuartierCoreFFI", path: "Sources/QuartierCoreFFI")

let package = Package(
    name: "Quartier",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "Quartier", targets: ["Quartier"]),
    ],
    targets: [
        // The C declarations of the Rust library, and the library.
        ffiTarget,
        // The generated bindings.
        .target(name: "QuartierCore", dependencies: ["QuartierCoreFFI"], path: "Sources/QuartierCore"),
        // The Swift API the apps use.
        .target(name: "Quartier", dependencies: ["QuartierCore"], path: "Sources/Quartier"),
        .testTarget(name: "QuartierTests", dependencies: ["Quartier"], path: "Tests/QuartierTests"),
        // "Across the FFI": the cost of a call from Swift (bench/ffi.sh; smoke-run by scripts/test-shells.sh).
        .executableTarget(name: "QuartierFfiBench", dependencies: ["Quartier"], path: "Benchmarks/FfiBench"),
    ]
)
