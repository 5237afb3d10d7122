#!/usr/bin/env bash
# USB benchmark: mtpull against libmtp, gphoto2, the mtp-rs CLI and aft-mtp-cli, on QEMU's
# usb-mtp device, in one guest boot. Prints a markdown table (also kept in bench/out/).
#
# usage: bench/usb/run.sh [--runs N] [--peers "libmtp gphoto2 mtp-rs aft mtpull"]
#                         [--mtpull PATH] [--no-build] [--live]
#
# Not part of CI: one full run takes several minutes (the 10,000-file listings dominate).
# Needs crates.io once, to build the mtp-rs CLI into target/peers (never committed).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
vm=$repo/tests/vm
runs=3 peers="libmtp gphoto2 mtp-rs aft mtpull" mtpull=$repo/target/release/mtpull build=1 live=()
while (($#)); do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --peers) peers=$2; shift 2 ;;
        --mtpull) mtpull=$(realpath "$2"); build=0; shift 2 ;;
        --no-build) build=0; shift ;;
        --live) live=(--live); shift ;;
        *) sed -n '5,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
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
machine+=" host load average at start $(cut -d' ' -f1 /proc/loadavg)"

if awk -v cores="$(nproc)" '{ exit !($1 > cores) }' /proc/loadavg; then
    echo "run.sh: warning: load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores;" \
        "other work slows the emulator, expect noisy figures" >&2
fi

out=$repo/bench/out/usb-$(date -u +%Y%m%dT%H%M%SZ)
"$vm/run-guest.sh" "${live[@]}" \
    --fixture "$fixture/big" --desc "bench: big file" \
    --fixture "$fixture/tree" --desc "bench: tree" \
    --out "$out" --timeout 3600 \
    --env BENCH_RUNS="$runs" --env BENCH_PEERS="$peers" \
    --env MTP_RS="$mtp_rs" --env MTPULL="$mtpull" \
    -- "$repo/bench/usb/guest.sh"

python3 "$repo/bench/usb/report.py" "$out" "$machine" | tee "$out/report.md"
echo "(raw results: $out/results.tsv)" >&2
