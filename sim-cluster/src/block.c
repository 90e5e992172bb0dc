#include "sim/block.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bckm/common.h"

void bckm_sim_block_digest(const bckm_sim_block *b, uint8_t out[32]) {
    uint8_t hdr[17 + 8 + 32 + 4 + 4 + 4];
    memcpy(hdr, "bckm-sim-block-v1", 17);
    bckm_put_u64(hdr + 17, b->height);
    memcpy(hdr + 25, b->prev, 32);
    bckm_put_u32(hdr + 57, b->proposer);
    bckm_put_u32(hdr + 61, b->ntx);
    bckm_put_u32(hdr + 65, b->data_len);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, hdr, sizeof hdr);
    if (b->data_len) crypto_generichash_update(&st, b->data, b->data_len);
    crypto_generichash_final(&st, out, 32);
}

bckm_sim_block *bckm_sim_block_dup(const bckm_sim_block *b) {
    bckm_sim_block *n = malloc(sizeof *n);
    if (n == NULL) return NULL;
    *n = *b;
    n->data = NULL;
    if (b->data_len) {
        n->data = malloc(b->data_len);
        if (n->data == NULL) { free(n); return NULL; }
        memcpy(n->data, b->data, b->data_len);
    }
    return n;
}

void bckm_sim_block_free(bckm_sim_block *b) {
    if (b == NULL) return;
    free(b->data);
    free(b);
}

int bckm_sim_block_add_tx(bckm_sim_block *b, const uint8_t *tx, size_t len) {
    if (len == 0 || len > BCKM_SIM_TX_MAX) return BCKM_ERR_ARG;
    uint8_t *d = realloc(b->data, (size_t)b->data_len + 2 + len);
    if (d == NULL) return BCKM_ERR_NOMEM;
    bckm_put_u16(d + b->data_len, (uint16_t)len);
    memcpy(d + b->data_len + 2, tx, len);
    b->data = d;
    b->data_len += (uint32_t)(2 + len);
    b->ntx++;
    return BCKM_OK;
}

int bckm_sim_block_next_tx(const bckm_sim_block *b, uint32_t *off, const uint8_t **tx,
                           size_t *len) {
    if (*off == b->data_len) return 0;
    /* Lengths are checked against what remains, never by adding first. */
    if (b->data_len - *off < 2) return BCKM_ERR_FORMAT;
    uint16_t l = bckm_get_u16(b->data + *off);
    if (l == 0 || b->data_len - *off - 2 < l) return BCKM_ERR_FORMAT;
    *tx = b->data + *off + 2;
    *len = l;
    *off += 2u + l;
    return 1;
}

void bckm_sim_signed_bytes(uint8_t out[BCKM_SIM_SIGNED_BYTES], uint8_t type, uint64_t view,
                           uint64_t seq, const uint8_t digest[32], uint32_t sender) {
    memcpy(out, "bckm-sim-pbft-v1", 16);
    out[16] = type;
    bckm_put_u64(out + 17, view);
    bckm_put_u64(out + 25, seq);
    memcpy(out + 33, digest, 32);
    bckm_put_u32(out + 65, sender);
}
