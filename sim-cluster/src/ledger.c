/*
 * The BP's ledger (sim/ledger.h): the in-memory entries both backends keep,
 * and the stored form of one entry. The LMDB store is in ledger_lmdb.c.
 */
#include "sim/ledger.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bckm/common.h"
#include "ledger_store.h"

/* Stored entry, all integers big-endian:
 *   height (8) | prev (32) | proposer (4) | ntx (4) | data_len (4) | data |
 *   cert view (8) | cert count (4) | count x (signer (4) | sig (64)) |
 *   digest (32) | state hash (32) | results (ntx) | commit_us (8) | check (32)
 * check is BLAKE2b-256 keyed by nothing, domain "bckm-sim-entry-v1", over
 * everything before it: the block digest covers only the block, so without
 * it a damaged result code, state hash or signature would read back as valid. */
#define ENTRY_HDR 52u
#define ENTRY_SIGNER (4u + BCKM_SIM_SIG_BYTES)
#define ENTRY_DOMAIN "bckm-sim-entry-v1"

void bckm_sim_ledger_init(bckm_sim_ledger *l) { memset(l, 0, sizeof *l); }

static void drop_entries(bckm_sim_ledger *l) {
    for (uint64_t i = 0; i < l->len; i++) {
        bckm_sim_block_free(l->e[i].block);
        free(l->e[i].results);
    }
    free(l->e);
    l->e = NULL;
    l->len = l->cap = 0;
}

void bckm_sim_ledger_free(bckm_sim_ledger *l) {
    drop_entries(l);
    if (l->store != NULL) bckm_sim_store_close(l->store);
    memset(l, 0, sizeof *l);
}

void bckm_sim_ledger_close(bckm_sim_ledger *l) {
    if (l->store == NULL) return;
    bckm_sim_ledger_free(l);
}

/* Adds an entry the ledger now owns to the in-memory copy. */
static int push(bckm_sim_ledger *l, const bckm_sim_entry *e) {
    if (l->len == l->cap) {
        uint64_t ncap = l->cap ? l->cap * 2 : 64;
        bckm_sim_entry *n = realloc(l->e, (size_t)ncap * sizeof *n);
        if (n == NULL) return BCKM_ERR_NOMEM;
        l->e = n;
        l->cap = ncap;
    }
    l->e[l->len++] = *e;
    return BCKM_OK;
}

int bckm_sim_ledger_append(bckm_sim_ledger *l, bckm_sim_block *block, const bckm_sim_cert *cert,
                           const uint8_t digest[32], const uint8_t state_hash[32],
                           uint8_t *results, uint64_t commit_us) {
    int ret = BCKM_ERR_STATE;
    if (block == NULL || block->height != l->len + 1 || cert->count > BCKM_SIM_MAX_BPS) goto fail;
    bckm_sim_entry e;
    e.block = block;
    e.cert = *cert;
    memcpy(e.digest, digest, 32);
    memcpy(e.state_hash, state_hash, 32);
    e.results = results;
    e.commit_us = commit_us;
    if (l->store != NULL) {
        /* Durable first: the store never lags the memory it stands behind. */
        size_t n = bckm_sim_entry_encoded_len(&e);
        uint8_t *buf = malloc(n);
        if (buf == NULL) { ret = BCKM_ERR_NOMEM; goto fail; }
        bckm_sim_entry_encode(&e, buf);
        ret = bckm_sim_store_put(l->store, block->height, buf, n);
        free(buf);
        if (ret != BCKM_OK) goto fail;
    }
    if ((ret = push(l, &e)) != BCKM_OK) goto fail;
    return BCKM_OK;
fail:
    bckm_sim_block_free(block);
    free(results);
    return ret;
}

const bckm_sim_entry *bckm_sim_ledger_get(const bckm_sim_ledger *l, uint64_t h) {
    if (h == 0 || h > l->len) return NULL;
    return &l->e[h - 1];
}

/* ---- the stored form ----------------------------------------------------- */

size_t bckm_sim_entry_encoded_len(const bckm_sim_entry *e) {
    return ENTRY_HDR + (size_t)e->block->data_len + 8 + 4 + (size_t)e->cert.count * ENTRY_SIGNER +
           32 + 32 + e->block->ntx + 8 + 32;
}

static void entry_check(const uint8_t *buf, size_t len, uint8_t out[32]) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)ENTRY_DOMAIN, sizeof ENTRY_DOMAIN - 1);
    crypto_generichash_update(&st, buf, len);
    crypto_generichash_final(&st, out, 32);
}

void bckm_sim_entry_encode(const bckm_sim_entry *e, uint8_t *out) {
    const bckm_sim_block *b = e->block;
    uint8_t *p = out;
    bckm_put_u64(p, b->height);
    memcpy(p + 8, b->prev, 32);
    bckm_put_u32(p + 40, b->proposer);
    bckm_put_u32(p + 44, b->ntx);
    bckm_put_u32(p + 48, b->data_len);
    p += ENTRY_HDR;
    if (b->data_len) memcpy(p, b->data, b->data_len);
    p += b->data_len;
    bckm_put_u64(p, e->cert.view);
    bckm_put_u32(p + 8, e->cert.count);
    p += 12;
    for (uint32_t i = 0; i < e->cert.count; i++) {
        bckm_put_u32(p, e->cert.signer[i]);
        memcpy(p + 4, e->cert.sig[i], BCKM_SIM_SIG_BYTES);
        p += ENTRY_SIGNER;
    }
    memcpy(p, e->digest, 32);
    memcpy(p + 32, e->state_hash, 32);
    p += 64;
    if (b->ntx) memcpy(p, e->results, b->ntx);
    p += b->ntx;
    bckm_put_u64(p, e->commit_us);
    p += 8;
    entry_check(out, (size_t)(p - out), p);
}

/* Every length is checked against what remains before it is used. */
int bckm_sim_entry_decode(const uint8_t *buf, size_t len, uint64_t h, const uint8_t prev[32],
                          uint32_t nbps, bckm_sim_entry *out) {
    if (buf == NULL || out == NULL || nbps == 0 || nbps > BCKM_SIM_MAX_BPS) return BCKM_ERR_ARG;
    if (len < ENTRY_HDR + 32) return BCKM_ERR_CORRUPT;
    uint8_t check[32];
    entry_check(buf, len - 32, check);
    if (sodium_memcmp(check, buf + len - 32, 32) != 0) return BCKM_ERR_CORRUPT;
    size_t rem = len - 32 - ENTRY_HDR;
    bckm_sim_block b;
    memset(&b, 0, sizeof b);
    b.height = bckm_get_u64(buf);
    memcpy(b.prev, buf + 8, 32);
    b.proposer = bckm_get_u32(buf + 40);
    b.ntx = bckm_get_u32(buf + 44);
    b.data_len = bckm_get_u32(buf + 48);
    if (b.height != h || memcmp(b.prev, prev, 32) != 0 || b.proposer >= nbps) return BCKM_ERR_CORRUPT;
    if (b.data_len > rem || b.ntx > b.data_len / 3) return BCKM_ERR_CORRUPT;
    const uint8_t *p = buf + ENTRY_HDR;
    b.data = (uint8_t *)(uintptr_t)p;  /* borrowed until the copy below */
    rem -= b.data_len;
    p += b.data_len;
    /* The tx list must be exactly ntx well-formed records. */
    uint32_t off = 0, k = 0;
    const uint8_t *tx;
    size_t txlen;
    int r;
    while ((r = bckm_sim_block_next_tx(&b, &off, &tx, &txlen)) == 1) k++;
    if (r != 0 || k != b.ntx) return BCKM_ERR_CORRUPT;
    bckm_sim_cert cert;
    memset(&cert, 0, sizeof cert);
    if (rem < 12) return BCKM_ERR_CORRUPT;
    cert.view = bckm_get_u64(p);
    cert.count = bckm_get_u32(p + 8);
    rem -= 12;
    p += 12;
    if (cert.count == 0 || cert.count > nbps || rem / ENTRY_SIGNER < cert.count) return BCKM_ERR_CORRUPT;
    uint8_t seen[BCKM_SIM_MAX_BPS] = { 0 };
    for (uint32_t i = 0; i < cert.count; i++) {
        cert.signer[i] = bckm_get_u32(p);
        if (cert.signer[i] >= nbps || seen[cert.signer[i]]) return BCKM_ERR_CORRUPT;
        seen[cert.signer[i]] = 1;
        memcpy(cert.sig[i], p + 4, BCKM_SIM_SIG_BYTES);
        p += ENTRY_SIGNER;
    }
    rem -= (size_t)cert.count * ENTRY_SIGNER;
    if (rem != 64u + b.ntx + 8u) return BCKM_ERR_CORRUPT;
    uint8_t digest[32];
    bckm_sim_block_digest(&b, digest);
    if (memcmp(digest, p, 32) != 0) return BCKM_ERR_CORRUPT;
    bckm_sim_block *nb = bckm_sim_block_dup(&b);
    uint8_t *results = malloc(b.ntx ? b.ntx : 1);
    if (nb == NULL || results == NULL) {
        bckm_sim_block_free(nb);
        free(results);
        return BCKM_ERR_NOMEM;
    }
    memcpy(out->digest, p, 32);
    memcpy(out->state_hash, p + 32, 32);
    p += 64;
    if (b.ntx) memcpy(results, p, b.ntx);
    p += b.ntx;
    out->commit_us = bckm_get_u64(p);
    out->block = nb;
    out->cert = cert;
    out->results = results;
    return BCKM_OK;
}

int bckm_sim_ledger_push_loaded(bckm_sim_ledger *l, const bckm_sim_entry *e) { return push(l, e); }
