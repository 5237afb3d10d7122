#!/usr/bin/env python3
"""Checks what `mtpull watch` made of several phones plugged in together (inside the guest,
after tests/vm/guest/multi-phone.sh): every device's backup finished, with nothing failed; DEST
holds every distinct file of every phone exactly once, byte for byte (a picture all phones
hold, once; a photo under the same path, size and date on each phone but with its own bytes,
once per phone); and each later round copied nothing.

usage: multi-phone-check.py DEST OUTDIR ROUNDS FIXTURE...   (FIXTURE: a folder holding
       manifest.json, as make-fixture.py makes it)
"""

import json
import sys
from collections import Counter
from pathlib import Path

from hashing import sha256_of


def main():
    dest, out, rounds, fixtures = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    problems = []
    for round_ in range(1, rounds + 1):
        log = (out / f"watch-{round_}.log").read_text(errors="replace")
        if "another mtpull" in log:
            problems.append(f"round {round_}: a device was turned away from DEST")
        ended = (out / f"ended-{round_}.txt").read_text().splitlines()
        if len(ended) != len(fixtures):
            problems.append(f"round {round_}: {len(ended)} backups ended, not {len(fixtures)}")
        for line in ended:
            if ": backup finished: " not in line or " 0 failed" not in line:
                problems.append(f"round {round_}: {line}")
            elif round_ > 1 and "copied 0 files" not in line:
                problems.append(f"round {round_} copied again: {line}")

    wanted = {}
    for fixture in fixtures:
        for entry in json.loads((Path(fixture) / "manifest.json").read_text())["files"]:
            wanted.setdefault(entry["sha256"], f"{Path(fixture).name}/{entry['path']}")
    found = Counter()
    where = {}
    for path in sorted(dest.rglob("*")):
        relative = path.relative_to(dest)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            digest = sha256_of(path)
            found[digest] += 1
            where.setdefault(digest, []).append(str(relative))
    for digest, source in sorted(wanted.items(), key=lambda item: item[1]):
        if found[digest] == 0:
            problems.append(f"missing from DEST: {source}")
        elif found[digest] > 1:
            problems.append(f"{source} is in DEST {found[digest]} times: {where[digest]}")
    for digest in found.keys() - wanted.keys():
        problems.append(f"in DEST but on no phone: {where[digest]}")

    for problem in problems:
        print(f"multi-phone-check: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"multi-phone-check: {len(fixtures)} phones, {len(wanted)} distinct files, each once in DEST; "
          f"{rounds - 1} later rounds copied nothing", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
