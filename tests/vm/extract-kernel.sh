#!/usr/bin/env bash
# Prints the path of the guest kernel to boot: an uncompressed ELF vmlinux cut out of
# Debian's bzImage and cached under target/vm, or the bzImage itself if that fails.
#
# Why: under TCG the kernel's own decompressor runs emulated and spends ~4-5 s unpacking
# the xz payload before the first printk. Debian kernels are built with CONFIG_PVH, so
# QEMU can start the plain ELF directly at its PVH entry point; unpacking on the host takes
# a fraction of a second, once per kernel.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

kver=$(vm_kernel_version)
bzimage=/boot/vmlinuz-$kver
[[ -f $bzimage ]] || die "no $bzimage"

key=$(sha256sum <"$bzimage" | cut -c1-16)
out=$VM_CACHE/vmlinux-$kver-$key
if [[ -f $out ]]; then
    echo "$out"
    exit 0
fi

is_elf() { [[ $(head -c 4 "$1" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; }

# The payload starts at the first occurrence of its format's magic number. A match can be
# a false positive inside the setup code, so every candidate is tried until one unpacks
# to an ELF file.
try_format() {
    local magic=$1 offset
    shift
    for offset in $(LC_ALL=C grep -aboP "$magic" "$bzimage" | cut -d: -f1); do
        # Decompressors complain about the trailing data after the payload: expected.
        tail -c +$((offset + 1)) "$bzimage" | "$@" >"$out.tmp" 2>/dev/null || true
        if [[ -s $out.tmp ]] && is_elf "$out.tmp"; then
            return 0
        fi
    done
    return 1
}

mkdir -p "$VM_CACHE"
rm -f "$VM_CACHE/vmlinux-$kver-"* # older builds of the same version are stale
if try_format '\xfd7zXZ\x00' xz -dc ||
    try_format '\x28\xb5\x2f\xfd' zstd -dcq ||
    try_format '\x1f\x8b\x08' gzip -dc; then
    mv "$out.tmp" "$out"
    echo "$out"
else
    rm -f "$out.tmp"
    echo "extract-kernel.sh: could not unpack $bzimage; booting it as is (slower)" >&2
    echo "$bzimage"
fi
