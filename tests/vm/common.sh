# Sourced by the tests/vm scripts: where things live, and which guest kernel to boot.
# shellcheck shell=bash

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$VM_DIR/../.." && pwd)
# Build products stay under target/ so `cargo clean` and .gitignore already cover them.
VM_CACHE=${VM_CACHE:-$REPO_ROOT/target/vm}

# The newest Debian kernel in /boot that has its modules installed. VM_KERNEL_VERSION
# overrides it (e.g. to pin one while another is being installed).
vm_kernel_version() {
    if [[ -n ${VM_KERNEL_VERSION:-} ]]; then
        echo "$VM_KERNEL_VERSION"
        return
    fi
    local image version best=
    for image in /boot/vmlinuz-*; do
        [[ -e $image ]] || continue
        version=${image#/boot/vmlinuz-}
        [[ -f /lib/modules/$version/modules.dep ]] && best+="$version"$'\n'
    done
    best=$(printf '%s' "$best" | sort -V | tail -n 1)
    if [[ -z $best ]]; then
        echo "no kernel with modules in /boot: run tests/vm/setup.sh (installs linux-image-amd64)" >&2
        return 1
    fi
    echo "$best"
}

die() {
    echo "${0##*/}: $*" >&2
    exit 1
}
