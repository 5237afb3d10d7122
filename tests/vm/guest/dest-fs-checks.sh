#!/usr/bin/env bash
# Runs inside the guest, started by tests/vm/run-dest-tests.sh with the "fat" fixture on a
# usb-mtp device and one virtio disk per filesystem in $DEST_FILESYSTEMS (disk N holds the
# N-th, made empty on the host): mounts each as a desktop would, backs the phone up into a
# DEST folder there that does not exist yet, lists DEST (every file hashed, the manifest's
# rows), backs up again, lists again, and unmounts. Everything lands in $VM_OUT/checks for
# tests/vm/verify-dest-fs.py; a command that fails is recorded, not fatal.
#
#   MTPULL            the release binary
#   DEST_FILESYSTEMS  e.g. "vfat exfat ext4"
set -uo pipefail

out=$VM_OUT/checks
mkdir -p "$out"
log_tag=dest-fs-checks
vm=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/vm/guest/steps.sh
source "$vm/guest/steps.sh"
# shellcheck source=tests/vm/guest/disk.sh
source "$vm/guest/disk.sh"

step modules load_disk_modules
n=0
for fs in $DEST_FILESYSTEMS; do
    n=$((n + 1))
    node=$(disk_node "$n") || { echo 1 >"$out/mount-$fs.status"; continue; }
    mnt=/tmp/disk-$fs
    mkdir -p "$mnt"
    step "mount-$fs" mount -t "$fs" -o "$(mount_options "$fs")" "$node" "$mnt"
    grep " $mnt " /proc/mounts >"$out/mount-$fs.line"
    dest=$mnt/Photos
    step "backup-$fs" "$MTPULL" backup "$dest" --only all --json
    step "listing-$fs" "$vm/guest/dest-dump.sh" "$dest"
    step "backup-again-$fs" "$MTPULL" backup "$dest" --only all --json
    step "listing-again-$fs" "$vm/guest/dest-dump.sh" "$dest"
    step "umount-$fs" umount "$mnt"
done
log "done"
