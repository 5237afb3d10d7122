#!/usr/bin/env bash
# Installs what the QEMU guest harness and the USB benchmarks need, from Debian packages.
# Cheap when everything is present (one dpkg-query), so CI can call it on every run.
set -euo pipefail

# --no-install-recommends keeps the install small: QEMU's recommends pull in GUI and
# network-boot ROMs the harness never uses (it runs with -nodefaults and no NIC).
PACKAGES=(
    qemu-system-x86       # the emulator and its usb-mtp device (TCG only: no KVM here)
    linux-image-amd64     # the guest kernel in /boot, modules in /lib/modules
    busybox-static        # the whole initramfs userland
    cpio                  # packs the initramfs
    xz-utils zstd         # modules may ship compressed; busybox insmod takes only plain .ko
    gcc libc6-dev         # builds qemu-utf8-locale.so (see qemu-utf8-locale.c)
    python3               # make-fixture.py
    time                  # /usr/bin/time -f: CPU seconds of each benchmark run
    usbutils              # lsusb -v inside the guest, for diagnosing the device
    mtp-tools             # peer: libmtp's mtp-detect / mtp-files / mtp-getfile
    gphoto2               # peer: libgphoto2's PTP/MTP client
    android-file-transfer # peer: aft-mtp-cli (known not to download from QEMU's device)
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "setup.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
