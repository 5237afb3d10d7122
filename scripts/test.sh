#!/usr/bin/env bash
# Runs every test this machine can run, from a clean checkout: lints, unit,
# property and integration tests against the simulated phone, the libusb build,
# a short run of every fuzz target, and the real-USB tests in a QEMU guest.
# Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

echo "== lints"
cargo fmt --check
cargo clippy --all-targets --all-features -- -D warnings

echo "== tests (simulated devices, no USB needed)"
cargo test --all-features

echo "== fuzz smoke: every cargo-fuzz target for 20 s (stable toolchain, no sanitizer)"
bash scripts/fuzz.sh 20

echo "== real USB: mtpull against QEMU's usb-mtp in a guest"
bash tests/vm/run-tests.sh

echo "== real USB: backups into kernel vfat, exfat and ext4 on a virtio disk in a QEMU guest"
bash tests/vm/run-dest-tests.sh

echo "== power cuts: QEMU killed during backup --delete-after, DEST on ext4 (bounded form: 2 cuts)"
bash tests/vm/power-cut.sh --cuts 2 --no-build

echo "== real USB: mtpull against the simulated phone as a USB gadget (dummy_hcd), high and super speed"
bash tests/vm/run-gadget-tests.sh

echo "== real USB: auto-backup in a QEMU guest (udev rule, hot-plug, unplug mid-copy)"
bash tests/vm/auto-backup.sh

echo "== real USB: two phones plugged in together under watch, into one DEST (QEMU guest)"
bash tests/vm/multi-phone.sh
