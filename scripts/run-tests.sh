#!/usr/bin/env bash
# Runs test binaries and sums their results into one closing line.
# Usage: run-tests.sh [plain binaries...] [-- sanitizer binaries...]
# Every binary prints "RESULT passed=P failed=F" as its last line (tests/check.h);
# the sanitizer binaries run with BCKM_TEST_SCALE=small.
set -u
passed=0; failed=0; broken=0
phase=plain
for bin in "$@"; do
  if [ "$bin" = "--" ]; then phase=asan; continue; fi
  name="$(basename "$bin")"; [ "$phase" = asan ] && name="$name[asan]"
  log="$(mktemp)"
  start=$(date +%s)
  if [ "$phase" = asan ]; then
    BCKM_TEST_SCALE=small ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$bin" >"$log" 2>&1
  else
    "$bin" >"$log" 2>&1
  fi
  rc=$?
  secs=$(( $(date +%s) - start ))
  line="$(grep -E '^RESULT passed=[0-9]+ failed=[0-9]+$' "$log" | tail -n 1)"
  if [ -z "$line" ] || [ $rc -ne 0 ]; then
    p=$(echo "$line" | sed -n 's/.*passed=\([0-9]*\).*/\1/p'); p=${p:-0}
    f=$(echo "$line" | sed -n 's/.*failed=\([0-9]*\).*/\1/p'); f=${f:-0}
    [ "$f" -eq 0 ] && f=1
    echo "FAIL  $name (exit $rc, ${secs}s)"; sed 's/^/    /' "$log" | tail -n 40
    passed=$((passed + p)); failed=$((failed + f)); broken=$((broken + 1))
  else
    p=$(echo "$line" | sed 's/.*passed=\([0-9]*\).*/\1/')
    f=$(echo "$line" | sed 's/.*failed=\([0-9]*\).*/\1/')
    echo "ok    $name: $p passed, $f failed (${secs}s)"
    passed=$((passed + p)); failed=$((failed + f))
  fi
  rm -f "$log"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$broken" -eq 0 ]
