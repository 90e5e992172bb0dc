#!/usr/bin/env bash
# Runs every benchmark and sweep of `make bench` / `make bench-quick` and
# writes reports/ (Markdown, SVG plots, raw JSON under reports/raw/).
#   BUILD=build scripts/bench-run.sh full|quick
# Binaries are expected in $BUILD/bin (the make targets build them first).
set -euo pipefail

mode="${1:-full}"
case "$mode" in full|quick) ;; *) echo "bench-run.sh: mode must be full or quick, got '$mode'" >&2; exit 2 ;; esac
BUILD="${BUILD:-build}"
out="${BENCH_OUT:-reports}"
raw="$out/raw"
start=$(date +%s)
step() { echo "==> [$(( $(date +%s) - start ))s] $*"; }

mkdir -p "$raw"
step "machine description -> $raw/machine.json"
python3 bench/bench.py machine "$raw/machine.json"

if [ "$mode" = quick ]; then
  max_n=10000; min_time=0.05
else
  max_n=1000000; min_time=0.5
fi
step "micro-benchmarks (n up to $max_n) -> $raw/microbench.json"
BCKM_BENCH_MAX_N=$max_n "$BUILD/bin/bckm-bench" --benchmark_min_time="$min_time" \
  --benchmark_format=console --benchmark_out_format=json --benchmark_out="$raw/microbench.json"

step "resilience sweeps -> $raw/resilience.jsonl"
python3 bench/bench.py resilience "$mode" "$BUILD/bin/bckm-resilience" "$raw/resilience.jsonl"

step "cluster sweeps (bckm-sim run --json) -> $raw/sim.jsonl"
python3 bench/bench.py sim "$mode" "$BUILD/bin/bckm-sim" "$raw/sim.jsonl"

step "reports -> $out/"
python3 bench/bench.py report "$mode" "$raw" "$out"
step "done in $(( $(date +%s) - start ))s; index: $out/README.md"
