#!/usr/bin/env bash
# Runs inside the guest (via tests/vm/peer-check.sh): checks that the guest sees QEMU's
# usb-mtp device the way real MTP clients do, by driving libmtp's and gphoto2's tools
# against the test fixture and comparing what they list and download with its manifest.
# This proves the harness (not mtpull): if these fail, mtpull's guest tests cannot pass.
set -uo pipefail

manifest=$VM_FIXTURE/../manifest.json
sums=$VM_FIXTURE/../SHA256SUMS
work=/tmp/peer-check
mkdir -p "$work"
passed=0 failed=0

check() { # check NAME COMMAND...: one result line per check, output kept on failure
    local name=$1 log start=$SECONDS
    shift
    log=$work/$(echo "$name" | tr -c 'A-Za-z0-9\n' '_').log
    if "$@" >"$log" 2>&1; then
        echo "ok - $name ($((SECONDS - start)) s)"
        passed=$((passed + 1))
    else
        echo "FAIL - $name ($((SECONDS - start)) s)"
        sed 's/^/    /' "$log" | tail -n 30
        failed=$((failed + 1))
    fi
}

# Expected values from the manifest, in the forms the tools print.
expected_name_sizes() { jq -r '.files[] | "\(.path | split("/") | last)\t\(.size)"' "$manifest" | sort; }
hash_of() { awk -v p="$1" '{ line = $0; sub(/^[0-9a-f]+  /, "", line); if (line == p) print $1 }' "$sums"; }
port_node() { printf '/dev/bus/usb/%03d/%03d' "$(cat /sys/bus/usb/devices/1-1/busnum)" "$(cat /sys/bus/usb/devices/1-1/devnum)"; }

# --- the device as the kernel sees it ---
interface_is_mtp() {
    local intf=/sys/bus/usb/devices/1-1/1-1:1.0
    [[ $(cat $intf/bInterfaceClass $intf/bInterfaceSubClass $intf/bInterfaceProtocol | tr '\n' ' ') == "06 01 01 " ]] &&
        [[ $(cat $intf/interface) == MTP ]]
}
check "interface 1-1:1.0 is class 6/1/1 named MTP" interface_is_mtp
check "usbfs node $(port_node) opens read-write" bash -c "exec 3<>$(port_node)"
check "high speed (480 Mb/s)" grep -qx 480 /sys/bus/usb/devices/1-1/speed

# --- libmtp ---
mtp_detect() {
    mtp-detect >"$work/mtp-detect.out" 2>&1 || return 1
    grep -q 'StorageDescription: mtpull fixture' "$work/mtp-detect.out" &&
        grep -q 'Get partial object' "$work/mtp-detect.out"
}
check "mtp-detect finds the device and its storage" mtp_detect

# mtp-files prints "File ID: N" / "   Filename: X" / "   File size N (0x...) bytes".
mtp-files >"$work/mtp-files.out" 2>&1
awk '/^File ID:/ { id = $3 } /^   Filename: / { sub(/^   Filename: /, ""); name = $0 }
     /^   File size / { print id "\t" name "\t" $3 }' "$work/mtp-files.out" >"$work/mtp-files.tsv"
mtp_files_match() { diff <(expected_name_sizes) <(cut -f2,3 "$work/mtp-files.tsv" | sort); }
check "mtp-files lists every fixture file with its size" mtp_files_match

mtp_getfile() { # mtp_getfile PATH: download by the id mtp-files gave, compare the hash
    local path=$1 id
    id=$(awk -F'\t' -v n="${path##*/}" '$2 == n { print $1 }' "$work/mtp-files.tsv")
    [[ -n $id ]] || { echo "no id for $path"; return 1; }
    rm -f "$work/got"
    mtp-getfile "$id" "$work/got" >/dev/null || return 1
    [[ $(sha256sum <"$work/got" | cut -d' ' -f1) == "$(hash_of "$path")" ]]
}
check "mtp-getfile: 300 MiB video, byte-identical" mtp_getfile DCIM/Camera/VID_20230801_183000.mp4
check "mtp-getfile: Unicode name, byte-identical" mtp_getfile "Pictures/日本 旅行/東京 タワー.jpg"
check "mtp-getfile: 500-byte file (data phase ends on a packet boundary)" mtp_getfile Documents/boundary-500.bin

# --- gphoto2 ---
check "gphoto2 --auto-detect" bash -c "gphoto2 --auto-detect | grep -q 'usb:001,002'"

gphoto2 --list-files >"$work/gphoto2-list.out" 2>&1
gphoto2_lists_all() {
    local listed
    listed=$(grep -c '^#[0-9]' "$work/gphoto2-list.out")
    [[ $listed == $(jq '.files | length' "$manifest") ]] || { echo "listed $listed files"; return 1; }
    grep -q "folder '/store_00010001/Pictures/日本 旅行'" "$work/gphoto2-list.out"
}
check "gphoto2 --list-files lists every file and the Unicode folders" gphoto2_lists_all

gphoto2_get_folder() { # downloads one camera folder and checks every file's hash
    local folder=$1 dest=$work/gphoto2/$1 file
    mkdir -p "$dest"
    (cd "$dest" && gphoto2 --folder "/store_00010001/$folder" --no-recurse --get-all-files \
        --filename '%f.%C' --force-overwrite) >/dev/null || return 1
    jq -r --arg f "$folder/" '.files[].path | select(startswith($f) and (ltrimstr($f) | contains("/") | not))' "$manifest" |
        while IFS= read -r path; do
            [[ $(sha256sum <"$dest/${path##*/}" | cut -d' ' -f1) == "$(hash_of "$path")" ]] ||
                { echo "mismatch: $path"; exit 1; }
        done
}
gphoto2_get_file() { # gphoto2_get_file PATH: by its number in the recursive listing
    local path=$1 number
    # Lines look like "#7     scan without date.jpg      rd     1 KB image/jpeg 1592222400".
    number=$(sed -nE "s/^#([0-9]+) +(.*[^ ]) +r[d-] +[0-9]+ KB .*/\1\t\2/p" "$work/gphoto2-list.out" |
        awk -F'\t' -v n="${path##*/}" '$2 == n { print $1 }')
    [[ -n $number ]] || { echo "${path##*/} not in the listing"; return 1; }
    rm -f "$work/got"
    # gphoto2 stages downloads in its working directory (read-only here), hence the cd.
    (cd "$work" && gphoto2 --get-file "$number" --filename got) >/dev/null || return 1
    [[ $(sha256sum <"$work/got" | cut -d' ' -f1) == "$(hash_of "$path")" ]]
}
check "gphoto2 --get-file: name with spaces, byte-identical" gphoto2_get_file "Pictures/scan without date.jpg"
check "gphoto2 --get-all-files: Unicode folder, byte-identical" gphoto2_get_folder "Pictures/Été 2023"
check "gphoto2 --get-all-files: empty and boundary-size files" gphoto2_get_folder Documents

echo "$passed passed, $failed failed"
((failed == 0))
