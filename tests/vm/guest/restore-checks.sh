#!/usr/bin/env bash
# Runs inside the guest, started by tests/vm/run-tests.sh with one writable usb-mtp device
# (readonly=off) serving an empty folder: `mtpull restore` sends the test fixture's files
# (all but the 300 MiB video) and one made here, then `mtpull rm` deletes one of them.
# Every command's output is left in $VM_OUT/checks/ for tests/vm/verify-restore.py, which
# compares what reached the device's folder on the host, by SHA-256, with what was sent.
#
# QEMU's usb-mtp never ends an upload whose data phase (12 + size bytes) is a multiple of
# 64: Documents/boundary-500.bin and -1012.bin of the fixture are such files (written whole
# before the device stalls), and so is cut-1048628.bin, made here (its last 64 bytes never
# written). restore must keep the first two after reading them back, and delete the third.
#
#   MTPULL     the release binary
#   SOURCE     the test fixture's root/ (read-only here)
#   STORAGE    the device's storage description (run-guest.sh's --desc)
set -uo pipefail

out=$VM_OUT/checks
dest=$VM_OUT/dest
src=/tmp/restore-src
mkdir -p "$out" "$src"
log_tag=restore-checks
# shellcheck source=tests/vm/guest/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/steps.sh"

# The fixture's files under 10 MiB (the video would take minutes to upload under TCG).
(cd "$SOURCE" && find . -type f -size -10M -print0 | cpio --quiet -0 -pdm "$src")
head -c 1048628 /dev/urandom >"$src/Documents/cut-1048628.bin"
(cd "$src" && find . -type f -printf '%P\0' | xargs -0 sha256sum) >"$out/sent.sha256"
(cd "$src" && find . -type f -printf '%s %P\n') >"$out/sent.sizes"

storage=$STORAGE
step restore-dry-run "$MTPULL" restore --dry-run "$src"
step restore "$MTPULL" restore "$src"
step restore-again "$MTPULL" restore "$src"
step ls-restored "$MTPULL" ls -r --json
step backup-restored "$MTPULL" backup "$dest" --only all

# rm: refused without --yes (no terminal here), then --yes deletes exactly that file.
step rm-unconfirmed "$MTPULL" rm "$storage/DCIM/Restored/IMG_20230714_101502.jpg" </dev/null
step rm "$MTPULL" rm --yes "$storage/DCIM/Restored/boundary-1012.bin"
step ls-after-rm "$MTPULL" ls -r --json

log "done"
