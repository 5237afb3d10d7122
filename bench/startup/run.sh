#!/usr/bin/env bash
# `mtpull devices` start-up time, as a person waits for it: the whole process from exec
# to exit, best and median of N runs (default 30), each beside `true` (bare process
# start-up) measured in the same run:
#   - `mtpull --demo devices`: the simulated phone in-process — process start, OpenSession,
#     GetDeviceInfo, GetStorageIDs, GetStorageInfo and the output, no USB;
#   - `mtpull devices` on this machine's USB: discovery alone (every USB device's sysfs
#     entry read and classified; with no phone attached it then says so and exits 3).
# The device's own answer time is not in the first figure (the demo phone answers at
# once); on a real phone add its GetDeviceInfo latency.
# usage: bench/startup/run.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-30}
cargo build --quiet --release --bin mtpull
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$runs" <<'PY'
import statistics, subprocess, sys, time
runs = int(sys.argv[1])
commands = {
    "true (process start-up)": ["true"],
    "mtpull --demo devices": ["target/release/mtpull", "--demo", "devices"],
    "mtpull devices (discovery)": ["target/release/mtpull", "devices"],
}
times = {name: [] for name in commands}
for _ in range(runs):
    # Interleaved, so that a burst of load hits every command alike.
    for name, argv in commands.items():
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times[name].append((time.perf_counter() - start) * 1000)
print(f"  {'':30} {'best ms':>8} {'median ms':>10}")
for name, values in times.items():
    print(f"  {name:30} {min(values):8.1f} {statistics.median(values):10.1f}")
PY
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
