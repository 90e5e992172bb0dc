/*
 * The cluster's own block and commit certificate (a stand-in until core's
 * block codec lands; the ledger seam is sim/ledger.h).
 *
 * Encoding hashed into the block digest (BLAKE2b-256, domain
 * "bckm-sim-block-v1"): height (8) | prev digest (32) | proposer (4) |
 * tx count (4) | data length (4) | data, where data is tx count records of
 * length (2) | tx bytes. The view is not part of the block, so a block
 * re-proposed in a later view keeps its digest.
 */
#ifndef BCKM_SIM_BLOCK_H
#define BCKM_SIM_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#define BCKM_SIM_SIG_BYTES 64u
#define BCKM_SIM_PK_BYTES 32u
#define BCKM_SIM_MAX_BPS 64u
#define BCKM_SIM_TX_MAX 1024u   /* largest tx the block format carries */

typedef struct {
    uint64_t height;
    uint8_t prev[32];
    uint32_t proposer;
    uint32_t ntx;
    uint32_t data_len;
    uint8_t *data;
} bckm_sim_block;

/* 2f+1 COMMIT signatures over (view, height, digest) by distinct replicas. */
typedef struct {
    uint64_t view;
    uint32_t count;
    uint32_t signer[BCKM_SIM_MAX_BPS];
    uint8_t sig[BCKM_SIM_MAX_BPS][BCKM_SIM_SIG_BYTES];
} bckm_sim_cert;

void bckm_sim_block_digest(const bckm_sim_block *b, uint8_t out[32]);
/* Deep copy; NULL on allocation failure. */
bckm_sim_block *bckm_sim_block_dup(const bckm_sim_block *b);
void bckm_sim_block_free(bckm_sim_block *b);
/* Appends one tx; BCKM_ERR_ARG if too long, BCKM_ERR_NOMEM. */
int bckm_sim_block_add_tx(bckm_sim_block *b, const uint8_t *tx, size_t len);
/* Iterates: *off starts at 0; returns 1 with the next tx, 0 at the end,
 * BCKM_ERR_FORMAT when the data is malformed. */
int bckm_sim_block_next_tx(const bckm_sim_block *b, uint32_t *off, const uint8_t **tx,
                           size_t *len);

/* The bytes a replica signs: domain | type | view | seq | digest | sender. */
#define BCKM_SIM_SIGNED_BYTES (16 + 1 + 8 + 8 + 32 + 4)
void bckm_sim_signed_bytes(uint8_t out[BCKM_SIM_SIGNED_BYTES], uint8_t type, uint64_t view,
                           uint64_t seq, const uint8_t digest[32], uint32_t sender);

#endif
