#include "bckm/enrol.h"
#include "bckm/kdf.h"

#include <sodium.h>
#include <string.h>

/* Transcript: serial || bp || e_d || e_b || bp_pk || bps_root, hashed into
 * the KEK and the confirmation tags. */
static void transcript(uint32_t serial, uint32_t bp, const uint8_t ed[32], const uint8_t eb[32],
                       const uint8_t bp_pk[32], const uint8_t root[32], uint8_t out[32]) {
    uint8_t t[8 + 128];
    bckm_put_u32(t, serial);
    bckm_put_u32(t + 4, bp);
    memcpy(t + 8, ed, 32);
    memcpy(t + 40, eb, 32);
    memcpy(t + 72, bp_pk, 32);
    memcpy(t + 104, root, 32);
    crypto_generichash(out, 32, t, sizeof t, NULL, 0);
}

static int tag(const uint8_t kek[32], uint8_t who, const uint8_t th[32], uint8_t out[32]) {
    uint8_t f[33];
    f[0] = who;
    memcpy(f + 1, th, 32);
    return bckm_kdf_derive(kek, BCKM_KDF_CONFIRM, f, sizeof f, out);
}

uint32_t bckm_enrol_hello_serial(const uint8_t hello[BCKM_ENROL_HELLO_BYTES]) {
    return bckm_get_u32(hello);
}

int bckm_enrol_device_hello(struct bckm_enrol_device *st, uint32_t serial,
                            const uint8_t psk[BCKM_KEY_BYTES], const uint8_t *seed32,
                            uint8_t out[BCKM_ENROL_HELLO_BYTES]) {
    if (st == NULL || psk == NULL || out == NULL) return BCKM_ERR_ARG;
    memset(st, 0, sizeof *st);
    st->serial = serial;
    memcpy(st->psk, psk, BCKM_KEY_BYTES);
    if (seed32 != NULL)
        crypto_kx_seed_keypair(st->pk, st->sk, seed32);
    else
        crypto_kx_keypair(st->pk, st->sk);
    bckm_put_u32(out, serial);
    memcpy(out + 4, st->pk, 32);
    return BCKM_OK;
}

int bckm_enrol_bp_reply(struct bckm_enrol_bp *st, uint32_t bp_id, const uint8_t bp_pk[32],
                        const uint8_t bps_root[32], const uint8_t psk[BCKM_KEY_BYTES],
                        const uint8_t hello[BCKM_ENROL_HELLO_BYTES], const uint8_t *seed32,
                        uint8_t out[BCKM_ENROL_REPLY_BYTES]) {
    uint8_t pk[32], sk[32], rx[32], tx[32], th[32];
    int e = BCKM_ERR_CRYPTO;
    if (st == NULL || bp_pk == NULL || bps_root == NULL || psk == NULL || hello == NULL ||
        out == NULL)
        return BCKM_ERR_ARG;
    if (bp_id == 0 || bp_id > BCKM_MAX_BPS) return BCKM_ERR_ARG;
    memset(st, 0, sizeof *st);
    if (seed32 != NULL)
        crypto_kx_seed_keypair(pk, sk, seed32);
    else
        crypto_kx_keypair(pk, sk);
    if (crypto_kx_server_session_keys(rx, tx, pk, sk, hello + 4) != 0) goto out;
    st->bp_id = bp_id;
    st->serial = bckm_get_u32(hello);
    transcript(st->serial, bp_id, hello + 4, pk, bp_pk, bps_root, th);
    if ((e = bckm_kdf_session_kek(psk, rx, tx, th, st->kek)) != BCKM_OK) goto out;
    bckm_put_u32(out, bp_id);
    memcpy(out + 4, pk, 32);
    memcpy(out + 36, bp_pk, 32);
    memcpy(out + 68, bps_root, 32);
    if ((e = tag(st->kek, 'B', th, out + 100)) != BCKM_OK) goto out;
    if ((e = tag(st->kek, 'D', th, st->expect_tag)) != BCKM_OK) goto out;
    st->waiting = 1;
out:
    bckm_wipe(sk, sizeof sk);
    bckm_wipe(rx, sizeof rx);
    bckm_wipe(tx, sizeof tx);
    if (e != BCKM_OK) bckm_wipe(st, sizeof *st);
    return e;
}

int bckm_enrol_device_finish(struct bckm_enrol_device *st,
                             const uint8_t reply[BCKM_ENROL_REPLY_BYTES],
                             uint8_t out[BCKM_ENROL_FINISH_BYTES]) {
    uint8_t rx[32], tx[32], th[32], want[32], kek[32];
    int e = BCKM_ERR_AUTH;
    if (st == NULL || reply == NULL || out == NULL || st->done) return BCKM_ERR_ARG;
    uint32_t bp_id = bckm_get_u32(reply);
    if (bp_id == 0 || bp_id > BCKM_MAX_BPS) return BCKM_ERR_FORMAT;
    const uint8_t *eb = reply + 4, *bp_pk = reply + 36, *root = reply + 68, *tag_b = reply + 100;
    if (crypto_kx_client_session_keys(rx, tx, st->pk, st->sk, eb) != 0) {
        e = BCKM_ERR_CRYPTO;
        goto out;
    }
    transcript(st->serial, bp_id, st->pk, eb, bp_pk, root, th);
    /* The client's rx is the server's tx: pass them in the server's order. */
    if ((e = bckm_kdf_session_kek(st->psk, tx, rx, th, kek)) != BCKM_OK) goto out;
    if ((e = tag(kek, 'B', th, want)) != BCKM_OK) goto out;
    if (!bckm_ct_equal(want, tag_b, 32)) {
        e = BCKM_ERR_AUTH;
        goto out;
    }
    if ((e = tag(kek, 'D', th, out)) != BCKM_OK) goto out;
    memcpy(st->kek, kek, 32);
    st->bp_id = bp_id;
    memcpy(st->bp_pk, bp_pk, 32);
    memcpy(st->bps_root, root, 32);
    st->done = 1;
    bckm_wipe(st->sk, sizeof st->sk);
    bckm_wipe(st->psk, sizeof st->psk);
out:
    bckm_wipe(rx, sizeof rx);
    bckm_wipe(tx, sizeof tx);
    bckm_wipe(kek, sizeof kek);
    bckm_wipe(want, sizeof want);
    return e;
}

int bckm_enrol_bp_finish(struct bckm_enrol_bp *st, const uint8_t fin[BCKM_ENROL_FINISH_BYTES]) {
    if (st == NULL || fin == NULL || !st->waiting) return BCKM_ERR_STATE;
    if (!bckm_ct_equal(st->expect_tag, fin, 32)) {
        bckm_wipe(st, sizeof *st);
        return BCKM_ERR_AUTH;
    }
    st->waiting = 0;
    return BCKM_OK;
}
