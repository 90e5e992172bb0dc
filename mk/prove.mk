# `make prove`: Frama-C WP proof of the annotated core (issue 6).
#
# proofs/prove.sh does the work: it runs WP over the very files compiled into
# libbckm (the groups and functions listed in proofs/targets), with -wp-rte and
# every integer overflow/downcast alarm, Z3 and CVC4, and the goal cache kept
# in proofs/session/ so reruns are fast; writes reports/proofs.md, prints
# "Proved goals: N / M" and fails on any unproved goal. See proofs/README.md.
#
# PROVE_TIMEOUT (s per prover call, default 30) and PROVE_JOBS (default 2)
# tune the run; FRAMAC_WP_CACHE=none forces every goal to be proved afresh.

PROVE_TIMEOUT ?= 30
PROVE_JOBS    ?= 2

prove:
	scripts/deps.sh prove
	$(CC) -std=c11 -Wall -Wextra -Werror -fsyntax-only -Iproofs proofs/sodium_check.c
	PROVE_OUT=$(BUILD)/prove PROVE_TIMEOUT=$(PROVE_TIMEOUT) PROVE_JOBS=$(PROVE_JOBS) proofs/prove.sh
