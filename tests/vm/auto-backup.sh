#!/usr/bin/env bash
# Auto-backup on a real (emulated) USB stack, in one QEMU guest boot: udevd runs with the
# rule `mtpull install-udev` installed, `mtpull watch` waits, and this script plugs a phone
# in through QEMU's monitor (device_add usb-mtp), pulls it out in the middle of its 300 MiB
# video, checks that nothing half-written has a final name, plugs it back and checks that
# the backup resumed and completed byte-identical; then that udev tagged the device
# (uaccess, systemd) and asked for mtpull-backup@1-1.service. The guest side is
# tests/vm/guest/auto-backup.sh. About a minute on 2 cores, plus the first release build.
#
# usage: tests/vm/auto-backup.sh [OUTDIR]       (default target/vm/out/auto-backup)
#        MTPULL=path/to/mtpull tests/vm/auto-backup.sh   to skip `cargo build --release`
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$VM_DIR/setup.sh"
if [[ -z ${MTPULL:-} ]]; then
    (cd "$REPO_ROOT" && cargo build --release --quiet --bin mtpull)
    MTPULL=$REPO_ROOT/target/release/mtpull
fi
MTPULL=$(realpath "$MTPULL")
fixture=$("$VM_DIR/make-fixture.py" test)
manifest=$(dirname "$fixture")/manifest.json
out=${1:-$VM_CACHE/out/auto-backup}
rm -rf "$out"
mkdir -p "$out"
out=$(realpath "$out")
dest=$out/dest
monitor_socket=$(mktemp -u "${TMPDIR:-/tmp}/mtpull-qemu-monitor.XXXXXX")

say() { echo "auto-backup.sh: $*" >&2; }

# One HMP command; fails on QEMU's "Error:" answers.
monitor() {
    python3 - "$monitor_socket" "$*" <<'EOF'
import socket, sys
path, command = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX)
sock.settimeout(30)
sock.connect(path)
def until_prompt():
    data = b""
    while not data.endswith(b"(qemu) "):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")
until_prompt()
sock.sendall(command.encode() + b"\n")
reply = until_prompt()
if "Error" in reply:
    sys.exit(f"QEMU refused {command!r}: {reply}")
EOF
}

guest_pid=
finish() {
    local status=$?
    if [[ -n $guest_pid ]] && kill -0 "$guest_pid" 2>/dev/null; then
        monitor quit 2>/dev/null || true
        wait "$guest_pid" 2>/dev/null || true
    fi
    rm -f "$monitor_socket"
    if ((status != 0)); then
        say "FAILED; mtpull watch said:"
        cat "$out/watch.log" >&2 2>/dev/null || true
        say "logs in $out (vm/console.log, udev-monitor.log, watch.log)"
    fi
}
trap finish EXIT

# wait_until SECONDS WHAT COMMAND...: polls COMMAND every 0.1 s.
wait_until() {
    local tries=$(($1 * 10)) what=$2
    shift 2
    until "$@"; do
        if ((tries-- <= 0)); then
            say "gave up waiting for $what"
            return 1
        fi
        if ! kill -0 "$guest_pid" 2>/dev/null; then
            say "the guest ended while waiting for $what"
            return 1
        fi
        sleep 0.1
    done
}
watch_said() { grep -q -- "$1" "$out/watch.log" 2>/dev/null; }
count_lines() { grep -c -- "$1" "$out/watch.log" 2>/dev/null || true; }
# A download under way: a temp file of the video past 32 MiB.
copying_the_video() { [[ -n $(find "$dest/.mtpull/tmp" -type f -size +32M 2>/dev/null) ]]; }
plug() {
    local escaped=${fixture//,/,,}
    monitor "device_add usb-mtp,id=phone,bus=usbhc.0,port=1,rootdir=$escaped,readonly=on,desc=Phone"
}

started=$SECONDS
"$VM_DIR/run-guest.sh" --monitor "$monitor_socket" --out "$out" --timeout 420 \
    --env "MTPULL=$MTPULL" -- "$VM_DIR/guest/auto-backup.sh" >"$out/guest.stdout" &
guest_pid=$!

wait_until 120 "the guest to be ready" test -e "$out/ready"
say "guest ready after $((SECONDS - started)) s; plugging the phone in"
plug
wait_until 120 "the video's download to be under way" copying_the_video
say "pulling the phone out mid-copy"
monitor device_del phone
wait_until 60 "the backup to stop" watch_said "backup stopped"
python3 "$VM_DIR/auto-backup-check.py" cut "$manifest" "$dest"

say "plugging the phone back in"
plug
wait_until 240 "the resumed backup to finish" watch_said "backup finished"
python3 "$VM_DIR/auto-backup-check.py" complete "$manifest" "$dest"

touch "$out/inspect"
wait "$guest_pid"
guest_pid=
python3 "$VM_DIR/auto-backup-check.py" udev "$out"
say "passed in $((SECONDS - started)) s"
