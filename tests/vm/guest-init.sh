#!/bin/sh
# /init of the guest (busybox ash). Mounts the host's root read-only over 9p, waits for
# QEMU's usb-mtp device, runs the job that run-guest.sh left in the output share inside a
# chroot of the host's root, writes its exit status back, and powers off.
#
# No udev: nusb enumerates through sysfs and opens /dev/bus/usb/BBB/DDD, which devtmpfs
# creates as soon as the kernel enumerates the device; libusb (libmtp, gphoto2) reads the
# same sysfs attributes through libudev without a running udevd.

/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

log() { echo "guest: $*"; }
# Phase markers land in the kernel log, so dmesg.txt shows where boot time goes.
mark() { echo "guest-init: $*" >/dev/kmsg; }

# Anything that stops the job from running still has to end the boot, or the host would
# only learn of it through its timeout.
halt_with() {
    log "$*"
    if [ -d /out/vm ]; then
        echo "$*" >/out/vm/init-error
        dmesg >/out/vm/dmesg.txt
    fi
    sync
    poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mark start

for module in $(cat /etc/modules.order); do
    insmod "/lib/modules/$module" || halt_with "insmod $module failed"
done

mark modules loaded

# msize well above the 8 KiB default: reading host binaries and libraries dominates the
# guest's start-up otherwise.
p9opts=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$p9opts" vmout /out || halt_with "cannot mount the output share"
mount -t 9p -o "$p9opts,ro,cache=loose" hostroot /newroot || halt_with "cannot mount the host root"

read -r outdir </out/vm/outdir || halt_with "no out/vm/outdir from run-guest.sh"
expected_devices=$(cat /out/vm/usb-devices 2>/dev/null || echo 0)

root=/newroot
mount -o bind /dev "$root/dev"
mkdir -p /dev/pts /dev/shm
# udev would normally add these; bash process substitution needs /dev/fd.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t devpts devpts "$root/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
mount -o bind /proc "$root/proc"
mount -o bind /sys "$root/sys"
# The host's /tmp and /run are its own: the guest gets fresh, writable ones.
mount -t tmpfs -o mode=1777,size=75% tmpfs "$root/tmp"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
# Host folders that must stay visible although they sit under /tmp or /run (a checkout
# there, as CI may make): a second mount of the host root, bound back into place.
if [ -s /out/vm/keep-visible ]; then
    mkdir -p /hostraw
    mount -t 9p -o "$p9opts,ro,cache=loose" hostroot /hostraw || halt_with "cannot mount the host root again"
    while read -r kept; do
        mkdir -p "$root$kept"
        mount -o bind "/hostraw$kept" "$root$kept" || halt_with "cannot keep $kept visible"
    done </out/vm/keep-visible
fi
# The output share appears at the output directory's host path, so the job writes results
# where the host will look for them.
# (Under /tmp or /run the mount point only exists once created in the guest's tmpfs.)
mkdir -p "$root$outdir" 2>/dev/null
mount -o bind /out "$root$outdir" || halt_with "cannot bind the output share at $outdir"

# xhci enumerates devices asynchronously after insmod: wait until every usb-mtp device has
# its /dev/bus/usb node, so the job never races enumeration. ~20 s is generous for TCG.
count_devices() {
    found=0
    for dev in /sys/bus/usb/devices/*; do
        [ -f "$dev/busnum" ] || continue
        [ "$(cat "$dev/bDeviceClass")" = 09 ] && continue # hubs
        node=$(printf '/dev/bus/usb/%03d/%03d' "$(cat "$dev/busnum")" "$(cat "$dev/devnum")")
        [ -e "$node" ] && found=$((found + 1))
    done
}
tries=0
count_devices
while [ "$found" -lt "$expected_devices" ] && [ $tries -lt 200 ]; do
    sleep 0.1
    tries=$((tries + 1))
    count_devices
done
[ "$found" -ge "$expected_devices" ] ||
    halt_with "only $found of $expected_devices USB devices appeared (see dmesg.txt)"

mark "job starts"

# The job's stderr is mirrored to the console so a run can be followed live (--live) and
# so the console printed on failure shows it; stdout stays clean for the caller.
set -o pipefail
{
    chroot "$root" /bin/bash "$outdir/vm/job.sh" </dev/null 2>&1 1>&3 3>&- |
        tee /out/vm/stderr >/dev/console
} 3>/out/vm/stdout
echo $? >/out/vm/status
mark "job ended"

dmesg >/out/vm/dmesg.txt
sync
umount "$root$outdir" 2>/dev/null
poweroff -f
