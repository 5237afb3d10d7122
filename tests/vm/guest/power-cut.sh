#!/usr/bin/env bash
# Runs inside the guest, started by tests/vm/power-cut.sh, with a writable usb-mtp phone
# (readonly=off: its deletions land in the host folder at once) and DEST's disk as virtio
# disk 1. Results go to $VM_OUT/checks for the host.
#
#   power-cut.sh run     mounts DEST's filesystem, writes checks/started, then runs
#                        `mtpull backup DEST --delete-after --json` (its JSON lines stream to
#                        checks/backup.out, and each step it takes to checks/steps, so the
#                        host sees how far it got) and waits for the host to kill QEMU: an
#                        orderly end would sync the disk.
#   power-cut.sh whole   the same run, uncut, then lists DEST and unmounts (the calibration
#                        run: how long a backup takes here, and that it is right).
#   power-cut.sh check   after a cut: mounts (the kernel replays ext4's journal, as when
#                        the drive is plugged back in), lists DEST as the cut left it, runs
#                        the backup again to the end, lists DEST with its manifest, unmounts.
#
#   MTPULL      the release binary
#   DEST_FS     ext4 or vfat (or exfat)
#   WRITEBACK   lazy: the guest keeps dirty data and ext4 commits back for a minute, so a
#               cut loses all that mtpull did not fsync; default: the kernel's own timing
set -uo pipefail

mode=$1
out=$VM_OUT/checks
mkdir -p "$out"
log_tag=power-cut
vm=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/vm/guest/steps.sh
source "$vm/guest/steps.sh"
# shellcheck source=tests/vm/guest/disk.sh
source "$vm/guest/disk.sh"

load_disk_modules "$DEST_FS" || exit 1
node=$(disk_node 1) || exit 1
options=$(mount_options "$DEST_FS")
if [[ ${WRITEBACK:-default} == lazy ]]; then
    sysctl -q -w vm.dirty_expire_centisecs=6000 vm.dirty_writeback_centisecs=6000
    [[ $DEST_FS == ext4 ]] && options+=",commit=60"
fi
mnt=/tmp/disk
mkdir -p "$mnt"
step mount mount -t "$DEST_FS" -o "$options" "$node" "$mnt"
[[ $(<"$out/mount.status") == 0 ]] || exit 1
dest=$mnt/Photos

backup() {
    local started
    started=$(date +%s.%N)
    echo "$started" >"$out/started"
    MTPULL_FAULT_TRACE=$out/steps "$MTPULL" backup "$dest" --delete-after --json >"$out/backup.out" 2>"$out/backup.err"
    echo $? >"$out/backup.status"
    awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f\n", b - a }' >"$out/backup.seconds"
    log "backup: exit $(<"$out/backup.status") in $(<"$out/backup.seconds") s"
}

case $mode in
    run)
        backup
        # The power cut comes from the host; until then nothing else touches the disk.
        exec sleep infinity
        ;;
    whole)
        backup
        step listing "$vm/guest/dest-dump.sh" "$dest"
        ;;
    check)
        step after-cut "$vm/guest/dest-dump.sh" "$dest"
        # mtpull's state as the cut left it, and after the rerun: kept for a failing cut.
        cp -a "$dest/.mtpull" "$out/state-after-cut" 2>/dev/null
        step rerun "$MTPULL" backup "$dest" --delete-after --json
        step listing "$vm/guest/dest-dump.sh" "$dest"
        cp -a "$dest/.mtpull" "$out/state-after-rerun" 2>/dev/null
        ;;
    *)
        echo "usage: power-cut.sh run|whole|check" >&2
        exit 2
        ;;
esac
step umount umount "$mnt"
