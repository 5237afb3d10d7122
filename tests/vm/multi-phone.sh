#!/usr/bin/env bash
# Two phones plugged in together into one library, on a real (emulated) USB stack: one guest
# boot with two QEMU usb-mtp devices, which report the same MTP serial and here the same
# storage description, each serving a phone of make-fixture.py's `phone` kind (a 48 MiB video
# of its own, a photo under the same path, size and date as on the other phone but with other
# bytes, a picture both hold). `mtpull watch DEST` must back up both (the second waits for the
# first's turn at DEST), file the shared picture once and each phone's own photo apart; then a
# second watch must copy nothing. tests/vm/guest/multi-phone.sh runs it, multi-phone-check.py
# checks it inside the guest. About a minute on 2 cores, plus the first release build.
#
# usage: tests/vm/multi-phone.sh [OUTDIR]      (default target/vm/out/multi-phone)
#        MTPULL=path/to/mtpull tests/vm/multi-phone.sh   to skip `cargo build --release`
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$VM_DIR/setup.sh"
if [[ -z ${MTPULL:-} ]]; then
    (cd "$REPO_ROOT" && cargo build --release --quiet --bin mtpull)
    MTPULL=$REPO_ROOT/target/release/mtpull
fi
MTPULL=$(realpath "$MTPULL")
out=${1:-$VM_CACHE/out/multi-phone}
rm -rf "$out"
mkdir -p "$out"
fixtures=()
for phone in 1 2; do
    fixtures+=(--fixture "$("$VM_DIR/make-fixture.py" phone --phone "$phone")" --desc Phone)
done
started=$SECONDS
"$VM_DIR/run-guest.sh" "${fixtures[@]}" --out "$out" --timeout 600 \
    --env "MTPULL=$MTPULL" --env ROUNDS=2 --env CHECK=1 -- "$VM_DIR/guest/multi-phone.sh"
echo "multi-phone.sh: passed in $((SECONDS - started)) s" >&2
