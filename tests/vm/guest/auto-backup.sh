#!/usr/bin/env bash
# Inside the guest (run by tests/vm/auto-backup.sh through run-guest.sh): udevd running with
# mtpull's rule installed by `mtpull install-udev`, and `mtpull watch` backing up whatever
# the host hot-plugs through QEMU's monitor. The host drives and checks; this side reports:
#
#   $VM_OUT/ready              udevd, the rule and the watch are up: plug the phone in
#   $VM_OUT/udev-monitor.log   every usb uevent udev processed, with its properties and tags
#   $VM_OUT/watch.log          mtpull watch's log lines
#   $VM_OUT/inspect            (written by the host) the phone is plugged in, its backup done:
#                              record what udev made of it, stop the watch, end
#   $VM_OUT/udev-info.txt, udev-test.txt, watch.status, install-udev.log
#   $VM_OUT/unit.log, unit.status  the command mtpull-backup@1-1.service would run, run by hand
#
# The guest has no systemd, so the unit the rule asks for cannot start; the rule's work
# shows in udev's database and events (TAGS, SYSTEMD_USER_WANTS), and `mtpull watch` does
# the backup.
set -euo pipefail

mtpull=${MTPULL:?set MTPULL to the mtpull binary}
out=${VM_OUT:?}
dest=$out/dest
log() { echo "guest: $*" >&2; }

wait_for_file() { # wait_for_file PATH SECONDS
    local tries=$(($2 * 10))
    while [[ ! -e $1 ]] && ((tries-- > 0)); do sleep 0.1; done
    [[ -e $1 ]]
}

# systemd's tools refuse to act in a chroot (which this is) unless told it is meant.
export SYSTEMD_IGNORE_CHROOT=1

# The host's root is read-only here: udev's and systemd's local folders become tmpfs, so
# that install-udev writes into them as it would on a real system.
mount -t tmpfs mtpull-rules /etc/udev/rules.d
mkdir -p /etc/systemd/user
mount -t tmpfs mtpull-units /etc/systemd/user

/lib/systemd/systemd-udevd --daemon
udevadm settle --timeout=10 || true
udevadm monitor --udev --property --subsystem-match=usb >"$out/udev-monitor.log" 2>&1 &
monitor_pid=$!

"$mtpull" install-udev >"$out/install-udev.log" 2>&1
log "installed: $(tr '\n' ' ' <"$out/install-udev.log")"

"$mtpull" config init --destination "$dest" >/dev/null
# Everything the fixture holds (documents too), and no notify-send in the guest.
settings=$HOME/.config/mtpull/config.toml
sed -i 's/^only = .*/only = "all"/; s/^notify = .*/notify = false/' "$settings"
"$mtpull" config show >&2

"$mtpull" watch 2>"$out/watch.log" &
watch_pid=$!
wait_for_file "$out/watch.log" 10
sleep 0.5
kill -0 "$watch_pid" || { cat "$out/watch.log" >&2; exit 1; }
touch "$out/ready"
log "ready: waiting for the host to plug the phone in"

wait_for_file "$out/inspect" 500 || { log "the host never asked for the inspection"; exit 1; }
device=/sys/bus/usb/devices/1-1
udevadm info --query=all --path="$device" >"$out/udev-info.txt" 2>&1
udevadm test --action=add "$device" >"$out/udev-test.txt" 2>&1 || true

kill -INT "$watch_pid"
status=0
wait "$watch_pid" || status=$?
echo "$status" >"$out/watch.status"
log "mtpull watch ended with status $status"
# What systemd would run for udev's SYSTEMD_USER_WANTS=mtpull-backup@1-1.service: the unit's
# ExecStart with its instance (%i) filled in. The phone is backed up already: nothing new.
exec_start=$(sed -n 's/^ExecStart=//p' /etc/systemd/user/mtpull-backup@.service)
unit_command=${exec_start//%i/1-1}
log "running the unit's command: $unit_command"
status=0
$unit_command 2>"$out/unit.log" || status=$?
echo "$status" >"$out/unit.status"

kill "$monitor_pid" 2>/dev/null || true
udevadm control --exit || true
