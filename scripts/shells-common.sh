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
