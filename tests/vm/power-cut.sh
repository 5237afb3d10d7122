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
# First one uncut boot (a "whole" run, itself checked) measures how long the backup takes
# here; each cut then comes after a delay drawn uniformly from 0 to 1.25 times that long
# after the guest says the backup started (so some land after it ended, before writeback).
# Cuts alternate between lazy writeback (the guest holds un-fsynced data for a minute: only
# what mtpull fsynced survives) and the kernel's own.
#
# MTPULL=BINARY runs another build (with --no-build).
#
# usage: tests/vm/power-cut.sh [--cuts N] [--fs ext4|vfat|exfat] [--seed N] [--cache MODE]
#                              [--no-build] [--keep-going] [--delay-ms MS] [--span S]
# --delay-ms cuts every time that long after the start (to reproduce a cut); --span skips
# the uncut run and draws delays from 0 to S seconds.
# Results: target/vm/out/power-FS/results.jsonl (one line per cut) and a summary on stdout;
# a failing cut's two guest outputs and disk image are kept in failed-N/. Exit 1 if any
# cut broke an invariant.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
vm=$repo/tests/vm
cuts=3 fs=ext4 seed=$(($(od -An -N2 -tu2 /dev/urandom))) build=1 cache=unsafe keep_going=0 fixed_delay_ms='' span=''
while (($#)); do
    case $1 in
        --cuts) cuts=$2; shift 2 ;;
        --fs) fs=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --cache) cache=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        --keep-going) keep_going=1; shift ;;
        --delay-ms) fixed_delay_ms=$2; shift 2 ;;
        --span) span=$2; shift 2 ;;
        *) sed -n '23,24p' "$0" | sed 's/^# //' >&2; exit 2 ;;
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
work=$repo/target/vm/out/power-$fs
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

fsck_image() {
    case $fs in
        ext4) e2fsck -fn "$image" ;;
        vfat) fsck.vfat -n "$image" ;;
        exfat) fsck.exfat -n "$image" ;;
    esac >"$1" 2>&1
    echo $? >"$1.status"
}

# The calibration run: whole, uncut, checked like a cut's rerun (--span SECONDS skips it).
if [[ -z $span ]]; then
    reset
    boot whole whole default
    wait "$guest_pid" || { cat "$work/whole.log" >&2; echo "power-cut: the uncut run failed" >&2; exit 1; }
    phone_state "$work/whole/phone-after"
    fsck_image "$work/whole/fsck"
    python3 "$vm/verify-power.py" whole "$fixture" "$work/whole" --fs "$fs" >>"$results" ||
        { tail -n 1 "$results" >&2; exit 1; }
    span=$(<"$work/whole/checks/backup.seconds")
fi
echo "power-cut: an uncut backup --delete-after takes ${span}s here; cuts come up to 1.25 times that after it starts" >&2

failed=0
for ((n = 1; n <= cuts; n++)); do
    reset
    writeback=$( ((n % 2)) && echo lazy || echo default)
    # A delay in [0, 1.25 span] in milliseconds, from bash's seeded RANDOM (15 bits, twice):
    # about one cut in five comes after the backup has ended, before the guest's writeback.
    delay_ms=$(awk -v r=$(((RANDOM << 15) | RANDOM)) -v s="$span" 'BEGIN { printf "%d", r / 1073741824 * s * 1250 }')
    delay_ms=${fixed_delay_ms:-$delay_ms}
    # A boot that never starts the backup (a guest that did not come up) is no cut: again.
    for ((attempt = 1; ; attempt++)); do
        boot run run "$writeback"
        until [[ -f $work/run/checks/started ]] || ! kill -0 "$guest_pid" 2>/dev/null; do
            sleep 0.05
        done
        [[ -f $work/run/checks/started ]] && break
        wait "$guest_pid" || true
        echo "power-cut: cut $n: the guest never started the backup (attempt $attempt):" >&2
        tail -n 5 "$work/run.log" >&2
        ((attempt < 3)) || exit 1
        reset
    done
    sleep "$(awk -v ms="$delay_ms" 'BEGIN { printf "%.3f", ms / 1000 }')"
    kill -KILL "$(<"$work/run.pid")"
    wait "$guest_pid" || true
    # What the cut left: which of the phone's files the backup had deleted by then.
    phone_state "$work/run/phone-after"
    boot check check default
    wait "$guest_pid" || true
    phone_state "$work/check/phone-after"
    fsck_image "$work/check/fsck"
    if ! python3 "$vm/verify-power.py" cut "$fixture" "$work/run" "$work/check" \
        --fs "$fs" --cut "$n" --delay-ms "$delay_ms" --writeback "$writeback" >>"$results"; then
        failed=$((failed + 1))
        mkdir -p "$work/failed-$n"
        cp -a "$work/run" "$work/check" "$work/run.log" "$work/check.log" "$work/failed-$n/"
        cp --sparse=always "$image" "$work/failed-$n/disk.img"
        echo "power-cut: cut $n broke an invariant: $(tail -n 1 "$results")" >&2
        ((keep_going)) || break
    fi
    echo "power-cut: cut $n/$cuts done ($(tail -n 1 "$results" | cut -c1-160))" >&2
done
python3 "$vm/verify-power.py" summary "$results"
((failed == 0))
