#!/usr/bin/env bash
# Peak memory and time of listing, planning, a dry run and a backup of
# 10,000, 50,000 and 100,000 objects on the simulated Android phone
# (in-process; DEST in tmpfs), each phase in a process of its own.
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench --bench memory
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
