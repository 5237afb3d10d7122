#!/usr/bin/env bash
# What a dry run reads to date 30,000 photos on a phone paced like USB 2, and how long
# it takes, beside reading a 128 KiB head of each (what the dry run read before).
# usage: bench/dryrun/run.sh [FILES]
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
MTPULL_BENCH_FILES=${1:-30000} cargo bench --bench dryrun
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
