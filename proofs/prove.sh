#!/usr/bin/env bash
# The proof: Frama-C WP over the very files compiled into libbckm.
#
#   proofs/prove.sh            run every group of proofs/targets
#
# Environment: PROVE_OUT (logs and JSON, default build/prove), PROVE_TIMEOUT
# (seconds per prover call, default 30), PROVE_JOBS (parallel prover calls,
# default 2), FRAMAC (default frama-c). FRAMAC_WP_CACHE=none|update|replay|
# rebuild|offline overrides the cache mode (default: cleanup, which keeps only
# the entries this run used). Writes reports/proofs.md, prints
# "Proved goals: N / M" and exits non-zero when any goal is unproved.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT="${PROVE_OUT:-build/prove}"
TIMEOUT="${PROVE_TIMEOUT:-30}"
JOBS="${PROVE_JOBS:-2}"
FRAMAC="${FRAMAC:-frama-c}"
mkdir -p "$OUT" reports

# The same preprocessor view as the library build (Makefile CSTD and INCS),
# except that <sodium.h> is the contract header proofs/libsodium.h.
CPP="-std=c11 -D_POSIX_C_SOURCE=200809L -Iproofs/include -Icore/include"

# Runtime-error guards: every RTE alarm Frama-C knows for integers, in every
# group.
RTE_ALL="-warn-signed-overflow -warn-signed-downcast -warn-unsigned-overflow -warn-unsigned-downcast"

# Strategies WP may apply when a prover alone fails: rewrite constant shifts
# into multiplication/division, bound bitwise results, compare bit by bit.
AUTO="wp:bitshift,wp:bitrange,wp:bitwised,wp:split"

# WP tries the provers in this order on each goal and stops at the first
# that proves it. CVC4 first: on a cold run it proves 98% of the goals
# that reach a prover, while Z3 first gave up (at the timeout) on 150 goals
# that CVC4 then proved, which made the cold run 20 minutes instead of 7.5.
PROVERS="cvc4,z3"

status=0
groups=$(grep -v '^\s*#' proofs/targets | awk 'NF {print $1}' | sort -u)
for g in $groups; do
  files=$(grep -v '^\s*#' proofs/targets | awk -v g="$g" '$1 == g && $2 ~ /\.c$/ && $2 != "proofs/entry.c" {print $2}')
  fcts=$(grep -v '^\s*#' proofs/targets | awk -v g="$g" '$1 == g {for (i = 3; i <= NF; i++) print $i}' | paste -sd, -)
  # Group "lemmas" names ACSL lemmas, not functions: WP proves them as goals
  # of their own (-wp-prop), since -wp-fct leaves lemmas out, while every
  # other proof may use them as hypotheses.
  case "$g" in
    lemmas) select="-wp-prop" ;;
    *) select="-wp-fct" ;;
  esac
  # proofs/entry.c is parsed in every group: it holds main() (proven in the
  # core group) and, for the helpers group, the one copy of common.h.
  echo "prove: group $g: $(echo $files proofs/entry.c | wc -w) files, $(echo "$fcts" | tr , '\n' | wc -l) functions"
  start=$(date +%s)
  # shellcheck disable=SC2086
  "$FRAMAC" $files proofs/entry.c \
      -cpp-extra-args="$CPP" $RTE_ALL \
      -wp -wp-rte -wp-model Typed+cast $select "$fcts" \
      -wp-prover "$PROVERS" -wp-timeout "$TIMEOUT" -wp-par "$JOBS" \
      -wp-auto "$AUTO" \
      -wp-session "proofs/session/$g" -wp-cache cleanup -wp-cache-env \
      -wp-report-json "$OUT/$g.json" \
      > "$OUT/$g.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  echo "$secs" > "$OUT/$g.time"
  echo "prove: group $g done in $secs s (frama-c exit $rc)"
  if [ $rc -ne 0 ]; then
    echo "prove: frama-c failed on group $g; last lines of $OUT/$g.log:" >&2
    tail -n 30 "$OUT/$g.log" >&2
    status=1
  fi
done

python3 proofs/report.py "$OUT" reports/proofs.md || status=1
exit $status
