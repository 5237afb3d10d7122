#!/usr/bin/env bash
# Builds (or reuses) the guest's initramfs and prints its path.
#
# The initramfs holds only busybox, guest-init.sh and the few modules the guest needs to
# reach the USB device and the host's files; everything else the guest runs comes from
# the host's root over 9p. That keeps it ~4 MB, so it builds in about a second and boots
# in a few. It is cached under target/vm, keyed by everything that goes into it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# The modules the guest loads, by name as in modules.dep (`-` and `_` are the same).
# Their dependencies come from modules.dep, so another kernel version needs no edit here.
WANTED_MODULES=(xhci-pci virtio_pci 9pnet_virtio 9p)

kver=$(vm_kernel_version)
moddir=/lib/modules/$kver
[[ -f /boot/vmlinuz-$kver ]] || die "no /boot/vmlinuz-$kver"
[[ -x /bin/busybox ]] || die "no static /bin/busybox: run tests/vm/setup.sh"

key=$(cat "$VM_DIR/build-initramfs.sh" "$VM_DIR/guest-init.sh" /bin/busybox "$moddir/modules.dep" |
    sha256sum | cut -c1-16)
out=$VM_CACHE/initramfs-$kver-$key.cpio
if [[ -f $out ]]; then
    echo "$out"
    exit 0
fi

# modules.dep names modules by path; they are indexed by base name with `-` as `_`.
# Sets REPLY rather than echoing: a subshell per line of modules.dep would take seconds.
module_name() {
    REPLY=${1##*/}
    REPLY=${REPLY%%.ko*}
    REPLY=${REPLY//-/_}
}
declare -A path_of deps_of builtin
while IFS= read -r line; do
    path=${line%%:*}
    module_name "$path"
    path_of[$REPLY]=$path
    deps_of[$REPLY]=${line#*:}
done <"$moddir/modules.dep"
while IFS= read -r path; do
    module_name "$path"
    builtin[$REPLY]=1
done < <(cat "$moddir/modules.builtin" 2>/dev/null)

# Depth-first: every module is listed after the modules it needs, which is the order
# insmod must follow (busybox insmod does no dependency resolution of its own).
declare -A seen
load_order=()
visit() {
    local name dep
    module_name "$1"
    name=$REPLY
    [[ -n ${seen[$name]:-} ]] && return
    seen[$name]=1
    if [[ -z ${path_of[$name]:-} ]]; then
        [[ -n ${builtin[$name]:-} ]] && return # nothing to load
        die "module $1 is neither in modules.dep nor built into $kver"
    fi
    for dep in ${deps_of[$name]}; do
        visit "$dep"
    done
    load_order+=("$name")
}
for module in "${WANTED_MODULES[@]}"; do
    visit "$module"
done

stage=$(mktemp -d "${TMPDIR:-/tmp}/vm-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,newroot,out,lib/modules,etc}
cp /bin/busybox "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
install -m 0755 "$VM_DIR/guest-init.sh" "$stage/init"
# The kernel opens /dev/console for init before anything is mounted.
mknod -m 0600 "$stage/dev/console" c 5 1

for name in "${load_order[@]}"; do
    src=$moddir/${path_of[$name]}
    dst=$stage/lib/modules/$name.ko
    # busybox insmod hands the file to init_module() as is, so compressed modules
    # are unpacked here rather than relying on in-kernel decompression.
    case $src in
        *.ko) cp "$src" "$dst" ;;
        *.ko.xz) xz -dc "$src" >"$dst" ;;
        *.ko.zst) zstd -qdc "$src" >"$dst" ;;
        *.ko.gz) gzip -dc "$src" >"$dst" ;;
        *) die "unknown module format: $src" ;;
    esac
    echo "$name.ko" >>"$stage/etc/modules.order"
done

mkdir -p "$VM_CACHE"
# Only one initramfs per kernel is worth keeping; older keys are stale builds.
rm -f "$VM_CACHE/initramfs-$kver-"*.cpio
# Left uncompressed: it is small, and the kernel unpacks it faster that way.
(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc --owner 0:0 --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
