#!/usr/bin/env bash
# Builds libquartier_ffi.so for the Android ABIs with cargo-ndk, into a jniLibs folder
# (<out>/<abi>/libquartier_ffi.so), and generates the Kotlin bindings from an unstripped host build.
#
# Usage: android/build-native.sh [--dry-run] [--debug] [--out DIR] [--abi ABI]...
#        android/build-native.sh --host
#
#   --dry-run   check what is needed and print every command, without running any; exits 0 even when
#               something is missing (the report says what), so the logic can be checked anywhere.
#   --debug     the debug profile (faster to build, much larger); by default the ffi-release profile
#               (Cargo.toml), the one the apps ship.
#   --out DIR   the jniLibs folder (default: android/build/generated/uniffi/jniLibs, as build.gradle.kts).
#   --abi ABI   one of arm64-v8a, armeabi-v7a, x86_64, x86; all four when none is given.
#   --host      no NDK needed: builds the release library for this machine once (unstripped, so that
#               uniffi-bindgen can read its metadata), generates the Kotlin bindings from it, strips a copy
#               and prints the size of that copy: what one ABI weighs in an app.
#
# Needs (not for --host): the Android NDK (r26 or newer) in ANDROID_NDK_HOME, ANDROID_NDK_ROOT or
# $ANDROID_HOME/ndk/<version>; cargo-ndk; the Rust targets of the ABIs. It says what is missing and how
# to install it, and exits 3 then. Honours CARGO_TARGET_DIR.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/shells-common.sh"
cd "$QUARTIER_ROOT"

dry_run=false
host=false
profile=release
out="$QUARTIER_ROOT/android/build/generated/uniffi/jniLibs"
abis=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dry-run) dry_run=true ;;
        --host) host=true ;;
        --debug) profile=debug ;;
        --out) out="${2:?--out needs a folder}"; shift ;;
        --abi) abis+=("${2:?--abi needs an ABI}"); shift ;;
        -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) log "build-native: unknown argument $1 (see --help)"; exit 2 ;;
    esac
    shift
done
[[ ${#abis[@]} -gt 0 ]] || abis=(arm64-v8a armeabi-v7a x86_64 x86)

# The Rust target of each Android ABI.
rust_target() {
    case "$1" in
        arm64-v8a) echo aarch64-linux-android ;;
        armeabi-v7a) echo armv7-linux-androideabi ;;
        x86_64) echo x86_64-linux-android ;;
        x86) echo i686-linux-android ;;
        *) return 1 ;;
    esac
}
for abi in "${abis[@]}"; do
    rust_target "$abi" >/dev/null || { log "build-native: unknown ABI $abi (arm64-v8a, armeabi-v7a, x86_64 or x86)"; exit 2; }
done

# Prints a command, and runs it unless this is a dry run.
run() {
    printf '+ %s\n' "$*" >&2
    $dry_run || "$@"
}

# The shipped library is built with the ffi-release profile (Cargo.toml: the release settings, sized for
# a phone). It strips symbols, and with them the metadata uniffi-bindgen reads: the bindings come from
# the same profile unstripped.
UNSTRIPPED=(--profile ffi-release --config 'profile.ffi-release.strip="none"')
GENERATED_KOTLIN="$QUARTIER_ROOT/android/build/generated/uniffi/kotlin"

# Builds the unstripped host library and uniffi-bindgen, and generates the Kotlin bindings from it.
host_bindings() {
    run cargo build --quiet -p quartier-ffi --lib "${UNSTRIPPED[@]}"
    run cargo build --quiet -p quartier-ffi --features cli --bin uniffi-bindgen
    run "$CARGO_TARGET_DIR/debug/uniffi-bindgen" generate --config uniffi.toml --language kotlin \
        --out-dir "$GENERATED_KOTLIN" "$CARGO_TARGET_DIR/ffi-release/libquartier_ffi.so"
}

if $host; then
    host_bindings
    lib="$CARGO_TARGET_DIR/ffi-release/libquartier_ffi.so"
    stripped="$CARGO_TARGET_DIR/ffi-release/stripped/libquartier_ffi.so"
    run mkdir -p "$(dirname "$stripped")"
    run strip --strip-all -o "$stripped" "$lib"
    if ! $dry_run; then
        size() { stat -c %s "$1"; }
        mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
        printf 'release library for %s: %s unstripped, %s stripped (%s bytes: %s)\n' \
            "$(rustc -vV | sed -n 's/^host: //p')" "$(mib "$(size "$lib")")" "$(mib "$(size "$stripped")")" \
            "$(size "$stripped")" "$stripped"
    fi
    exit 0
fi

# What is needed, each with how to get it.
missing=()
ndk="${ANDROID_NDK_HOME:-${ANDROID_NDK_ROOT:-}}"
if [[ -z $ndk && -n ${ANDROID_HOME:-${ANDROID_SDK_ROOT:-}} ]]; then
    ndk="$(ls -d "${ANDROID_HOME:-$ANDROID_SDK_ROOT}"/ndk/* 2>/dev/null | sort -V | tail -1 || true)"
fi
if [[ -z $ndk || ! -d $ndk/toolchains/llvm ]]; then
    missing+=("the Android NDK (r26 or newer): install it with Android Studio's SDK Manager, or
      sdkmanager --install 'ndk;27.2.12479018'
    then export ANDROID_NDK_HOME=\$ANDROID_HOME/ndk/27.2.12479018${ndk:+ (now: $ndk, which has no toolchains/llvm)}")
fi
if ! cargo ndk --version >/dev/null 2>&1; then
    missing+=("cargo-ndk: cargo install cargo-ndk")
fi
installed_targets="$(rustup target list --installed 2>/dev/null || true)"
for abi in "${abis[@]}"; do
    target="$(rust_target "$abi")"
    grep -qx "$target" <<<"$installed_targets" || missing+=("the Rust target of $abi: rustup target add $target")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    log "build-native: cannot build for Android here; missing:"
    for thing in "${missing[@]}"; do log "  - $thing"; done
    if ! $dry_run; then exit 3; fi
    log "build-native: (dry run) the commands it would run:"
fi

targets=()
for abi in "${abis[@]}"; do targets+=(-t "$abi"); done
release=()
[[ $profile == release ]] && release=(--profile ffi-release)
# Android 8 (API 26) is the oldest the shell supports (build.gradle.kts: minSdk).
run cargo ndk --platform 26 "${targets[@]}" -o "$out" build "${release[@]}" -p quartier-ffi --lib
host_bindings
$dry_run || log "build-native: ${abis[*]} in $out; Kotlin bindings in $GENERATED_KOTLIN"
