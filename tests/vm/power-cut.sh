#!/usr/bin/env bash
# Power cuts, for real: `mtpull backup DEST --delete-after` in a QEMU guest, DEST on a
# filesystem on a virtio disk, the phone QEMU's usb-mtp with readonly=off serving a host
# folder (its DeleteObject removes the host file before it answers: hw/usb/dev-mtp.c), and
# QEMU itself killed with SIGKILL at a random moment of the backup. Then a second boot on
# the same disk image mounts it, lists DEST as the cut left it, runs the backup again to
# the end and lists DEST with its manifest; verify-power.py checks both against what the
# phone folder still held after the cut. Each cut costs two boots; the phone folder and
# the disk image are made afresh for the next.
#
# A kill of QEMU loses what the guest had not yet handed to its disk: its page cache, and
# virtio requests QEMU had not carried out. What QEMU already wrote to the image file
# survives (the host kept running), so this models a disk that loses no write it has
# acknowledged; a disk that also drops its own volatile cache is not modelled.
#
# First one uncut boot (a "whole" run, itself checked) records the backup's progress: the
# steps mtpull traces (MTPULL_FAULT_TRACE: every file-system step, manifest commit and
# deletion from the phone) and when the host saw each. Each cut then aims at a phase drawn
# evenly from: before the first file, copying a file, filing, the manifest's commit,
# deleting from the phone, after the backup ended — a step of that phase, and a point
# between it and the next — and power_watch.py kills QEMU when the live backup gets
# there (its pace, not the clock: under load the cuts still spread over the whole run).
# Cuts alternate between lazy writeback (the guest holds un-fsynced data for a minute: only
# what mtpull fsynced survives) and the kernel's own.
#
# MTPULL=BINARY runs another build (with --no-build).
#
# usage: tests/vm/power-cut.sh [--cuts N] [--fs ext4|vfat|exfat] [--seed N] [--cache MODE]
#                              [--no-build] [--keep-going] [--out DIR]
# --out DIR works there instead of target/vm/out/power-FS (two runs at once, each its own).
# Results: DIR/results.jsonl (one line per run: the uncut one, then each cut) and a
# summary on stdout; a failing cut's two guest outputs and disk image are kept in
# failed-N/. Exit 1 if any run broke an invariant.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
vm=$repo/tests/vm
cuts=3 fs=ext4 seed=$(($(od -An -N2 -tu2 /dev/urandom))) build=1 cache=unsafe keep_going=0 work=''
while (($#)); do
    case $1 in
        --cuts) cuts=$2; shift 2 ;;
        --fs) fs=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --cache) cache=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        --keep-going) keep_going=1; shift ;;
        --out) work=$(realpath -m "$2"); shift 2 ;;
        *) sed -n '/^# usage/,/^# --out/p' "$0" | sed 's/^# //' >&2; exit 2 ;;
    esac
done

bash "$vm/setup.sh"
for tool in "mkfs.$fs" e2fsck fsck.vfat fsck.exfat; do
    command -v "$tool" >/dev/null || { echo "power-cut: no $tool: run scripts/install-deps.sh" >&2; exit 1; }
done
cd "$repo"
if ((build)); then
    cargo build --quiet --release
fi
fixture_root=$(python3 "$vm/make-fixture.py" power)
fixture=$(dirname "$fixture_root")
work=${work:-$repo/target/vm/out/power-$fs}
rm -rf "$work"
mkdir -p "$work"
phone=$work/phone image=$work/disk.img results=$work/results.jsonl
RANDOM=$seed
echo "power-cut: $cuts cuts on $fs, cache=$cache, seed $seed; results in $results" >&2

# A fresh phone (the fixture, mtimes kept: they are the device's dates) and an empty disk.
reset() {
    rm -rf "$phone" "$image"
    cp -a "$fixture_root" "$phone"
    truncate -s 256M "$image"
    case $fs in
        ext4) mkfs.ext4 -q -F -L mtpull "$image" ;;
        vfat) mkfs.vfat -F 32 -n MTPULL "$image" >/dev/null ;;
        exfat) mkfs.exfat -L MTPULL "$image" >/dev/null ;;
        *) echo "power-cut: unknown filesystem $fs" >&2; exit 2 ;;
    esac
}

# boot NAME MODE WRITEBACK: a guest on the phone and the disk, in the background; its pid
# in $guest_pid, QEMU's pid (once it runs) in $work/NAME.pid.
boot() {
    # A folder of an earlier boot would hand its "started" to this one.
    rm -rf "$work/$1" "$work/$1.pid"
    "$vm/run-guest.sh" --rw --fixture "$phone" --desc "power phone" --disk "$image" \
        --disk-cache "$cache" --pidfile "$work/$1.pid" --out "$work/$1" --timeout 900 \
        --env MTPULL="${MTPULL:-$repo/target/release/mtpull}" --env DEST_FS="$fs" --env WRITEBACK="$3" \
        -- "$vm/guest/power-cut.sh" "$2" >"$work/$1.log" 2>&1 &
    guest_pid=$!
}

# The host's view of the phone: path and SHA-256 of every file in its folder.
phone_state() {
    (cd "$phone" && find . -type f -printf '%P\0' | sort -z | xargs -0 -r sha256sum) >"$1"
}

# fsck_image FILE: the image's fsck (read-only) in FILE, its exit status in FILE.status (a
# FAT left dirty by a cut is reported, not fatal: verify-power.py decides).
fsck_image() {
    local status=0
    case $fs in
        ext4) e2fsck -fn "$image" ;;
        vfat) fsck.vfat -n "$image" ;;
        exfat) fsck.exfat -n "$image" ;;
    esac >"$1" 2>&1 || status=$?
    echo "$status" >"$1.status"
}

# start NAME MODE WRITEBACK: boots a guest and waits until it has started the backup
# (checks/started); a boot that never gets there (a guest that did not come up) is
# retried on a fresh phone and disk, twice.
start() {
    local attempt
    for ((attempt = 1; ; attempt++)); do
        boot "$@"
        until [[ -f $work/$1/checks/started ]] || ! kill -0 "$guest_pid" 2>/dev/null; do
            sleep 0.05
        done
        [[ -f $work/$1/checks/started ]] && return
        wait "$guest_pid" || true
        echo "power-cut: $1: the guest never started the backup (attempt $attempt):" >&2
        tail -n 5 "$work/$1.log" >&2
        ((attempt < 3)) || exit 1
        reset
    done
}

# The uncut run: whole, checked like a cut's rerun; its trace is the map the cuts aim by.
reset
start whole whole default
python3 "$vm/power_watch.py" record "$work/whole" "$work/whole.pid" || true
wait "$guest_pid" || { cat "$work/whole.log" >&2; echo "power-cut: the uncut run failed" >&2; exit 1; }
phone_state "$work/whole/phone-after"
fsck_image "$work/whole/fsck"
python3 "$vm/verify-power.py" whole "$fixture" "$work/whole" --fs "$fs" >>"$results" ||
    { tail -n 1 "$results" >&2; exit 1; }
echo "power-cut: the uncut backup --delete-after took $(<"$work/whole/checks/backup.seconds") s" \
    "and $(wc -l <"$work/whole/checks/steps") steps" >&2

failed=0
for ((n = 1; n <= cuts; n++)); do
    reset
    writeback=$( ((n % 2)) && echo lazy || echo default)
    cut_seed=$(((RANDOM << 15) | RANDOM))
    start run run "$writeback"
    python3 "$vm/power_watch.py" cut "$work/run" "$work/run.pid" "$work/whole/timeline.json" --seed "$cut_seed" >/dev/null ||
        { kill -KILL "$(<"$work/run.pid")" 2>/dev/null; echo "power-cut: cut $n: the watcher failed" >&2; exit 1; }
    wait "$guest_pid" || true
    # What the cut left: which of the phone's files the backup had deleted by then.
    phone_state "$work/run/phone-after"
    boot check check default
    wait "$guest_pid" || true
    phone_state "$work/check/phone-after"
    fsck_image "$work/check/fsck"
    if ! python3 "$vm/verify-power.py" cut "$fixture" "$work/run" "$work/check" \
        --fs "$fs" --cut "$n" --seed "$cut_seed" --writeback "$writeback" >>"$results"; then
        failed=$((failed + 1))
        mkdir -p "$work/failed-$n"
        cp -a "$work/run" "$work/check" "$work/run.log" "$work/check.log" "$work/failed-$n/"
        cp --sparse=always "$image" "$work/failed-$n/disk.img"
        echo "power-cut: cut $n broke an invariant: $(tail -n 1 "$results")" >&2
        ((keep_going)) || break
    fi
    echo "power-cut: cut $n/$cuts done ($(tail -n 1 "$results" | cut -c1-200))" >&2
done
python3 "$vm/verify-power.py" summary "$results"
((failed == 0))
