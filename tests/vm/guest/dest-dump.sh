#!/usr/bin/env bash
# dest-dump.sh DEST: DEST as it is, for the host to check (tests/vm/dest_listing.py reads
# it). Runs in the guest, where DEST is mounted; only native tools (find, sha256sum, the
# sqlite3 shell): a Python start over the guest's 9p root costs seconds under TCG.
# Lines, tab-separated:
#   entry TYPE SIZE PATH        every file and link below DEST (find's %y: f, l, ...)
#   HASH  ./PATH                sha256sum of every regular file
#   row SERIAL PATH DEST HASH OUTCOME   the manifest's `files` table (read-only)
#   content DEST HASH                    its `contents` table
#   missing                     when DEST does not exist
set -uo pipefail
cd "$1" 2>/dev/null || { echo missing; exit 0; }
find . -mindepth 1 ! -type d -printf 'entry\t%y\t%s\t%P\n'
find . -type f -print0 | xargs -0 -r sha256sum
if [[ -f .mtpull/manifest.sqlite3 ]]; then
    sqlite3 -readonly -separator $'\t' .mtpull/manifest.sqlite3 \
        "SELECT 'row', serial, path, dest, hash, outcome FROM files; SELECT 'content', dest, hash FROM contents;" ||
        echo "manifest-error"
fi
