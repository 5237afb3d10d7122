#!/usr/bin/env python3
"""Turns bench/usb/guest.sh's results.tsv into the markdown table of bench/usb/RESULTS.md.

usage: report.py OUTDIR MACHINE_DESCRIPTION

Per peer and task, over the verified runs: the median and the best run (the emulator slows
down whenever the host's cores are busy, and the best run is the least disturbed one),
the range, throughput, CPU seconds (user+sys of the client in the guest) and the ratio to
the fastest peer of the same boot — the figure to compare, since absolute speed under TCG
varies from boot to boot.
"""

import csv
import statistics
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

PEER_ORDER = ["mtpull", "mtp-rs", "libmtp", "gphoto2", "aft", "in-process"]
# Not a peer: mtpull's session over the in-process simulated link (no USB), gadget phases only.
NOT_PEERS = {"mtpull", "in-process"}
PEER_LABEL = {
    "mtpull": "mtpull",
    "mtp-rs": "mtp-rs CLI 0.11.5",
    "libmtp": "libmtp 1.1.20",
    "gphoto2": "gphoto2 2.5.28",
    "aft": "aft-mtp-cli 4.2",
    "in-process": "mtpull session, in process (no USB)",
}
COMMAND = {
    ("mtpull", "download"): "`mtpull backup DEST --only all`",
    ("mtpull", "list"): "`mtpull ls -r`",
    ("mtp-rs", "download"): "`mtp-rs get /F DEST`",
    ("mtp-rs", "list"): "`mtp-rs ls --recursive /`",
    ("libmtp", "download"): "`mtp-getfile ID DEST`",
    # Object ids change from session to session there: looked up in the download's own.
    ("libmtp", "gadget-download"): "`libmtp-get.py F DEST` (LIBMTP_Get_File_To_File)",
    ("libmtp", "list"): "`mtp-files`",
    ("gphoto2", "download"): "`gphoto2 --get-file 1`",
    ("gphoto2", "list"): "`gphoto2 --list-files`",
    ("aft", "download"): "`aft-mtp-cli \"get F DEST\"`",
    ("aft", "list"): "`aft-mtp-cli \"ls-r /\"`",
    ("in-process", "download"): "`mtpull-gadget local … download DEST`",
    ("in-process", "list"): "`mtpull-gadget local … list`",
}


def main():
    out, machine = Path(sys.argv[1]), sys.argv[2]
    def number(name):
        path = out / name
        return int(path.read_text()) if path.exists() else 0
    rows = list(csv.DictReader(open(out / "results.tsv"), delimiter="\t"))

    by_key = defaultdict(list)
    for row in rows:
        by_key[(row["task"], row["peer"])].append(row)
    runs = max((int(r["run"]) for r in rows if r["task"] != "startup"), default=0)

    def seconds_of(task, peer):
        return [float(r["seconds"]) for r in by_key[(task, peer)] if r["status"] == "ok"]

    started = out / "started"
    when = started.read_text().strip() if started.exists() else f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
    lines = [f"Run started {when} on {machine}.",
             f"{runs} runs per peer and task in one guest boot, peers interleaved. "
             "Rates and ratios are given for the median run and, after the slash, the best run.", ""]
    sections = [
        ("download", number("big-bytes"), "Download one {} MiB file (QEMU's usb-mtp)", "MB/s"),
        ("list", number("tree-files"), "List {:,} files in 100 folders (QEMU's usb-mtp)", "files/s"),
        ("gadget-download", number("gadget-big-bytes"),
         "Download one {} MiB file (the simulated Android phone as a gadget, dummy_hcd, high speed)", "MB/s"),
        ("gadget-list", number("gadget-tree-files"),
         "List {:,} files in 200 folders (the simulated Android phone as a gadget, dummy_hcd, high speed)",
         "files/s"),
    ]
    lines += startup_section(by_key)
    for task, amount_of, title, unit in sections:
        if not any(key[0] == task for key in by_key):
            continue
        title = title.format(amount_of // 2**20 if task.endswith("download") else amount_of)
        peers = [p for p in PEER_ORDER if p not in NOT_PEERS and seconds_of(task, p)]
        fastest_median = min((statistics.median(seconds_of(task, p)) for p in peers), default=None)
        fastest_best = min((min(seconds_of(task, p)) for p in peers), default=None)
        # On QEMU's device every client lists with the same transactions (one GetObjectInfo
        # per file): mtpull's count turns each client's time into transactions per second.
        # Over GetObjectPropList mtpull makes a handful, the peers thousands: no such column.
        transactions = number("list-transactions") if task == "list" else 0
        rate_header = f" transactions/s at mtpull's {transactions:,} |" if transactions else ""
        lines += [f"#### {title}", "",
                  f"| client | command | verified runs | median s | range s | {unit} |{rate_header} CPU s (median) "
                  "| time vs fastest peer |",
                  "|---|---|---|---|---|---|---|---|" + ("---|" if transactions else "")]
        for peer in PEER_ORDER:
            results = by_key.get((task, peer), [])
            if not results:
                continue
            label = PEER_LABEL[peer]
            command = COMMAND.get((peer, task), COMMAND[(peer, task.removeprefix("gadget-"))])
            seconds = seconds_of(task, peer)
            if not seconds:
                notes = sorted({r["note"] for r in results})
                status = results[0]["status"]
                lines.append(f"| {label} | {command} | 0/{len(results)} | — | — | — |{' — |' if transactions else ''} — "
                             f"| {status}: {'; '.join(notes)} |")
                continue
            cpu = statistics.median(float(r["cpu_seconds"]) for r in results if r["status"] == "ok")
            median, best = statistics.median(seconds), min(seconds)
            amount = amount_of / 1e6 if task.endswith("download") else amount_of
            ratio = (f"{median / fastest_median:.2f}× / {best / fastest_best:.2f}×"
                     if fastest_median else "no peer finished")
            rate = f" {transactions / median:,.0f} / {transactions / best:,.0f} |" if transactions else ""
            lines.append(f"| {label} | {command} | {len(seconds)}/{len(results)} | {median:.2f} "
                         f"| {best:.2f}–{max(seconds):.2f} | {amount / median:,.1f} / {amount / best:,.1f} |{rate}"
                         f" {cpu:.2f} | {ratio} |")
        lines.append("")
    print("\n".join(lines))


def startup_section(by_key):
    """`mtpull devices` against `true`, in milliseconds: wall time and the child's CPU time."""
    if not any(task == "startup" for task, _ in by_key):
        return []
    lines = ["#### `mtpull devices` from exec to exit (QEMU's usb-mtp, the big file's device)", "",
             "| command | verified runs | wall ms: best / median | CPU ms (user+sys): best / median "
             "| blocked ms (wall − CPU), median |",
             "|---|---|---|---|---|"]
    for peer, command in (("true", "`true` (process start-up)"),
                          ("mtpull-version", "`mtpull --version` (its own start-up, no device)"),
                          ("mtpull", "`mtpull devices`")):
        results = by_key.get(("startup", peer), [])
        ok = [r for r in results if r["status"] == "ok"]
        if not ok:
            notes = sorted({r["note"] for r in results})
            lines.append(f"| {command} | 0/{len(results)} | — | — | FAIL: {'; '.join(notes)} |")
            continue
        wall = [float(r["seconds"]) * 1000 for r in ok]
        cpu = [float(r["cpu_seconds"]) * 1000 for r in ok]
        blocked = [w - c for w, c in zip(wall, cpu)]
        lines.append(f"| {command} | {len(ok)}/{len(results)} | {min(wall):.1f} / {statistics.median(wall):.1f} "
                     f"| {min(cpu):.1f} / {statistics.median(cpu):.1f} | {statistics.median(blocked):.1f} |")
    return lines + [""]


if __name__ == "__main__":
    main()
