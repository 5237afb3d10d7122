#!/usr/bin/env bash
# The real-USB tests, one command (CI runs it from scripts/test.sh): builds mtpull (nusb and
# --features libusb), makes the test fixture, boots ONE guest with QEMU's usb-mtp serving it,
# runs tests/vm/guest/checks.sh there (devices, ls -r --json through both backends, a backup
# killed mid-file, the backup that resumes it, a second backup), and verifies the results on
# the host against the fixture's manifest. A second boot gives the guest a writable usb-mtp
# device (readonly=off) serving an empty folder: tests/vm/guest/restore-checks.sh restores
# the fixture's small files to it (QEMU's 64-byte upload fault included) and deletes one
# with `rm`; verify-restore.py compares what landed in that folder, by SHA-256, with what
# was sent. On failure the guest console is printed.
#
# usage: tests/vm/run-tests.sh [--no-build] [--live]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
vm=$repo/tests/vm
build=1 live=()
while (($#)); do
    case $1 in
        --no-build) build=0; shift ;;
        --live) live=(--live); shift ;;
        *) sed -n '8p' "$0" | sed 's/^# //' >&2; exit 2 ;;
    esac
done

bash "$vm/setup.sh"
cd "$repo"
if ((build)); then
    echo "run-tests: building mtpull (libusb feature, then default)" >&2
    cargo build --quiet --release --features libusb
    mkdir -p target/vm
    cp target/release/mtpull target/vm/mtpull-libusb
    cargo build --quiet --release
fi
fixture_root=$(python3 "$vm/make-fixture.py" test)
fixture=$(dirname "$fixture_root")

out=$repo/target/vm/out/tests
rm -rf "$out"
status=0
"$vm/run-guest.sh" "${live[@]}" --fixture "$fixture_root" --out "$out" --timeout 600 \
    --env MTPULL="$repo/target/release/mtpull" --env MTPULL_LIBUSB="$repo/target/vm/mtpull-libusb" \
    -- "$vm/guest/checks.sh" || status=$?
if ((status != 0)); then
    echo "run-tests: the guest's checks script failed (exit $status); console above" >&2
    exit 1
fi
if ! python3 "$vm/verify-checks.py" "$out" "$fixture"; then
    echo "run-tests: checks failed; the guest console follows" >&2
    cat "$out/vm/console.log" >&2
    exit 1
fi

# Restore and rm, against a writable device serving an empty folder.
phone=$repo/target/vm/out/restore-phone
out=$repo/target/vm/out/restore
rm -rf "$phone" "$out"
mkdir -p "$phone"
status=0
"$vm/run-guest.sh" "${live[@]}" --rw --fixture "$phone" --desc "restore phone" --out "$out" --timeout 600 \
    --env MTPULL="$repo/target/release/mtpull" --env SOURCE="$fixture_root" --env STORAGE="restore phone" \
    -- "$vm/guest/restore-checks.sh" || status=$?
if ((status != 0)); then
    echo "run-tests: the guest's restore-checks script failed (exit $status); console above" >&2
    exit 1
fi
if ! python3 "$vm/verify-restore.py" "$out" "$phone"; then
    echo "run-tests: restore checks failed; the guest console follows" >&2
    cat "$out/vm/console.log" >&2
    exit 1
fi
echo "run-tests: all real-USB checks passed" >&2
