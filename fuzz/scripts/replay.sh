#!/usr/bin/env bash
# Replays every harness's seed corpus (fuzz/corpus/<name>/) and regression
# inputs (fuzz/regressions/<name>/) through its plain reproducer.
# Environment (set by mk/fuzz.mk): FUZZ_DIR, FUZZ_NAMES.
set -u
cd "$(dirname "$0")/../.."
: "${FUZZ_DIR:=build/fuzz}"
: "${FUZZ_NAMES:=}"
fail=0
scratch_root=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && scratch_root=/dev/shm
export TMPDIR="$(mktemp -d "$scratch_root/bckm-fuzz-replay.XXXXXX")"
trap 'rm -rf "$TMPDIR"' EXIT
for name in $FUZZ_NAMES; do
  bin="$FUZZ_DIR/repro/$name"
  args=()
  for d in "fuzz/corpus/$name" "fuzz/regressions/$name"; do
    [ -d "$d" ] && args+=("$d")
  done
  if [ ${#args[@]} -eq 0 ]; then
    echo "replay $name: no corpus or regressions directory"; fail=1; continue
  fi
  if out="$("$bin" "${args[@]}" 2>&1)"; then
    echo "replay $name: ${out##*repro: }"
  else
    echo "replay $name: FAILED"; echo "$out" | tail -n 20 | sed 's/^/    /'; fail=1
  fi
done
exit $fail
