/*
 * The BP's ledger: committed blocks in height order, each with its commit
 * certificate, the execution result of every tx and the state hash after it.
 *
 * Two backends behind this one interface. Memory (the default): the entries
 * live in the process and survive a simulated crash (they stand for the
 * disk). LMDB (bckm_sim_ledger_open): every append is also one LMDB write
 * transaction committed before the append returns, so the store holds a
 * prefix of the appended entries; a crash closes the store and drops the
 * in-memory copy (bckm_sim_ledger_close), a restart reopens it and reads
 * every entry back, verified (spec/cluster.md section 3).
 */
#ifndef BCKM_SIM_LEDGER_H
#define BCKM_SIM_LEDGER_H

#include <stddef.h>

#include "sim/block.h"

typedef struct {
    bckm_sim_block *block;
    bckm_sim_cert cert;
    uint8_t digest[32];
    uint8_t state_hash[32];
    uint8_t *results;     /* one code per tx (0 = executed) */
    uint64_t commit_us;   /* virtual time of the local commit */
} bckm_sim_entry;

struct bckm_sim_store;    /* an open LMDB environment (ledger_lmdb.c) */

typedef struct {
    bckm_sim_entry *e;    /* e[i] is height i + 1 */
    uint64_t len, cap;
    struct bckm_sim_store *store;  /* NULL: memory only */
} bckm_sim_ledger;

/* The backend a cluster's ledgers use (bckm_sim_params.ledger). */
enum { BCKM_SIM_LEDGER_MEM = 0, BCKM_SIM_LEDGER_LMDB = 1 };

void bckm_sim_ledger_init(bckm_sim_ledger *l);
/* Frees the entries and closes the store, if any. */
void bckm_sim_ledger_free(bckm_sim_ledger *l);
/* Appends height len+1; takes ownership of block and results (also on
 * failure). With a store the entry is durable when this returns BCKM_OK;
 * BCKM_ERR_IO / BCKM_ERR_NOMEM when the store refused it (nothing appended). */
int bckm_sim_ledger_append(bckm_sim_ledger *l, bckm_sim_block *block, const bckm_sim_cert *cert,
                           const uint8_t digest[32], const uint8_t state_hash[32],
                           uint8_t *results, uint64_t commit_us);
/* Entry at height h (1-based), or NULL. */
const bckm_sim_entry *bckm_sim_ledger_get(const bckm_sim_ledger *l, uint64_t h);
static inline uint64_t bckm_sim_ledger_height(const bckm_sim_ledger *l) { return l->len; }

/*
 * Opens (creating it and its directory when missing) the LMDB store in dir
 * for a ledger of a cluster of nbps BPs, and loads every stored entry into l,
 * which must be empty. fresh: the store must hold no entry (a new run must
 * not continue another run's chain). Every entry read back is verified:
 * exact lengths, consecutive heights, the digest recomputed, the chain of
 * prev digests, certificate signer count and IDs in range, tx list
 * well-formed. On failure l is left empty and closed, err says why
 * (BCKM_ERR_CORRUPT: a damaged store; BCKM_ERR_STATE: not empty when fresh;
 * BCKM_ERR_IO: the file system or LMDB).
 */
int bckm_sim_ledger_open(bckm_sim_ledger *l, const char *dir, uint32_t nbps, int fresh,
                         char *err, size_t errcap);
/* With a store: closes it and frees every in-memory entry (a crash: what
 * remains is on disk). Without one: nothing (the memory stands for disk). */
void bckm_sim_ledger_close(bckm_sim_ledger *l);

/* The stored form of one entry (big-endian, spec/cluster.md section 3). */
size_t bckm_sim_entry_encoded_len(const bckm_sim_entry *e);
/* Writes exactly bckm_sim_entry_encoded_len(e) bytes to out. */
void bckm_sim_entry_encode(const bckm_sim_entry *e, uint8_t *out);
/*
 * Decodes and verifies one stored entry that must be at height h, follow a
 * block whose digest is prev (zeros at height 1) and carry a certificate of
 * a cluster of nbps BPs. On success out owns a new block and results;
 * BCKM_ERR_CORRUPT otherwise (out untouched), BCKM_ERR_NOMEM.
 */
int bckm_sim_entry_decode(const uint8_t *buf, size_t len, uint64_t h, const uint8_t prev[32],
                          uint32_t nbps, bckm_sim_entry *out);

#endif
