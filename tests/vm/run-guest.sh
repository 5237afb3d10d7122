#!/usr/bin/env bash
# Runs a host command inside a QEMU guest that has QEMU's usb-mtp device attached.
#
# usage: run-guest.sh [--fixture DIR [--desc TEXT]]... [--rw] --out OUTDIR [--timeout SECS]
#                     [--env NAME=VALUE]... [--keep PATH]... [--live] [--monitor SOCKET] -- COMMAND [ARG...]
#
# Each --fixture adds one usb-mtp device serving DIR (read-only unless --rw), on port N of
# the xHCI controller for the N-th fixture: sysfs /sys/bus/usb/devices/1-N in the guest.
# Its storage description is the N-th --desc (default "mtpull fixture", "mtpull fixture 2"..).
# Without --fixture the guest has no USB device. All devices are enumerated before COMMAND
# starts.
#
# --monitor SOCKET serves QEMU's monitor (HMP) on that unix socket, so a host-side script can
# hot-plug devices while COMMAND runs: `device_add usb-mtp,id=ID,bus=usbhc.0,port=N,rootdir=..`
# and `device_del ID`. The xHCI controller (usbhc) is then present even without --fixture.
#
# The guest sees the host's whole filesystem read-only at the same paths (so COMMAND can be
# a script or a binary from any worktree), a fresh tmpfs on /tmp and /run, and OUTDIR
# writable. Host paths under /tmp that the run needs stay visible (read-only) inside that
# tmpfs: the caller's cwd, COMMAND's folder, this repository, and each --keep PATH.
# COMMAND runs as root in a chroot, with cwd = the caller's cwd and a clean environment
# plus each --env and:
#   VM_OUT=OUTDIR  VM_FIXTURE=first DIR  VM_FIXTURE_N=N-th DIR  VM_FIXTURE_COUNT
#   VM_FIXTURE_RW=0|1  HOME=/tmp/home
#
# Afterwards COMMAND's stdout is replayed on stdout and its exit status is ours; its stderr
# is replayed on stderr on success, and the whole guest console on failure (--live streams
# the console instead). OUTDIR/vm/ keeps stdout, stderr, status, console.log and dmesg.txt.
# Exit status: COMMAND's, or 124 when the guest timed out, 125 when it never ran COMMAND.
set -euo pipefail
# shellcheck source=tests/vm/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
    sed -n '4,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

out='' readonly=on timeout=600 live=0 monitor=''
fixtures=() descs=() extra_env=() keep=()
while (($#)); do
    case $1 in
        --fixture) fixtures+=("$2"); shift 2 ;;
        --desc) descs+=("$2"); shift 2 ;;
        --rw) readonly=off; shift ;;
        --out) out=$2; shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        --env) [[ $2 == *=* ]] || die "--env wants NAME=VALUE"; extra_env+=("$2"); shift 2 ;;
        --keep) keep+=("$(realpath "$2")"); shift 2 ;;
        --live) live=1; shift ;;
        --monitor) monitor=$2; shift 2 ;;
        --) shift; break ;;
        *) usage ;;
    esac
done
(($#)) || usage
[[ -n $out ]] || usage
# qemu-xhci has four USB 2 ports.
((${#fixtures[@]} <= 4)) || die "at most 4 fixtures"

mkdir -p "$out"
out=$(realpath "$out")
[[ $out != *$'\n'* ]] || die "OUTDIR must not contain a newline"
for i in "${!fixtures[@]}"; do
    [[ -d ${fixtures[i]} ]] || die "fixture ${fixtures[i]} is not a directory"
    fixtures[i]=$(realpath "${fixtures[i]}")
done

# The guest mounts its own tmpfs over /tmp, hiding the host's; what the run needs from
# there is bound back in. (A fresh clone, as CI makes, may well live under /tmp.)
keep+=("$PWD" "$REPO_ROOT")
if [[ -e $1 ]]; then
    keep+=("$(dirname "$(realpath "$1")")")
fi

# See qemu-utf8-locale.c: without it the device renames every non-ASCII file "Oops".
utf8_preload() {
    local src=$VM_DIR/qemu-utf8-locale.c lib
    lib=$VM_CACHE/qemu-utf8-locale-$(sha256sum <"$src" | cut -c1-16).so
    if [[ ! -f $lib ]]; then
        mkdir -p "$VM_CACHE"
        cc -shared -fPIC -O2 -o "$lib.tmp" "$src" && mv "$lib.tmp" "$lib"
    fi
    echo "$lib"
}

kernel=$("$VM_DIR/extract-kernel.sh")
preload=$(utf8_preload)
initramfs=$("$VM_DIR/build-initramfs.sh")

rm -rf "$out/vm"
mkdir -p "$out/vm"
printf '%s\n' "$out" >"$out/vm/outdir"
echo "${#fixtures[@]}" >"$out/vm/usb-devices"
for path in "${keep[@]}"; do
    if [[ $path == /tmp/* && $path != *$'\n'* ]]; then
        printf '%s\n' "$path"
    fi
done | sort -u >"$out/vm/keep"

# The job is run by the host's bash inside the chroot, so %q quoting round-trips any
# argument (spaces, Unicode, quotes) exactly.
command=("$@")
if [[ -f $1 && ! -x $1 ]]; then
    command=(bash "$@")
fi
{
    echo "# written by run-guest.sh; run inside the guest's chroot"
    printf 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n'
    printf 'export HOME=/tmp/home TMPDIR=/tmp LANG=C.UTF-8 TERM=dumb\n'
    printf 'export VM_OUT=%q VM_FIXTURE=%q VM_FIXTURE_COUNT=%q VM_FIXTURE_RW=%q\n' \
        "$out" "${fixtures[0]:-}" "${#fixtures[@]}" "$([[ $readonly == off ]] && echo 1 || echo 0)"
    for i in "${!fixtures[@]}"; do
        printf 'export VM_FIXTURE_%d=%q\n' $((i + 1)) "${fixtures[i]}"
    done
    for assignment in "${extra_env[@]}"; do
        printf 'export %q=%q\n' "${assignment%%=*}" "${assignment#*=}"
    done
    # shellcheck disable=SC2016 # $HOME expands in the guest
    echo 'mkdir -p "$HOME"'
    printf 'cd %q\n' "$PWD"
    printf 'exec'
    printf ' %q' "${command[@]}"
    printf '\n'
} >"$out/vm/job.sh"

# QEMU's option parser treats "," as a separator; a literal comma is written ",,".
qemu_escape() { printf '%s' "${1//,/,,}"; }

# shellcheck disable=SC2054 # commas separate QEMU's sub-options, not array elements
qemu=(
    qemu-system-x86_64
    # No default NIC, VGA or serial: the guest gets no network at all.
    -nodefaults -no-user-config
    # KVM hangs early on these machines; TCG with a thread per vCPU uses both host cores.
    -accel tcg,thread=multi -cpu max -smp 2 -m 2048
    -kernel "$kernel" -initrd "$initramfs"
    # no_timer_check: on a loaded host the emulated timer can miss the kernel's boot-time
    # check, which then panics ("IO-APIC + timer doesn't work").
    -append "console=ttyS0 quiet panic=-1 no_timer_check"
    -display none -no-reboot
    -chardev stdio,id=console,signal=off -serial chardev:console
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
    -virtfs "local,path=$(qemu_escape "$out"),mount_tag=vmout,security_model=none,multidevs=remap"
)
if ((${#fixtures[@]})) || [[ -n $monitor ]]; then
    # qemu-xhci: the device runs at high speed there; on ehci it is several times slower.
    # shellcheck disable=SC2054
    qemu+=(-device qemu-xhci,id=usbhc)
fi
if [[ -n $monitor ]]; then
    qemu+=(-monitor "unix:$(qemu_escape "$monitor"),server=on,wait=off")
fi
for i in "${!fixtures[@]}"; do
    port=$((i + 1))
    desc="mtpull fixture"
    ((port == 1)) || desc+=" $port"
    desc=${descs[i]:-$desc}
    qemu+=(-device "usb-mtp,bus=usbhc.0,port=$port,rootdir=$(qemu_escape "${fixtures[i]}"),readonly=$readonly,desc=$(qemu_escape "$desc")")
done

console=$out/vm/console.log
set +e
if ((live)); then
    LD_PRELOAD=$preload timeout -k 10 "$timeout" "${qemu[@]}" </dev/null 2>&1 | tee "$console" >&2
else
    LD_PRELOAD=$preload timeout -k 10 "$timeout" "${qemu[@]}" </dev/null >"$console" 2>&1
fi
qemu_status=${PIPESTATUS[0]}
set -e

show_console() {
    ((live)) && return
    echo "---- guest console ($console) ----" >&2
    cat "$console" >&2
    echo "---- end of guest console ----" >&2
}

if [[ $qemu_status == 124 || $qemu_status == 137 ]]; then
    show_console
    echo "run-guest.sh: guest timed out after ${timeout}s" >&2
    exit 124
fi
if [[ ! -f $out/vm/status ]]; then
    show_console
    echo "run-guest.sh: guest did not run the command (qemu exit status $qemu_status)" >&2
    exit 125
fi
status=$(<"$out/vm/status")
cat "$out/vm/stdout"
if [[ $status != 0 ]]; then
    show_console
    echo "run-guest.sh: command failed in the guest with status $status" >&2
elif ((!live)); then
    cat "$out/vm/stderr" >&2
fi
exit "$status"
