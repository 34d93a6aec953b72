#!/usr/bin/env bash
# Tests the Kotlin and Swift shells against the real Rust library, on Linux:
#   0. checks the README's samples against the test sources, and the Android and iOS build scripts'
#      plans (--dry-run);
#   1. builds quartier-ffi (debug), the workspace's uniffi-bindgen and quartier-server;
#   2. generates the Kotlin and Swift bindings from the built library (they are never committed);
#   2b. starts the real sync server on 127.0.0.1:0 (a fresh SQLite folder) for the story tests, reads the
#      address it prints, and stops it at the end;
#   3. runs the Kotlin tests with Maven (JUnit 5) on the JVM, the FFI benchmark's smoke test among them;
#   4. runs the Swift tests with `swift test` in a Debian trixie root (scripts/install-swift.sh builds
#      it once per machine and this script reuses it), then the Swift FFI benchmark at a tiny size
#      (bench/ffi.sh runs both benchmarks at full size).
# Fails if either fails. Honours CARGO_TARGET_DIR. Needs root for the Swift part (mount, chroot).
#
# Usage: scripts/test-shells.sh [kotlin|swift]...     (both when none is named)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/shells-common.sh"
cd "$QUARTIER_ROOT"

shells=("$@")
[[ ${#shells[@]} -gt 0 ]] || shells=(kotlin swift)
for shell in "${shells[@]}"; do
    [[ $shell == kotlin || $shell == swift ]] || { log "test-shells: unknown shell $shell (kotlin or swift)"; exit 2; }
done
wants() { [[ " ${shells[*]} " == *" $1 "* ]]; }

LIB_DIR="$CARGO_TARGET_DIR/debug"
LIB="$LIB_DIR/libquartier_ffi.so"
BINDGEN="$LIB_DIR/uniffi-bindgen"
SERVER_BIN="$LIB_DIR/quartier-server"
KOTLIN_OUT="$QUARTIER_ROOT/android/target/generated-sources/uniffi"
SWIFT_FFI="$QUARTIER_ROOT/ios/Sources/QuartierCoreFFI"
SWIFT_OUT="$QUARTIER_ROOT/ios/Sources/QuartierCore"

step() { log "== $*"; }

step "checking that the README's samples are the code the tests compile"
python3 scripts/readme-samples.py

step "checking the native build scripts (dry run: no NDK, no Xcode here)"
# Each must say what is missing, and still plan every ABI and every step.
plan="$(bash android/build-native.sh --dry-run 2>&1)" || { log "$plan"; exit 1; }
for abi in arm64-v8a armeabi-v7a x86_64 x86; do
    grep -q -- "^+ cargo ndk .*-t $abi " <<<"$plan" || { log "$plan"; log "test-shells: build-native.sh plans no $abi"; exit 1; }
done
grep -q -- "--language kotlin .*ffi-release/libquartier_ffi.so" <<<"$plan" \
    || { log "$plan"; log "test-shells: build-native.sh does not generate the bindings from the unstripped library"; exit 1; }
plan="$(bash ios/build-xcframework.sh --dry-run 2>&1)" || { log "$plan"; exit 1; }
grep -q -- "^+ xcodebuild -create-xcframework" <<<"$plan" || { log "$plan"; log "test-shells: build-xcframework.sh plans no XCFramework"; exit 1; }
if [[ $(uname -s) != Darwin ]]; then
    grep -q "missing:" <<<"$plan" || { log "$plan"; log "test-shells: build-xcframework.sh does not say what is missing"; exit 1; }
fi

step "building quartier-ffi, uniffi-bindgen, quartier-server and hold-lock (debug) in $CARGO_TARGET_DIR"
# One build for all: the bindgen needs the `cli` feature, and the library is the same with or without it.
# The storage fault tests of both shells have another process hold a database's lock: hold-lock.
cargo build --quiet -p quartier-ffi -p quartier-server -p quartier-e2e --features quartier-ffi/cli --lib \
    --bin uniffi-bindgen --bin quartier-server --bin hold-lock

# The sync server of the story tests: a fresh database, a port the system picks, and rate limits wide
# enough for the test devices that all register from 127.0.0.1.
SERVER_DIR="$(mktemp -d)"
SERVER_PID=""
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
    rm -rf "$SERVER_DIR"
}
trap stop_server EXIT
"$SERVER_BIN" serve --data "$SERVER_DIR/data" --listen 127.0.0.1:0 --rate-per-minute 10000 --rate-burst 10000 \
    2>"$SERVER_DIR/log" &
SERVER_PID=$!
SERVER_URL=""
for _ in $(seq 300); do
    SERVER_URL="$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$SERVER_DIR/log" | head -1 | sed 's/^listening on //' || true)"
    [[ -n $SERVER_URL ]] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        log "test-shells: quartier-server did not start:"; cat "$SERVER_DIR/log" >&2; exit 1
    fi
    sleep 0.1
done
[[ -n $SERVER_URL ]] || { log "test-shells: quartier-server printed no address in 30 s:"; cat "$SERVER_DIR/log" >&2; exit 1; }
step "sync server for the story tests at $SERVER_URL"

# Generates the bindings of one language into a fresh temporary folder, and prints its path.
generate() {
    local out
    out="$(mktemp -d)"
    "$BINDGEN" generate --no-format --config uniffi.toml --language "$1" --out-dir "$out" "$LIB" >/dev/null
    echo "$out"
}

failed=()

if wants kotlin; then
    step "generating the Kotlin bindings"
    out="$(generate kotlin)"
    put "$out/org/quartier/core/quartier.kt" "$KOTLIN_OUT/org/quartier/core/quartier.kt"
    rm -rf "$out"
    step "testing the Kotlin shell (Maven, JUnit 5)"
    rm -rf android/target/surefire-reports
    # (Maven 3.8 still writes colour codes around its quiet output: they are stripped.)
    if ! (cd android && mvn -q -B test -Dquartier.library.dir="$LIB_DIR" -Dquartier.generated.dir="$KOTLIN_OUT" \
        -Dquartier.server.url="$SERVER_URL" \
        2>&1 | sed -e 's/\x1b\[[0-9;]*m//g'); then
        failed+=(kotlin)
    fi
    # Maven is quiet on success: show Surefire's count.
    cat android/target/surefire-reports/*.txt 2>/dev/null | grep -h '^Tests run:' || true
fi

if wants swift; then
    step "generating the Swift bindings"
    out="$(generate swift)"
    # The Swift sources go to the QuartierCore target; the C header to the system-library target, whose
    # module.modulemap (committed) also links the Rust library.
    put "$out/QuartierCore.swift" "$SWIFT_OUT/QuartierCore.swift"
    put "$out/QuartierCoreFFI.h" "$SWIFT_FFI/QuartierCoreFFI.h"
    rm -rf "$out"

    step "testing the Swift shell (swift test in a Debian trixie root)"
    if [[ $(id -u) -ne 0 ]]; then
        log "test-shells: the Swift tests need root (mount, chroot)"
        exit 1
    fi
    root="$(scripts/install-swift.sh)"
    # SwiftPM's build folder lives in cargo's target folder, so it is reused between runs and never in
    # the work tree. Swift Testing is off: the tests are XCTest, and it would only add "0 tests passed".
    # Then the FFI benchmark (bench/ffi.sh) runs at a tiny size, so that it never rots.
    if ! in_swift_root "$root" 'cd /src/ios \
        && swift test --disable-swift-testing --scratch-path /target/swift-build -Xlinker -L/target/debug \
        && echo "== the Swift FFI benchmark, smoke run" >&2 \
        && swift build --product QuartierFfiBench --scratch-path /target/swift-build -Xlinker -L/target/debug \
        && /target/swift-build/debug/QuartierFfiBench --smoke >&2' \
        QUARTIER_SERVER_URL="$SERVER_URL" LD_LIBRARY_PATH=/usr/libexec/swift/lib/swift/linux:/target/debug; then
        failed+=(swift)
    fi
fi

stop_server
trap - EXIT

if [[ ${#failed[@]} -gt 0 ]]; then
    log "test-shells: FAILED: ${failed[*]}"
    exit 1
fi
log "test-shells: ${shells[*]} passed"
