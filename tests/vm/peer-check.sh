#!/usr/bin/env bash
# Self-test of the guest harness: boots a guest with the test fixture and checks, with
# libmtp's and gphoto2's command-line tools, that the usb-mtp device lists and downloads it
# exactly (tests/vm/guest/peer-check.sh). Takes about half a minute; suitable for CI.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$VM_DIR/setup.sh"
fixture=$("$VM_DIR/make-fixture.py" test)
exec "$VM_DIR/run-guest.sh" --fixture "$fixture" --out "$VM_CACHE/out/peer-check" --timeout 300 \
    -- "$VM_DIR/guest/peer-check.sh"
