/*
 * The replicated application as the cluster sees it: an ABCI-like interface,
 * so the consensus engine never depends on what it replicates. Two
 * applications implement it: the key-management contract (sim/keynet.h) and
 * the simulator's own test application, a versioned key-value store
 * (sim/kvapp.h); bckm_sim_params.app chooses.
 *
 * Call order on every replica, for every committed block, in chain order:
 *   begin_block(height); deliver_tx(tx) for each tx in block order;
 *   commit(state_hash) -> the 32-byte hash of the state after the block.
 * check_tx runs at mempool admission and in the recheck after each block. An
 * application may check against the last committed state alone (the kv test
 * app) or keep a check state, as ABCI applications do: the committed state
 * plus every tx check_tx accepted since, in admission order, reset at each
 * commit and rebuilt by the recheck (the key-management app, so a BP's
 * requests prepared between two blocks see each other). verify_tx is stateless (format and client
 * authentication) and is what a replica runs on a proposal before voting.
 * A tx valid at check_tx may be rejected by deliver_tx (a conflicting tx was
 * ordered first); the rejection is recorded in the block's results.
 */
#ifndef BCKM_SIM_APP_H
#define BCKM_SIM_APP_H

#include <stddef.h>
#include <stdint.h>

/* Result codes of deliver_tx/check_tx: 0 is success, anything else is an
 * application-defined rejection (kept in the ledger with the block). */
#define BCKM_SIM_TX_OK 0

typedef struct {
    /* Mempool admission (see above): 0 or a rejection code. */
    int (*check_tx)(void *app, const uint8_t *tx, size_t len);
    /* Stateless validity (format, client authentication): 0 or a code. */
    int (*verify_tx)(void *app, const uint8_t *tx, size_t len);
    void (*begin_block)(void *app, uint64_t height);
    /* Executes one tx in order: 0 or a rejection code. */
    int (*deliver_tx)(void *app, const uint8_t *tx, size_t len);
    /* Ends the block; writes the 32-byte state hash. */
    void (*commit)(void *app, uint8_t state_hash[32]);
    /* State transfer: a self-contained copy of the committed state (malloc'd,
     * the caller frees it) and its inverse. Both return a bckm_err. */
    int (*snapshot)(void *app, uint8_t **out, size_t *out_len);
    int (*restore)(void *app, const uint8_t *buf, size_t len);
    /* Height of the last committed block (0 before the first). */
    uint64_t (*height)(void *app);
    /* A 64-bit identity of the tx used by the mempool and the checker's
     * "executed at most once" invariant. */
    uint64_t (*tx_id)(void *app, const uint8_t *tx, size_t len);
    void (*destroy)(void *app);
} bckm_sim_app_ops;

typedef struct {
    const bckm_sim_app_ops *ops;
    void *self;
} bckm_sim_app;

/* Creates a fresh application instance (genesis state); NULL on failure.
 * The cluster calls it once per BP and once for the checker's reference. */
typedef bckm_sim_app (*bckm_sim_app_factory)(void *arg);

#endif
