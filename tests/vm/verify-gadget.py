#!/usr/bin/env python3
"""Verifies, on the host, the gadget-only checks tests/vm/guest/gadget-checks.sh recorded.

  verify-gadget.py GADGETDIR FIXTURE

GADGETDIR is the guest's $VM_OUT/gadget (high/, super/, faults/), FIXTURE the folder with
the fixture's manifest.json. The checks each speed shares with QEMU's device are
verify-checks.py's. Prints one line per check; exits 1 if any failed.
"""

import json
import sys
from pathlib import Path

from hashing import sha256_of

VIDEO = "DCIM/Camera/VID_20230801_183000.mp4"
# The phases of gadget-checks.sh's profiles/ folder: what `mtpull devices` must call it.
PROFILES = {
    "samsung": "Simulated Samsung phone",
    "iphone": "Simulated iPhone",
    # Found only through the Microsoft OS descriptor: vendor class, no interface string.
    "vendor-class": "Simulated Android phone",
}
failures = []


def check(ok, what, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail and not ok else ''}")
    if not ok:
        failures.append(what)


def landed(dest):
    """Every file a backup filed under DEST, by name (outside its .mtpull folder)."""
    return {p.name: p for p in dest.rglob("*")
            if p.is_file() and ".mtpull" not in p.relative_to(dest).parts}


def main():
    root, fixture = Path(sys.argv[1]), Path(sys.argv[2])
    manifest = json.loads((fixture / "manifest.json").read_text())
    files = {f["path"]: f for f in manifest["files"]}
    video = files[VIDEO]

    def text(folder, name):
        path = folder / name
        return path.read_text(errors="replace").strip() if path.exists() else ""

    def exit_status(folder, name):
        return text(folder, f"{name}.status") or "missing"

    def copied_intact(dest, wanted, what):
        got = landed(dest)
        for path in wanted:
            name = Path(path).name
            check(name in got and sha256_of(got[name]) == files[path]["sha256"],
                  f"{what}: {path} byte-identical")

    # Device Reset can kill Android's MTP server until the cable is replugged: never sent.
    records = sorted(root.rglob("record*.txt"))
    check(len(records) == 4 + len(PROFILES), "every gadget kept its record of class requests",
          f"{[str(r.relative_to(root)) for r in records]}")
    for record in records:
        lines = record.read_text().splitlines()
        check("reset" not in lines, f"no Device Reset reached the phone ({record.relative_to(root)})")
        check("enable" in lines, f"the host configured the phone ({record.relative_to(root)})")

    for speed in ("high", "super"):
        checks = root / speed / "checks"
        said = text(checks, "quirks.err")
        check("transport quirks: 4 queued IN transfers, blocking event waits, no CPU pinning" in said,
              f"{speed}: mtpull runs its default transport configuration behind dummy_hcd", said[-300:])
        part = text(checks, "unplug-copy.part-bytes")
        part_bytes = int(part) if part.isdigit() else 0
        check(0 < part_bytes < video["size"], f"{speed}: unplugged mid-video",
              f"{part or 'no'} bytes of {video['size']}")
        check(exit_status(checks, "unplug-copy") not in ("0", "missing"),
              f"{speed}: the backup cut off by the unplug fails", text(checks, "unplug-copy.err")[-300:])
        status = exit_status(checks, "after-replug")
        check(status == "0", f"{speed}: the backup after the replug exits 0",
              f"exit {status}: {text(checks, 'after-replug.err')[-300:]}")
        check(" 1 resumed" in text(checks, "after-replug.out"), f"{speed}: it resumes the video",
              text(checks, "after-replug.out")[-300:])
        copied_intact(root / speed / "dest-unplug", [VIDEO], f"{speed} after the replug")

    faults = root / "faults"
    log = text(faults, "record-stall.txt").splitlines()
    check("halted bulk-in" in log and "halted bulk-out" in log,
          "the phone halted both bulk endpoints mid-video", f"record: {log}")
    status = exit_status(faults, "stall-copy")
    check(status == "0", "the backup halted mid-video takes it up again in the same run",
          f"exit {status}: {text(faults, 'stall-copy.err')[-300:]}")
    status = exit_status(faults, "after-stall")
    check(status == "0", "the backup after the halt exits 0",
          f"exit {status}: {text(faults, 'after-stall.err')[-300:]}")
    copied_intact(faults / "dest-stall", [VIDEO], "after the halt")

    status = exit_status(faults, "slow-ls")
    check(status == "0", "ls -r --json against a phone answering 250 ms late (no ZLPs) exits 0",
          f"exit {status}: {text(faults, 'slow-ls.err')[-300:]}")
    try:
        rows = json.loads(text(faults, "slow-ls.out") or "[]")
    except json.JSONDecodeError:
        rows = []
    listed = {r["path"].split("/", 1)[1] for r in rows if not r["folder"]}
    check(listed == set(files), "the slow listing names every fixture file",
          f"missing {sorted(set(files) - listed)[:5]}")
    status = exit_status(faults, "slow-backup")
    check(status == "0", "a backup from the slow phone exits 0",
          f"exit {status}: {text(faults, 'slow-backup.err')[-300:]}")
    copied_intact(faults / "dest-slow", [p for p in files if p != VIDEO], "slow backup")

    profiles = root / "profiles"
    for phone, name in PROFILES.items():
        for step in ("devices", "ls", "backup"):
            status = exit_status(profiles, f"{phone}-{step}")
            if phone == "iphone" and step == "devices":
                # The iPhone trusts the computer 2 s after the gadget starts, and `devices`
                # does not wait: which side of that moment it lands on depends on the
                # guest's speed. Before it, the phone is named with no storage and the
                # Trust hint, exit 3; `ls --wait` below then has to wait for the Trust.
                untrusted = status == "3" and "tap Trust" in text(profiles, "iphone-devices.out")
                check(status == "0" or untrusted,
                      "iphone: `devices` lists it, or says it does not trust this computer yet",
                      f"exit {status}: {text(profiles, 'iphone-devices.out')[-300:]}")
                continue
            check(status == "0", f"{phone}: `{step}` exits 0",
                  f"exit {status}: {text(profiles, f'{phone}-{step}.err')[-300:]}")
        check(name in text(profiles, f"{phone}-devices.out"), f"{phone}: devices names it {name}",
              text(profiles, f"{phone}-devices.out")[-300:])
        try:
            rows = json.loads(text(profiles, f"{phone}-ls.out") or "[]")
        except json.JSONDecodeError:
            rows = []
        listed = {r["path"].split("/", 1)[1] for r in rows if not r["folder"]}
        check(listed == set(files), f"{phone}: ls -r --json names every fixture file",
              f"missing {sorted(set(files) - listed)[:5]}, unexpected {sorted(listed - set(files))[:5]}")
        copied_intact(profiles / f"dest-{phone}", [p for p in files if p != VIDEO], f"{phone} backup")

    if failures:
        print(f"{len(failures)} gadget check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
