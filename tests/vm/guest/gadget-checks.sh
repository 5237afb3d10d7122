#!/usr/bin/env bash
# Runs inside the guest, started by tests/vm/run-gadget-tests.sh: the simulated phone as a
# USB gadget on dummy_hcd (gadget.sh), and mtpull in its default configuration against it
# through the guest kernel's real USB host stack. Results go to $VM_OUT/gadget/ for the host
# to verify (tests/vm/verify-gadget.py); like checks.sh, nothing here judges.
#
# At high speed (512-byte packets) and at super speed (1024):
#   quirks                 `mtpull -v devices`: the default transport configuration
#   checks.sh              devices, ls -r --json (nusb and libusb), a backup killed mid-video
#                          and a new run recovering the wedged phone without a replug and
#                          resuming, a second backup copying nothing
#   unplug-copy, after-replug
#                          UDC unbound (the cable pulled) mid-video, bound again, the backup
#                          run again completes it
# At high speed only:
#   stall-copy, after-stall
#                          the phone halts both bulk endpoints mid-video (a disk error):
#                          the same backup takes it up again; the next copies nothing
#   slow-ls, slow-backup   every answer 250 ms late, and no zero-length packets
#   PROFILE-devices, PROFILE-ls, PROFILE-backup
#                          the samsung profile; the iphone profile (PTP, headers in their own
#                          transfer, untrusted for 2 s: its storages come with the Trust
#                          events); vendor-class: android behind a vendor-class interface
#                          with no name, that only the Microsoft OS descriptor, read back
#                          over USB, tells is MTP (backups leave the video out)
# Every gadget logs the class requests it got to record.txt (Device Reset must never come).
#
#   MTPULL, MTPULL_LIBUSB, MTPULL_GADGET    the binaries
#   VM_FIXTURE                              the test fixture's root/
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/vm/guest/steps.sh
source "$here/steps.sh"
log_tag=gadget
gadget() { "$here/gadget.sh" "$@"; }
video_glob='**/VID_*.mp4'
storage="mtpull fixture"
export GADGET_LOG=$VM_OUT/gadget/gadget.log
rm -rf "$VM_OUT/gadget"
mkdir -p "$VM_OUT/gadget"

for speed in high super; do
    dir=$VM_OUT/gadget/$speed
    out=$dir/checks
    mkdir -p "$out"
    if ! gadget up "$speed" --serve "$VM_FIXTURE" --desc "$storage" --record "$dir/record.txt"; then
        log "$speed: the gadget did not come up"
        continue
    fi
    CHECKS_DIR=$out "$here/checks.sh"
    # mtpull's transport configuration behind dummy_hcd: the defaults, not QEMU's quirks.
    step quirks "$MTPULL" -v devices

    # Unplug mid-copy: the UDC unbound while the video streams, then bound again.
    dest=$dir/dest-unplug
    # shellcheck disable=SC2016 # $pid is interrupt's
    interrupt unplug-copy "$dest" 64 'gadget unplug' \
        "$MTPULL" backup "$dest" --only all --include "$video_glob"
    gadget replug
    step after-replug "$MTPULL" backup "$dest" --only all --include "$video_glob"
    gadget down
done

dir=$VM_OUT/gadget/faults
out=$dir
mkdir -p "$out"
if gadget up high --serve "$VM_FIXTURE" --desc "$storage" --record "$dir/record-stall.txt" \
    --stall-after $((48 << 20)); then
    step stall-copy "$MTPULL" backup "$dir/dest-stall" --only all --include "$video_glob"
    step after-stall "$MTPULL" backup "$dir/dest-stall" --only all --include "$video_glob"
    gadget down
fi
if gadget up high --serve "$VM_FIXTURE" --desc "$storage" --record "$dir/record-slow.txt" \
    --latency-ms 250 --no-zlp; then
    step slow-ls "$MTPULL" ls -r --json
    step slow-backup "$MTPULL" backup "$dir/dest-slow" --only all --exclude "$video_glob"
    gadget down
fi
dir=$VM_OUT/gadget/profiles
out=$dir
mkdir -p "$out"
for phone in samsung iphone vendor-class; do
    case $phone in
        iphone) options=(--profile iphone --unlock-after-ms 2000) ;;
        vendor-class) options=(--profile android --vendor-class) ;;
        *) options=(--profile "$phone") ;;
    esac
    if gadget up high --serve "$VM_FIXTURE" --desc "$storage" --record "$dir/record-$phone.txt" \
        "${options[@]}"; then
        step "$phone-devices" "$MTPULL" devices
        step "$phone-ls" "$MTPULL" ls -r --json --wait 60
        step "$phone-backup" "$MTPULL" backup "$dir/dest-$phone" --only all --exclude "$video_glob"
        gadget down
    fi
done
log "done"
