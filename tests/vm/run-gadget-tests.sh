#!/usr/bin/env bash
# The gadget tests, one command (CI runs it from scripts/test.sh): builds mtpull (nusb and
# --features libusb) and mtpull-gadget (default features), makes the test fixture, boots ONE guest in which the
# simulated phone is a USB gadget on dummy_hcd, runs tests/vm/guest/gadget-checks.sh there at
# high and super speed, and verifies the results on the host (verify-checks.py per speed,
# verify-gadget.py for the rest). On failure the guest console is printed.
#
# usage: tests/vm/run-gadget-tests.sh [--no-build] [--live]
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
    # The same builds as run-tests.sh (a no-op after it); the default one has the gadget.
    echo "run-gadget-tests: building mtpull (libusb feature, then default) and mtpull-gadget" >&2
    cargo build --quiet --release --features libusb
    mkdir -p target/vm
    cp target/release/mtpull target/vm/mtpull-libusb
    cargo build --quiet --release
fi
fixture_root=$(python3 "$vm/make-fixture.py" test)
fixture=$(dirname "$fixture_root")

out=$repo/target/vm/out/gadget-tests
rm -rf "$out"
status=0
started=$SECONDS
"$vm/run-guest.sh" "${live[@]}" --out "$out" --timeout 1500 \
    --env VM_FIXTURE="$fixture_root" --env MTPULL="$repo/target/release/mtpull" \
    --env MTPULL_LIBUSB="$repo/target/vm/mtpull-libusb" \
    --env MTPULL_GADGET="$repo/target/release/mtpull-gadget" \
    -- "$vm/guest/gadget-checks.sh" || status=$?
echo "run-gadget-tests: the guest ran for $((SECONDS - started)) s" >&2
if ((status != 0)); then
    echo "run-gadget-tests: the guest's script failed (exit $status); console above" >&2
    exit 1
fi
failed=0
for speed in high super; do
    echo "== gadget at $speed speed" >&2
    python3 "$vm/verify-checks.py" "$out/gadget/$speed" "$fixture" "Simulated Android phone" || failed=1
done
python3 "$vm/verify-gadget.py" "$out/gadget" "$fixture" || failed=1
if ((failed)); then
    echo "run-gadget-tests: checks failed; the gadget's log and the guest console follow" >&2
    cat "$out/gadget/gadget.log" "$out/vm/console.log" >&2
    exit 1
fi
echo "run-gadget-tests: all gadget checks passed" >&2
