# shellcheck shell=bash
# Sourced by the guest's check scripts: each command's results kept for the host to verify.
# The caller sets $out (the folder results go to) and $log_tag.

log() { echo "${log_tag:-checks}: $*" >&2; }

# step NAME COMMAND...: NAME.out, NAME.err, NAME.status (and NAME.seconds) in $out.
step() {
    local name=$1 started status
    shift
    log "$name: $*"
    started=$(date +%s.%N)
    "$@" >"$out/$name.out" 2>"$out/$name.err"
    status=$?
    echo "$status" >"$out/$name.status"
    awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b - a }' >"$out/$name.seconds"
    log "$name: exit $status in $(<"$out/$name.seconds") s"
}

# The size of the largest temp file a backup into DEST is writing (0 if none).
part_bytes() {
    local bytes
    bytes=$(find "$1/.mtpull/tmp" -name '*.part' -printf '%s\n' 2>/dev/null | sort -n | tail -n 1)
    echo "${bytes:-0}"
}

# interrupt NAME DEST MIB ACTION COMMAND...: runs COMMAND (a backup into DEST) in the
# background until its temp file holds MIB MiB (or it exits, or 60 s pass), then runs
# ACTION (e.g. `kill -KILL $pid`, with $pid the command's), waits for the command and keeps
# NAME.out/.err/.status, and NAME.part-bytes: what the next run will resume from.
interrupt() {
    local name=$1 dest=$2 mib=$3 action=$4 tick
    shift 4
    log "$name: $*; at >= $mib MiB: $action"
    "$@" >"$out/$name.out" 2>"$out/$name.err" &
    pid=$!
    for ((tick = 0; tick < 600; tick++)); do
        if (($(part_bytes "$dest") >= mib << 20)) || ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    eval "$action"
    wait "$pid"
    echo "$?" >"$out/$name.status"
    part_bytes "$dest" >"$out/$name.part-bytes"
    log "$name: exit $(<"$out/$name.status"), temp file held $(<"$out/$name.part-bytes") bytes"
}
