#!/usr/bin/env bash
# Inside the guest: plug and unplug the usb-mtp devices run-guest.sh attached (fixture N is
# on root-hub port N). Seen from the guest's kernel these are real disconnects and
# re-enumerations, so they also serve as "cable pulled" tests.
#
#   usb-port.sh unplug N   disconnect the device on port N (mid-transfer is fine)
#   usb-port.sh replug     re-enumerate every device (rebinds the xHCI driver: the only way
#                          back for a port the kernel has disabled; QEMU resets the devices,
#                          so open sessions end and handles are renumbered)
#   usb-port.sh only N     replug, then unplug every other port: the one device every tool
#                          opens by default
#   usb-port.sh off        disconnect every device at once by unbinding the xHCI driver
#                          (a port's disable flag does not always outlive a replug; this
#                          does), for phases that must see no QEMU device at all
set -euo pipefail

hub=/sys/bus/usb/devices/1-0:1.0
controller=$(basename "$(readlink -f /sys/bus/usb/devices/usb1/..)")

node_of() { # node_of PORT: its /dev/bus/usb path, or nothing while it is not enumerated
    local dev=/sys/bus/usb/devices/1-$1
    [[ -f $dev/devnum ]] || return 0
    printf '/dev/bus/usb/%03d/%03d' "$(<"$dev/busnum")" "$(<"$dev/devnum")"
}

wait_for() { # wait_for PORT present|absent: ~10 s at most
    local port=$1 want=$2 tries node
    for ((tries = 0; tries < 100; tries++)); do
        node=$(node_of "$port")
        if [[ $want == present && -n $node && -e $node ]] || [[ $want == absent && -z $node ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "usb-port.sh: port $port is not $want after 10 s" >&2
    return 1
}

unplug() {
    echo 1 >"$hub/usb1-port$1/disable"
    wait_for "$1" absent
}

replug() {
    echo "$controller" >/sys/bus/pci/drivers/xhci_hcd/unbind
    echo "$controller" >/sys/bus/pci/drivers/xhci_hcd/bind
    local port
    for ((port = 1; port <= ${VM_FIXTURE_COUNT:-1}; port++)); do
        wait_for "$port" present
    done
}

off() {
    echo "$controller" >/sys/bus/pci/drivers/xhci_hcd/unbind
    [[ ! -e /sys/bus/usb/devices/1-1 ]] || { echo "usb-port.sh: port 1 still attached" >&2; return 1; }
}

case ${1:-} in
    unplug) unplug "$2" ;;
    replug) replug ;;
    off) off ;;
    only)
        replug
        for ((port = 1; port <= ${VM_FIXTURE_COUNT:-1}; port++)); do
            ((port == $2)) || unplug "$port"
        done
        ;;
    *) sed -n '6,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
