#!/usr/bin/env bash
# Fuzzes every harness with afl-fuzz for FUZZ_SECONDS each, then writes a
# Markdown report (FUZZ_REPORT). Exits 1 if any harness crashed or any
# afl-fuzz run could not start.
#
# The fuzzed target is the ASan+UBSan persistent build (every memory or UB
# finding aborts), with the CMPLOG build beside it (-c) to solve magic values
# and checksums; edge counts in the report come from afl-fuzz's statistics
# and from afl-showmap replaying the final queue through the plain AFL build.
#
# Environment (mk/fuzz.mk sets it): FUZZ_DIR FUZZ_NAMES FUZZ_SECONDS
# FUZZ_JOBS (harnesses run at once) FUZZ_SEED (afl-fuzz -s, fixed randomness)
# FUZZ_TIMEOUT_MS (a run longer than this is a hang) FUZZ_REPORT, and
# FUZZ_COMMIT (the commit named in the report; default: git HEAD).
set -u
cd "$(dirname "$0")/../.."
: "${FUZZ_DIR:=build/fuzz}"
: "${FUZZ_NAMES:=}"
: "${FUZZ_SECONDS:=300}"
: "${FUZZ_JOBS:=1}"
: "${FUZZ_SEED:=1}"
: "${FUZZ_TIMEOUT_MS:=1000}"
: "${FUZZ_REPORT:=$FUZZ_DIR/report.md}"

# Containers and CI: no CPU governor to check, core dumps may be piped to a
# helper, no terminal, and other jobs may hold the cores AFL++ would bind.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
       AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_QUIET=1

if [ -z "$FUZZ_NAMES" ]; then echo "run.sh: no harnesses" >&2; exit 1; fi

# Harnesses that need files (the ledger) make them under TMPDIR; afl-fuzz
# ends its targets with SIGKILL, so their own clean-up never runs: give them
# one scratch directory (in memory when /dev/shm exists) and remove it here.
scratch_root=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && scratch_root=/dev/shm
export TMPDIR="$(mktemp -d "$scratch_root/bckm-fuzz-run.XXXXXX")"
trap 'rm -rf "$TMPDIR"' EXIT

fuzz_one() {
  local name="$1"
  local out="$FUZZ_DIR/out/$name" in="$FUZZ_DIR/in/$name"
  rm -rf "$out" "$in"; mkdir -p "$out" "$in"
  # Seeds: the committed corpus plus every regression input, so the fuzzer
  # starts from each input that once broke something.
  local d f
  for d in "fuzz/corpus/$name" "fuzz/regressions/$name"; do
    [ -d "$d" ] || continue
    for f in "$d"/*; do
      [ -f "$f" ] && cp "$f" "$in/$(basename "$d")-$(basename "$f")"
    done
  done
  if [ -z "$(ls -A "$in")" ]; then printf '\0' > "$in/empty"; fi
  local dict=()
  [ -f "fuzz/dict/$name.dict" ] && dict=(-x "fuzz/dict/$name.dict")
  # timeout is a backstop only: -V ends the run; calibration may add a bit.
  timeout -s INT -k 30 $((FUZZ_SECONDS + 300)) \
    afl-fuzz -i "$in" -o "$out" -s "$FUZZ_SEED" -V "$FUZZ_SECONDS" \
      -t "$FUZZ_TIMEOUT_MS" "${dict[@]}" -c "$FUZZ_DIR/cmplog/$name" \
      -- "$FUZZ_DIR/asan/$name" > "$out/afl.log" 2>&1
  echo "fuzz $name: afl-fuzz exited $?"
}

running=0
# FUZZ_REPORT_ONLY=1: rewrite the report from the last run's output only.
[ "${FUZZ_REPORT_ONLY:-0}" = 1 ] && FUZZ_NAMES_RUN="" || FUZZ_NAMES_RUN="$FUZZ_NAMES"
for name in $FUZZ_NAMES_RUN; do
  echo "fuzz $name: ${FUZZ_SECONDS}s (seed $FUZZ_SEED)"
  fuzz_one "$name" &
  running=$((running + 1))
  if [ "$running" -ge "$FUZZ_JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait

stat_of() { sed -n "s/^$2 *: *//p" "$1" 2>/dev/null | head -n 1; }

status=0
rows=""; details=""
for name in $FUZZ_NAMES; do
  out="$FUZZ_DIR/out/$name"; s="$out/default/fuzzer_stats"
  if [ ! -f "$s" ]; then
    rows+="| $name | did not start | | | | | | | | |"$'\n'
    details+=$'\n'"### $name: afl-fuzz did not start"$'\n\n```\n'"$(tail -n 15 "$out/afl.log" 2>/dev/null)"$'\n```\n'
    status=1; continue
  fi
  run_time=$(stat_of "$s" run_time); execs=$(stat_of "$s" execs_done)
  eps=$(stat_of "$s" execs_per_sec); corpus=$(stat_of "$s" corpus_count)
  edges=$(stat_of "$s" edges_found); total=$(stat_of "$s" total_edges)
  cvg=$(stat_of "$s" bitmap_cvg); stab=$(stat_of "$s" stability)
  crashes=$(stat_of "$s" saved_crashes); hangs=$(stat_of "$s" saved_hangs)
  # Edges the final corpus reaches in the uninstrumented-for-ASan build.
  tuples=$(afl-showmap -C -i "$out/default/queue" -o "$out/showmap.txt" \
             -t "$FUZZ_TIMEOUT_MS" -- "$FUZZ_DIR/afl/$name" 2>&1 |
           sed -n 's/.*Captured \([0-9]*\) tuples.*/\1/p' | tail -n 1)
  rows+="| $name | ${run_time} | ${execs} | ${eps} | ${corpus} | ${edges} / ${total} (${cvg}) | ${tuples:-?} | ${stab} | ${crashes} | ${hangs} |"$'\n'
  if [ "${crashes:-0}" != 0 ]; then
    status=1
    details+=$'\n'"### $name: ${crashes} crash(es)"$'\n\n'
    for f in "$out"/default/crashes/id:*; do
      [ -f "$f" ] || continue
      why=$("$FUZZ_DIR/repro/$name" "$f" 2>&1 | grep -m1 -E 'oracle failed|ERROR|runtime error|fatal' )
      [ -z "$why" ] && why=$("$FUZZ_DIR/asan/$name" "$f" 2>&1 | grep -m1 -E 'SUMMARY|oracle failed|runtime error')
      details+="- \`$f\`: ${why:-no message from the reproducers}"$'\n'
    done
    details+=$'\n'"Reproduce: \`$FUZZ_DIR/asan/$name <file>\` (sanitizers) or \`$FUZZ_DIR/repro/$name <file>\`."$'\n'
  fi
  if [ "${hangs:-0}" != 0 ]; then
    details+=$'\n'"### $name: ${hangs} hang(s) (over ${FUZZ_TIMEOUT_MS} ms)"$'\n\n'
    for f in "$out"/default/hangs/id:*; do [ -f "$f" ] && details+="- \`$f\`"$'\n'; done
  fi
done

mkdir -p "$(dirname "$FUZZ_REPORT")"
{
  echo "# Fuzzing report"
  echo
  echo "Generated by \`fuzz/scripts/run.sh\` (\`make fuzz\`); do not edit by hand."
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit ${FUZZ_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
  echo "- $(afl-fuzz -h 2>&1 | grep -m1 -o 'afl-fuzz++[0-9.a-z]*' || echo afl-fuzz), $(${AFL_CC:-afl-clang-fast} --version 2>/dev/null | grep -m1 -i 'clang version' || true)"
  echo "- ${FUZZ_SECONDS} s per harness, ${FUZZ_JOBS} at a time on $(nproc) core(s), afl-fuzz -s ${FUZZ_SEED}, hang timeout ${FUZZ_TIMEOUT_MS} ms"
  echo "- Target: ASan+UBSan persistent build, CMPLOG build alongside (-c); dictionaries from fuzz/dict/"
  if [ -n "${FUZZ_LEDGER_NO_PAGES:-}" ]; then
    echo "- Ledger harness: page-corruption mode off (FUZZ_LEDGER_NO_PAGES set)"
  else
    echo "- Ledger harness: page-corruption mode on"
  fi
  echo
  echo "| harness | run time (s) | execs | execs/s | corpus | edges found / map (afl-fuzz) | edges, final corpus (afl-showmap, plain build) | stability | crashes | hangs |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf '%s' "$rows"
  if [ -n "$details" ]; then echo; echo "## Findings"; printf '%s' "$details"; else echo; echo "No crashes and no hangs."; fi
} > "$FUZZ_REPORT"
echo "fuzz: report written to $FUZZ_REPORT"
cat "$FUZZ_REPORT"
exit $status
