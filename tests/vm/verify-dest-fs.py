#!/usr/bin/env python3
"""Verifies, on the host, the backups tests/vm/guest/dest-fs-checks.sh made into kernel
filesystems in the guest.

  verify-dest-fs.py OUTDIR FIXTURE FS...

OUTDIR is run-guest.sh's --out (checks/ from the guest, images/FS.img), FIXTURE the "fat"
fixture (manifest.json). For each filesystem: fsck finds the image clean; the backup and
its rerun exit 0; every phone file is in DEST exactly once with its bytes, in its date
folder; on vfat and exfat every name is one FAT can hold (`:?"*<>|`, trailing dots and
spaces made `_`) and no two names in a folder differ only in case (IMG_1.JPG / img_1.jpg
and a:b / a?b are kept apart as `-1`); on ext4 the phone's names are kept as they are; the
manifest has one row per file, pointing at it; nothing is left in mtpull's temp folder or
intent, no hidden file and no link; the rerun copies nothing and changes nothing. The
vfat and ext4 images are also read back on the host without a mount (mcopy, debugfs) and
must hold exactly what the guest listed. Prints one line per check; exits 1 if any failed.
"""

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from dest_listing import parse

from hashing import sha256_of

FAT_FORBIDDEN = set(':?"*<>|\\')
DATE_FOLDER = "2023/07/14"
FSCK = {"vfat": ["fsck.vfat", "-n"], "exfat": ["fsck.exfat", "-n"], "ext4": ["e2fsck", "-fn"]}

failures = []


def check(ok, what, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + str(detail) if detail and not ok else ''}")
    if not ok:
        failures.append(what)
    return ok


def fat_name(name):
    """The name mtpull files `name` under on FAT, before any clash numbering."""
    safe = "".join("_" if c in FAT_FORBIDDEN else c for c in name)
    stripped = safe.rstrip(". ")
    return stripped + "_" * (len(safe) - len(stripped))


def numbered(name, n):
    stem, dot, ext = name.rpartition(".")
    return f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"


def read_back(fs, image, into):
    """DEST's visible files as the host reads them from the image, without a mount: {path:
    sha256}, or None where the host has no reader for this filesystem."""
    if fs == "vfat":
        command = ["mcopy", "-s", "-n", "-i", str(image), "::Photos", str(into)]
    elif fs == "ext4":
        command = ["debugfs", "-R", f"rdump /Photos {into}", str(image)]
    else:
        return None
    env = dict(os.environ, LC_ALL="C.UTF-8", MTOOLS_SKIP_CHECK="1")
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if not check(done.returncode == 0, f"{fs}: {command[0]} reads DEST back from the image",
                 done.stderr.strip()[-300:]):
        return {}
    root = into / "Photos"
    found = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            found[str(rel)] = sha256_of(path)
    return found


def verify(out, manifest, fs):
    checks = out / "checks"

    def text(name):
        path = checks / name
        return path.read_text(errors="replace") if path.exists() else ""

    def exits_zero(name):
        status = text(f"{name}.status").strip()
        err = text(f"{name}.err").strip().splitlines()
        return check(status == "0", f"`{name}` exits 0", f"exit {status or 'missing'}: {' | '.join(err[-3:])}")

    def summary(name):
        lines = [json.loads(line) for line in text(f"{name}.out").splitlines() if line.startswith("{")]
        return next((line["summary"] for line in lines if "summary" in line), {})

    image = out / "images" / f"{fs}.img"
    fsck = subprocess.run(FSCK[fs] + [str(image)], capture_output=True, text=True)
    check(fsck.returncode == 0, f"{fs}: {' '.join(FSCK[fs])} finds the image clean",
          (fsck.stdout + fsck.stderr).strip()[-400:])
    if not (exits_zero(f"mount-{fs}") and exits_zero(f"backup-{fs}") and exits_zero(f"listing-{fs}")):
        return
    print(f"     {fs} mounted: {text(f'mount-{fs}.line').strip()}")
    phone = {f["path"]: f for f in manifest["files"]}
    first = summary(f"backup-{fs}")
    check(first.get("copied") == len(phone) and first.get("failed") == 0,
          f"{fs}: the backup copied all {len(phone)} files", first)

    listing = parse(text(f"listing-{fs}.out"))
    files = listing["files"]
    by_hash = Counter(f["sha256"] for f in files)
    expected = Counter(f["sha256"] for f in phone.values())
    check(by_hash == expected, f"{fs}: every phone file is in DEST exactly once, with its bytes",
          f"missing {expected - by_hash}, extra {by_hash - expected}")
    dest_of = {f["sha256"]: f["path"] for f in files}
    check(all(str(Path(f["path"]).parent) == DATE_FOLDER for f in files),
          f"{fs}: every file is in its date folder {DATE_FOLDER}", [f["path"] for f in files])

    names = {path: Path(dest_of.get(f["sha256"], "")).name for path, f in phone.items()}
    if fs in ("vfat", "exfat"):
        bad = [n for n in names.values() if set(n) & FAT_FORBIDDEN or n.endswith((".", " "))]
        check(not bad, f"{fs}: every name is one FAT can hold", bad)
        folders = Counter((str(Path(f["path"]).parent), Path(f["path"]).name.lower()) for f in files)
        check(all(n == 1 for n in folders.values()), f"{fs}: no two names differ only in case",
              [k for k, n in folders.items() if n > 1])
        clashes = [("DCIM/Camera/IMG_1.JPG", "DCIM/Camera/img_1.jpg"),
                   ("DCIM/Camera/a:b.jpg", "DCIM/Camera/a?b.jpg")]
        in_clash = {p for pair in clashes for p in pair}
        for first_path, second_path in clashes:
            got = {names[first_path].lower(), names[second_path].lower()}
            base = fat_name(Path(first_path).name).lower()
            check(got == {base, numbered(base, 1)},
                  f"{fs}: {Path(first_path).name} and {Path(second_path).name} are a clash, kept apart as -1",
                  got)
        wrong = {p: n for p, n in names.items() if p not in in_clash and n != fat_name(Path(p).name)}
        check(not wrong, f"{fs}: each other name is the phone's, with what FAT refuses made _", wrong)
    else:
        wrong = {p: n for p, n in names.items() if n != Path(p).name}
        check(not wrong, f"{fs}: the phone's names are kept as they are", wrong)

    rows = listing.get("manifest", {})
    if check("files" in rows, f"{fs}: the manifest can be read", rows):
        listed = {f["path"] for f in files}
        check(len(rows["files"]) == len(phone), f"{fs}: manifest rows = files ({len(phone)})",
              len(rows["files"]))
        check({row[2] for row in rows["files"]} == listed, f"{fs}: each manifest row points at a file in DEST",
              {row[2] for row in rows["files"]} ^ listed)
        sha_of = {f["path"]: f["sha256"] for f in files}
        pairs = {(row[3], sha_of.get(row[2])) for row in rows["files"]}
        check(len({x for x, _ in pairs}) == len(pairs) == len({s for _, s in pairs}),
              f"{fs}: the manifest's hashes tell the files apart as SHA-256 does", pairs)
        check({row[0] for row in rows["contents"]} == listed, f"{fs}: the manifest's contents index DEST's files")
    check(not listing["temps"] and listing["intent_bytes"] == 0 and not listing["hidden"]
          and not listing["links"], f"{fs}: no temp file, intent, hidden file or link left",
          {k: listing[k] for k in ("temps", "intent_bytes", "hidden", "links")})

    if exits_zero(f"backup-again-{fs}") and exits_zero(f"listing-again-{fs}"):
        again = summary(f"backup-again-{fs}")
        check(again.get("copied") == 0 and again.get("failed") == 0, f"{fs}: the rerun copies nothing", again)
        check(parse(text(f"listing-again-{fs}.out")) == listing, f"{fs}: the rerun changes nothing in DEST")
    exits_zero(f"umount-{fs}")

    with tempfile.TemporaryDirectory() as into:
        host = read_back(fs, image, Path(into))
        if host is not None:
            guest = {f["path"]: f["sha256"] for f in files}
            check(host == guest, f"{fs}: the host reads the same files and bytes from the image",
                  {k: (host.get(k), guest.get(k)) for k in host.keys() ^ guest.keys()})


def main():
    out, fixture, filesystems = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    manifest = json.loads((fixture / "manifest.json").read_text())
    check(len(manifest["files"]) >= 14, "the fixture holds the FAT cases")
    for fs in filesystems:
        verify(out, manifest, fs)
    print(f"{len(failures)} check(s) failed" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
