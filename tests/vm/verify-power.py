#!/usr/bin/env python3
"""Checks one run of tests/vm/power-cut.sh against the invariants, on the host, and prints
one JSON line (power-cut.sh appends it to results.jsonl); exits 1 if an invariant broke.

  verify-power.py whole FIXTURE RUN --fs FS  the uncut calibration run
  verify-power.py cut FIXTURE RUN CHECK --fs FS --cut N --seed N --writeback MODE
  verify-power.py summary RESULTS            totals over results.jsonl, for the README

RUN and CHECK are the two boots' --out folders: checks/ from the guest, phone-after (the
phone folder's `sha256sum` after that boot), fsck and fsck.status (the image's fsck after
it); RUN/checks/steps is mtpull's step trace as the cut left it (its last line the step
the backup had reached: where the cut landed) and RUN/aim.json what power_watch.py aimed
at. After a cut (what the second boot found before doing anything):
  lost        a file gone from the phone whose bytes are not a visible file in DEST
  corrupted   a visible file in DEST whose bytes are no phone file's (incomplete, mixed)
  duplicated  the same bytes twice in DEST
  the phone   every file still there has its bytes; nothing new appeared
After the rerun: it exits 0; every phone file is in DEST exactly once (lost / corrupted /
duplicated as above); leftovers: a temp file, an intent, a hidden file or a link; the
manifest has one row per file, each pointing at one; the phone is empty (all backed up,
so --delete-after deleted all); and (ext4) e2fsck finds the image clean.
"""

import json
import sys
from collections import Counter
from pathlib import Path

from dest_listing import parse
from power_watch import phase_of


def sums(path):
    """{path: sha256} from `sha256sum` output."""
    found = {}
    for line in Path(path).read_text().splitlines():
        digest, name = line.split(None, 1)
        found[name.strip()] = digest
    return found


def text(folder, name):
    path = Path(folder) / "checks" / name
    return path.read_text(errors="replace") if path.exists() else None


def json_lines(raw):
    lines = []
    for line in (raw or "").splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line the cut truncated
    return lines


class Result:
    def __init__(self, **fields):
        self.fields = dict(fields, lost=0, corrupted=0, duplicated=0, leftovers=0, problems=[])

    def count(self, key, items, what):
        items = sorted(items)
        self.fields[key] += len(items)
        if items:
            self.problems(f"{what}: {items[:5]}")

    def problems(self, what):
        self.fields["problems"].append(what)

    def emit(self):
        print(json.dumps(self.fields, ensure_ascii=False))
        return 1 if self.fields["problems"] else 0


def dest_against(result, phone, listing, when):
    """DEST's visible files against all the phone's files: each once, with its bytes."""
    held = Counter(f["sha256"] for f in listing["files"])
    wanted = Counter(phone.values())
    result.count("lost", [p for p, d in phone.items() if held[d] == 0], f"{when}: not in DEST")
    result.count("corrupted", [f["path"] for f in listing["files"] if f["sha256"] not in wanted],
                 f"{when}: in DEST with bytes no phone file has")
    result.count("duplicated", [d for d, n in held.items() if n > 1 and d in wanted],
                 f"{when}: the same file twice in DEST")


def final_state(result, phone, folder, fs):
    """The rerun's end: everything once, manifest rows = files, no leftovers, phone empty."""
    status = (text(folder, "rerun.status") or text(folder, "backup.status") or "missing").strip()
    if status != "0":
        result.problems(f"the backup to the end exits {status}")
    raw = text(folder, "listing.out")
    if not raw:
        result.problems("no listing of DEST after the backup")
        return
    listing = parse(raw)
    dest_against(result, phone, listing, "after the rerun")
    result.count("leftovers", listing["temps"] + listing["hidden"] + listing["links"]
                 + (["intent"] if listing["intent_bytes"] else []), "left in DEST")
    rows = listing.get("manifest", {})
    listed = {f["path"] for f in listing["files"]}
    if "files" not in rows:
        result.problems(f"manifest unreadable: {rows}")
    elif len(rows["files"]) != len(phone) or {r[2] for r in rows["files"]} != listed:
        result.problems(f"manifest rows {len(rows['files'])} != files {len(listed)}")
    left = sums(Path(folder) / "phone-after")
    if left:
        result.problems(f"still on the phone after the whole backup: {sorted(left)[:5]}")
    fsck = Path(folder) / "fsck"
    clean = fsck.with_name("fsck.status").read_text().strip() == "0"
    result.fields["fsck_clean"] = clean
    if not clean:
        # What a FAT's fsck found (a cut always leaves the dirty bit): kept for the report.
        result.fields["fsck_says"] = [line for line in fsck.read_text().splitlines()
                                      if line and not line.startswith((" ", "fsck", "Leaving"))][:8]
    if not clean and fs == "ext4":
        result.problems(f"e2fsck: {fsck.read_text()[-300:]}")
    result.fields["files_checked"] = result.fields.get("files_checked", 0) + len(phone)


def phone_of(fixture):
    manifest = json.loads((Path(fixture) / "manifest.json").read_text())
    return {f["path"]: f["sha256"] for f in manifest["files"]}


def whole(fixture, run, options):
    phone = phone_of(fixture)
    summary = next((l["summary"] for l in json_lines(text(run, "backup.out")) if "summary" in l), {})
    result = Result(kind="whole", seconds=float(text(run, "backup.seconds") or 0),
                    copied=summary.get("copied"), deleted=summary.get("deleted"))
    final_state(result, phone, run, options.get("--fs", "ext4"))
    return result.emit()


def traced_steps(run):
    """The names in the run's step trace, whole lines only, in order."""
    raw = text(run, "steps") or ""
    return [line.split("\t", 1)[1] for line in raw.split("\n")[:-1] if "\t" in line]


def cut(fixture, run, check, options):
    phone = phone_of(fixture)
    events = Counter(l.get("event") for l in json_lines(text(run, "backup.out")))
    on_phone = sums(Path(run) / "phone-after")
    gone = [p for p in phone if p not in on_phone]
    finished = text(run, "backup.status") is not None
    steps = traced_steps(run)
    aim_file = Path(run) / "aim.json"
    aimed = json.loads(aim_file.read_text()) if aim_file.exists() else {}
    result = Result(kind="cut", cut=int(options["--cut"]), seed=int(options["--seed"]),
                    writeback=options["--writeback"], filed_before_cut=events["copied"] + events["duplicate"],
                    deleted_before_cut=len(gone), backup_ended_before_cut=finished,
                    step=len(steps), step_name=steps[-1] if steps else None, **aimed)
    result.fields["phase"] = "after the backup ended" if finished else phase_of(steps)
    changed = [p for p, d in on_phone.items() if phone.get(p) != d]
    if changed:
        result.problems(f"the phone holds files it did not hold, or changed bytes: {changed[:5]}")
    # An empty listing is an empty DEST (a cut before the first file was filed).
    raw = text(check, "after-cut.out")
    if raw is None or (text(check, "mount.status") or "").strip() != "0":
        result.problems("the second boot could not mount or list DEST")
        return result.emit()
    after_cut = parse(raw)
    held = Counter(f["sha256"] for f in after_cut["files"])
    result.count("lost", [p for p in gone if held[phone[p]] == 0], "deleted from the phone, not in DEST")
    wanted = Counter(phone.values())
    result.count("corrupted", [f["path"] for f in after_cut["files"] if f["sha256"] not in wanted],
                 "after the cut: a visible file in DEST with bytes no phone file has")
    result.count("duplicated", [d for d, n in held.items() if n > 1], "after the cut: the same file twice in DEST")
    result.fields["in_dest_after_cut"] = len(after_cut["files"])
    result.fields["temps_after_cut"] = len(after_cut["temps"])
    result.fields["files_checked"] = len(phone)
    final_state(result, phone, check, options.get("--fs", "ext4"))
    return result.emit()


def summary(results):
    rows = [json.loads(line) for line in Path(results).read_text().splitlines() if line.strip()]
    cuts = [r for r in rows if r["kind"] == "cut"]
    total = {key: sum(r[key] for r in rows) for key in ("lost", "corrupted", "duplicated", "leftovers")}
    broken = [r["cut"] for r in cuts if r["problems"]]
    whole_runs = [r for r in rows if r["kind"] == "whole"]
    print(f"power cuts: {len(cuts)} (lazy writeback {sum(r['writeback'] == 'lazy' for r in cuts)}); "
          f"uncut runs: {len(whole_runs)} ({', '.join(str(r['seconds']) + ' s' for r in whole_runs)})")
    print(f"files checked: {sum(r.get('files_checked', 0) for r in rows)}")
    print("lost {lost}, corrupted {corrupted}, duplicated {duplicated}, leftovers {leftovers}".format(**total))
    print(f"cuts with a broken invariant: {broken or 'none'}")
    for what, key in (("where the cuts landed", "phase"), ("what they aimed at", "aimed_phase")):
        counts = Counter(r.get(key, "(clock-timed)") for r in cuts)
        print(f"{what}: " + ", ".join(f"{phase} {n}" for phase, n in sorted(counts.items())))
    if cuts:
        deleted = sorted(r["deleted_before_cut"] for r in cuts)
        steps = sorted(r.get("step", 0) for r in cuts)
        print(f"phone files deleted before the cut: min {deleted[0]}, median {deleted[len(deleted) // 2]}, "
              f"max {deleted[-1]}; step reached: min {steps[0]}, median {steps[len(steps) // 2]}, max {steps[-1]}")
        print(f"fsck clean after the rerun: {sum(r.get('fsck_clean', False) for r in cuts)} of {len(cuts)}")
    return 1 if broken or any(r["problems"] for r in whole_runs) else 0


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    positional = [a for a in args if not a.startswith("--")][: {"whole": 2, "cut": 3}.get(mode, 1)]
    flags = args[len(positional):]
    options = dict(zip(flags[::2], flags[1::2]))
    if mode == "whole":
        return whole(*positional, options)
    if mode == "cut":
        return cut(*positional, options)
    if mode == "summary":
        return summary(*positional)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
