#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each, one after another, and
# prints one line per target: its executions, corpus size and crashes. Exits
# non-zero when any target found a crash (the input is left in fuzz/artifacts/).
#
#   scripts/fuzz.sh [SECONDS] [LOG]     (default 25 s each; LOG gets the summary too)
#
# Runs on the stable toolchain (CI has no other): cargo-fuzz is installed from
# crates.io when it is missing (the version pinned below, --locked). With
# `--sanitizer none` cargo-fuzz passes only stable compiler flags (the coverage
# instrumentation is -Cpasses=sancov-module and -Cllvm-args), so no nightly and no
# RUSTC_BOOTSTRAP is needed. FUZZ_TOOLCHAIN=+nightly runs another toolchain. No
# sanitizer: the parsers are safe Rust, so a crash is a panic, an overflow (debug
# assertions are on) or an allocation over -rss_limit_mb.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-25}
log=${2:-/dev/null}
cargo_fuzz_version=0.13.2

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz --version "$cargo_fuzz_version"
fi
toolchain=()
if [[ -n ${FUZZ_TOOLCHAIN:-} ]]; then
  toolchain=("$FUZZ_TOOLCHAIN")
fi

fuzz=(cargo "${toolchain[@]}" fuzz)
"${fuzz[@]}" build --sanitizer none --debug-assertions
mapfile -t targets < <("${fuzz[@]}" list)

failed=0
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  output=$(mktemp)
  status=0
  "${fuzz[@]}" run --sanitizer none --debug-assertions "$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$output" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$output" | tail -1)
  corpus=$(ls "corpus/$target" | wc -l)
  if ((status == 0)); then
    result="crashes=0"
  else
    result="CRASH (exit $status)"
    failed=1
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$output" | head -20 >&2 || true
  fi
  line="$(date -u +%FT%TZ) $target seconds=$seconds execs=${execs:-?} corpus=$corpus $result load=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
  echo "$line" | tee -a "$log"
  rm -f "$output"
done
exit "$failed"
