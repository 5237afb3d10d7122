#!/usr/bin/env bash
# Sort benchmark: mtpull sort against exiftool on the same phone-like corpus, same run,
# like for like.
#
#   bench/sort/run.sh [FILES]        (default 2400 files; needs exiftool, ImageMagick, python3)
#
# The corpus (in bench/out/sort/, ignored by git) mimics a phone dump: 85% JPEG photos
# with EXIF DateTimeOriginal (names carry no date), 10% MP4 videos with the moov after
# a 2 MiB mdat and a GPS position in udta/\xa9xyz (so mtpull looks each video's zone up),
# 5% PNG screenshots dated only by name. Each tool sees every file. It takes about 3 GB
# per 2400 files and is deleted at the end unless KEEP=1.
#
# Three comparisons, each tool doing the same job on the same files (warm page cache,
# corpus synced to disk first):
#   dating, read-only:  mtpull sort --dry-run (with --jobs 1, then on all cores)
#                       against exiftool -fast2 -r reading the same tags (DateTimeOriginal,
#                       CreateDate, GPSCoordinates), one process, then one per core
#                       (xargs -P): best of ROUNDS (default 3) each
#   copying:            mtpull sort (copy, durable: data and folders fsynced)
#                       against exiftool -o . -d %Y/%m/%d '-Directory<DateTimeOriginal'
#                       (copies the JPEGs, no fsync), and against the same followed by
#                       an fsync of each file and folder it made (`sync FILE...`: as
#                       durable as mtpull's); a sync before each
#   moving:             mtpull sort --move against exiftool -d %Y/%m/%d '-Directory<DateTimeOriginal'
# printed as files/s (the corpus's file count over the time) and as ratios.
set -euo pipefail

files=${1:-2400}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/bench/out/sort
convert=/usr/bin/convert # not a stand-in that PATH may put first

for tool in exiftool python3 "$convert"; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool: apt-get install -y libimage-exiftool-perl imagemagick python3" >&2
        exit 2
    }
done

echo "building mtpull (release)" >&2
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
mtpull=$root/target/release/mtpull

photos=$((files * 85 / 100))
videos=$((files * 10 / 100))
shots=$((files - photos - videos))
bases=40

make_corpus() {
    local corpus=$1 work=$out/bases
    rm -rf "$out"
    mkdir -p "$corpus/DCIM/Camera" "$corpus/Movies" "$corpus/Pictures/Screenshots" "$work"

    # One photo, then one copy per capture date with EXIF written by exiftool.
    "$convert" -size 1600x1200 plasma:fractal -quality 90 "$work/plain.jpg"
    local args=$work/exiftool.args
    : >"$args"
    for ((b = 0; b < bases; b++)); do
        cp "$work/plain.jpg" "$work/base_$b.jpg"
        local day=$((b % 28 + 1)) month=$((b % 12 + 1))
        printf -- '-DateTimeOriginal=2023:%02d:%02d 14:%02d:00\n-Make=Google\n-Model=Pixel 8\n-overwrite_original\n%s\n-execute\n' \
            "$month" "$day" "$b" "$work/base_$b.jpg" >>"$args"
    done
    exiftool -q -@ "$args" >/dev/null
    for ((i = 0; i < photos; i++)); do
        cp "$work/base_$((i % bases)).jpg" "$corpus/DCIM/Camera/IMG_$(printf %05d "$i").jpg"
    done

    python3 "$root/bench/sort/mp4.py" "$corpus/Movies" "$videos" $((2 * 1024 * 1024))

    "$convert" -size 1080x2400 gradient:navy-white "$work/shot.png"
    for ((i = 0; i < shots; i++)); do
        cp "$work/shot.png" "$corpus/Pictures/Screenshots/Screenshot_202405$(printf %02d $((i % 28 + 1)))-1$(printf %05d "$i").png"
    done
}

# Seconds taken by a command, with its output discarded.
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null || echo "note: $1 exited with status $?" >&2
    end=$(date +%s.%N)
    awk "BEGIN { print $end - $start }"
}

calc() { awk "BEGIN { print $1 }"; }

echo "building a corpus of $files files ($photos JPEG, $videos MP4, $shots PNG)" >&2
make_corpus "$out/corpus"
cp -r "$out/corpus" "$out/for-exiftool"
find "$out/corpus" "$out/for-exiftool" -type f -exec cat {} + >/dev/null # warm the page cache
mkdir -p "$out/exiftool-dest"
sync # a phone dump on disk is long written: time the tools, not the flushing of the corpus

rounds=${ROUNDS:-3}
best_of() { # best_of N COMMAND...: the best time of N runs
    local n=$1 best=999999 t
    shift
    for ((r = 0; r < n; r++)); do
        t=$(seconds "$@")
        best=$(calc "($t < $best) ? $t : $best")
    done
    echo "$best"
}
exiftool_read() { exiftool -fast2 -q -q -DateTimeOriginal -CreateDate -GPSCoordinates "$@"; }
exiftool_read_all_cores() {
    find "$1" -type f -print0 |
        xargs -0 -P "$(nproc)" -n $((files / $(nproc) + 1)) \
            exiftool -fast2 -q -q -DateTimeOriginal -CreateDate -GPSCoordinates
}

echo "timing: dating (read-only)" >&2
dry_one=$(best_of "$rounds" "$mtpull" sort --dry-run --jobs 1 "$out/corpus" "$out/mtpull-dest")
dry_all=$(best_of "$rounds" "$mtpull" sort --dry-run "$out/corpus" "$out/mtpull-dest")
read_one=$(best_of "$rounds" exiftool_read -r "$out/corpus")
read_all=$(best_of "$rounds" exiftool_read_all_cores "$out/corpus")

echo "timing: copying" >&2
mkdir -p "$out/exiftool-copy"
sync
copy_exif=$(cd "$out/exiftool-copy" && seconds exiftool -r -q -q -o . -d %Y/%m/%d '-Directory<DateTimeOriginal' "$out/corpus")
# Like for like: exiftool's copies made as durable as mtpull's (each file and folder fsynced).
durable_exif=$(seconds sh -c "find '$out/exiftool-copy' -print0 | xargs -0 sync")
copy_exif_durable=$(calc "$copy_exif + $durable_exif")
sync
copy=$(seconds "$mtpull" sort "$out/corpus" "$out/mtpull-copy")
copied_by_exiftool=$(find "$out/exiftool-copy" -type f | wc -l)
copied_by_mtpull=$(find "$out/mtpull-copy" -type f | wc -l)
rm -rf "$out/exiftool-copy" "$out/mtpull-copy"
sync

echo "timing: moving" >&2
exif=$(cd "$out/exiftool-dest" && seconds exiftool -r -q -q -d %Y/%m/%d '-Directory<DateTimeOriginal' "$out/for-exiftool")
move=$(seconds "$mtpull" sort --move "$out/corpus" "$out/mtpull-dest")

moved_by_exiftool=$(find "$out/exiftool-dest" -type f | wc -l)
filed_by_mtpull=$(find "$out/mtpull-dest" -type f | wc -l)
printf 'date: %s; machine: %s cores, %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$(uname -sr)"
printf 'corpus: %d files (%d JPEG, %d MP4 with GPS, %d PNG), warm page cache; load average: %s\n' \
    "$files" "$photos" "$videos" "$shots" "$(cut -d' ' -f1-3 /proc/loadavg)"
row() { # row LABEL SECONDS PEER_SECONDS PEER_NAME
    printf '%-44s %8.3f s %9.0f files/s  %7.1fx %s\n' "$1" "$2" "$(calc "$files / $2")" "$(calc "$3 / $2")" "$4"
}
echo "dating, read-only (best of $rounds):"
row "exiftool -fast2, 1 process" "$read_one" "$read_one" "exiftool 1 process"
row "exiftool -fast2, $(nproc) processes" "$read_all" "$read_all" "exiftool $(nproc) processes"
row "mtpull sort --dry-run --jobs 1" "$dry_one" "$read_one" "exiftool 1 process"
row "mtpull sort --dry-run (all cores)" "$dry_all" "$read_all" "exiftool $(nproc) processes"
echo "copying (one run each):"
row "exiftool -o ($copied_by_exiftool files in DEST)" "$copy_exif" "$copy_exif" "exiftool -o"
row "mtpull sort ($copied_by_mtpull files in DEST, fsynced)" "$copy" "$copy_exif" "exiftool -o"
row "exiftool -o, then each copy fsynced" "$copy_exif_durable" "$copy_exif_durable" "exiftool -o + fsync"
row "mtpull sort (fsynced)" "$copy" "$copy_exif_durable" "exiftool -o + fsync"
echo "moving (one run each):"
row "exiftool (moved $moved_by_exiftool JPEGs)" "$exif" "$exif" "exiftool moving"
row "mtpull sort --move ($filed_by_mtpull filed)" "$move" "$exif" "exiftool moving"
[[ ${KEEP:-} == 1 ]] || rm -rf "$out"
