#!/usr/bin/env bash
# Runs inside the guest, started by tests/vm/run-tests.sh: drives mtpull against the test
# fixture's usb-mtp device and leaves every command's output in $VM_OUT/checks/ for the
# host to verify (tests/vm/verify-checks.py). It judges nothing itself beyond what only the
# guest can see (how far a killed download got); a command that fails is recorded, not fatal.
#
#   MTPULL          the release binary (nusb)
#   MTPULL_LIBUSB   the same built with --features libusb
#   CHECKS_DIR      where the results go (default $VM_OUT/checks), beside dest/
#
# The gadget tests (gadget-checks.sh) run it once per speed against the simulated phone.
set -uo pipefail

out=${CHECKS_DIR:-$VM_OUT/checks}
dest=$(dirname "$out")/dest
mkdir -p "$out"
rm -rf "$dest"

# shellcheck source=tests/vm/guest/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/steps.sh"

step devices "$MTPULL" devices
step ls "$MTPULL" ls -r --json
MTPULL_BACKEND=libusb step ls-libusb "$MTPULL_LIBUSB" ls -r --json

# Resume: back up only the video, and kill mtpull (no chance to clean up) once its temp
# file holds at least 64 MiB of the 300 MiB. The full backup that follows must finish it.
video_glob='**/VID_*.mp4'
# shellcheck disable=SC2016 # $pid is interrupt's
interrupt interrupted "$dest" 64 'kill -KILL $pid 2>/dev/null' \
    "$MTPULL" backup "$dest" --only all --include "$video_glob"

step backup "$MTPULL" backup "$dest" --only all
step backup-again "$MTPULL" backup "$dest" --only all

log "done"
