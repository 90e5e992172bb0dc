/*
 * Private seam between the ledger (ledger.c) and its LMDB store
 * (ledger_lmdb.c); the public interface is sim/ledger.h.
 */
#ifndef BCKM_SIM_LEDGER_STORE_H
#define BCKM_SIM_LEDGER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "sim/ledger.h"

/* Stores the encoded entry at height h in one committed write transaction. */
int bckm_sim_store_put(struct bckm_sim_store *s, uint64_t h, const uint8_t *buf, size_t len);
void bckm_sim_store_close(struct bckm_sim_store *s);
/* Used by the store's open: adds a verified entry read back from disk to the
 * in-memory copy, which takes ownership. */
int bckm_sim_ledger_push_loaded(bckm_sim_ledger *l, const bckm_sim_entry *e);

#endif
