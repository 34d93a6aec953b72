# Shared settings of the shell scripts (sourced, not run): where the toolchains and the builds live.
#
# Every path can be overridden from the environment, so that CI, a developer and several worktrees on one
# machine can share the caches or keep them apart.

# The workspace root: the folder above scripts/.
QUARTIER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Cargo's target folder, as cargo itself picks it (an absolute path).
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$QUARTIER_ROOT/target}"
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$QUARTIER_ROOT/$CARGO_TARGET_DIR" ;; esac
export CARGO_TARGET_DIR
# Per-machine caches that outlive a work tree: the Swift root (about 3 GB) is built once per machine.
QUARTIER_CACHE="${QUARTIER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quartier}"
SWIFT_ROOT="${QUARTIER_SWIFT_ROOT:-$QUARTIER_CACHE/swift-trixie}"
# Written last by install-swift.sh: a root without it is incomplete and is built again.
SWIFT_ROOT_MARKER="$SWIFT_ROOT/.quartier-swift-root-complete"

log() { printf '%s\n' "$*" >&2; }

# Copies a generated file into place only if it changed, so that Maven and SwiftPM recompile only then.
put() {
    local from="$1" to="$2"
    mkdir -p "$(dirname "$to")"
    cmp -s "$from" "$to" || cp "$from" "$to"
}

# Lists the mount points at or below a folder, deepest first (so they can be unmounted in that order).
mounts_under() {
    local dir="$1"
    awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}

# Unmounts everything at or below a folder; fails if something stays mounted.
unmount_under() {
    local dir="$1" point
    for point in $(mounts_under "$dir"); do
        umount "$point" 2>/dev/null || umount -l "$point" || true
    done
    [[ -z "$(mounts_under "$dir")" ]]
}

# Runs a shell command in the Swift root (scripts/install-swift.sh builds it), with /proc, the work tree
# at /src and cargo's target folder at /target, one run at a time per machine (the mounts are shared by
# every run); the mounts are always released, also on failure or interruption. The command runs as
# root with a clean environment: PATH, HOME=/tmp, and the VAR=VALUE arguments given after it.
#
# Usage: in_swift_root ROOT COMMAND [VAR=VALUE]...     (in a subshell: the caller's traps stay its own)
in_swift_root() (
    set -euo pipefail
    local root="$1" command="$2" point i
    shift 2
    mkdir -p "$QUARTIER_CACHE"
    exec 8>"$QUARTIER_CACHE/swift-run.lock"
    flock 8
    # Mounts left by a run that was killed outright (kill -9) are released first.
    for point in proc src target; do
        unmount_under "$root/$point" || { log "in_swift_root: $root/$point is still mounted"; exit 1; }
    done
    mounted=()
    release() {
        for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
            umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" || log "in_swift_root: could not unmount ${mounted[i]}"
        done
        mounted=()
    }
    trap release EXIT
    trap 'exit 130' INT TERM
    mount_at() { mount "$@" && mounted+=("${@: -1}"); }
    mount_at -t proc proc "$root/proc"
    mount_at --bind "$QUARTIER_ROOT" "$root/src"
    mount_at --bind "$CARGO_TARGET_DIR" "$root/target"
    chroot "$root" env -i PATH=/usr/bin:/bin HOME=/tmp "$@" sh -c "$command"
)
