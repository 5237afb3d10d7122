#!/usr/bin/env bash
# Inside the guest (run by tests/vm/multi-phone.sh and bench/multi/run.sh through
# run-guest.sh): `mtpull watch DEST` with all $VM_FIXTURE_COUNT usb-mtp devices of the boot
# plugged in from the start, until each device's backup has ended (its "backup finished",
# "backup stopped" or "not backed up" line); then Ctrl-C. ROUNDS (default 1) runs it again
# that many times into the same DEST.
#
#   $VM_OUT/watch-R.log    round R's log, each line after the moment it was written
#   $VM_OUT/ended-R.txt    one line per device whose backup ended: seconds since the watch
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

# Each log line gets the moment it was written ($EPOCHREALTIME: no process per line, which
# under TCG would take longer than the backups being timed).
stamped() {
    local line
    while IFS= read -r line; do
        printf '%s %s\n' "$EPOCHREALTIME" "$line"
    done
}

for round in $(seq 1 "$rounds"); do
    log=$out/watch-$round.log
    start=$EPOCHREALTIME
    "$mtpull" watch "$dest" 2> >(stamped >"$log") &
    watch_pid=$!
    deadline=$((SECONDS + patience))
    while ended=$(grep -cE -- "$ended_pattern" "$log" 2>/dev/null || true); ((${ended:-0} < count)); do
        if ((SECONDS > deadline)) || ! kill -0 "$watch_pid" 2>/dev/null; then
            echo "guest: round $round: not every backup ended; the watch said:" >&2
            cat "$log" >&2
            kill -INT "$watch_pid" 2>/dev/null || true
            exit 1
        fi
        sleep 0.2
    done
    kill -INT "$watch_pid"
    wait "$watch_pid" || true
    grep -E -- "$ended_pattern" "$log" |
        awk -v start="$start" '{ at = $1; $1 = ""; printf "%.2f%s\n", at - start, $0 }' >"$out/ended-$round.txt"
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
