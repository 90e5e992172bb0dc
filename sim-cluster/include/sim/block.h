/*
 * A block as the simulator holds it in memory: core's block (bckm/block.h,
 * spec/layer2-formats.md) decoded, its header and the body it commits to.
 * The format, the transaction root, the block hash and the commit
 * certificate (struct bckm_cert) are core's; nothing here defines a format.
 *
 * The header's tx_root is not trusted from the struct: bckm_sim_block_digest
 * recomputes it from the body, so a block whose body and root disagree has
 * no digest at all (BCKM_ERR_MISMATCH) and is refused wherever one is taken.
 */
#ifndef BCKM_SIM_BLOCK_H
#define BCKM_SIM_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "bckm/block.h"

#define BCKM_SIM_SIG_BYTES 64u
#define BCKM_SIM_PK_BYTES 32u
#define BCKM_SIM_MAX_BPS 64u
#define BCKM_SIM_TX_MAX BCKM_BLOCK_TX_MAX_BYTES /* largest tx a body carries */

typedef struct {
    struct bckm_block_header h; /* h.n_txs counts the body's records */
    uint32_t body_len;
    uint8_t *body; /* n_txs records: u16 length || tx */
} bckm_sim_block;

/* A fresh header for height, on prev, by replica `proposer` (0-based; the
 * header carries BP ID proposer + 1), at virtual time `time`, on the state
 * state_before (the state after height - 1). No transactions yet. */
void bckm_sim_block_init(bckm_sim_block *b, uint64_t height, const uint8_t prev[32],
                         uint32_t proposer, uint64_t time, const uint8_t state_before[32]);
/* The replica (0-based) that proposed b. */
static inline uint32_t bckm_sim_block_proposer(const bckm_sim_block *b) {
    return b->h.proposer - 1u;
}

/* The block hash (bckm_block_hash) with the root recomputed from the body.
 * BCKM_ERR_MISMATCH when the header's tx_root is not that root, the body's
 * framing errors, BCKM_ERR_FORMAT when the header is not one core accepts. */
int bckm_sim_block_digest(const bckm_sim_block *b, uint8_t out[32]);
/* Deep copy; NULL on allocation failure. */
bckm_sim_block *bckm_sim_block_dup(const bckm_sim_block *b);
void bckm_sim_block_free(bckm_sim_block *b);
/* Appends one tx and updates n_txs and tx_root; BCKM_ERR_ARG if it is empty
 * or too long, BCKM_ERR_NOMEM (the block unchanged on error). */
int bckm_sim_block_add_tx(bckm_sim_block *b, const uint8_t *tx, size_t len);
/* Iterates: *off starts at 0; returns 1 with the next tx, 0 at the end,
 * BCKM_ERR_FORMAT when the body is malformed. */
int bckm_sim_block_next_tx(const bckm_sim_block *b, uint32_t *off, const uint8_t **tx, size_t *len);

/* The core encoding (header || body) in a new buffer *out of *len bytes. */
int bckm_sim_block_encode(const bckm_sim_block *b, uint8_t **out, size_t *len);
/* The block of a core encoding, checked (header, framing, root); *out is new. */
int bckm_sim_block_decode(const uint8_t *buf, size_t len, bckm_sim_block **out);

/* The bytes a replica signs on every PBFT message but COMMIT:
 * domain | type | view | seq | digest | sender. A COMMIT is signed over
 * core's commit message (bckm_commit_message: height, view, block hash), so
 * that the q COMMIT signatures of a block are its core certificate. */
#define BCKM_SIM_SIGNED_BYTES (16 + 1 + 8 + 8 + 32 + 4)
void bckm_sim_signed_bytes(uint8_t out[BCKM_SIM_SIGNED_BYTES], uint8_t type, uint64_t view,
                           uint64_t seq, const uint8_t digest[32], uint32_t sender);

#endif
