#!/usr/bin/env bash
# Runs inside the guest, started by tests/vm/run-tests.sh: drives mtpull against the test
# fixture's usb-mtp device and leaves every command's output in $VM_OUT/checks/ for the
# host to verify (tests/vm/verify-checks.py). It judges nothing itself beyond what only the
# guest can see (how far a killed download got); a command that fails is recorded, not fatal.
#
#   MTPULL          the release binary (nusb)
#   MTPULL_LIBUSB   the same built with --features libusb
set -uo pipefail

out=$VM_OUT/checks
dest=$VM_OUT/dest
mkdir -p "$out"
rm -rf "$dest"

log() { echo "checks: $*" >&2; }

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

step devices "$MTPULL" devices
step ls "$MTPULL" ls -r --json
MTPULL_BACKEND=libusb step ls-libusb "$MTPULL_LIBUSB" ls -r --json

# Resume: back up only the video, and kill mtpull (no chance to clean up) once its temp
# file holds at least 64 MiB of the 300 MiB. The full backup that follows must finish it.
video_glob='**/VID_*.mp4'
part_dir=$dest/.mtpull/tmp
log "interrupted: backup --include '$video_glob', killed at >= 64 MiB"
"$MTPULL" backup "$dest" --only all --include "$video_glob" \
    >"$out/interrupted.out" 2>"$out/interrupted.err" &
pid=$!
part_bytes=0
for ((tick = 0; tick < 600; tick++)); do
    part_bytes=$(find "$part_dir" -name '*.part' -printf '%s\n' 2>/dev/null | sort -n | tail -n 1)
    part_bytes=${part_bytes:-0}
    if ((part_bytes >= 64 << 20)) || ! kill -0 "$pid" 2>/dev/null; then
        break
    fi
    sleep 0.1
done
kill -KILL "$pid" 2>/dev/null
wait "$pid"
echo "$?" >"$out/interrupted.status"
# What the next run will resume from (the file may have grown a little before the kill).
find "$part_dir" -name '*.part' -printf '%s\n' 2>/dev/null | sort -n | tail -n 1 >"$out/interrupted.part-bytes"
log "interrupted: temp file held $(<"$out/interrupted.part-bytes") bytes after the kill"

step backup "$MTPULL" backup "$dest" --only all
step backup-again "$MTPULL" backup "$dest" --only all

log "done"
