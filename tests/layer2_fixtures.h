/*
 * Fixed inputs of the Layer 2 known-answer vectors (spec/vectors/tx.txt,
 * envelope.txt, block.txt). The generator (tests/gen/gen_vectors_layer2.c)
 * and the tests build the same values from here; the vector files pin the
 * bytes, so any change of encoding, label or hash shows up as a mismatch.
 * Everything is a plain byte pattern or derived from one, so the inputs can be
 * rebuilt from the description in spec/layer2-formats.md.
 */
#ifndef BCKM_TEST_LAYER2_FIXTURES_H
#define BCKM_TEST_LAYER2_FIXTURES_H

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bckm/block.h"
#include "bckm/rejoin.h"
#include "bckm/sets.h"
#include "bckm/tx.h"

#define FIX_N_BPS 4u
#define FIX_F 1u

/* BP b (1-based) has the Ed25519 key pair of seed bytes (b * 0x20 + j). */
static inline void fix_bp_keys(uint32_t bp, uint8_t pk[BCKM_SIGN_PK_BYTES],
                               uint8_t sk[BCKM_SIGN_SK_BYTES]) {
    uint8_t seed[crypto_sign_SEEDBYTES];
    /* Idempotent; every test reaches libsodium through here first. */
    if (sodium_init() < 0) abort();
    for (size_t j = 0; j < sizeof seed; j++) seed[j] = (uint8_t)(bp * 0x20u + j);
    (void)crypto_sign_seed_keypair(pk, sk, seed);
}

/* Transaction k (0, 1, 2): op k+1, node 0x0100000{7+k}, set 0x01000002,
 * code hash bytes (0x20*k + j), refresh key bytes (0xF0 - j - k). */
/* The set Assignment gives a join at BP bp now (0 if it cannot): what a
 * valid join transaction must name. */
static inline uint32_t fix_assigned_set(const struct bckm_sets *r, uint32_t bp) {
    uint32_t owner = bckm_sets_owner_for(r, bp), set = 0;
    int fresh;
    if (bckm_sets_assign(bckm_sets_table(r), bckm_sets_count(r), owner, bckm_sets_nodes(r) + 1,
                         bckm_sets_next_counter(r, owner), &set, &fresh) != BCKM_OK)
        return 0;
    return set;
}

static inline void fix_tx(unsigned k, struct bckm_tx *tx) {
    memset(tx, 0, sizeof *tx);
    tx->op = (uint8_t)(BCKM_TX_OP_JOIN + k);
    tx->node_id = 0x01000007u + k;
    tx->set_id = 0x01000002u;
    for (size_t j = 0; j < BCKM_HASH_BYTES; j++) tx->code_hash[j] = (uint8_t)(0x20u * k + j);
    for (size_t j = 0; j < BCKM_REFRESH_BYTES; j++) tx->refresh[j] = (uint8_t)(0xF0u - j - k);
}

/* Envelope k: from BP k+1, sequence 42+k, tx k, signed by that BP. */
static inline int fix_envelope(unsigned k, struct bckm_envelope *env) {
    uint8_t pk[BCKM_SIGN_PK_BYTES], sk[BCKM_SIGN_SK_BYTES];
    memset(env, 0, sizeof *env);
    env->version = BCKM_ENVELOPE_VERSION;
    env->bp = 1u + k;
    env->seq = 42u + k;
    fix_tx(k, &env->tx);
    fix_bp_keys(env->bp, pk, sk);
    return bckm_envelope_sign(env, sk);
}

/* The REATTACH fixture: node 0x0100000A with secret code bytes (0xC0 + j)
 * (its commitment, bckm_code_commit, is the code hash), in set 0x01000002,
 * consents to BP 2 with counter 3; BP 2 sends it as envelope version 2,
 * sequence 45. The code is written to code when it is not NULL. */
static inline int fix_reattach(struct bckm_envelope *env, uint8_t code_out[BCKM_CODE_BYTES]) {
    uint8_t pk[BCKM_SIGN_PK_BYTES], sk[BCKM_SIGN_SK_BYTES], code[BCKM_CODE_BYTES];
    int ret;
    for (size_t j = 0; j < sizeof code; j++) code[j] = (uint8_t)(0xC0u + j);
    memset(env, 0, sizeof *env);
    env->version = BCKM_ENVELOPE_VERSION_REATTACH;
    env->bp = 2;
    env->seq = 45;
    env->tx.op = BCKM_TX_OP_REATTACH;
    env->tx.node_id = 0x0100000Au;
    env->tx.set_id = 0x01000002u;
    bckm_code_commit(code, env->tx.code_hash);
    bckm_put_u64(env->tx.refresh, 3);
    ret = bckm_reattach_consent(code, env->tx.node_id, env->bp, 3, env->consent);
    fix_bp_keys(env->bp, pk, sk);
    if (ret == BCKM_OK) ret = bckm_envelope_sign(env, sk);
    if (code_out != NULL) memcpy(code_out, code, sizeof code);
    return ret;
}

/* Block at height 2 proposed by BP 2 at virtual time 1,500,000 us with the
 * three fixture envelopes; previous hash bytes 0x11, state hash bytes 0x5A ^ j. */
static inline int fix_block(struct bckm_block_header *h, struct bckm_envelope envs[3]) {
    int ret = BCKM_OK;
    memset(h, 0, sizeof *h);
    h->version = BCKM_BLOCK_VERSION;
    h->height = 2;
    memset(h->prev_hash, 0x11, sizeof h->prev_hash);
    h->proposer = 2;
    h->time = 1500000u;
    for (size_t j = 0; j < BCKM_HASH_BYTES; j++) h->state_hash[j] = (uint8_t)(0x5Au ^ j);
    for (unsigned k = 0; k < 3 && ret == BCKM_OK; k++) ret = fix_envelope(k, &envs[k]);
    if (ret == BCKM_OK) ret = bckm_block_seal(h, envs, 3);
    return ret;
}

/* The opaque body: FIX_OPAQUE_TXS transactions that are not envelopes (as
 * another application, such as the simulator's kv store, would put in a
 * block), of lengths 1, 7 and 1024 (the longest a record may hold);
 * transaction k has bytes (0xA0 + 0x10 * k + j) mod 256. */
#define FIX_OPAQUE_TXS 3u
#define FIX_OPAQUE_BODY_BYTES (3u * BCKM_BLOCK_TX_PREFIX_BYTES + 1u + 7u + BCKM_BLOCK_TX_MAX_BYTES)

static inline size_t fix_opaque_tx(unsigned k, uint8_t out[BCKM_BLOCK_TX_MAX_BYTES]) {
    static const size_t lens[FIX_OPAQUE_TXS] = { 1u, 7u, BCKM_BLOCK_TX_MAX_BYTES };
    for (size_t j = 0; j < lens[k]; j++) out[j] = (uint8_t)(0xA0u + 0x10u * k + j);
    return lens[k];
}

static inline int fix_opaque_body(uint8_t *out, size_t cap, size_t *len) {
    uint8_t tx[BCKM_BLOCK_TX_MAX_BYTES];
    int ret = BCKM_OK;
    *len = 0;
    for (unsigned k = 0; k < FIX_OPAQUE_TXS && ret == BCKM_OK; k++)
        ret = bckm_block_body_put(out, cap, len, tx, fix_opaque_tx(k, tx));
    return ret;
}

/* Certificate of that block, view 3, signed by BPs 1, 2 and 4 (n = 4, f = 1). */
static inline int fix_cert(const uint8_t block_hash[BCKM_HASH_BYTES], struct bckm_cert *c) {
    static const uint32_t signers[3] = { 1, 2, 4 };
    int ret = BCKM_OK;
    memset(c, 0, sizeof *c);
    c->version = BCKM_CERT_VERSION;
    c->height = 2;
    c->view = 3;
    memcpy(c->block_hash, block_hash, BCKM_HASH_BYTES);
    c->count = 3;
    for (unsigned i = 0; i < 3 && ret == BCKM_OK; i++) {
        uint8_t pk[BCKM_SIGN_PK_BYTES], sk[BCKM_SIGN_SK_BYTES];
        c->sigs[i].bp = signers[i];
        fix_bp_keys(signers[i], pk, sk);
        ret = bckm_commit_sign(c->height, c->view, block_hash, sk, c->sigs[i].sig);
    }
    return ret;
}

#endif
