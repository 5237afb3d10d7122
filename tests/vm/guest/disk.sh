# shellcheck shell=bash
# Sourced by guest scripts: the raw images run-guest.sh --disk attached as virtio disks, and
# the filesystems a DEST on them uses. The initramfs carries neither driver: they come from
# the host's module tree, which the guest's chroot sees (gadget.sh loads its modules so too).
# The kernel cannot load them on its own: its modprobe is the initramfs's, with no modules.

# load_disk_modules [FS...]: the virtio disk driver and the filesystems (default vfat, exfat
# and ext4; modprobe follows ext4's soft dependency on crc32c), with the character sets
# vfat's and exfat's defaults ask for. Each module costs a second or more under TCG.
load_disk_modules() {
    local filesystems=("$@")
    ((${#filesystems[@]})) || filesystems=(vfat exfat ext4)
    local modules=(virtio_blk "${filesystems[@]}")
    if [[ " ${filesystems[*]} " == *" vfat "* || " ${filesystems[*]} " == *" exfat "* ]]; then
        modules+=(nls_cp437 nls_ascii nls_utf8)
    fi
    modprobe -a "${modules[@]}"
}

# disk_node N: prints /dev/vdX for the N-th --disk (serial mtpull-disk-N), once the kernel
# has made its node.
disk_node() {
    local want=mtpull-disk-$1 tries dev
    for ((tries = 0; tries < 200; tries++)); do
        for dev in /sys/block/vd*; do
            if [[ -f $dev/serial && $(<"$dev/serial") == "$want" && -b /dev/${dev##*/} ]]; then
                echo "/dev/${dev##*/}"
                return 0
            fi
        done
        sleep 0.1
    done
    echo "disk.sh: no virtio disk with serial $want" >&2
    return 1
}

# The options a desktop mounts each filesystem with (udisks2's defaults, less uid/gid).
mount_options() {
    case $1 in
        vfat) echo "shortname=mixed,utf8=1,showexec,flush" ;;
        exfat) echo "iocharset=utf8,errors=remount-ro" ;;
        *) echo "defaults" ;;
    esac
}
