#!/usr/bin/env python3
"""Follows a guest's `mtpull backup` by its step trace and cuts the power (SIGKILLs QEMU)
at a point chosen by the backup's own progress, not by the clock: under any load the
cuts spread over the whole run (tests/vm/power-cut.sh calls this).

mtpull, run with MTPULL_FAULT_TRACE=FILE, appends `N<TAB>what` to FILE before each step
that changes DEST, its state or the phone; in the guest FILE is RUN/checks/steps, on the
share the host sees, and the guest's write returns only once QEMU has written it here.
So the trace's last line is the step the backup has reached.

  power_watch.py record RUN PIDFILE
      follows an uncut run (the guest has written RUN/checks/started) until the backup
      ends (RUN/checks/backup.status) and writes RUN/timeline.json: each step's name and
      seconds after the start as the host saw them, and the end's.
  power_watch.py cut RUN PIDFILE TIMELINE --seed N
      picks a phase at random, evenly: before the first file (the listing, DEST made:
      until the first download is opened), copying a
      file (a download opened or written, its bytes arriving), filing (a download
      synced, renamed or linked into place, folders made and synced), the manifest's
      commit, deleting from the phone, or after the backup has ended (before the guest's
      writeback); then a step of that phase in TIMELINE — the M-th step named NAME, as
      batch commits come by time and so not at the same step number in every run — and
      a fraction F. It waits until the live backup takes its M-th NAME step and kills
      QEMU F of the way to the next step (the gap the uncut run took there, scaled by
      how fast this run has gone so far), or at once when the next step comes first.
      RUN/aim.json says what was aimed at and what the host had seen when it cut.

The watcher runs at the normal priority whatever its caller's: it sleeps between polls
(a few milliseconds of CPU a second), and a watcher starved by a loaded host would
see the guest several steps late.
"""

import json
import os
import random
import signal
import sys
import time
from pathlib import Path

POLL = 0.005
# How long after the backup's end a cut aimed there may come (seconds): well inside the
# lazy writeback's minute, beyond the kernel's own 5 s ext4 commit only sometimes.
AFTER_END = 8.0
PHASES = ("before the first file", "copying a file", "filing", "the manifest's commit",
          "deleting from the phone", "after the backup ended")
COPYING = {"make the temp folder", "open a download", "write a download", "restart a download",
           "sync a suspended download", "remove a stale download"}


def phase_of(steps):
    """The phase a backup is in once it has begun `steps` (a trace's names, in order): before
    the first file until it opens its first download (the listing, DEST made), then by
    the last step begun."""
    if "open a download" not in steps:
        return PHASES[0]
    step = steps[-1]
    if step in COPYING:
        return PHASES[1]
    if step == "commit the manifest":
        return PHASES[3]
    if step == "delete a file from the phone":
        return PHASES[4]
    return PHASES[2]


class Trace:
    """The live trace of one run, read as it grows; whole lines only."""

    def __init__(self, run):
        self.checks = Path(run) / "checks"
        self.path = self.checks / "steps"
        self.pending = b""
        self.steps = []  # (name, seconds after the start as seen here)
        self.start = time.monotonic()
        self.offset = 0

    def poll(self):
        try:
            with open(self.path, "rb") as trace:
                trace.seek(self.offset)
                data = trace.read()
        except FileNotFoundError:
            return
        self.offset += len(data)
        lines = (self.pending + data).split(b"\n")
        self.pending = lines.pop()
        now = time.monotonic() - self.start
        for line in lines:
            number, _, name = line.decode("utf-8", "replace").partition("\t")
            if int(number) != len(self.steps) + 1:
                raise SystemExit(f"power_watch: trace out of order at {line!r}")
            self.steps.append((name, now))

    def ended(self):
        return (self.checks / "backup.status").exists()

    def elapsed(self):
        return time.monotonic() - self.start


def alive(pidfile):
    try:
        os.kill(int(Path(pidfile).read_text()), 0)
        return True
    except (OSError, ValueError):
        return False


def record(run, pidfile):
    trace = Trace(run)
    while not trace.ended() and alive(pidfile):
        trace.poll()
        time.sleep(POLL)
    trace.poll()
    timeline = {"steps": trace.steps, "end": trace.elapsed(), "ended": trace.ended()}
    (Path(run) / "timeline.json").write_text(json.dumps(timeline))
    return 0 if trace.ended() else 1


def aim(timeline, rng):
    """(phase, K, F): cut F of the way from step K (0: the start) to the next."""
    steps = timeline["steps"]
    by_phase = {phase: [] for phase in PHASES}
    by_phase[PHASES[0]].append(0)
    names = [name for name, _ in steps]
    for k in range(1, len(names) + 1):
        by_phase[phase_of(names[:k])].append(k)
    by_phase[PHASES[5]].append(len(steps))
    phase = rng.choice([p for p in PHASES if by_phase[p]])
    return phase, rng.choice(by_phase[phase]), rng.random()


def occurrences(steps, name):
    """How many of `steps` are named `name`."""
    return sum(1 for step, _ in steps if step == name)


def cut(run, pidfile, timeline_file, seed):
    os.setpriority(os.PRIO_PROCESS, 0, 0)
    timeline = json.loads(Path(timeline_file).read_text())
    calibrated = [0.0] + [t for _, t in timeline["steps"]] + [timeline["end"]]
    phase, k, fraction = aim(timeline, random.Random(seed))
    after_end = phase == PHASES[5]
    name = timeline["steps"][k - 1][0] if k and not after_end else None
    nth = occurrences(timeline["steps"][:k], name) if name else 0
    trace = Trace(run)

    def live_index():
        """The live trace's number of the aimed step, once it is there (0: the start)."""
        if not name:
            return 0
        seen = 0
        for number, (step, _) in enumerate(trace.steps, start=1):
            seen += step == name
            if seen == nth:
                return number
        return None

    def reached():
        return not after_end and live_index() is not None

    # Wait for the aimed step (or, aimed after the end, for the end itself); a run that
    # ends first is cut at once.
    while not trace.ended() and not reached():
        if not alive(pidfile):
            raise SystemExit("power_watch: the guest died before the cut")
        trace.poll()
        time.sleep(POLL)
    at = len(trace.steps) if after_end else live_index() or 0
    reached_s = trace.elapsed() if (k or after_end) else 0.0
    if after_end:
        gap = AFTER_END
    else:
        # The uncut run's gap from step K to the next, at this run's pace so far.
        pace = reached_s / calibrated[k] if k and calibrated[k] > 0 else 1.0
        gap = (calibrated[k + 1] - calibrated[k]) * min(max(pace, 0.2), 20.0)
    deadline = reached_s + fraction * gap
    while trace.elapsed() < deadline:
        if not after_end and (len(trace.steps) > at or trace.ended()):
            break
        trace.poll()
        time.sleep(POLL)
    os.kill(int(Path(pidfile).read_text()), signal.SIGKILL)
    cut_at = trace.elapsed()
    trace.poll()
    seen = {"aimed_phase": phase, "aimed_step": k, "aimed_name": name, "aimed_nth": nth,
            "fraction": round(fraction, 3), "gap_s": round(gap, 3), "cut_s": round(cut_at, 3),
            "steps_seen": len(trace.steps)}
    (Path(run) / "aim.json").write_text(json.dumps(seen))
    print(json.dumps(seen))
    return 0


def main():
    args = sys.argv[1:]
    if args[:1] == ["record"] and len(args) == 3:
        return record(*args[1:])
    if args[:1] == ["cut"] and len(args) == 6 and args[4] == "--seed":
        return cut(*args[1:4], int(args[5]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
