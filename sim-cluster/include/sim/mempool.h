/*
 * A BP's mempool: txs admitted by CheckTx, in arrival order, bounded by a
 * capacity; a duplicate cache of recently seen tx hashes (two generations,
 * so it stays bounded without an LRU list); reaping for a proposal; and the
 * update after each committed block (drop what the block carried, re-run
 * CheckTx on the rest, as Tendermint's recheck does).
 */
#ifndef BCKM_SIM_MEMPOOL_H
#define BCKM_SIM_MEMPOOL_H

#include "sim/app.h"
#include "sim/block.h"
#include "sim/u64set.h"

typedef struct {
    uint8_t *tx;
    size_t len;
    uint64_t hash;
    uint64_t admit_us;
} bckm_sim_mp_entry;

typedef struct {
    bckm_sim_mp_entry *e;
    size_t len, cap, capacity;
    bckm_u64set cache_cur, cache_old;
    size_t cache_cap;
    uint64_t rechecked_out; /* txs dropped by the recheck */
} bckm_sim_mempool;

uint64_t bckm_sim_tx_hash(const uint8_t *tx, size_t len);

void bckm_sim_mempool_init(bckm_sim_mempool *m, size_t capacity, size_t cache_cap);
void bckm_sim_mempool_free(bckm_sim_mempool *m);
/* CheckTx and admission. BCKM_OK: admitted. The pool's own refusals are
 * bckm_err codes: BCKM_ERR_EXISTS, the tx is already pooled (nothing done);
 * BCKM_ERR_STATE, the pool is at capacity (the tx may come back later);
 * BCKM_ERR_NOMEM, an allocation failed. A positive value is CheckTx's
 * rejection code (sim/app.h), kept apart from those by its sign. */
int bckm_sim_mempool_add(bckm_sim_mempool *m, const bckm_sim_app *app, const uint8_t *tx,
                         size_t len, uint64_t now_us);
/* Appends up to max txs (oldest first) to b. */
int bckm_sim_mempool_reap(const bckm_sim_mempool *m, uint32_t max, bckm_sim_block *b);
/* After a committed block: removes its txs and rechecks the rest. */
void bckm_sim_mempool_update(bckm_sim_mempool *m, const bckm_sim_app *app, const bckm_sim_block *b);
/* Admission time of the oldest tx, or UINT64_MAX when empty. */
uint64_t bckm_sim_mempool_oldest(const bckm_sim_mempool *m);

#endif
