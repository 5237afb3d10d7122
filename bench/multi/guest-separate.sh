#!/usr/bin/env bash
# Inside the guest (bench/multi/run.sh): the peer of `watch` for several phones — one
# `mtpull backup` per device, all started at once, each into its own DEST (nothing is shared,
# so nothing waits). Writes $VM_OUT/ended-1.txt as tests/vm/guest/multi-phone.sh does:
# seconds since the start as each backup ended, then its summary line.
set -euo pipefail
mtpull=${MTPULL:?}
out=${VM_OUT:?}
count=${VM_FIXTURE_COUNT:?}
: >"$out/ended-1.txt"
start=$(date +%s.%N)
pids=()
for n in $(seq 1 "$count"); do
    (
        "$mtpull" backup --device "1-$n" "/tmp/dest-$n" >"$out/backup-$n.log" 2>&1
        awk -v now="$(date +%s.%N)" -v start="$start" -v line="1-$n: $(tail -n 1 "$out/backup-$n.log")" \
            'BEGIN { printf "%.2f %s\n", now - start, line }' >>"$out/ended-1.txt"
    ) &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
