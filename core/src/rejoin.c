#include "bckm/rejoin.h"
#include "bckm/kdf.h"

#include <sodium.h>
#include <string.h>

#define TRANSCRIPT_BYTES (14u + 8u + 96u)
#define BP_TRANSCRIPT_BYTES (17u + 8u + 96u)

static const uint8_t rejoin_label[14] = { 'b', 'c', 'k', 'm', '-', 'r', 'e',
                                          'j', 'o', 'i', 'n', '-', 'v', '1' };
static const uint8_t rejoin_bp_label[17] = { 'b', 'c', 'k', 'm', '-', 'r', 'e', 'j', 'o',
                                             'i', 'n', '-', 'b', 'p', '-', 'v', '1' };
static const uint8_t bps_label[11] = { 'b', 'c', 'k', 'm', '-', 'b', 'p', 's', '-', 'v', '1' };

void bckm_bps_root(const struct bckm_bp_table *t, uint8_t out[BCKM_HASH_BYTES]) {
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, BCKM_HASH_BYTES);
    crypto_generichash_update(&h, bps_label, sizeof bps_label);
    for (uint32_t id = 1; id <= BCKM_MAX_BPS; id++) {
        if (!t->has[id]) continue;
        uint8_t b = (uint8_t)id;
        crypto_generichash_update(&h, &b, 1);
        crypto_generichash_update(&h, t->pk[id], BCKM_SIGN_PK_BYTES);
    }
    crypto_generichash_final(&h, out, BCKM_HASH_BYTES);
}

void bckm_code_commit(const uint8_t code[BCKM_CODE_BYTES], uint8_t out[BCKM_HASH_BYTES]) {
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(out, sk, code);
    bckm_wipe(sk, sizeof sk);
}

/* label || node || bp || e_u || e_b || nonce: what the node (label
 * "bckm-rejoin-v1") or the BP ("bckm-rejoin-bp-v1") signs. */
static size_t transcript(const uint8_t *label, size_t llen, uint32_t node, uint32_t bp,
                         const uint8_t eu[32], const uint8_t eb[32], const uint8_t nonce[32],
                         uint8_t *out) {
    memcpy(out, label, llen);
    bckm_put_u32(out + llen, node);
    bckm_put_u32(out + llen + 4, bp);
    memcpy(out + llen + 8, eu, 32);
    memcpy(out + llen + 40, eb, 32);
    memcpy(out + llen + 72, nonce, 32);
    return llen + 104;
}

int bckm_rejoin_node_hello(struct bckm_rejoin_node *st, uint32_t node_id, const uint8_t *seed32,
                           uint8_t out[BCKM_REJOIN_HELLO_BYTES]) {
    if (st == NULL || out == NULL || node_id == BCKM_ID_NONE) return BCKM_ERR_ARG;
    memset(st, 0, sizeof *st);
    st->node_id = node_id;
    if (seed32 != NULL)
        crypto_kx_seed_keypair(st->pk, st->sk, seed32);
    else
        crypto_kx_keypair(st->pk, st->sk);
    bckm_put_u32(out, node_id);
    memcpy(out + 4, st->pk, 32);
    return BCKM_OK;
}

int bckm_rejoin_bp_challenge(struct bckm_rejoin_bp *st, uint32_t bp_id, const uint8_t bp_sk[64],
                             const uint8_t hello[BCKM_REJOIN_HELLO_BYTES], const uint8_t *seed32,
                             uint8_t out[BCKM_REJOIN_CHALLENGE_BYTES]) {
    uint8_t pk[32], sk[32], rx[32], tx[32], th[32], nonce[32], bt[BP_TRANSCRIPT_BYTES];
    int e = BCKM_ERR_CRYPTO;
    if (st == NULL || bp_sk == NULL || hello == NULL || out == NULL || bp_id == 0 ||
        bp_id > BCKM_MAX_BPS)
        return BCKM_ERR_ARG;
    memset(st, 0, sizeof *st);
    st->node_id = bckm_get_u32(hello);
    if (st->node_id == BCKM_ID_NONE) return BCKM_ERR_FORMAT;
    if (seed32 != NULL) {
        crypto_kx_seed_keypair(pk, sk, seed32);
        crypto_generichash(nonce, 32, seed32, 32, NULL, 0); /* reproducible nonce */
    } else {
        crypto_kx_keypair(pk, sk);
        randombytes_buf(nonce, 32);
    }
    if (crypto_kx_server_session_keys(rx, tx, pk, sk, hello + 4) != 0) goto out;
    transcript(rejoin_label, sizeof rejoin_label, st->node_id, bp_id, hello + 4, pk, nonce,
               st->transcript);
    transcript(rejoin_bp_label, sizeof rejoin_bp_label, st->node_id, bp_id, hello + 4, pk, nonce,
               bt);
    crypto_generichash(th, 32, st->transcript, sizeof st->transcript, NULL, 0);
    if ((e = bckm_kdf_session_kek(rx, rx, tx, th, st->kek)) != BCKM_OK) goto out;
    bckm_put_u32(out, bp_id);
    memcpy(out + 4, pk, 32);
    memcpy(out + 36, nonce, 32);
    if (crypto_sign_detached(out + 68, NULL, bt, sizeof bt, bp_sk) != 0) {
        e = BCKM_ERR_CRYPTO;
        goto out;
    }
    st->bp_id = bp_id;
    st->waiting = 1;
out:
    bckm_wipe(sk, sizeof sk);
    bckm_wipe(rx, sizeof rx);
    bckm_wipe(tx, sizeof tx);
    if (e != BCKM_OK) bckm_wipe(st, sizeof *st);
    return e;
}

/* The BP's half checked against the node's trust anchor; nothing secret yet. */
static int check_bp(const struct bckm_rejoin_node *st, const uint8_t bps_root[BCKM_HASH_BYTES],
                    const struct bckm_bp_table *bps,
                    const uint8_t challenge[BCKM_REJOIN_CHALLENGE_BYTES], uint32_t *bp_out) {
    uint8_t root[BCKM_HASH_BYTES], bt[BP_TRANSCRIPT_BYTES];
    uint32_t bp = bckm_get_u32(challenge);
    if (bp == 0 || bp > BCKM_MAX_BPS) return BCKM_ERR_FORMAT;
    bckm_bps_root(bps, root);
    if (!bckm_ct_equal(root, bps_root, BCKM_HASH_BYTES)) return BCKM_ERR_AUTH;
    if (!bps->has[bp]) return BCKM_ERR_UNKNOWN;
    transcript(rejoin_bp_label, sizeof rejoin_bp_label, st->node_id, bp, st->pk, challenge + 4,
               challenge + 36, bt);
    if (crypto_sign_verify_detached(challenge + 68, bt, sizeof bt, bps->pk[bp]) != 0)
        return BCKM_ERR_AUTH;
    *bp_out = bp;
    return BCKM_OK;
}

int bckm_rejoin_node_prove(struct bckm_rejoin_node *st, const uint8_t bps_root[BCKM_HASH_BYTES],
                           const struct bckm_bp_table *bps, const uint8_t code[BCKM_CODE_BYTES],
                           const uint8_t challenge[BCKM_REJOIN_CHALLENGE_BYTES],
                           uint8_t out[BCKM_REJOIN_PROOF_BYTES], uint32_t *bp_id,
                           uint8_t bp_pk[BCKM_SIGN_PK_BYTES]) {
    uint8_t rx[32], tx[32], t[TRANSCRIPT_BYTES], th[32], spk[32], ssk[64];
    uint32_t bp = 0;
    int e;
    if (st == NULL || bps_root == NULL || bps == NULL || code == NULL || challenge == NULL ||
        out == NULL)
        return BCKM_ERR_ARG;
    /* Mutual authentication: the BP proves itself before the node signs. */
    if ((e = check_bp(st, bps_root, bps, challenge, &bp)) != BCKM_OK) {
        bckm_wipe(st, sizeof *st);
        return e;
    }
    e = BCKM_ERR_CRYPTO;
    if (crypto_kx_client_session_keys(rx, tx, st->pk, st->sk, challenge + 4) != 0) goto out;
    transcript(rejoin_label, sizeof rejoin_label, st->node_id, bp, st->pk, challenge + 4,
               challenge + 36, t);
    crypto_sign_seed_keypair(spk, ssk, code);
    if (crypto_sign_detached(out, NULL, t, sizeof t, ssk) != 0) goto out;
    crypto_generichash(th, 32, t, sizeof t, NULL, 0);
    /* The client's rx is the server's tx: pass them in the server's order. */
    e = bckm_kdf_session_kek(tx, tx, rx, th, st->kek);
    if (e == BCKM_OK) {
        if (bp_id != NULL) *bp_id = bp;
        if (bp_pk != NULL) memcpy(bp_pk, bps->pk[bp], BCKM_SIGN_PK_BYTES);
    }
out:
    bckm_wipe(ssk, sizeof ssk);
    bckm_wipe(rx, sizeof rx);
    bckm_wipe(tx, sizeof tx);
    bckm_wipe(st->sk, sizeof st->sk);
    if (e != BCKM_OK) bckm_wipe(st->kek, sizeof st->kek);
    return e;
}

int bckm_rejoin_bp_verify(struct bckm_rejoin_bp *st, const uint8_t commitment[BCKM_HASH_BYTES],
                          const uint8_t proof[BCKM_REJOIN_PROOF_BYTES]) {
    if (st == NULL || commitment == NULL || proof == NULL || !st->waiting) return BCKM_ERR_STATE;
    if (crypto_sign_verify_detached(proof, st->transcript, sizeof st->transcript, commitment) !=
        0) {
        bckm_wipe(st, sizeof *st);
        return BCKM_ERR_AUTH;
    }
    st->waiting = 0;
    return BCKM_OK;
}
