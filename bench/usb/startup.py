#!/usr/bin/env python3
"""Inside the guest (bench/usb/guest.sh, phase `startup`): how long `mtpull devices` takes
with QEMU's usb-mtp device plugged in, and how much of that is mtpull's own work.

usage: startup.py RESULTS_TSV RUNS MTPULL

Each run execs `true` (bare process start-up in this guest), `MTPULL --version` (the same
binary's start-up: exec, loading, argument parsing, no device) and `MTPULL devices`,
interleaved, and records per run: the wall time from fork to exit, and the CPU time
(user + sys) the child used, from wait4's resource usage (microseconds, where time(1)
prints hundredths). The CPU time is mtpull's own work, the kernel's work on its behalf
included (discovery in sysfs, usbfs, the transfers' submission); the rest of the wall
time it spent blocked, waiting for the device to answer OpenSession, GetDeviceInfo,
GetStorageIDs and GetStorageInfo. Under TCG the emulated xHCI's work on a doorbell is
charged to whoever rang it, so the CPU figure includes part of the device's time too.
`devices` less `--version` is the work the issue asks about: discovery and DeviceInfo.
A run of mtpull counts only if it exits 0 and names the device's storage.
"""

import os
import sys
import time

STORAGE_DESCRIPTION = "bench: big file"  # run.sh's --desc for the big file's device


def timed(argv):
    """(wall s, cpu s, exit status, stdout) of one run of argv."""
    read_end, write_end = os.pipe()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.dup2(write_end, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(read_end)
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status), b"".join(chunks)


def main():
    results, runs, mtpull = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    clients = [("true", ["true"], None), ("mtpull-version", [mtpull, "--version"], "mtpull"),
               ("mtpull", [mtpull, "devices"], STORAGE_DESCRIPTION)]
    with open(results, "a") as out:
        for run in range(1, runs + 1):
            for peer, argv, must_name in clients:
                wall, cpu, code, stdout = timed(argv)
                if code != 0:
                    status, note = "FAIL", f"exit status {code}"
                elif must_name and must_name.encode() not in stdout:
                    status, note = "FAIL", f"no {must_name!r} in the output"
                else:
                    status, note = "ok", ""
                out.write(f"{peer}\tstartup\t{run}\t{wall:.6f}\t{cpu:.6f}\t{status}\t{note}\n")
                print(f"bench: {peer} startup {run} {wall * 1000:.1f} ms, CPU {cpu * 1000:.1f} ms {status} {note}",
                      file=sys.stderr)


if __name__ == "__main__":
    main()
