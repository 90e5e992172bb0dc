/*
 * The cluster's invariant checker. It shares no code with the replica: it
 * reads every honest BP's core ledger, recomputes block digests (core's
 * block hash), verifies every commit certificate's signatures itself and
 * re-executes the agreed chain on its own instance of the application. The cluster calls bckm_sim_checker_step after every event;
 * the work is incremental (each ledger entry is checked once).
 *
 * Invariants (spec/cluster.md, "Checker"):
 *  1. agreement: honest BPs hold the same block at every height;
 *  2. each honest ledger is a hash chain (height, prev digest, digest);
 *  3. each committed block carries a certificate of q valid COMMIT
 *     signatures from distinct BPs;
 *  4. every tx in a committed block was submitted by a client;
 *  5. no tx executes successfully twice;
 *  6. results, and the state each header names before its block, agree with
 *     the reference re-execution, hence with each other;
 *  7. a commit reply that claims success names a tx that is on the agreed
 *     chain at that height with a success result.
 * Liveness (everything submitted commits once faults heal) is checked by the
 * cluster, which owns time.
 */
#ifndef BCKM_SIM_CHECKER_H
#define BCKM_SIM_CHECKER_H

#include "sim/app.h"
#include "bckm/ledger.h"
#include "sim/block.h"
#include "sim/u64set.h"

typedef struct {
    uint32_t bp;
    uint64_t tx_hash;
    uint64_t height;
} bckm_sim_reply;

typedef struct {
    uint32_t n, q;
    uint8_t pk[BCKM_SIM_MAX_BPS][32];
    bckm_sim_app ref;
    uint64_t canon_len, canon_cap;
    uint8_t (*canon_digest)[32];
    uint8_t (*canon_state)[32];
    uint8_t **canon_results;
    bckm_sim_block **canon_block;
    uint64_t checked[BCKM_SIM_MAX_BPS];
    uint8_t last_digest[BCKM_SIM_MAX_BPS][32]; /* of block checked[bp] */
    bckm_u64set submitted, executed_ok, sigs_ok;
    const bckm_u64set *accepted; /* see bckm_sim_checker_accepted(), or NULL */
    bckm_sim_reply *replies;
    size_t nreplies, replies_cap;
    uint64_t blocks_checked, sigs_checked, replies_checked;
    int violated;
    char msg[256];
} bckm_sim_checker;

int bckm_sim_checker_init(bckm_sim_checker *ck, uint32_t n, const uint8_t (*pk)[32],
                          bckm_sim_app ref);
void bckm_sim_checker_free(bckm_sim_checker *ck);
/* The key under which a record of accepted signatures holds (pk, m, sig):
 * the first 8 bytes of BLAKE2b-64 of pk || m || sig, big-endian. */
uint64_t bckm_sim_accepted_key(const uint8_t pk[32], const uint8_t *m, size_t mlen,
                               const uint8_t sig[64]);
/* Gives the checker the run's record of signatures that libsodium accepted
 * (keys from bckm_sim_accepted_key; only ever valid signatures in it). The
 * checker still rebuilds every signed statement from its own copy of the
 * keys and the spec; a certificate signature whose (pk, statement, sig) is
 * in the record counts as verified, any other is verified here. NULL: verify
 * everything here. */
void bckm_sim_checker_accepted(bckm_sim_checker *ck, const bckm_u64set *accepted);
void bckm_sim_checker_submitted(bckm_sim_checker *ck, const uint8_t *tx, size_t len);
/* An honest BP told a client that tx committed successfully at height. */
void bckm_sim_checker_reply(bckm_sim_checker *ck, uint32_t bp, const uint8_t *tx, size_t len,
                            uint64_t height);
/* Checks what changed since the last step; honest[i] says whether BP i's
 * ledger is held to the invariants. Returns 1 once a violation is found
 * (ck->msg says which), 0 otherwise. */
int bckm_sim_checker_step(bckm_sim_checker *ck, bckm_ledger *const *ledgers, const uint8_t *honest);

#endif
