#!/usr/bin/env python3
"""Verifies, on the host, what tests/vm/guest/checks.sh recorded in the guest.

  verify-checks.py OUTDIR FIXTURE [DEVICE]

OUTDIR holds checks/ and dest/ (run-guest.sh's --out, or one speed's folder of the gadget
tests), FIXTURE the folder holding the fixture's root/ and manifest.json, DEVICE the name
`mtpull devices` must show (default: QEMU's usb-mtp). Prints one line per check; exits 1
if any failed.
"""

import json
import re
import sys
from pathlib import Path

from hashing import sha256_of

# Where `mtpull backup` must file each fixture file under the default %Y/%m/%d template:
# EXIF DateTimeOriginal as the camera wrote it (local time), the MP4's mvhd creation time,
# a date in the file name, and the device's DateModified (the fixture's mtime) last.
EXPECTED_FOLDER = {
    "DCIM/Camera/IMG_20211231_233000.jpg": "2021/12/31",
    "DCIM/Camera/IMG_20220101_120000.jpg": "2022/01/01",  # name only
    "DCIM/Camera/IMG_20230714_101502.jpg": "2023/07/14",
    "DCIM/Camera/PXL_20240229_235958123.jpg": "2024/02/29",
    "DCIM/Camera/VID_20230801_183000.mp4": "2023/08/01",
    "Pictures/Été 2023/plage à Nice.jpg": "2023/08/15",
    "Pictures/日本 旅行/東京 タワー.jpg": "2019/04/01",
    "Pictures/scan without date.jpg": "2020/06/15",  # the device's date
    "Documents/empty.txt": "2020/06/15",
    "Documents/boundary-500.bin": "2020/06/15",
    "Documents/boundary-1012.bin": "2020/06/15",
}
VIDEO = "DCIM/Camera/VID_20230801_183000.mp4"

failures = []


def check(ok, what, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail and not ok else ''}")
    if not ok:
        failures.append(what)



def main():
    out, fixture = Path(sys.argv[1]), Path(sys.argv[2])
    device = sys.argv[3] if len(sys.argv) > 3 else "QEMU filesharing"
    checks = out / "checks"
    manifest = json.loads((fixture / "manifest.json").read_text())
    files = {f["path"]: f for f in manifest["files"]}
    storage = manifest["storage_description"]

    def text(name):
        path = checks / name
        return path.read_text(errors="replace") if path.exists() else ""

    def status(name):
        return text(f"{name}.status").strip()

    def ran(name):
        ok = status(name) == "0"
        err = text(f"{name}.err").strip().splitlines()
        check(ok, f"`{name}` exits 0", f"exit {status(name) or 'missing'}: {' | '.join(err[-3:])}")
        return ok

    # mtpull devices: the device and its one storage.
    if ran("devices"):
        shown = text("devices.out")
        check(device in shown and storage in shown,
              f"devices shows {device} with its storage", repr(shown[:300]))

    # mtpull ls -r --json, through each backend: exactly the fixture's files and folders.
    wanted = {(f"{storage}/{p}", False, f["size"]) for p, f in files.items()}
    wanted |= {(f"{storage}/{d}", True, 0) for d in manifest["folders"]}
    for name in ("ls", "ls-libusb"):
        if not ran(name):
            continue
        try:
            rows = json.loads(text(f"{name}.out"))
        except json.JSONDecodeError as error:
            check(False, f"{name} prints JSON", str(error))
            continue
        got = {(r["path"], r["folder"], 0 if r["folder"] else r["size"]) for r in rows}
        check(len(got) == len(rows), f"{name} lists each object once", f"{len(rows)} rows")
        check(got == wanted, f"{name} lists exactly the fixture tree ({len(wanted)} objects)",
              f"missing {sorted(wanted - got)[:5]}, unexpected {sorted(got - wanted)[:5]}")

    # The interrupted run was killed mid-file, leaving part of the video to resume.
    part = text("interrupted.part-bytes").strip()
    part_bytes = int(part) if part.isdigit() else 0
    check(0 < part_bytes < files[VIDEO]["size"],
          "the killed backup left a partial temp file of the video", f"{part or 'no'} bytes")
    check(status("interrupted") == "137", "the first backup was killed (SIGKILL)",
          f"exit {status('interrupted')}: {text('interrupted.err')[-300:]}")

    # The full backup: resumes the video, copies every file byte-identical into its folder.
    if ran("backup"):
        summary = text("backup.out")
        copied = re.search(r"copied (\d+) ", summary)
        check(copied and int(copied.group(1)) == len(files),
              f"backup copies all {len(files)} files", summary.strip()[-300:])
        check(re.search(r"\b1 resumed\b", summary) is not None, "backup resumes the killed download",
              summary.strip()[-300:])
    dest = out / "dest"
    landed = {str(p.relative_to(dest)) for p in dest.rglob("*")
              if p.is_file() and ".mtpull" not in p.relative_to(dest).parts}
    expected = {f"{EXPECTED_FOLDER[p]}/{Path(p).name}" for p in files}
    check(set(EXPECTED_FOLDER) == set(files), "every fixture file has an expected folder",
          f"{sorted(set(files) ^ set(EXPECTED_FOLDER))}")
    check(landed == expected, "backup files each photo/video in its date folder",
          f"missing {sorted(expected - landed)}, unexpected {sorted(landed - expected)}")
    for path, info in files.items():
        target = dest / EXPECTED_FOLDER.get(path, "?") / Path(path).name
        if target.exists():
            check(sha256_of(target) == info["sha256"], f"byte-identical: {path}")

    # A second backup finds everything already there.
    if ran("backup-again"):
        summary = text("backup-again.out")
        check(re.search(r"copied 0 ", summary) is not None
              and f"{len(files)} already backed up" in summary,
              "a second backup copies nothing", summary.strip()[-300:])

    seconds = {n: text(f"{n}.seconds").strip() for n in ("devices", "ls", "ls-libusb", "backup", "backup-again")}
    print("timings (s): " + ", ".join(f"{n} {s}" for n, s in seconds.items()))
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
