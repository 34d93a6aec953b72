#!/usr/bin/env bash
# Builds QuartierCoreFFI.xcframework (the Rust library for iOS devices and simulators, with the C header
# and module map of the generated bindings) and the generated Swift sources, for an app to use the Swift
# package of ios/ with the library in a binary target.
#
# Usage: ios/build-xcframework.sh [--dry-run] [--out DIR]
#
#   --dry-run   check what is needed and print every command, without running any; exits 0 even when
#               something is missing (the report says what), so the logic can be checked on Linux.
#   --out DIR   where the XCFramework goes (default: ios/build).
#
# Needs macOS with Xcode (xcodebuild, lipo) and the Rust targets aarch64-apple-ios, aarch64-apple-ios-sim
# and x86_64-apple-ios. It says what is missing and how to install it, and exits 3 then. The bindings
# are generated from an unstripped build for this Mac (the release profile strips the metadata
# uniffi-bindgen reads); the static libraries in the XCFramework are the release ones. Honours
# CARGO_TARGET_DIR.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/shells-common.sh"
cd "$QUARTIER_ROOT"

dry_run=false
out="$QUARTIER_ROOT/ios/build"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dry-run) dry_run=true ;;
        --out) out="${2:?--out needs a folder}"; shift ;;
        -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) log "build-xcframework: unknown argument $1 (see --help)"; exit 2 ;;
    esac
    shift
done

run() {
    printf '+ %s\n' "$*" >&2
    $dry_run || "$@"
}

DEVICE=aarch64-apple-ios
SIMULATORS=(aarch64-apple-ios-sim x86_64-apple-ios)

missing=()
if [[ $(uname -s) != Darwin ]]; then
    missing+=("macOS: iOS libraries are linked with Xcode's SDKs, which exist only on a Mac (this is $(uname -s))")
fi
if ! xcodebuild -version >/dev/null 2>&1; then
    missing+=("Xcode: install it from the App Store, then run: sudo xcode-select -s /Applications/Xcode.app")
fi
command -v lipo >/dev/null 2>&1 || missing+=("lipo: it comes with Xcode's command line tools (xcode-select --install)")
installed_targets="$(rustup target list --installed 2>/dev/null || true)"
for target in "$DEVICE" "${SIMULATORS[@]}"; do
    grep -qx "$target" <<<"$installed_targets" || missing+=("the Rust target $target: rustup target add $target")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    log "build-xcframework: cannot build for iOS here; missing:"
    for thing in "${missing[@]}"; do log "  - $thing"; done
    if ! $dry_run; then exit 3; fi
    log "build-xcframework: (dry run) the commands it would run:"
fi

lib=libquartier_ffi.a
staging="$CARGO_TARGET_DIR/xcframework"
headers="$staging/headers"
generated="$staging/swift"

# The static libraries: one for devices, one fat library for the two kinds of simulator.
for target in "$DEVICE" "${SIMULATORS[@]}"; do
    run cargo build --quiet --profile ffi-release -p quartier-ffi --lib --target "$target"
done
run mkdir -p "$staging/simulator" "$headers"
simulator_libs=()
for target in "${SIMULATORS[@]}"; do simulator_libs+=("$CARGO_TARGET_DIR/$target/ffi-release/$lib"); done
run lipo -create "${simulator_libs[@]}" -output "$staging/simulator/$lib"

# The bindings, from an unstripped build for this Mac.
run cargo build --quiet -p quartier-ffi --lib --profile ffi-release --config 'profile.ffi-release.strip="none"'
run cargo build --quiet -p quartier-ffi --features cli --bin uniffi-bindgen
run "$CARGO_TARGET_DIR/debug/uniffi-bindgen" generate --config uniffi.toml --language swift --out-dir "$generated" \
    "$CARGO_TARGET_DIR/ffi-release/libquartier_ffi.dylib"
# The XCFramework's headers: the C header and a module map named as the Swift code imports it.
run cp "$generated/QuartierCoreFFI.h" "$headers/"
run cp "$generated/QuartierCoreFFI.modulemap" "$headers/module.modulemap"

run rm -rf "$out/QuartierCoreFFI.xcframework"
run xcodebuild -create-xcframework \
    -library "$CARGO_TARGET_DIR/$DEVICE/ffi-release/$lib" -headers "$headers" \
    -library "$staging/simulator/$lib" -headers "$headers" \
    -output "$out/QuartierCoreFFI.xcframework"
run mkdir -p "$QUARTIER_ROOT/ios/Sources/QuartierCore"
run cp "$generated/QuartierCore.swift" "$QUARTIER_ROOT/ios/Sources/QuartierCore/QuartierCore.swift"
$dry_run || log "build-xcframework: $out/QuartierCoreFFI.xcframework; Swift bindings in ios/Sources/QuartierCore"
