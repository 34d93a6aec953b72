#!/usr/bin/env bash
# "Across the FFI" (issue 5): what a small call and a page of 50 records cost from Kotlin and from Swift,
# against the same calls in Rust, all measured in one run on one library:
#   - Rust, the baseline: `quartier-bench-ffi measure` (bench/src/bin), the functions uniffi wraps;
#   - Kotlin: android/src/bench, compiled by Maven with the tests, run with plain java (JNA);
#   - Swift: ios/Benchmarks/FfiBench, `swift build -c release` in the Debian root of the Swift tests
#     (needs root; left out with a note otherwise).
# Kotlin and Swift use bindings generated from LIBRARY, and load it. Prints a Markdown section (the
# table, the ratios to Rust) on stdout, or writes it to $QUARTIER_BENCH_FFI_OUT; everything else goes
# to stderr. bench/run appends it to BENCHMARKS.md.
#
# Usage: bench/ffi.sh [LIBRARY]
#   LIBRARY  an unstripped libquartier_ffi.so (uniffi-bindgen reads its metadata); by default the release
#            library built here with its symbols kept, as android/build-native.sh does.
# QUARTIER_BENCH_FFI_SMOKE=1 runs every program at a tiny size (to check this script; no real figures).
# QUARTIER_BENCH_FFI_LANGS="kotlin swift" picks the languages measured through the bindings.
# QUARTIER_BENCH_PROFILE is the Rust baseline's profile (release; bench-fast to iterate). Honours
# CARGO_TARGET_DIR.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/shells-common.sh"
cd "$QUARTIER_ROOT"
# Only the section goes to the caller's stdout (fd 3); Maven, cargo and the programs' chatter to stderr.
exec 3>&1 1>&2

profile="${QUARTIER_BENCH_PROFILE:-release}"
smoke=()
[[ -z ${QUARTIER_BENCH_FFI_SMOKE:-} ]] || smoke=(--smoke)
langs=" ${QUARTIER_BENCH_FFI_LANGS:-kotlin swift} "
step() { log "== ffi: $*"; }

library="${1:-}"
if [[ -z $library ]]; then
    step "building the release library with its symbols"
    cargo build --quiet --locked -p quartier-ffi --lib --profile ffi-release \
        --config 'profile.ffi-release.inherits="release"' --config 'profile.ffi-release.strip="none"'
    library="$CARGO_TARGET_DIR/ffi-release/libquartier_ffi.so"
fi
[[ -f $library ]] || { log "ffi.sh: no library at $library"; exit 2; }
library="$(cd "$(dirname "$library")" && pwd)/$(basename "$library")"
# How the report names it: its profile folder and file, e.g. ffi-release/libquartier_ffi.so.
library_name="$(basename "$(dirname "$library")")/$(basename "$library")"
[[ $library_name != ffi-release/* ]] || library_name="$library_name: the release settings, symbols kept"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The library where the JVM and the Swift root (/target) both load it, under the name the bindings ask for.
BENCH_DIR="$CARGO_TARGET_DIR/ffi-bench"
mkdir -p "$BENCH_DIR/lib"
cp "$library" "$BENCH_DIR/lib/libquartier_ffi.so"
notes=()
runtimes=()

step "the Rust baseline ($profile profile)"
cargo build --quiet --locked --profile "$profile" -p quartier-bench --bin quartier-bench-ffi
case "$profile" in dev | test) exe_dir=debug ;; bench) exe_dir=release ;; *) exe_dir="$profile" ;; esac
EXE="$CARGO_TARGET_DIR/$exe_dir/quartier-bench-ffi"
"$EXE" measure "${smoke[@]}" >"$work/rust.jsonl"

if [[ $langs == *" kotlin "* || $langs == *" swift "* ]]; then
    cargo build --quiet --locked -p quartier-ffi --features cli --bin uniffi-bindgen
    generated="$work/bindings"
    for language in kotlin swift; do
        "$CARGO_TARGET_DIR/debug/uniffi-bindgen" generate --no-format --config uniffi.toml --language "$language" \
            --out-dir "$generated" "$library" >/dev/null
    done
fi

if [[ $langs == *" kotlin "* ]]; then
    step "Kotlin on the JVM"
    KOTLIN_OUT="$QUARTIER_ROOT/android/target/generated-sources/uniffi"
    put "$generated/org/quartier/core/quartier.kt" "$KOTLIN_OUT/org/quartier/core/quartier.kt"
    (
        cd android
        mvn -q -B test-compile -Dquartier.generated.dir="$KOTLIN_OUT"
        mvn -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$work/classpath"
    ) 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g'
    java -Djna.library.path="$BENCH_DIR/lib" \
        -cp "android/target/test-classes:android/target/classes:$(cat "$work/classpath")" \
        org.quartier.bench.FfiBenchKt "${smoke[@]}" >"$work/kotlin.jsonl"
fi

if [[ $langs == *" swift "* ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        log "ffi.sh: Swift left out: its Debian root needs root (mount, chroot)"
        notes+=("Swift was not measured in this run: its toolchain's Debian root needs root (mount, chroot).")
    else
        step "Swift (release build, in the Debian root)"
        put "$generated/QuartierCore.swift" "$QUARTIER_ROOT/ios/Sources/QuartierCore/QuartierCore.swift"
        put "$generated/QuartierCoreFFI.h" "$QUARTIER_ROOT/ios/Sources/QuartierCoreFFI/QuartierCoreFFI.h"
        root="$(scripts/install-swift.sh)"
        rm -f "$BENCH_DIR/swift.jsonl" "$BENCH_DIR/swift.version"
        in_swift_root "$root" "cd /src/ios \
            && (swift --version 2>/dev/null | head -1 >/target/ffi-bench/swift.version) \
            && swift build -c release --product QuartierFfiBench --scratch-path /target/swift-build \
                -Xlinker -L/target/ffi-bench/lib >&2 \
            && /target/swift-build/release/QuartierFfiBench ${smoke[*]} >/target/ffi-bench/swift.jsonl" \
            LD_LIBRARY_PATH=/usr/libexec/swift/lib/swift/linux:/target/ffi-bench/lib
        cp "$BENCH_DIR/swift.jsonl" "$work/swift.jsonl"
        runtimes+=(--runtime "swift=$(cat "$BENCH_DIR/swift.version")")
    fi
fi

report=(report --library "$library_name")
for note in "${notes[@]}"; do
    report+=(--note "$note")
done
"$EXE" "${report[@]}" "${runtimes[@]}" "$work"/*.jsonl >"$work/section.md"
if [[ -n ${QUARTIER_BENCH_FFI_OUT:-} ]]; then
    cp "$work/section.md" "$QUARTIER_BENCH_FFI_OUT"
else
    cat "$work/section.md" >&3
fi
step "done"
