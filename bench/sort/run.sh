#!/usr/bin/env bash
# Sort benchmark: mtpull sort against exiftool on the same phone-like corpus, same run.
#
#   bench/sort/run.sh [FILES]        (default 2400 files; needs exiftool, ImageMagick, python3)
#
# The corpus (in bench/out/sort/, ignored by git) mimics a phone dump: 85% JPEG photos
# with EXIF DateTimeOriginal (names carry no date), 10% MP4 videos with the moov after
# a 2 MiB mdat, 5% PNG screenshots dated only by name. Each tool sees every file. It
# takes about 2 GB per 2400 files and is deleted at the end unless KEEP=1.
#
# Measured, on a warm page cache with the corpus already on disk (sync):
#   mtpull sort --dry-run CORPUS   (dates and plans every file, writes nothing; best of 3)
#   mtpull sort --move CORPUS      (files for real: renames, fsyncs)
#   exiftool -r -d %Y/%m/%d '-Directory<DateTimeOriginal' COPY   (moves the JPEGs)
# and printed as files/s and as ratios to exiftool.
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

echo "timing" >&2
dry=999999
for _ in 1 2 3; do
    t=$(seconds "$mtpull" sort --dry-run "$out/corpus" "$out/mtpull-dest")
    dry=$(calc "($t < $dry) ? $t : $dry")
done
exif=$(cd "$out/exiftool-dest" && seconds exiftool -r -q -q -d %Y/%m/%d '-Directory<DateTimeOriginal' "$out/for-exiftool")
move=$(seconds "$mtpull" sort --move "$out/corpus" "$out/mtpull-dest")

moved_by_exiftool=$(find "$out/exiftool-dest" -type f | wc -l)
filed_by_mtpull=$(find "$out/mtpull-dest" -type f | wc -l)
printf 'date: %s; machine: %s cores, %s\n' "$(date -u +%Y-%m-%d)" "$(nproc)" "$(uname -sr)"
printf 'corpus: %d files (%d JPEG, %d MP4, %d PNG), warm page cache; load average: %s\n' \
    "$files" "$photos" "$videos" "$shots" "$(cut -d' ' -f1-3 /proc/loadavg)"
row() { printf '%-34s %8.3f s %9.0f files/s  %6.1fx exiftool\n' "$1" "$2" "$(calc "$files / $2")" "$(calc "$exif / $2")"; }
row "exiftool (moved $moved_by_exiftool JPEGs)" "$exif"
row "mtpull sort --dry-run" "$dry"
row "mtpull sort --move ($filed_by_mtpull filed)" "$move"
[[ ${KEEP:-} == 1 ]] || rm -rf "$out"
