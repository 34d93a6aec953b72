#!/usr/bin/env bash
# Runs the libFuzzer targets of fuzz/ (`mutation`, then `request`) for SECONDS each (default 120), with
# cargo-fuzz and the address sanitizer, and fails if either finds a crash, naming the input it wrote.
# Part of the long mode (tests/long), not of tests/run.
#
#   bash scripts/fuzz.sh [SECONDS]
#
# Works on stable Rust: RUSTC_BOOTSTRAP=1 lets it take the -Z flags cargo-fuzz passes (the sanitizer
# runtimes ship with the stable toolchain); a nightly toolchain works the same. Installs cargo-fuzz
# from crates.io when it is missing (about 2 CPU-minutes); the first build of the targets takes about
# 15 minutes on a busy 2-core machine.
#
# Both read the dictionary fuzz/quartier.dict (written by fuzz/make_corpus.py). The inputs libFuzzer finds go to a scratch corpus in the target folder ($CARGO_TARGET_DIR, or
# fuzz/target), kept from one run to the next; fuzz/corpus/ is only read. A crash is written under
# fuzz/artifacts/<target>/: replay it with
#   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run <target> artifacts/<target>/crash-…
# and, once fixed, add the minimised input (cargo fuzz tmin) where the stable replays read it
# (fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-120}"
case "$seconds" in
    '' | *[!0-9]*)
        echo "usage: bash scripts/fuzz.sh [SECONDS]   (seconds of fuzzing per target)" >&2
        exit 2
        ;;
esac

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "=== installing cargo-fuzz (cargo install --locked cargo-fuzz)"
    # Its own build folder, not the fuzz targets' (which build with sanitizer flags).
    CARGO_TARGET_DIR="$(mktemp -d)" cargo install --locked cargo-fuzz
fi

export RUSTC_BOOTSTRAP=1
cd fuzz
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
# The request target's SQLite file (a new one per input) goes to the temporary folder: one of ours,
# removed at the end, in memory when /dev/shm can hold it (a quarter faster than on disk).
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    scratch_tmp="$(mktemp -d -p /dev/shm quartier-fuzz.XXXXXX)"
else
    scratch_tmp="$(mktemp -d)"
fi
trap 'rm -rf "$scratch_tmp"' EXIT

failed=()
for target in mutation request; do
    extra=()
    if [ "$target" = request ]; then
        extra=(-max_len=65536)
    fi
    work_corpus="$target_dir/fuzz-corpus/$target"
    mkdir -p "$work_corpus" "artifacts/$target"
    marker="$scratch_tmp/before-$target"
    touch "$marker"
    echo "=== fuzz target $target: $seconds s from fuzz/corpus/$target (new inputs to $work_corpus)"
    # libFuzzer writes new inputs to the first folder and only reads the second.
    if TMPDIR="$scratch_tmp" cargo fuzz run "$target" "$work_corpus" "corpus/$target" -- \
        -max_total_time="$seconds" -dict=quartier.dict -print_final_stats=1 "${extra[@]}"; then
        echo "=== fuzz target $target: no crash in $seconds s"
    else
        failed+=("$target")
        found="$(find "artifacts/$target" -type f -newer "$marker" | sed "s|^|fuzz/|")"
        echo "=== fuzz target $target FAILED; what it found:" >&2
        echo "${found:-  (no artifact written: see the output above)}" >&2
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "=== fuzzing found a crash in: ${failed[*]} (inputs under fuzz/artifacts/, replay as above)" >&2
    exit 1
fi
echo "=== fuzzing: no crash in ${seconds} s per target"
