/*
 * The smart contract of the paper (III.B.1) and the replicated state it
 * guards: check() decides whether a signed transaction may enter the chain,
 * apply() executes it. Both are pure functions of the state and the
 * envelope: no clock, no network, nothing of the consensus engine, so the
 * same contract runs under the in-process PBFT cluster or behind ABCI.
 * Normative text: spec/protocol.md, section 10.
 */
#ifndef BCKM_CONTRACT_H
#define BCKM_CONTRACT_H

#include "bckm/common.h"
#include "bckm/sets.h"
#include "bckm/tx.h"

struct bckm_state; /* opaque */

/* The cluster's BPs: their Ed25519 public keys, 1..255; has[b] = 0 when b
 * is not a BP of the cluster. */
struct bckm_bp_table {
    uint8_t has[BCKM_MAX_BPS + 1];
    uint8_t pk[BCKM_MAX_BPS + 1][BCKM_SIGN_PK_BYTES];
};

int bckm_state_new(struct bckm_state **out, bckm_policy policy,
                   const struct bckm_bp_table *bps) BCKM_MUST_CHECK;
void bckm_state_free(struct bckm_state *st);
int bckm_state_clone(const struct bckm_state *st, struct bckm_state **out) BCKM_MUST_CHECK;

/* The registry inside the state (read-only view for key managers). */
const struct bckm_sets *bckm_state_registry(const struct bckm_state *st);
/* Last committed sequence number of a BP (0 before its first). */
uint64_t bckm_state_seq(const struct bckm_state *st, uint32_t bp);

/*
 * check: the envelope is signed by a BP of the cluster, its sequence number
 * is above the origin's last committed one, and the change passes the
 * registry's rules (bckm_sets_check). Changes nothing.
 */
int bckm_contract_check(const struct bckm_state *st,
                        const struct bckm_envelope *env) BCKM_MUST_CHECK;
/* Same as check, for encoded envelope bytes from the wire. */
int bckm_contract_check_bytes(const struct bckm_state *st, const uint8_t *buf,
                              size_t len) BCKM_MUST_CHECK;

/*
 * apply: check, then execute (registry change and Reorder, sequence number,
 * state hash). plan (bckm_plan_init'ed) receives what changed; on error
 * nothing changes.
 */
int bckm_contract_apply(struct bckm_state *st, const struct bckm_envelope *env,
                        struct bckm_plan *plan) BCKM_MUST_CHECK;

/*
 * The signature alone: env->bp is a BP of the cluster and env is signed by
 * it. Changes nothing.
 */
int bckm_contract_verify(const struct bckm_state *st,
                         const struct bckm_envelope *env) BCKM_MUST_CHECK;

/*
 * apply for an envelope whose signature the caller itself has already
 * checked with bckm_contract_verify (or bckm_contract_check) against a
 * state with the same BP table: every rule of check except the signature,
 * then execute. A replica uses it so that it verifies each envelope once,
 * not once at admission, once in the proposal and once at execution. Never
 * call it on bytes whose signature this process has not verified: a forged
 * envelope would execute.
 */
int bckm_contract_apply_verified(struct bckm_state *st, const struct bckm_envelope *env,
                                 struct bckm_plan *plan) BCKM_MUST_CHECK;

/* Genesis: a change applied without envelope (the provisioned network),
 * as if committed by BP `bp`. */
int bckm_contract_genesis(struct bckm_state *st, uint32_t bp, const struct bckm_tx *tx,
                          struct bckm_plan *plan) BCKM_MUST_CHECK;

/* H("bckm-state-v1" || registry digest || every (bp, seq) with seq > 0). */
void bckm_state_hash(const struct bckm_state *st, uint8_t out[BCKM_HASH_BYTES]);

#endif
