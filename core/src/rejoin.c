#include "bckm/rejoin.h"
#include "bckm/kdf.h"

#include <sodium.h>
#include <string.h>

static const uint8_t rejoin_label[14] = { 'b', 'c', 'k', 'm', '-', 'r', 'e', 'j', 'o', 'i', 'n', '-', 'v', '1' };

void bckm_code_commit(const uint8_t code[BCKM_CODE_BYTES], uint8_t out[BCKM_HASH_BYTES]) {
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(out, sk, code);
    bckm_wipe(sk, sizeof sk);
}

/* label || node || bp || e_u || e_b || nonce: what the node signs. */
static void transcript(uint32_t node, uint32_t bp, const uint8_t eu[32], const uint8_t eb[32],
                       const uint8_t nonce[32], uint8_t out[14 + 8 + 96]) {
    memcpy(out, rejoin_label, sizeof rejoin_label);
    bckm_put_u32(out + 14, node);
    bckm_put_u32(out + 18, bp);
    memcpy(out + 22, eu, 32);
    memcpy(out + 54, eb, 32);
    memcpy(out + 86, nonce, 32);
}

int bckm_rejoin_node_hello(struct bckm_rejoin_node *st, uint32_t node_id, const uint8_t *seed32,
                           uint8_t out[BCKM_REJOIN_HELLO_BYTES]) {
    if (st == NULL || out == NULL || node_id == BCKM_ID_NONE) return BCKM_ERR_ARG;
    memset(st, 0, sizeof *st);
    st->node_id = node_id;
    if (seed32 != NULL) crypto_kx_seed_keypair(st->pk, st->sk, seed32);
    else crypto_kx_keypair(st->pk, st->sk);
    bckm_put_u32(out, node_id);
    memcpy(out + 4, st->pk, 32);
    return BCKM_OK;
}

int bckm_rejoin_bp_challenge(struct bckm_rejoin_bp *st, uint32_t bp_id, const uint8_t hello[BCKM_REJOIN_HELLO_BYTES],
                             const uint8_t *seed32, uint8_t out[BCKM_REJOIN_CHALLENGE_BYTES]) {
    uint8_t pk[32], sk[32], rx[32], tx[32], th[32];
    int e = BCKM_ERR_CRYPTO;
    if (st == NULL || hello == NULL || out == NULL || bp_id == 0 || bp_id > BCKM_MAX_BPS) return BCKM_ERR_ARG;
    memset(st, 0, sizeof *st);
    st->node_id = bckm_get_u32(hello);
    if (st->node_id == BCKM_ID_NONE) return BCKM_ERR_FORMAT;
    if (seed32 != NULL) {
        crypto_kx_seed_keypair(pk, sk, seed32);
        crypto_generichash(out + 32, 32, seed32, 32, NULL, 0);   /* reproducible nonce */
    } else {
        crypto_kx_keypair(pk, sk);
        randombytes_buf(out + 32, 32);
    }
    if (crypto_kx_server_session_keys(rx, tx, pk, sk, hello + 4) != 0) goto out;
    memcpy(out, pk, 32);
    transcript(st->node_id, bp_id, hello + 4, pk, out + 32, st->transcript);
    crypto_generichash(th, 32, st->transcript, sizeof st->transcript, NULL, 0);
    if ((e = bckm_kdf_session_kek(rx, rx, tx, th, st->kek)) != BCKM_OK) goto out;
    st->bp_id = bp_id;
    st->waiting = 1;
out:
    bckm_wipe(sk, sizeof sk); bckm_wipe(rx, sizeof rx); bckm_wipe(tx, sizeof tx);
    if (e != BCKM_OK) bckm_wipe(st, sizeof *st);
    return e;
}

int bckm_rejoin_node_prove(struct bckm_rejoin_node *st, uint32_t bp_id, const uint8_t code[BCKM_CODE_BYTES],
                           const uint8_t challenge[BCKM_REJOIN_CHALLENGE_BYTES], uint8_t out[BCKM_REJOIN_PROOF_BYTES]) {
    uint8_t rx[32], tx[32], t[118], th[32], spk[32], ssk[64];
    int e = BCKM_ERR_CRYPTO;
    if (st == NULL || code == NULL || challenge == NULL || out == NULL) return BCKM_ERR_ARG;
    if (crypto_kx_client_session_keys(rx, tx, st->pk, st->sk, challenge) != 0) goto out;
    transcript(st->node_id, bp_id, st->pk, challenge, challenge + 32, t);
    crypto_sign_seed_keypair(spk, ssk, code);
    if (crypto_sign_detached(out, NULL, t, sizeof t, ssk) != 0) goto out;
    crypto_generichash(th, 32, t, sizeof t, NULL, 0);
    /* The client's rx is the server's tx: pass them in the server's order. */
    e = bckm_kdf_session_kek(tx, tx, rx, th, st->kek);
out:
    bckm_wipe(ssk, sizeof ssk); bckm_wipe(rx, sizeof rx); bckm_wipe(tx, sizeof tx);
    bckm_wipe(st->sk, sizeof st->sk);
    return e;
}

int bckm_rejoin_bp_verify(struct bckm_rejoin_bp *st, const uint8_t commitment[BCKM_HASH_BYTES],
                          const uint8_t proof[BCKM_REJOIN_PROOF_BYTES]) {
    if (st == NULL || commitment == NULL || proof == NULL || !st->waiting) return BCKM_ERR_STATE;
    if (crypto_sign_verify_detached(proof, st->transcript, sizeof st->transcript, commitment) != 0) {
        bckm_wipe(st, sizeof *st);
        return BCKM_ERR_AUTH;
    }
    st->waiting = 0;
    return BCKM_OK;
}
