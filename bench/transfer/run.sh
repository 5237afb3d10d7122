#!/usr/bin/env bash
# The backup's speed and memory figures: the transfer benchmark (simulator vs
# plain copies of the same bytes, on disk and in tmpfs, 9 rounds each), the
# many-files case (MTPULL_BENCH_FILES photo-sized files, default 1000, against a
# plain client's GetObject + fsync per file, on disk and in tmpfs), then the 5 GiB
# objects test with its peak-RSS check, all built in release.
set -euo pipefail
cd "$(dirname "$0")/../.."

files=${MTPULL_BENCH_FILES:-1000}
echo "== transfer benchmark, destination on disk (target/)"
MTPULL_BENCH_FILES=0 MTPULL_BENCH_DIR=target cargo bench --bench transfer
echo "== many files ($files), destination on disk (target/): each fsync costs"
MTPULL_BENCH_FILES=$files MTPULL_BENCH_DIR=target cargo bench --bench transfer
if [ -d /dev/shm ]; then
  echo "== transfer benchmark, destination in tmpfs (/dev/shm): no disk, the CPU cost shows"
  MTPULL_BENCH_FILES=0 MTPULL_BENCH_DIR=/dev/shm cargo bench --bench transfer
  echo "== many files ($files), destination in tmpfs (/dev/shm): fsync costs nothing"
  MTPULL_BENCH_FILES=$files MTPULL_BENCH_DIR=/dev/shm cargo bench --bench transfer
fi
echo "== 5 GiB objects, pulled and verified, peak RSS"
cargo test --release --test integration -- --ignored --nocapture five_gib
