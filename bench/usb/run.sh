#!/usr/bin/env bash
# USB benchmark: mtpull against libmtp, gphoto2, the mtp-rs CLI and aft-mtp-cli, on QEMU's
# usb-mtp device and then on the simulated Android phone as a USB gadget (dummy_hcd, high
# speed: a 1 GiB file, 20,000 files), plus that phone over the in-process simulated link, all
# in one guest boot (bench/usb/guest.sh). Prints markdown tables (also kept in bench/out/).
#
# usage: bench/usb/run.sh [--runs N] [--peers "libmtp gphoto2 mtp-rs aft mtpull"]
#                         [--phases "qemu startup gadget-download gadget-list"]
#                         [--mtpull PATH] [--no-build] [--no-gadget] [--nice N] [--live]
#
# The guest runs at nice -15 (--nice to change): under TCG every other process on the host's
# two cores (a build, another guest) slows the emulated machine, and with it every figure.
# Not part of CI: one full run takes tens of minutes (the listings and the 1 GiB dominate).
# Needs the Rust package registry once, to build the mtp-rs CLI into target/peers (never
# committed).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
vm=$repo/tests/vm
runs=3 peers="libmtp gphoto2 mtp-rs aft mtpull" phases="qemu startup gadget-download gadget-list" mtpull=$repo/target/release/mtpull build=1 live=()
gadget=$repo/target/release/mtpull-gadget
niceness=-15
while (($#)); do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --peers) peers=$2; shift 2 ;;
        --phases) phases=$2; shift 2 ;;
        --mtpull) mtpull=$(realpath "$2"); build=0; shift 2 ;;
        --no-build) build=0; shift ;;
        --no-gadget) gadget=''; shift ;;
        --nice) niceness=$2; shift 2 ;;
        --live) live=(--live); shift ;;
        *) sed -n '7,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done

"$vm/setup.sh"
fixture=$("$vm/make-fixture.py" bench)

# The version a colleague measured first; pinned so figures stay comparable over time.
MTP_RS_VERSION=0.11.5
mtp_rs=$repo/target/peers/bin/mtp-rs
if [[ ! -x $mtp_rs ]] || [[ $("$mtp_rs" --version) != *" $MTP_RS_VERSION" ]]; then
    echo "run.sh: building mtp-rs-cli $MTP_RS_VERSION into target/peers" >&2
    cargo install --quiet --locked --root "$repo/target/peers" --version "$MTP_RS_VERSION" mtp-rs-cli
fi

if ((build)); then
    (cd "$repo" && cargo build --quiet --release)
fi

machine="$(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)),"
machine+=" $(free -g | awk '/^Mem:/ { print $2 }') GiB, guest under $(qemu-system-x86_64 --version | head -n 1 | cut -d'(' -f1)"
machine+="with TCG (no KVM), -smp 2 -m 2048, guest kernel $(basename "$("$vm/extract-kernel.sh")" | cut -d- -f2-4),"
machine+=" guest at nice $niceness, host load average at start $(cut -d' ' -f1 /proc/loadavg)"

if awk -v cores="$(nproc)" '{ exit !($1 > cores) }' /proc/loadavg; then
    echo "run.sh: warning: load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores;" \
        "other work slows the emulator, expect noisy figures" >&2
fi

out=$repo/bench/out/usb-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
date -u '+%Y-%m-%d %H:%M UTC' >"$out/started"
nice -n "$niceness" "$vm/run-guest.sh" "${live[@]}" \
    --fixture "$fixture/big" --desc "bench: big file" \
    --fixture "$fixture/tree" --desc "bench: tree" \
    --out "$out" --timeout 3600 \
    --env BENCH_RUNS="$runs" --env BENCH_PEERS="$peers" --env BENCH_PHASES="$phases" \
    --env MTP_RS="$mtp_rs" --env MTPULL="$mtpull" --env MTPULL_GADGET="$gadget" \
    -- "$repo/bench/usb/guest.sh"

python3 "$repo/bench/usb/report.py" "$out" "$machine" | tee "$out/report.md"
echo "(raw results: $out/results.tsv)" >&2
