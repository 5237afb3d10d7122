#!/usr/bin/env python3
"""One table row per run of bench/multi/run.sh: devices, aggregate MB/s (every device's bytes
over the time until the last backup ended), and each device's bytes, own rate (mtpull's
"received … in … s" line: its transfer, without listing or waiting) and when it ended.

usage: report.py MODE DEVICES ENDED_FILE
"""

import re
import sys

UNITS = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}
RECEIVED = re.compile(r"received ([\d.]+) (B|kB|MB|GB) in ([\d.]+) s")


def main():
    mode, devices, ended = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rows = []
    for line in open(ended):
        at, text = line.split(" ", 1)
        match = RECEIVED.search(text)
        if not match:
            sys.exit(f"report.py: no transfer figures in: {text.strip()}")
        size = float(match[1]) * UNITS[match[2]]
        rows.append((float(at), size, size / max(float(match[3]), 1e-9)))
    if len(rows) != devices:
        sys.exit(f"report.py: {len(rows)} backups ended, not {devices}")
    total = sum(size for _, size, _ in rows)
    last = max(at for at, _, _ in rows)
    shares = ", ".join(f"{size / 1e6:.0f} MB at {rate / 1e6:.1f} MB/s, done at {at:.1f} s"
                       for at, size, rate in sorted(rows))
    print(f"| {mode} | {devices} | {total / 1e6:.0f} MB | {last:.1f} s | {total / last / 1e6:.1f} MB/s | {shares} |")


if __name__ == "__main__":
    main()
