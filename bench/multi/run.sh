#!/usr/bin/env bash
# Several phones at once: `mtpull watch DEST` with 1, 2 and 4 QEMU usb-mtp devices in one
# guest, each serving a phone of make-fixture.py's `phone` kind (a video of VIDEO_MIB MiB of
# its own, plus two small photos), DEST on the guest's tmpfs. For each count it prints the
# aggregate MB/s (all devices' bytes over the time until the last backup ended) and each
# device's share: its bytes, its own transfer rate and when it ended. The peer, in the same
# boot's conditions: one `mtpull backup` per device started at once, each into its own DEST
# (nothing shared, so nothing waits). One guest boot per row. Not part of CI.
#
# usage: bench/multi/run.sh [--devices "1 2 4"] [--video-mib 128] [--modes "watch separate"]
#                           [--mtpull PATH] [--nice N]
# Prints a markdown table (also kept in target/bench/multi/results.md), with the date and the
# host's load average.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
vm=$repo/tests/vm
devices="1 2 4" video_mib=128 modes="watch separate" mtpull='' niceness=0
while (($#)); do
    case $1 in
        --devices) devices=$2; shift 2 ;;
        --video-mib) video_mib=$2; shift 2 ;;
        --modes) modes=$2; shift 2 ;;
        --mtpull) mtpull=$(realpath "$2"); shift 2 ;;
        --nice) niceness=$2; shift 2 ;;
        *) sed -n '10,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done

"$vm/setup.sh"
if [[ -z $mtpull ]]; then
    (cd "$repo" && cargo build --release --quiet --bin mtpull)
    mtpull=$repo/target/release/mtpull
fi
out=$repo/target/bench/multi
mkdir -p "$out"
results=$out/results.md
{
    echo "bench/multi: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) host CPUs, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "video per phone: $video_mib MiB; guest: 2 vCPUs (TCG), DEST on the guest's tmpfs"
    echo
    echo "| mode | devices | bytes | until the last ended | aggregate | each device |"
    echo "|---|---|---|---|---|---|"
} | tee "$results"
for count in $devices; do
    fixtures=()
    for phone in $(seq 1 "$count"); do
        fixtures+=(--fixture "$("$vm/make-fixture.py" phone --phone "$phone" --video-mib "$video_mib")" --desc Phone)
    done
    for mode in $modes; do
        case $mode in
            watch) guest=$vm/guest/multi-phone.sh ;;
            separate) guest=$repo/bench/multi/guest-separate.sh ;;
            *) echo "run.sh: unknown mode $mode" >&2; exit 2 ;;
        esac
        run=$out/$mode-$count
        rm -rf "$run"
        nice -n "$niceness" "$vm/run-guest.sh" "${fixtures[@]}" --out "$run" --timeout 900 \
            --env "MTPULL=$mtpull" -- "$guest" >/dev/null
        python3 "$repo/bench/multi/report.py" "$mode" "$count" "$run/ended-1.txt" | tee -a "$results"
    done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$results"
