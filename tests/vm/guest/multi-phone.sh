#!/usr/bin/env bash
# Inside the guest (run by tests/vm/multi-phone.sh and bench/multi/run.sh through
# run-guest.sh): `mtpull watch DEST` with all $VM_FIXTURE_COUNT usb-mtp devices of the boot
# plugged in from the start, until each device's backup has ended (its "backup finished",
# "backup stopped" or "not backed up" line); then Ctrl-C. ROUNDS (default 1) runs it again
# that many times into the same DEST.
#
#   $VM_OUT/watch-R.log    round R's log
#   $VM_OUT/ended-R.txt    one line per device, as its backup ended: seconds since the watch
#                          started, then its log line
# DEST (default /tmp/dest, the guest's tmpfs) and, with CHECK=1, the checks of
# tests/vm/multi-phone-check.py against every fixture afterwards.
set -euo pipefail

mtpull=${MTPULL:?set MTPULL to the mtpull binary}
out=${VM_OUT:?}
dest=${DEST:-/tmp/dest}
count=${VM_FIXTURE_COUNT:?}
rounds=${ROUNDS:-1}
patience=${PATIENCE:-400}
ended_pattern=': (backup finished|backup stopped|not backed up)'

for round in $(seq 1 "$rounds"); do
    log=$out/watch-$round.log
    ended=$out/ended-$round.txt
    : >"$ended"
    start=$(date +%s.%N)
    "$mtpull" watch "$dest" 2>"$log" &
    watch_pid=$!
    seen=0 deadline=$((SECONDS + patience))
    while ((seen < count)); do
        if ((SECONDS > deadline)) || ! kill -0 "$watch_pid" 2>/dev/null; then
            echo "guest: round $round: $seen of $count backups ended; the watch said:" >&2
            cat "$log" >&2
            kill -INT "$watch_pid" 2>/dev/null || true
            exit 1
        fi
        now=$(date +%s.%N)
        while IFS= read -r line; do
            awk -v now="$now" -v start="$start" -v line="$line" 'BEGIN { printf "%.2f %s\n", now - start, line }' >>"$ended"
            seen=$((seen + 1))
        done < <(grep -E -- "$ended_pattern" "$log" | tail -n +$((seen + 1)))
        sleep 0.1
    done
    kill -INT "$watch_pid"
    wait "$watch_pid" || true
    echo "guest: round $round: $count backups ended" >&2
done

if [[ ${CHECK:-0} == 1 ]]; then
    fixtures=()
    for n in $(seq 1 "$count"); do
        var=VM_FIXTURE_$n
        fixtures+=("$(dirname "${!var}")")
    done
    python3 "$(dirname "$0")/../multi-phone-check.py" "$dest" "$out" "$rounds" "${fixtures[@]}"
fi
