#!/usr/bin/env bash
# Installs Swift for Linux, once per machine: a Debian trixie root with `swiftlang` (Debian bookworm has
# no Swift), built with debootstrap under ${XDG_CACHE_HOME:-$HOME/.cache}/quartier/swift-trixie and used
# through chroot by test-shells.sh. A complete root is reused as it is; an incomplete one (a run cut
# short) is thrown away and built again. Needs root (debootstrap, mount, chroot) and Debian's mirror.
#
# Usage: scripts/install-swift.sh        prints the root's path when it is ready
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/shells-common.sh"

MIRROR="${QUARTIER_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES="swiftlang,libc6-dev,libstdc++-14-dev,binutils"

if [[ -f "$SWIFT_ROOT_MARKER" ]]; then
    echo "$SWIFT_ROOT"
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    log "install-swift: building the Swift root needs root (debootstrap, mount, chroot)"
    exit 1
fi

mkdir -p "$QUARTIER_CACHE"
# One builder at a time per machine; a second run waits, then finds the root complete.
exec 9>"$QUARTIER_CACHE/swift-trixie.lock"
flock 9
if [[ -f "$SWIFT_ROOT_MARKER" ]]; then
    echo "$SWIFT_ROOT"
    exit 0
fi

if ! command -v debootstrap >/dev/null; then
    log "install-swift: installing debootstrap"
    apt-get install -y -q debootstrap >/dev/null 2>&1 || {
        apt-get update -q >/dev/null
        apt-get install -y -q debootstrap >/dev/null
    }
fi

PARTIAL="$SWIFT_ROOT.partial"
cleanup() {
    # debootstrap mounts /proc and /sys inside the root while it works; never leave them behind.
    unmount_under "$PARTIAL" || log "install-swift: could not unmount everything under $PARTIAL"
}
trap cleanup EXIT

for dir in "$PARTIAL" "$SWIFT_ROOT"; do
    if [[ -e "$dir" ]]; then
        # Never delete through a mount: a bind mount of the work tree would be deleted with it.
        if ! unmount_under "$dir"; then
            log "install-swift: $dir still has mounts; unmount them and run again"
            exit 1
        fi
        rm -rf --one-file-system "$dir"
    fi
done

log "install-swift: building a Debian trixie root with swiftlang in $SWIFT_ROOT (once per machine; a few minutes, about 3 GB)"
started=$SECONDS
if ! debootstrap --variant=minbase --include="$PACKAGES" trixie "$PARTIAL" "$MIRROR" >"$QUARTIER_CACHE/debootstrap.log" 2>&1; then
    log "install-swift: debootstrap failed; the last lines of $QUARTIER_CACHE/debootstrap.log:"
    tail -n 20 "$QUARTIER_CACHE/debootstrap.log" >&2
    exit 1
fi
unmount_under "$PARTIAL"
# Where test-shells.sh mounts the work tree and cargo's target folder.
mkdir -p "$PARTIAL/src" "$PARTIAL/target"
# Check that the compiler starts, the way test-shells.sh runs it (swift traps without /proc).
mount -t proc proc "$PARTIAL/proc"
chroot "$PARTIAL" env LD_LIBRARY_PATH=/usr/libexec/swift/lib/swift/linux swift --version >&2
umount "$PARTIAL/proc"
date -u +%Y-%m-%dT%H:%M:%SZ >"$PARTIAL/$(basename "$SWIFT_ROOT_MARKER")"
mv "$PARTIAL" "$SWIFT_ROOT"
log "install-swift: ready in $((SECONDS - started)) s"
echo "$SWIFT_ROOT"
