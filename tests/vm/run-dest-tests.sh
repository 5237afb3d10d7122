#!/usr/bin/env bash
# Kernel filesystems as DEST (CI runs it from scripts/test.sh): makes an empty vfat, exfat
# and ext4 image on the host (plain files: mkfs needs no loop device), attaches them to ONE
# guest as virtio disks beside QEMU's usb-mtp serving the "fat" fixture (names FAT refuses,
# a case-only clash), and runs tests/vm/guest/dest-fs-checks.sh there: a backup into each,
# a second backup. The host then checks each image with its fsck, reads the vfat and ext4
# images back without a mount (mcopy, debugfs) and compares every file with the guest's
# listing and the fixture (verify-dest-fs.py): each phone file once with its bytes, names
# safe for FAT, the clash kept apart, the manifest's rows, no leftovers, a rerun copying
# nothing.
#
# usage: tests/vm/run-dest-tests.sh [--no-build] [--live]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
vm=$repo/tests/vm
build=1 live=()
while (($#)); do
    case $1 in
        --no-build) build=0; shift ;;
        --live) live=(--live); shift ;;
        *) sed -n '12p' "$0" | sed 's/^# //' >&2; exit 2 ;;
    esac
done

bash "$vm/setup.sh"
for tool in mkfs.vfat mkfs.exfat mkfs.ext4 fsck.vfat fsck.exfat e2fsck mcopy debugfs; do
    command -v "$tool" >/dev/null || { echo "run-dest-tests: no $tool: run scripts/install-deps.sh" >&2; exit 1; }
done
cd "$repo"
if ((build)); then
    cargo build --quiet --release
fi
fixture_root=$(python3 "$vm/make-fixture.py" fat)
fixture=$(dirname "$fixture_root")

filesystems=(vfat exfat ext4)
out=$repo/target/vm/out/dest-fs
rm -rf "$out"
mkdir -p "$out/images"
disks=()
for fs in "${filesystems[@]}"; do
    image=$out/images/$fs.img
    truncate -s 256M "$image"
    case $fs in
        vfat) mkfs.vfat -F 32 -n MTPULL "$image" >/dev/null ;;
        exfat) mkfs.exfat -L MTPULL "$image" >/dev/null ;;
        ext4) mkfs.ext4 -q -F -L mtpull "$image" ;;
    esac
    disks+=(--disk "$image")
done

status=0
"$vm/run-guest.sh" "${live[@]}" --fixture "$fixture_root" "${disks[@]}" --out "$out" --timeout 600 \
    --env MTPULL="$repo/target/release/mtpull" --env DEST_FILESYSTEMS="${filesystems[*]}" \
    -- "$vm/guest/dest-fs-checks.sh" || status=$?
if ((status != 0)); then
    echo "run-dest-tests: the guest's script failed (exit $status); console above" >&2
    exit 1
fi
if ! python3 "$vm/verify-dest-fs.py" "$out" "$fixture" "${filesystems[@]}"; then
    echo "run-dest-tests: checks failed; the guest console follows" >&2
    cat "$out/vm/console.log" >&2
    exit 1
fi
echo "run-dest-tests: vfat, exfat and ext4 destinations passed" >&2
