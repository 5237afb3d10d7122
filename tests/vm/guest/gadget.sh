#!/usr/bin/env bash
# Inside the guest: the simulated phone as a USB gadget on dummy_hcd (see tests/vm/README.md).
#
#   gadget.sh up SPEED [mtpull-gadget serve options…]   SPEED: high | super
#   gadget.sh down
#   gadget.sh unplug | replug                            UDC unbind / bind: cable pulled, put back
#
# `up` loads dummy_hcd for SPEED (is_super_speed=1 for super speed: 1024-byte bulk packets),
# starts `$MTPULL_GADGET serve` in the background (pid in /run/mtpull-gadget.pid, its log in
# $GADGET_LOG) and waits until the host side has enumerated the phone. `down` stops it,
# removes the gadget and unloads dummy_hcd, so the next `up` can choose another speed.
set -euo pipefail

gadget=${MTPULL_GADGET:?MTPULL_GADGET names the mtpull-gadget binary}
log=${GADGET_LOG:-/tmp/mtpull-gadget.log}
pidfile=/run/mtpull-gadget.pid

die() { echo "gadget.sh: $*" >&2; exit 1; }

# The phone's device directory in sysfs (vendor 1209: the simulator's ids), or nothing.
phone_sysfs() {
    local dev
    for dev in /sys/bus/usb/devices/*; do
        [[ -f $dev/idVendor && $(<"$dev/idVendor") == 1209 ]] && { echo "$dev"; return; }
    done
    return 0
}

wait_enumerated() { # ~20 s at most: enumeration under TCG takes a second or two
    local tries dev
    for ((tries = 0; tries < 200; tries++)); do
        dev=$(phone_sysfs)
        if [[ -n $dev && -e $(printf '/dev/bus/usb/%03d/%03d' "$(<"$dev/busnum")" "$(<"$dev/devnum")") ]]; then
            echo "gadget.sh: phone enumerated at $(<"$dev/speed") Mb/s as ${dev##*/}" >&2
            return 0
        fi
        sleep 0.1
    done
    die "the phone did not enumerate within 20 s (log: $log)"
}

wait_gone() {
    local tries
    for ((tries = 0; tries < 100; tries++)); do
        [[ -z $(phone_sysfs) ]] && return 0
        sleep 0.1
    done
    die "the phone is still enumerated 10 s after the unplug"
}

up() {
    local speed=$1 super
    shift
    case $speed in
        high) super=0 ;;
        super) super=1 ;;
        *) die "speed must be high or super, not $speed" ;;
    esac
    modprobe libcomposite
    modprobe usb_f_fs
    modprobe dummy_hcd is_super_speed=$super
    mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
    "$gadget" serve --speed "$speed" "$@" 2>>"$log" &
    echo $! >"$pidfile"
    wait_enumerated
}

down() {
    if [[ -f $pidfile ]]; then
        local pid
        pid=$(<"$pidfile")
        kill -TERM "$pid" 2>/dev/null || true
        # Its own child: wait for it when it is ours, else poll.
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        rm -f "$pidfile"
    fi
    "$gadget" down
    modprobe -r dummy_hcd
}

case ${1:-} in
    up) shift; up "$@" ;;
    down) down ;;
    unplug) "$gadget" unplug; wait_gone ;;
    replug) "$gadget" plug; wait_enumerated ;;
    *) sed -n '4,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
