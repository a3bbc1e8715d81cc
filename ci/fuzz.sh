#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (FUZZ_SECONDS each, default 20) on a copy of
# its checked-in corpus, and prints the number of executions. Any crash fails the run.
# Fuzz crates: every */fuzz directory with a Cargo.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-20}
total=0
summary=()
for dir in $(find . -path ./target -prune -o -path '*/fuzz/Cargo.toml' -print | sort | xargs -n1 dirname); do
  for target in $(cd "$dir" && cargo +nightly fuzz list); do
    work=$(mktemp -d)
    if [[ -d "$dir/corpus/$target" ]]; then cp -r "$dir/corpus/$target/." "$work/"; fi
    echo "== fuzz $dir $target (${secs}s)"
    log=$(mktemp)
    if ! (cd "$dir" && cargo +nightly fuzz run "$target" "$work" -- -max_total_time="$secs" \
          -print_final_stats=1 >"$log" 2>&1); then
      tail -40 "$log"
      echo "FAIL: fuzz target $target crashed (artifact under $dir/artifacts/$target)" >&2
      exit 1
    fi
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
    runs=${runs:-0}
    total=$((total + runs))
    summary+=("$target=$runs")
    echo "   $runs executions, no crash"
    rm -rf "$work" "$log"
  done
done
echo "fuzz: ${summary[*]} (total $total executions)"
