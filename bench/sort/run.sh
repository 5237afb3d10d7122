#!/usr/bin/env bash
# Sort benchmark: mtpull sort against exiftool on the same phone-like corpus, same run,
# like for like.
#
#   bench/sort/run.sh [FILES]        (default 2400 files; needs exiftool, ImageMagick, python3)
#
# The corpus (in bench/out/sort/, ignored by git) mimics a phone dump: 85% JPEG photos
# with EXIF DateTimeOriginal (names carry no date), 10% MP4 videos with the moov after
# a 2 MiB mdat and a GPS position in udta/\xa9xyz (so mtpull looks each video's zone up),
# 5% PNG screenshots dated only by name. Every file is distinct, as on a phone (a comment
# numbers each photo and screenshot, copies.py): mtpull files a content only once, so
# copies of a few images would spare it most of the copying. Each tool sees every file.
# It takes about 4 GB per 2400 files and is deleted at the end unless KEEP=1.
#
# ROWS="dating copying moving" (the default) chooses the comparisons. REUSE=1 reuses a
# corpus a KEEP=1 run left (the same FILES, moving not run: it empties the corpus).
#
# Three comparisons, each tool doing the same job on the same files (warm page cache,
# corpus synced to disk first):
#   dating, read-only:  mtpull sort --dry-run (with --jobs 1, then on all cores)
#                       against exiftool -fast2 -r reading the same tags (DateTimeOriginal,
#                       CreateDate, GPSCoordinates), one process, then one per core
#                       (xargs -P): best of ROUNDS (default 3) each
#   copying:            mtpull sort (copy, durable: data and folders fsynced)
#                       against exiftool -o . -d %Y/%m/%d '-Directory<DateTimeOriginal'
#                       (no fsync), and against the same followed by an fsync of each
#                       file and folder it made (`sync FILE...`: as durable as mtpull's);
#                       beside them the floor of any durable copy on this disk: cp -r
#                       of the corpus, each file and folder then fsynced the same way,
#                       and cp -r then one syncfs of the filesystem (`sync -f`, which
#                       also writes whatever else is pending there); a sync before each
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

# MTPULL=PATH times that binary instead of building the release one.
mtpull=${MTPULL:-$root/target/release/mtpull}
if [[ -z ${MTPULL:-} ]]; then
    echo "building mtpull (release)" >&2
    cargo build --release --quiet --manifest-path "$root/Cargo.toml"
fi

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
    local base_photos=()
    for ((b = 0; b < bases; b++)); do base_photos+=("$work/base_$b.jpg"); done
    python3 "$root/bench/sort/copies.py" photos "$corpus/DCIM/Camera" "$photos" "${base_photos[@]}"

    python3 "$root/bench/sort/mp4.py" "$corpus/Movies" "$videos" $((2 * 1024 * 1024))

    "$convert" -size 1080x2400 gradient:navy-white "$work/shot.png"
    python3 "$root/bench/sort/copies.py" screenshots "$corpus/Pictures/Screenshots" "$shots" "$work/shot.png"
    echo "$files" >"$out/corpus-files"
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

rows=${ROWS:-dating copying moving}
wants() { [[ " $rows " == *" $1 "* ]]; }
if [[ ${REUSE:-} == 1 && $(cat "$out/corpus-files" 2>/dev/null) == "$files" ]]; then
    echo "reusing the corpus of $files files in $out/corpus" >&2
    rm -rf "$out/for-exiftool" "$out/exiftool-dest" "$out/mtpull-dest" "$out/exiftool-copy" "$out/mtpull-copy" "$out/cp-copy"
else
    echo "building a corpus of $files files ($photos JPEG, $videos MP4, $shots PNG)" >&2
    make_corpus "$out/corpus"
fi
if wants moving; then
    cp -r "$out/corpus" "$out/for-exiftool"
    rm -f "$out/corpus-files" # moving empties the corpus
fi
corpus_size=$(du -sh "$out/corpus" | cut -f1)
find "$out/corpus" -type f -exec cat {} + >/dev/null # warm the page cache
[[ ! -d $out/for-exiftool ]] || find "$out/for-exiftool" -type f -exec cat {} + >/dev/null
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

# Seconds to fsync every file and folder under $1, one `sync FILE...` per batch of names.
fsync_each() { seconds sh -c "find '$1' -print0 | xargs -0 sync"; }

if wants dating; then
    echo "timing: dating (read-only)" >&2
    dry_one=$(best_of "$rounds" "$mtpull" sort --dry-run --jobs 1 "$out/corpus" "$out/mtpull-dest")
    dry_all=$(best_of "$rounds" "$mtpull" sort --dry-run "$out/corpus" "$out/mtpull-dest")
    read_one=$(best_of "$rounds" exiftool_read -r "$out/corpus")
    read_all=$(best_of "$rounds" exiftool_read_all_cores "$out/corpus")
fi

if wants copying; then
    echo "timing: copying" >&2
    mkdir -p "$out/exiftool-copy"
    sync
    copy_exif=$(cd "$out/exiftool-copy" && seconds exiftool -r -q -q -o . -d %Y/%m/%d '-Directory<DateTimeOriginal' "$out/corpus")
    # Like for like: exiftool's copies made as durable as mtpull's (each file and folder fsynced).
    copy_exif_durable=$(calc "$copy_exif + $(fsync_each "$out/exiftool-copy")")
    copied_by_exiftool=$(find "$out/exiftool-copy" -type f | wc -l)
    rm -rf "$out/exiftool-copy"
    sync
    # The floor: the plainest durable copy of the same files.
    cp_copy=$(seconds cp -r "$out/corpus" "$out/cp-copy")
    cp_durable=$(calc "$cp_copy + $(fsync_each "$out/cp-copy")")
    rm -rf "$out/cp-copy"
    sync
    cp_syncfs=$(seconds sh -c "cp -r '$out/corpus' '$out/cp-copy' && sync -f '$out/cp-copy'")
    rm -rf "$out/cp-copy"
    sync
    copy=$(seconds "$mtpull" sort "$out/corpus" "$out/mtpull-copy")
    copied_by_mtpull=$(find "$out/mtpull-copy" -type f -not -path '*/.mtpull/*' | wc -l)
    rm -rf "$out/mtpull-copy"
    sync
fi

if wants moving; then
    echo "timing: moving" >&2
    exif=$(cd "$out/exiftool-dest" && seconds exiftool -r -q -q -d %Y/%m/%d '-Directory<DateTimeOriginal' "$out/for-exiftool")
    move=$(seconds "$mtpull" sort --move "$out/corpus" "$out/mtpull-dest")
    moved_by_exiftool=$(find "$out/exiftool-dest" -type f | wc -l)
    filed_by_mtpull=$(find "$out/mtpull-dest" -type f -not -path '*/.mtpull/*' | wc -l)
fi

printf 'date: %s; machine: %s cores, %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$(uname -sr)"
printf 'corpus: %d files (%d JPEG, %d MP4 with GPS, %d PNG; %s), warm page cache; load average: %s\n' \
    "$files" "$photos" "$videos" "$shots" "$corpus_size" "$(cut -d' ' -f1-3 /proc/loadavg)"
row() { # row LABEL SECONDS PEER_SECONDS PEER_NAME
    printf '%-52s %8.3f s %9.0f files/s  %7.1fx %s\n' "$1" "$2" "$(calc "$files / $2")" "$(calc "$3 / $2")" "$4"
}
if wants dating; then
    echo "dating, read-only (best of $rounds):"
    row "exiftool -fast2, 1 process" "$read_one" "$read_one" "exiftool 1 process"
    row "exiftool -fast2, $(nproc) processes" "$read_all" "$read_all" "exiftool $(nproc) processes"
    row "mtpull sort --dry-run --jobs 1" "$dry_one" "$read_one" "exiftool 1 process"
    row "mtpull sort --dry-run (all cores)" "$dry_all" "$read_all" "exiftool $(nproc) processes"
fi
if wants copying; then
    echo "copying (one run each):"
    row "exiftool -o ($copied_by_exiftool files in DEST)" "$copy_exif" "$copy_exif" "exiftool -o"
    row "mtpull sort ($copied_by_mtpull files in DEST, fsynced)" "$copy" "$copy_exif" "exiftool -o"
    row "exiftool -o, then each copy fsynced" "$copy_exif_durable" "$copy_exif_durable" "exiftool -o + fsync"
    row "mtpull sort (fsynced)" "$copy" "$copy_exif_durable" "exiftool -o + fsync"
    row "floor: cp -r, then each copy fsynced" "$cp_durable" "$copy_exif" "exiftool -o"
    row "floor: cp -r, then one syncfs (sync -f)" "$cp_syncfs" "$copy_exif" "exiftool -o"
    row "mtpull sort (fsynced)" "$copy" "$cp_syncfs" "cp -r + syncfs"
fi
if wants moving; then
    echo "moving (one run each):"
    row "exiftool (moved $moved_by_exiftool JPEGs)" "$exif" "$exif" "exiftool moving"
    row "mtpull sort --move ($filed_by_mtpull filed)" "$move" "$exif" "exiftool moving"
fi
[[ ${KEEP:-} == 1 ]] || rm -rf "$out"
