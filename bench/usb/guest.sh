#!/usr/bin/env bash
# Runs inside the guest, started by bench/usb/run.sh: times each peer downloading the same
# 256 MiB file and listing the same 10,000-file tree, BENCH_RUNS times, round-robin so that
# drift in the emulator's speed hits every peer alike. Each result is verified (the file's
# SHA-256, or every file name present in the listing) and appended to $VM_OUT/results.tsv.
#
# Fixture 1 (port 1) is the big file, fixture 2 (port 2) the tree. Only one of them is
# plugged in during each phase, so every tool opens its default device: libmtp's
# mtp-getfile walks the whole device before downloading, and must not walk the tree then.
#
# With MTPULL_GADGET set, two more phases follow with QEMU's devices unplugged: the same
# peers against the simulated Android phone as a USB gadget on dummy_hcd (high speed,
# tests/vm/guest/gadget.sh), downloading a generated 1 GiB file and listing 20,000 files in
# 200 folders (tasks gadget-download, gadget-list); then the same phone over the in-process
# simulated link, with no USB at all (peer "in-process", mtpull-gadget local; timed from its
# session's opening). There every client — mtpull, libmtp (mtp-files, libmtp-get.py),
# gphoto2, mtp-rs, aft-mtp-cli and the in-process session — runs under `taskset -c 1`, and
# the gadget (started under `taskset -c 0`) on CPU 0. BENCH_PHASES picks the phases
# (default "qemu startup gadget-download gadget-list").
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usb_port=$here/../../tests/vm/guest/usb-port.sh
runs=${BENCH_RUNS:-3}
phases=${BENCH_PHASES:-qemu startup gadget-download gadget-list}
read -r -a peers <<<"${BENCH_PEERS:-libmtp gphoto2 mtp-rs aft mtpull}"
sums=$VM_FIXTURE_1/../../SHA256SUMS
big_name=bench-256MiB.bin
big_sha=$(awk -v p="big/$big_name" '$2 == p { print $1 }' "$sums")
big_bytes=$(stat -c %s "$VM_FIXTURE_1/$big_name")
tree_files=$(grep -c '  tree/' "$sums")
results=$VM_OUT/results.tsv
work=/tmp/bench
listed_name='IMG_[0-9]{3}_[0-9]{3}\.jpg' # a file name of the tree, as verify_listing counts them
task_prefix='' # "gadget-" in the gadget phases
pin=()         # the CPU affinity of every client in the gadget phases
mkdir -p "$work"

log() { echo "bench: $*" >&2; }

# ---- one timed run ----------------------------------------------------------------------

# measure PEER TASK RUN COMMAND...: wall and CPU (user+sys, children included) seconds.
# Output goes to $work/out and $work/err for the verification that follows.
measure() {
    local peer=$1 task=$2 run=$3
    shift 3
    /usr/bin/time -f '%e %U %S' -o "$work/time" "${pin[@]}" "$@" >"$work/out" 2>"$work/err"
    command_status=$?
    # time(1) puts "Command exited with non-zero status N" above its line on failure.
    read -r wall user sys < <(tail -n 1 "$work/time")
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    row=("$peer" "$task_prefix$task" "$run" "$wall" "$cpu")
}

record() { # record STATUS NOTE: completes the row measure() began
    printf '%s\t' "${row[@]}" >>"$results"
    printf '%s\t%s\n' "$1" "$2" >>"$results"
    log "${row[*]} $1 $2"
}

first_error() { # the first line of stderr that says what went wrong, for the table
    grep -m1 -iE 'error|fail|unable|invalid|not ' "$work/err" | cut -c1-120 | tr '\t' ' '
}

verify_download() { # verify_download FILE
    local file=$1 got
    if [[ ! -f $file ]]; then
        record FAIL "no file written (exit $command_status) $(first_error)"
    elif [[ $(stat -c %s "$file") != "$big_bytes" ]]; then
        record FAIL "wrong size $(stat -c %s "$file") (exit $command_status)"
    elif got=$(sha256sum <"$file" | cut -d' ' -f1) && [[ $got != "$big_sha" ]]; then
        record FAIL "SHA-256 mismatch"
    elif ((command_status != 0)); then
        record FAIL "file correct but exit status $command_status"
    else
        record ok ""
    fi
    rm -rf "$work/dl"
}

verify_listing() { # every IMG_FFF_NNN.jpg of the tree must appear, whatever the format
    local named
    named=$(grep -oE "$listed_name" "$work/out" | sort -u | wc -l)
    if ((named != tree_files)); then
        record FAIL "listed $named of $tree_files files (exit $command_status) $(first_error)"
    elif ((command_status != 0)); then
        record FAIL "complete listing but exit status $command_status"
    else
        record ok ""
    fi
}

# ---- the peers --------------------------------------------------------------------------
# download_PEER RUN and list_PEER RUN each time one run and verify it.

# On the simulated phone object ids change from session to session (as a phone's do), so
# an id from mtp-files names nothing in mtp-getfile's session: there libmtp-get.py does
# what mtp-getfile does, through libmtp, with the id looked up in its own session.
download_libmtp() {
    mkdir -p "$work/dl"
    if [[ -n $task_prefix ]]; then
        measure libmtp download "$1" python3 "$here/libmtp-get.py" "$big_name" "$work/dl/$big_name"
    else
        measure libmtp download "$1" mtp-getfile "$libmtp_id" "$work/dl/$big_name"
    fi
    verify_download "$work/dl/$big_name"
}
list_libmtp() {
    measure libmtp list "$1" mtp-files
    verify_listing
}

download_gphoto2() {
    mkdir -p "$work/dl"
    # gphoto2 stages a download in its working directory; the big device holds one file.
    cd "$work/dl" && measure gphoto2 download "$1" gphoto2 --get-file 1 --filename "$big_name"
    cd /
    verify_download "$work/dl/$big_name"
}
list_gphoto2() {
    measure gphoto2 list "$1" gphoto2 --list-files
    verify_listing
}

download_mtp-rs() {
    mkdir -p "$work/dl"
    measure mtp-rs download "$1" "$MTP_RS" get "/$big_name" "$work/dl/$big_name"
    verify_download "$work/dl/$big_name"
}
list_mtp-rs() {
    measure mtp-rs list "$1" "$MTP_RS" ls --recursive /
    verify_listing
}

# aft-mtp-cli resolves names through object properties QEMU's device does not implement
# (it answers InvalidObjectPropCode): both tasks are expected to fail, and are recorded so.
download_aft() {
    mkdir -p "$work/dl"
    measure aft download "$1" aft-mtp-cli "get $big_name $work/dl/$big_name"
    verify_download "$work/dl/$big_name"
}
list_aft() {
    measure aft list "$1" aft-mtp-cli "ls-r /"
    verify_listing
}

# ---- mtpull's slot ----------------------------------------------------------------------
# Download: $MTPULL backup DEST --only all, with only the big device plugged in, so
#           "everything on the phone" is the one 256 MiB file (--only all: it is no photo).
#           backup files it by date; it is looked for by name anywhere under DEST. The time
#           includes what a backup does beyond the transfer: its manifest, the fsync and
#           rename, and the content hash.
# Listing:  $MTPULL ls -r

download_mtpull() {
    mkdir -p "$work/dl"
    measure mtpull download "$1" "$MTPULL" backup "$work/dl" --only all
    verify_download "$(find "$work/dl" -path '*/.mtpull' -prune -o -type f -name "$big_name" -print | head -n 1)"
}
list_mtpull() {
    measure mtpull list "$1" "$MTPULL" ls -r
    verify_listing
    if (($1 == 1)); then
        count_transactions
    fi
}
# The listing's transactions, from one more (untimed) run's -v summary: report.py turns
# the QEMU listing's times into transactions per second with it (every client there makes
# one GetObjectInfo per file and one GetObjectHandles per folder).
count_transactions() {
    "${pin[@]}" "$MTPULL" ls -r -v 2>&1 >/dev/null |
        sed -nE 's/^([0-9]+) transactions .*/\1/p' >"$VM_OUT/${task_prefix}list-transactions"
}

# libmtp_object_id NAME TAG: the object id libmtp's mtp-files gives NAME (mtp-getfile takes
# an id; on QEMU's device a file's id is the same in every session). Asked until it answers,
# 10 times at most: a device just enumerated may not be ready for libmtp's first open yet.
# Each attempt's output is kept in $VM_OUT/libmtp-id-TAG.* for when none is found.
libmtp_object_id() {
    local name=$1 tag=$2 id='' try
    for ((try = 1; try <= 10; try++)); do
        mtp-files >"$VM_OUT/libmtp-id-$tag.out" 2>"$VM_OUT/libmtp-id-$tag.err"
        id=$(awk -v n="$name" '/^File ID:/ { id = $3 } $0 == "   Filename: " n { print id; exit }' \
            "$VM_OUT/libmtp-id-$tag.out")
        [[ -n $id ]] && break
        sleep 1
    done
    log "libmtp object id of $name: ${id:-none} (after $try attempts; mtp-files output in $VM_OUT/libmtp-id-$tag.*)"
    echo "$id"
}

# ---- the run ----------------------------------------------------------------------------

printf 'peer\ttask\trun\tseconds\tcpu_seconds\tstatus\tnote\n' >"$results"
printf '%s\n' "$big_bytes" >"$VM_OUT/big-bytes"
printf '%s\n' "$tree_files" >"$VM_OUT/tree-files"

# The CPU column with the most xHCI interrupts in /proc/interrupts: mtpull keeps its USB
# threads there behind QEMU's xHCI (src/transport/quirks.rs); the peers are pinned to the
# same CPU in the QEMU phases, so that every client gets the same help from the affinity.
interrupt_cpu() {
    awk 'NR == 1 { cpus = NF; next }
         /xhci/ { for (i = 2; i <= cpus + 1; i++) total[i - 2] += $i }
         END { best = 0; for (c = 1; c < cpus; c++) if (total[c] > total[best]) best = c; print best }' \
        /proc/interrupts
}

qemu_phases() {
    log "download phase: only the big file's device is plugged in"
    "$usb_port" only 1
    pin=(taskset -c "$(interrupt_cpu)")
    log "every client pinned with ${pin[*]}"
    libmtp_id=$(libmtp_object_id "$big_name" qemu)
    for ((run = 1; run <= runs; run++)); do
        for peer in "${peers[@]}"; do
            "download_$peer" "$run"
        done
    done

    log "listing phase: only the tree's device is plugged in"
    "$usb_port" only 2
    pin=(taskset -c "$(interrupt_cpu)")
    log "every client pinned with ${pin[*]}"
    for ((run = 1; run <= runs; run++)); do
        for peer in "${peers[@]}"; do
            "list_$peer" "$run"
        done
    done
    pin=()
}
wants() { [[ " $phases " == *" $1 "* ]]; }
if wants qemu; then
    qemu_phases
fi

# `mtpull devices` from exec to exit with QEMU's big-file device plugged in (discovery,
# claiming the interface, OpenSession, GetDeviceInfo, the storages, the output), beside
# `true`; bench/usb/startup.py times them and appends its rows to results.tsv.
if wants startup; then
    log "startup phase: mtpull devices, only the big file's device plugged in"
    "$usb_port" only 1
    python3 "$here/startup.py" "$results" "${STARTUP_RUNS:-20}" "$MTPULL" || log "startup phase failed"
fi

# ---- the simulated phone as a USB gadget, and in process --------------------------------

gadget_phases() {
    local gadget=$here/../../tests/vm/guest/gadget.sh
    "$usb_port" off || return 1
    pin=(taskset -c 1)
    task_prefix=gadget-
    big_name=big.bin
    big_bytes=$((1 << 30))
    big_sha=$("$MTPULL_GADGET" generated "$big_bytes" | sha256sum | cut -d' ' -f1)
    printf '%s\n' "$big_bytes" >"$VM_OUT/gadget-big-bytes"
    if wants gadget-download; then
        log "gadget download phase: the android profile at high speed, $big_name of $big_bytes bytes"
        taskset -c 0 "$gadget" up high --big-file "$big_bytes" || return 1
        for ((run = 1; run <= runs; run++)); do
            for peer in "${peers[@]}"; do
                "download_$peer" "$run"
            done
            download_in-process "$run"
        done
        "$gadget" down
    fi
    wants gadget-list || return 0

    tree_files=20000
    listed_name='IMG_[0-9]{5}\.jpg'
    printf '%s\n' "$tree_files" >"$VM_OUT/gadget-tree-files"
    log "gadget listing phase: 200 folders of 100 files"
    taskset -c 0 "$gadget" up high --tree 200:100 || return 1
    for ((run = 1; run <= runs; run++)); do
        for peer in "${peers[@]}"; do
            "list_$peer" "$run"
        done
        list_in-process "$run"
    done
    "$gadget" down
}

# The same phone and session code with no USB between them (mtpull-gadget local). Its time
# and CPU are the ones it reports itself ("… in X s, Y CPU s"), counted from the session's
# opening: building the simulated phone (20,000 generated files) comes first and has no
# counterpart over USB, where the gadget is set up before any client is timed.
own_figures() {
    local figures
    figures=$(sed -nE 's/.* in ([0-9.]+) s, ([0-9.]+) CPU s$/\1 \2/p' "$work/err" | tail -n 1)
    if [[ -n $figures ]]; then
        read -r 'row[3]' 'row[4]' <<<"$figures"
    fi
}
download_in-process() {
    mkdir -p "$work/dl"
    measure in-process download "$1" "$MTPULL_GADGET" local --big-file "$big_bytes" download "$work/dl"
    own_figures
    verify_download "$work/dl/$big_name"
}
list_in-process() {
    measure in-process list "$1" "$MTPULL_GADGET" local --tree 200:100 list
    own_figures
    verify_listing
}

if [[ -n ${MTPULL_GADGET:-} ]]; then
    gadget_phases || log "the gadget did not come up: no gadget figures"
fi
