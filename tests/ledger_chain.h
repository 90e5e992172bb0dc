/*
 * A deterministic, correctly signed chain of blocks for the ledger tests:
 * four BPs (f = 1), fixed keys, zero to four envelopes per block, node IDs
 * that recur so that the per-node and per-code indexes hold several
 * positions. Block h depends only on h, the variant and the previous hash, so
 * a parent process can rebuild exactly what a child wrote.
 */
#ifndef BCKM_TEST_LEDGER_CHAIN_H
#define BCKM_TEST_LEDGER_CHAIN_H

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bckm/block.h"
#include "bckm/ledger.h"

#define CHAIN_BPS 4u
#define CHAIN_F 1u
#define CHAIN_MAX_TXS 4u

struct chain_keys {
    uint8_t pk[CHAIN_BPS][BCKM_SIGN_PK_BYTES];
    uint8_t sk[CHAIN_BPS][BCKM_SIGN_SK_BYTES];
};

static inline void chain_keys_init(struct chain_keys *k) {
    if (sodium_init() < 0) abort();
    for (uint32_t b = 0; b < CHAIN_BPS; b++) {
        uint8_t seed[crypto_sign_SEEDBYTES];
        for (size_t j = 0; j < sizeof seed; j++) seed[j] = (uint8_t)(0x90u + b * 7u + j);
        (void)crypto_sign_seed_keypair(k->pk[b], k->sk[b], seed);
    }
}

static inline struct bckm_ledger_config chain_config(const struct chain_keys *k) {
    struct bckm_ledger_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.bp_pk = (const uint8_t(*)[BCKM_SIGN_PK_BYTES])k->pk;
    cfg.n_bps = CHAIN_BPS;
    cfg.f = CHAIN_F;
    cfg.map_bytes = 64u << 20;
    return cfg;
}

static inline uint32_t chain_node_of(uint64_t h, uint32_t k) {
    return 0x01000000u | (uint32_t)(1u + (h * 3u + k) % 17u);
}

static inline void chain_code_of(uint32_t node, uint8_t out[BCKM_HASH_BYTES]) {
    for (size_t j = 0; j < BCKM_HASH_BYTES; j++) out[j] = (uint8_t)(node * 13u + j * 5u);
}

/* The commit certificate of (h, hash), view h % 3, signed by the BPs of
 * the signers bitmask. */
static inline int chain_cert(const struct chain_keys *keys, uint64_t h,
                             const uint8_t hash[BCKM_HASH_BYTES], unsigned signers, uint8_t *cert,
                             size_t cert_cap, size_t *cert_len) {
    static struct bckm_cert c; /* 17 KiB: kept off the stack */
    int ret;
    memset(&c, 0, sizeof c);
    c.version = BCKM_CERT_VERSION;
    c.height = h;
    c.view = h % 3u;
    memcpy(c.block_hash, hash, BCKM_HASH_BYTES);
    for (uint32_t b = 1; b <= CHAIN_BPS; b++) {
        if (!(signers & (1u << (b - 1u)))) continue;
        c.sigs[c.count].bp = b;
        ret = bckm_commit_sign(h, c.view, hash, keys->sk[b - 1u], c.sigs[c.count].sig);
        if (ret != BCKM_OK) return ret;
        c.count++;
    }
    return bckm_cert_encode(&c, cert, cert_cap, cert_len);
}

/* Builds block h over prev_hash. variant changes the content (so two
 * different valid blocks exist for one height); signers is a bitmask of BPs
 * (bit b-1 for BP b) that sign the certificate. Writes the envelopes
 * (CHAIN_MAX_TXS room), the block and certificate encodings and the hash. */
static inline int chain_make(const struct chain_keys *keys, uint64_t h,
                             const uint8_t prev_hash[BCKM_HASH_BYTES], uint32_t variant,
                             unsigned signers, struct bckm_envelope *envs, uint32_t *n_txs,
                             uint8_t *blk, size_t blk_cap, size_t *blk_len, uint8_t *cert,
                             size_t cert_cap, size_t *cert_len, uint8_t hash[BCKM_HASH_BYTES]) {
    struct bckm_block_header hdr;
    uint32_t n = (uint32_t)((h * 7u + variant) % (CHAIN_MAX_TXS + 1u));
    int ret;

    for (uint32_t k = 0; k < n; k++) {
        struct bckm_envelope *e = &envs[k];
        memset(e, 0, sizeof *e);
        e->version = BCKM_ENVELOPE_VERSION;
        e->bp = 1u + (uint32_t)((h + k) % CHAIN_BPS);
        e->seq = h * 8u + k + variant * 1000u;
        e->tx.op = (uint8_t)(1u + (h + k) % 3u);
        e->tx.node_id = chain_node_of(h, k);
        e->tx.set_id = 0x01000001u + (uint32_t)(h % 3u);
        chain_code_of(e->tx.node_id, e->tx.code_hash);
        for (size_t j = 0; j < BCKM_REFRESH_BYTES; j++)
            e->tx.refresh[j] = (uint8_t)(h * 31u + k * 7u + j + variant);
        ret = bckm_envelope_sign(e, keys->sk[e->bp - 1u]);
        if (ret != BCKM_OK) return ret;
    }
    memset(&hdr, 0, sizeof hdr);
    hdr.version = BCKM_BLOCK_VERSION;
    hdr.height = h;
    memcpy(hdr.prev_hash, prev_hash, BCKM_HASH_BYTES);
    hdr.proposer = 1u + (uint32_t)(h % CHAIN_BPS);
    hdr.time = h * 1000u + variant;
    for (size_t j = 0; j < BCKM_HASH_BYTES; j++) hdr.state_hash[j] = (uint8_t)(h + j + variant);
    if ((ret = bckm_block_seal(&hdr, envs, n)) != BCKM_OK) return ret;
    if ((ret = bckm_block_encode(&hdr, envs, n, blk, blk_cap, blk_len)) != BCKM_OK) return ret;
    if ((ret = bckm_block_hash(&hdr, hash)) != BCKM_OK) return ret;
    *n_txs = n;
    return chain_cert(keys, h, hash, signers, cert, cert_cap, cert_len);
}

/* Opaque transactions for a ledger opened with BCKM_LEDGER_OPAQUE: block h
 * holds (h * 5 + variant) % (CHAIN_OPAQUE_MAX_TXS + 1) transactions of
 * arbitrary bytes that are no envelopes (as the simulator's kv store would
 * write), lengths from 1 to BCKM_BLOCK_TX_MAX_BYTES. */
#define CHAIN_OPAQUE_MAX_TXS 6u
#define CHAIN_OPAQUE_BLOCK_CAP                                                                     \
    (BCKM_BLOCK_HEADER_BYTES +                                                                     \
     CHAIN_OPAQUE_MAX_TXS * (BCKM_BLOCK_TX_PREFIX_BYTES + BCKM_BLOCK_TX_MAX_BYTES))

static inline size_t chain_opaque_tx(uint64_t h, uint32_t k, uint32_t variant,
                                     uint8_t out[BCKM_BLOCK_TX_MAX_BYTES]) {
    size_t len = k == 0 && h % 4u == 0 ? BCKM_BLOCK_TX_MAX_BYTES
                                       : 1u + (size_t)((h * 37u + k * 101u + variant) % 300u);
    for (size_t j = 0; j < len; j++) out[j] = (uint8_t)(h * 11u + k * 3u + j + variant);
    return len;
}

static inline int chain_make_opaque(const struct chain_keys *keys, uint64_t h,
                                    const uint8_t prev_hash[BCKM_HASH_BYTES], uint32_t variant,
                                    unsigned signers, uint32_t *n_txs, uint8_t *blk, size_t blk_cap,
                                    size_t *blk_len, uint8_t *cert, size_t cert_cap,
                                    size_t *cert_len, uint8_t hash[BCKM_HASH_BYTES]) {
    struct bckm_block_header hdr;
    uint8_t tx[BCKM_BLOCK_TX_MAX_BYTES];
    uint32_t n = (uint32_t)((h * 5u + variant) % (CHAIN_OPAQUE_MAX_TXS + 1u));
    size_t pos = BCKM_BLOCK_HEADER_BYTES;
    int ret;

    for (uint32_t k = 0; k < n; k++) {
        ret = bckm_block_body_put(blk, blk_cap, &pos, tx, chain_opaque_tx(h, k, variant, tx));
        if (ret != BCKM_OK) return ret;
    }
    memset(&hdr, 0, sizeof hdr);
    hdr.version = BCKM_BLOCK_VERSION;
    hdr.height = h;
    memcpy(hdr.prev_hash, prev_hash, BCKM_HASH_BYTES);
    hdr.proposer = 1u + (uint32_t)(h % CHAIN_BPS);
    hdr.time = h * 1000u + variant;
    for (size_t j = 0; j < BCKM_HASH_BYTES; j++)
        hdr.state_hash[j] = (uint8_t)(h * 3u + j + variant);
    hdr.n_txs = n;
    ret = bckm_block_body_root(blk + BCKM_BLOCK_HEADER_BYTES, pos - BCKM_BLOCK_HEADER_BYTES, n,
                               hdr.tx_root);
    if (ret != BCKM_OK) return ret;
    if ((ret = bckm_block_header_encode(&hdr, blk)) != BCKM_OK) return ret;
    if ((ret = bckm_block_hash(&hdr, hash)) != BCKM_OK) return ret;
    *blk_len = pos;
    *n_txs = n;
    return chain_cert(keys, h, hash, signers, cert, cert_cap, cert_len);
}

/* The three signers of the honest chain at height h (all but one BP). */
static inline unsigned chain_signers(uint64_t h) { return 0xFu & ~(1u << (h % CHAIN_BPS)); }

#define CHAIN_BLOCK_CAP                                                                            \
    (BCKM_BLOCK_HEADER_BYTES +                                                                     \
     CHAIN_MAX_TXS * (BCKM_BLOCK_TX_PREFIX_BYTES + BCKM_ENVELOPE_MAX_BYTES))
#define CHAIN_CERT_CAP (BCKM_CERT_FIXED_BYTES + CHAIN_BPS * BCKM_CERT_ENTRY_BYTES)

/* A whole chain of `len` blocks, heights 1..len (index h-1). */
struct chain {
    size_t len;
    struct chain_keys keys;
    uint8_t (*blk)[CHAIN_BLOCK_CAP];
    uint8_t (*cert)[CHAIN_CERT_CAP];
    size_t *blk_len, *cert_len;
    uint8_t (*hash)[BCKM_HASH_BYTES];
    struct bckm_envelope (*envs)[CHAIN_MAX_TXS];
    uint32_t *n_txs;
};

static inline void chain_free(struct chain *c) {
    free(c->blk);
    free(c->cert);
    free(c->blk_len);
    free(c->cert_len);
    free(c->hash);
    free(c->envs);
    free(c->n_txs);
    memset(c, 0, sizeof *c);
}

static inline int chain_build(struct chain *c, size_t len) {
    static const uint8_t zero[BCKM_HASH_BYTES];
    memset(c, 0, sizeof *c);
    chain_keys_init(&c->keys);
    c->len = len;
    c->blk = calloc(len, sizeof *c->blk);
    c->cert = calloc(len, sizeof *c->cert);
    c->blk_len = calloc(len, sizeof *c->blk_len);
    c->cert_len = calloc(len, sizeof *c->cert_len);
    c->hash = calloc(len, sizeof *c->hash);
    c->envs = calloc(len, sizeof *c->envs);
    c->n_txs = calloc(len, sizeof *c->n_txs);
    if (!c->blk || !c->cert || !c->blk_len || !c->cert_len || !c->hash || !c->envs || !c->n_txs) {
        chain_free(c);
        return BCKM_ERR_NOMEM;
    }
    for (size_t i = 0; i < len; i++) {
        uint64_t h = i + 1u;
        int ret = chain_make(&c->keys, h, i == 0 ? zero : c->hash[i - 1], 0, chain_signers(h),
                             c->envs[i], &c->n_txs[i], c->blk[i], CHAIN_BLOCK_CAP, &c->blk_len[i],
                             c->cert[i], CHAIN_CERT_CAP, &c->cert_len[i], c->hash[i]);
        if (ret != BCKM_OK) {
            chain_free(c);
            return ret;
        }
    }
    return BCKM_OK;
}

static inline int chain_append(bckm_ledger *l, const struct chain *c, uint64_t h) {
    return bckm_ledger_append(l, c->blk[h - 1u], c->blk_len[h - 1u], c->cert[h - 1u],
                              c->cert_len[h - 1u], NULL);
}

#endif
