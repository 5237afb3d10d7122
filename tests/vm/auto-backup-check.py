#!/usr/bin/env python3
"""Checks for tests/vm/auto-backup.sh, on the host, after each step of the guest run.

  auto-backup-check.py cut MANIFEST DEST       the phone was pulled out mid-copy
  auto-backup-check.py complete MANIFEST DEST  the backup finished after the replug
  auto-backup-check.py udev OUTDIR             what udev and mtpull watch recorded

MANIFEST is the fixture's manifest.json (path, size, sha256 of every file it serves).
"""

import json
import re
import sys
from pathlib import Path

from hashing import sha256_of

DATED = re.compile(r"^(\d{4}/\d{2}/\d{2}|undated)/[^/]+$")



def filed(dest):
    """Every file under a final name in DEST (not mtpull's own .mtpull/): path -> sha256."""
    return {
        str(path.relative_to(dest)): sha256_of(path)
        for path in sorted(dest.rglob("*"))
        if path.is_file() and ".mtpull" not in path.relative_to(dest).parts
    }


def temp_files(dest):
    tmp = dest / ".mtpull" / "tmp"
    return [p for p in tmp.rglob("*") if p.is_file()] if tmp.exists() else []


def fail(message):
    sys.exit(f"auto-backup-check: {message}")


def check_filed(manifest, dest):
    """Each file in DEST is exactly one fixture file, filed once, in a date folder."""
    by_hash = {f["sha256"]: f for f in manifest["files"]}
    seen = {}
    for path, digest in filed(dest).items():
        source = by_hash.get(digest)
        if source is None:
            fail(f"{path} matches no file on the phone: a half-written file under a final name?")
        if digest in seen:
            fail(f"{source['path']} was filed twice: {seen[digest]} and {path}")
        if not DATED.match(path):
            fail(f"{path} is not in a YYYY/MM/DD (or undated) folder")
        seen[digest] = path
    return seen


def cut(manifest_path, dest):
    manifest = json.loads(Path(manifest_path).read_text())
    seen = check_filed(manifest, dest)
    video = max(manifest["files"], key=lambda f: f["size"])
    if video["sha256"] in seen:
        fail(f"{video['path']} is complete although the phone was pulled out during it")
    partial = [p for p in temp_files(dest) if 0 < p.stat().st_size < video["size"]]
    if not partial:
        fail("no partial download was kept in .mtpull/tmp to resume from")
    kept = max(p.stat().st_size for p in partial)
    print(f"cut: {len(seen)} whole files filed, {kept} of {video['size']} video bytes kept to resume")


def complete(manifest_path, dest):
    manifest = json.loads(Path(manifest_path).read_text())
    seen = check_filed(manifest, dest)
    missing = [f["path"] for f in manifest["files"] if f["sha256"] not in seen]
    if missing:
        fail(f"not backed up: {missing}")
    if temp_files(dest):
        fail(f"left in .mtpull/tmp: {temp_files(dest)}")
    expected = "2023/07/14/IMG_20230714_101502.jpg"
    if expected not in seen.values():
        fail(f"{expected} is missing: the EXIF date was not used")
    print(f"complete: all {len(seen)} files byte-identical, each once, in date folders")


def events(monitor_log):
    """udevadm monitor --property output: one dict per event."""
    found = []
    for block in monitor_log.split("\n\n"):
        properties = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if properties:
            found.append(properties)
    return found


def udev(out):
    out = Path(out)
    install = (out / "install-udev.log").read_text()
    for needed in ("wrote /etc/udev/rules.d/69-mtpull.rules", "wrote /etc/systemd/user/mtpull-backup@.service",
                   "ran udevadm control --reload"):
        if needed not in install:
            fail(f"install-udev did not say {needed!r}:\n{install}")

    # The phone is on port 1 of the xHCI root hub: kernel name 1-1.
    phone = [e for e in events((out / "udev-monitor.log").read_text())
             if e.get("DEVTYPE") == "usb_device" and e.get("DEVPATH", "").endswith("/usb1/1-1")]
    adds = [e for e in phone if e.get("ACTION") == "add"]
    if len(adds) != 2:
        fail(f"udev processed {len(adds)} additions of the phone, not 2 (plugged in twice): {phone}")
    if any(e.get("ID_VENDOR_ID") != "46f4" for e in adds):
        fail(f"port 1 held something else than QEMU's usb-mtp: {adds}")
    for event in adds + [e for e in phone if e.get("ACTION") == "bind"]:
        tags = event.get("TAGS", "")
        if ":uaccess:" not in tags or ":systemd:" not in tags:
            fail(f"the phone was not tagged uaccess and systemd: TAGS={tags}")
        if event.get("SYSTEMD_USER_WANTS") != "mtpull-backup@1-1.service":
            fail(f"SYSTEMD_USER_WANTS={event.get('SYSTEMD_USER_WANTS')!r}, not mtpull-backup@1-1.service")
    if not any(e.get("ACTION") == "remove" for e in phone):
        fail("udev saw no removal of the phone")

    info = (out / "udev-info.txt").read_text()
    if "E: SYSTEMD_USER_WANTS=mtpull-backup@1-1.service" not in info:
        fail(f"udev's database lacks the unit for the plugged-in phone:\n{info}")
    test = (out / "udev-test.txt").read_text()
    if "Reading rules file: /etc/udev/rules.d/69-mtpull.rules" not in test \
            or "SYSTEMD_USER_WANTS=mtpull-backup@1-1.service" not in test:
        fail(f"udevadm test did not apply the rule:\n{test}")
    complaints = [line for line in test.splitlines() if "69-mtpull.rules" in line and "Reading" not in line]
    if complaints:
        fail(f"udev complains about the rule: {complaints}")

    watch = (out / "watch.log").read_text()
    status = (out / "watch.status").read_text().strip()
    if status != "0" or "stopped watching" not in watch:
        fail(f"mtpull watch did not stop cleanly on Ctrl-C (status {status}):\n{watch}")
    for said in ("connected", "backup stopped: lost the connection", "disconnected", "backup finished"):
        if said not in watch:
            fail(f"mtpull watch never said {said!r}:\n{watch}")
    unit = (out / "unit.log").read_text()
    status = (out / "unit.status").read_text().strip()
    if status != "0" or "11 already backed up" not in unit:
        fail(f"the unit's command (mtpull --device 1-1 auto) did not find everything backed up (status {status}):\n{unit}")
    print("udev: tagged uaccess+systemd and SYSTEMD_USER_WANTS=mtpull-backup@1-1.service on both plug-ins; "
          "watch stopped cleanly; the unit's command found everything backed up")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    step, args = sys.argv[1], sys.argv[2:]
    if step == "cut":
        cut(args[0], Path(args[1]))
    elif step == "complete":
        complete(args[0], Path(args[1]))
    elif step == "udev":
        udev(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
