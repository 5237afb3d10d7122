#!/usr/bin/env python3
"""Verifies, on the host, what tests/vm/guest/restore-checks.sh recorded in the guest.

  verify-restore.py OUTDIR PHONE

OUTDIR holds checks/ and dest/ (run-guest.sh's --out), PHONE the folder QEMU's writable
usb-mtp device served: what the uploads wrote there is compared, by SHA-256, with what the
guest sent (checks/sent.sha256). Prints one line per check; exits 1 if any failed.
"""

import json
import sys
from pathlib import Path

from hashing import sha256_of

# 12 + size is a multiple of 64: QEMU's usb-mtp writes the file whole, then never answers.
WRITTEN_UNCONFIRMED = {"Documents/boundary-500.bin", "Documents/boundary-1012.bin"}
# The same with more than one 512 KiB piece: QEMU never writes the last 64 bytes.
NEVER_WHOLE = "Documents/cut-1048628.bin"
KEPT_AFTER_RM = "DCIM/Camera/IMG_20230714_101502.jpg"  # rm without --yes refused
REMOVED_BY_RM = "Documents/boundary-1012.bin"

failures = []


def check(ok, what, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail and not ok else ''}")
    if not ok:
        failures.append(what)


def main():
    out, phone = Path(sys.argv[1]), Path(sys.argv[2])
    checks = out / "checks"

    def text(name):
        path = checks / name
        return path.read_text(errors="replace") if path.exists() else ""

    def status(name):
        return text(f"{name}.status").strip()

    def exits(name, code):
        err = text(f"{name}.err").strip().splitlines()
        check(status(name) == str(code), f"`{name}` exits {code}",
              f"exit {status(name) or 'missing'}: {' | '.join(err[-3:])}")

    sent = {}
    for line in text("sent.sha256").splitlines():
        digest, path = line.split(None, 1)
        sent[path.strip()] = digest
    check(len(sent) >= 9 and NEVER_WHOLE in sent and WRITTEN_UNCONFIRMED <= sent.keys(),
          "the guest sent the fixture's small files and the 64-byte cases", repr(sorted(sent)))
    by_name = {Path(p).name: (p, d) for p, d in sent.items()}
    sizes = {}
    for line in text("sent.sizes").splitlines():
        size, path = line.split(" ", 1)
        sizes[Path(path).name] = int(size)

    exits("restore-dry-run", 0)
    check(all(f"-> " in line for line in text("restore-dry-run.out").splitlines()[:-1])
          and f"would send {len(sent)}" in text("restore-dry-run.out"),
          "the dry run lists every file", text("restore-dry-run.out")[-300:])

    # The first run: everything sent, but the file QEMU never writes whole.
    exits("restore", 1)
    err = text("restore.err")
    check(f"failed" in err and NEVER_WHOLE.split("/")[-1] in err and "did not confirm" in err
          and "deleted" in err, "restore reports the unconfirmed, incomplete upload as failed and deleted",
          err[-500:])
    check(f"sent {len(sent) - 1} " in text("restore.out"), f"restore sent {len(sent) - 1} files",
          text("restore.out"))
    for path in sorted(WRITTEN_UNCONFIRMED):
        said = [line for line in err.splitlines() if line.startswith("sent ") and path in line]
        check(len(said) == 1 and "reads back identical" in said[0],
              f"{path}: unconfirmed by QEMU, read back and kept", repr(said))
    # The second run finds them there (same name and size) and fails on that one again.
    exits("restore-again", 1)
    check(f"sent 0 " in text("restore-again.out") and f"{len(sent) - 1} there already" in text("restore-again.out"),
          "a second restore sends nothing new", text("restore-again.out"))

    # What reached the device's folder, by hash (rm removed one file afterwards).
    restored = phone / "DCIM" / "Restored"
    for name, (path, digest) in sorted(by_name.items()):
        landed = restored / name
        if path == NEVER_WHOLE:
            check(not landed.exists(), f"{name}: the incomplete copy is not left on the device")
        elif path == REMOVED_BY_RM:
            check(not landed.exists(), f"{name}: removed by `rm --yes`")
        else:
            check(landed.is_file() and sha256_of(landed) == digest,
                  f"{name}: on the device, byte-identical" +
                  (" (read back after QEMU's unanswered upload)" if path in WRITTEN_UNCONFIRMED else ""))
    leftovers = sorted(p.name for p in restored.iterdir()) if restored.is_dir() else []
    check(set(leftovers) <= set(by_name), "nothing else in DCIM/Restored", repr(leftovers))

    # ls through MTP agrees with the folder.
    exits("ls-restored", 0)
    try:
        listed = {Path(e["path"]).name: e["size"] for e in json.loads(text("ls-restored.out"))
                  if "/DCIM/Restored/" in e["path"] and not e["folder"]}
    except (ValueError, KeyError) as error:
        listed = {}
        check(False, "ls -r --json parses", str(error))
    wanted = {name: size for name, size in sizes.items() if by_name[name][0] != NEVER_WHOLE}
    check(listed == wanted, "ls -r --json lists the restored files with their sizes",
          f"listed {listed}, wanted {wanted}")

    # The round trip: backing the phone up again gives the same bytes.
    exits("backup-restored", 0)
    dest = out / "dest"
    backed = {p.name: sha256_of(p) for p in dest.rglob("*") if p.is_file() and ".mtpull" not in p.parts}
    check(all(backed.get(name) == digest for name, (path, digest) in by_name.items() if path != NEVER_WHOLE),
          "backup of the restored files: every one byte-identical to what was sent",
          repr({n: (backed.get(n, "missing")[:12], d[:12]) for n, (_, d) in by_name.items()}))

    # rm: nothing without a confirmation; exactly the named file with --yes.
    check(status("rm-unconfirmed") not in ("", "0") and "--yes" in text("rm-unconfirmed.err")
          and (restored / Path(KEPT_AFTER_RM).name).is_file(),
          "rm without --yes and without a terminal deletes nothing", text("rm-unconfirmed.err"))
    exits("rm", 0)
    check(text("rm.out").strip().endswith(f"DCIM/Restored/{Path(REMOVED_BY_RM).name}"),
          "rm --yes says what it deleted", text("rm.out"))
    try:
        after = [Path(e["path"]).name for e in json.loads(text("ls-after-rm.out"))]
    except ValueError:
        after = []
    check(Path(REMOVED_BY_RM).name not in after and Path(KEPT_AFTER_RM).name in after,
          "after rm, the device lists the other files and not the deleted one", repr(after))

    print(f"{len(failures)} restore check(s) failed" if failures else "all restore checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
