/* The in-memory form of core's block (sim/block.h): every byte format and
 * hash is core's (core/src/block.c); this file only holds a body in a
 * growable buffer. */
#include "sim/block.h"

#include <stdlib.h>
#include <string.h>

#include "bckm/common.h"

void bckm_sim_block_init(bckm_sim_block *b, uint64_t height, const uint8_t prev[32],
                         uint32_t proposer, uint64_t time, const uint8_t state_before[32]) {
    memset(b, 0, sizeof *b);
    b->h.version = BCKM_BLOCK_VERSION;
    b->h.height = height;
    memcpy(b->h.prev_hash, prev, 32);
    b->h.proposer = proposer + 1u;
    b->h.time = time;
    memcpy(b->h.state_hash, state_before, 32);
    /* The root of the empty body (it cannot fail: no framing to check). */
    int e = bckm_block_body_root(NULL, 0, 0, b->h.tx_root);
    (void)e;
}

int bckm_sim_block_digest(const bckm_sim_block *b, uint8_t out[32]) {
    /* No digest (all zero) for a block core would not accept. */
    memset(out, 0, 32);
    int e = bckm_block_body_check(&b->h, b->body, b->body_len);
    if (e == BCKM_OK && !bckm_block_header_is_valid(&b->h)) e = BCKM_ERR_FORMAT;
    if (e == BCKM_OK) e = bckm_block_hash(&b->h, out);
    if (e != BCKM_OK) memset(out, 0, 32);
    return e;
}

bckm_sim_block *bckm_sim_block_dup(const bckm_sim_block *b) {
    bckm_sim_block *n = malloc(sizeof *n);
    if (n == NULL) return NULL;
    *n = *b;
    n->body = NULL;
    if (b->body_len) {
        n->body = malloc(b->body_len);
        if (n->body == NULL) {
            free(n);
            return NULL;
        }
        memcpy(n->body, b->body, b->body_len);
    }
    return n;
}

void bckm_sim_block_free(bckm_sim_block *b) {
    if (b == NULL) return;
    free(b->body);
    free(b);
}

int bckm_sim_block_add_tx(bckm_sim_block *b, const uint8_t *tx, size_t len) {
    if (tx == NULL || len == 0 || len > BCKM_BLOCK_TX_MAX_BYTES) return BCKM_ERR_ARG;
    if (b->h.n_txs >= BCKM_BLOCK_MAX_TXS) return BCKM_ERR_ARG;
    size_t need = (size_t)b->body_len + BCKM_BLOCK_TX_PREFIX_BYTES + len, pos = b->body_len;
    uint8_t *d = realloc(b->body, need);
    if (d == NULL) return BCKM_ERR_NOMEM;
    b->body = d;
    int e = bckm_block_body_put(d, need, &pos, tx, len);
    if (e != BCKM_OK) return e;
    uint8_t root[32];
    e = bckm_block_body_root(d, pos, b->h.n_txs + 1u, root);
    if (e != BCKM_OK) return e;
    b->body_len = (uint32_t)pos;
    b->h.n_txs++;
    memcpy(b->h.tx_root, root, 32);
    return BCKM_OK;
}

int bckm_sim_block_next_tx(const bckm_sim_block *b, uint32_t *off, const uint8_t **tx,
                           size_t *len) {
    size_t pos = *off;
    int r = bckm_block_body_next(b->body, b->body_len, &pos, tx, len);
    if (r < 0) return BCKM_ERR_FORMAT;
    *off = (uint32_t)pos;
    return r;
}

int bckm_sim_block_encode(const bckm_sim_block *b, uint8_t **out, size_t *len) {
    size_t n = BCKM_BLOCK_HEADER_BYTES + (size_t)b->body_len;
    uint8_t *buf = malloc(n);
    if (buf == NULL) return BCKM_ERR_NOMEM;
    int e = bckm_block_header_encode(&b->h, buf);
    if (e != BCKM_OK) {
        free(buf);
        return e;
    }
    if (b->body_len) memcpy(buf + BCKM_BLOCK_HEADER_BYTES, b->body, b->body_len);
    *out = buf;
    *len = n;
    return BCKM_OK;
}

int bckm_sim_block_decode(const uint8_t *buf, size_t len, bckm_sim_block **out) {
    struct bckm_block_header h;
    if (buf == NULL || len < BCKM_BLOCK_HEADER_BYTES) return BCKM_ERR_TRUNCATED;
    if (len - BCKM_BLOCK_HEADER_BYTES > UINT32_MAX) return BCKM_ERR_FORMAT;
    int e = bckm_block_header_decode(buf, BCKM_BLOCK_HEADER_BYTES, &h);
    if (e == BCKM_OK)
        e = bckm_block_body_check(&h, buf + BCKM_BLOCK_HEADER_BYTES, len - BCKM_BLOCK_HEADER_BYTES);
    if (e != BCKM_OK) return e;
    bckm_sim_block *b = calloc(1, sizeof *b);
    if (b == NULL) return BCKM_ERR_NOMEM;
    b->h = h;
    b->body_len = (uint32_t)(len - BCKM_BLOCK_HEADER_BYTES);
    if (b->body_len) {
        b->body = malloc(b->body_len);
        if (b->body == NULL) {
            free(b);
            return BCKM_ERR_NOMEM;
        }
        memcpy(b->body, buf + BCKM_BLOCK_HEADER_BYTES, b->body_len);
    }
    *out = b;
    return BCKM_OK;
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
