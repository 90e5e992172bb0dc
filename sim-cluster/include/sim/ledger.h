/*
 * The BP's ledger: committed blocks in height order, each with its commit
 * certificate, the execution result of every tx and the state hash after it.
 * In memory; it survives a simulated crash (it stands for the disk). This is
 * the one seam where core's ledger (bckm/ledger.h) will replace it.
 */
#ifndef BCKM_SIM_LEDGER_H
#define BCKM_SIM_LEDGER_H

#include "sim/block.h"

typedef struct {
    bckm_sim_block *block;
    bckm_sim_cert cert;
    uint8_t digest[32];
    uint8_t state_hash[32];
    uint8_t *results;     /* one code per tx (0 = executed) */
    uint64_t commit_us;   /* virtual time of the local commit */
} bckm_sim_entry;

typedef struct {
    bckm_sim_entry *e;    /* e[i] is height i + 1 */
    uint64_t len, cap;
} bckm_sim_ledger;

void bckm_sim_ledger_init(bckm_sim_ledger *l);
void bckm_sim_ledger_free(bckm_sim_ledger *l);
/* Appends height len+1; takes ownership of block and results. */
int bckm_sim_ledger_append(bckm_sim_ledger *l, bckm_sim_block *block, const bckm_sim_cert *cert,
                           const uint8_t digest[32], const uint8_t state_hash[32],
                           uint8_t *results, uint64_t commit_us);
/* Entry at height h (1-based), or NULL. */
const bckm_sim_entry *bckm_sim_ledger_get(const bckm_sim_ledger *l, uint64_t h);
static inline uint64_t bckm_sim_ledger_height(const bckm_sim_ledger *l) { return l->len; }

#endif
