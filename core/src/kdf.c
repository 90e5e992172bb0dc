#include "bckm/kdf.h"

#include <sodium.h>
#include <string.h>

static const uint8_t kdf_prefix[BCKM_KDF_PREFIX_BYTES] = { 'b', 'c', 'k', 'm', '-', 'k', 'd', 'f' };

int bckm_kdf_derive(const uint8_t key[BCKM_KEY_BYTES], uint8_t label, const uint8_t *fields,
                    size_t flen, uint8_t out[BCKM_KEY_BYTES]) {
    uint8_t in[BCKM_KDF_PREFIX_BYTES + 1 + BCKM_KDF_MAX_FIELDS];
    uint8_t tmp[BCKM_KEY_BYTES];
    if (flen > BCKM_KDF_MAX_FIELDS) return BCKM_ERR_ARG;
    memcpy(in, kdf_prefix, BCKM_KDF_PREFIX_BYTES);
    in[BCKM_KDF_PREFIX_BYTES] = label;
    if (flen > 0) memcpy(in + BCKM_KDF_PREFIX_BYTES + 1, fields, flen);
    /* Through tmp, so out may alias key or fields. */
    /*@ assert domain_separation: in[BCKM_KDF_PREFIX_BYTES] == label; */
    crypto_generichash(tmp, BCKM_KEY_BYTES, in, BCKM_KDF_PREFIX_BYTES + 1 + flen, key,
                       BCKM_KEY_BYTES);
    memcpy(out, tmp, BCKM_KEY_BYTES);
    bckm_wipe(tmp, sizeof tmp);
    bckm_wipe(in, sizeof in);
    return BCKM_OK;
}

/* The wrappers pass fixed, small field lengths, so derive cannot fail. */
/*@ requires \valid_read(key + (0 .. BCKM_KEY_BYTES - 1));
    requires 0 < flen <= BCKM_KDF_MAX_FIELDS && \valid_read(fields + (0 .. flen - 1));
    requires \valid(out + (0 .. BCKM_KEY_BYTES - 1));
    assigns out[0 .. BCKM_KEY_BYTES - 1];
 */
static void derive_fixed(const uint8_t key[BCKM_KEY_BYTES], uint8_t label, const uint8_t *fields,
                         size_t flen, uint8_t out[BCKM_KEY_BYTES]) {
    int e = bckm_kdf_derive(key, label, fields, flen, out);
    (void)e;
}

void bckm_kdf_set_update(const uint8_t key[BCKM_KEY_BYTES],
                         const uint8_t refresh[BCKM_REFRESH_BYTES], uint32_t set_id, uint64_t epoch,
                         uint8_t out[BCKM_KEY_BYTES]) {
    uint8_t f[BCKM_REFRESH_BYTES + 4 + 8];
    memcpy(f, refresh, BCKM_REFRESH_BYTES);
    bckm_put_u32(f + 16, set_id);
    bckm_put_u64(f + 20, epoch);
    derive_fixed(key, BCKM_KDF_SET_UPDATE, f, sizeof f, out);
    bckm_wipe(f, sizeof f);
}

void bckm_kdf_setpair_update(const uint8_t key[BCKM_KEY_BYTES],
                             const uint8_t refresh[BCKM_REFRESH_BYTES], uint32_t a, uint32_t b,
                             uint64_t epoch, uint8_t out[BCKM_KEY_BYTES]) {
    uint8_t f[BCKM_REFRESH_BYTES + 4 + 4 + 8];
    memcpy(f, refresh, BCKM_REFRESH_BYTES);
    bckm_put_u32(f + 16, a < b ? a : b);
    bckm_put_u32(f + 20, a < b ? b : a);
    bckm_put_u64(f + 24, epoch);
    derive_fixed(key, BCKM_KDF_SETPAIR_UPDATE, f, sizeof f, out);
    bckm_wipe(f, sizeof f);
}

/* The 16-byte derivation of the refresh labels: a 16-byte key, a 16-byte
 * output, fields of at most 12 bytes. */
/*@ requires \valid_read(key + (0 .. BCKM_REFRESH_BYTES - 1));
    requires 0 < flen <= 12 && \valid_read(fields + (0 .. flen - 1));
    requires \valid(out + (0 .. BCKM_REFRESH_BYTES - 1));
    assigns out[0 .. BCKM_REFRESH_BYTES - 1];
 */
static void derive_refresh(const uint8_t key[BCKM_REFRESH_BYTES], uint8_t label,
                           const uint8_t *fields, size_t flen, uint8_t out[BCKM_REFRESH_BYTES]) {
    uint8_t in[BCKM_KDF_PREFIX_BYTES + 1 + 12];
    uint8_t tmp[BCKM_REFRESH_BYTES];
    memcpy(in, kdf_prefix, BCKM_KDF_PREFIX_BYTES);
    in[BCKM_KDF_PREFIX_BYTES] = label;
    memcpy(in + BCKM_KDF_PREFIX_BYTES + 1, fields, flen);
    /* Through tmp, so out may alias key. */
    crypto_generichash(tmp, BCKM_REFRESH_BYTES, in, BCKM_KDF_PREFIX_BYTES + 1 + flen, key,
                       BCKM_REFRESH_BYTES);
    memcpy(out, tmp, BCKM_REFRESH_BYTES);
    bckm_wipe(tmp, sizeof tmp);
    bckm_wipe(in, sizeof in);
}

void bckm_kdf_set_refresh(const uint8_t r[BCKM_REFRESH_BYTES], uint32_t set_id, uint64_t epoch,
                          uint8_t out[BCKM_REFRESH_BYTES]) {
    uint8_t f[12];
    bckm_put_u32(f, set_id);
    bckm_put_u64(f + 4, epoch);
    derive_refresh(r, BCKM_KDF_SET_REFRESH, f, sizeof f, out);
}

void bckm_kdf_pair_refresh(const uint8_t r_set[BCKM_REFRESH_BYTES], uint32_t other,
                           uint8_t out[BCKM_REFRESH_BYTES]) {
    uint8_t f[4];
    bckm_put_u32(f, other);
    derive_refresh(r_set, BCKM_KDF_PAIR_REFRESH, f, sizeof f, out);
}

void bckm_kdf_setpair_advance(const uint8_t key[BCKM_KEY_BYTES], uint32_t a, const uint8_t *r_ab,
                              uint32_t b, const uint8_t *r_ba, uint64_t epoch,
                              uint8_t out[BCKM_KEY_BYTES]) {
    /* The lower set ID's side first, so both sides apply the same steps. */
    const uint8_t *first = a < b ? r_ab : r_ba, *second = a < b ? r_ba : r_ab;
    uint8_t k[BCKM_KEY_BYTES];
    memcpy(k, key, BCKM_KEY_BYTES);
    if (first != NULL) bckm_kdf_setpair_update(k, first, a, b, epoch, k);
    if (second != NULL) bckm_kdf_setpair_update(k, second, a, b, epoch, k);
    memcpy(out, k, BCKM_KEY_BYTES);
    bckm_wipe(k, sizeof k);
}

void bckm_kdf_pair_node(const uint8_t seed[BCKM_KEY_BYTES], uint32_t first, uint32_t second,
                        uint8_t out[BCKM_KEY_BYTES]) {
    uint8_t f[8];
    bckm_put_u32(f, first);
    bckm_put_u32(f + 4, second);
    derive_fixed(seed, BCKM_KDF_PAIR_NODE, f, sizeof f, out);
}

void bckm_kdf_set_init(const uint8_t domain[BCKM_KEY_BYTES], uint32_t set_id,
                       uint8_t out[BCKM_KEY_BYTES]) {
    uint8_t f[4];
    bckm_put_u32(f, set_id);
    derive_fixed(domain, BCKM_KDF_SET_INIT, f, sizeof f, out);
}

void bckm_kdf_setpair_init(const uint8_t domain[BCKM_KEY_BYTES], uint32_t a, uint32_t b,
                           uint8_t out[BCKM_KEY_BYTES]) {
    uint8_t f[8];
    bckm_put_u32(f, a < b ? a : b);
    bckm_put_u32(f + 4, a < b ? b : a);
    derive_fixed(domain, BCKM_KDF_SETPAIR_INIT, f, sizeof f, out);
}

void bckm_kdf_pair_seed(const uint8_t domain[BCKM_KEY_BYTES], uint32_t node_id,
                        uint8_t out[BCKM_KEY_BYTES]) {
    uint8_t f[4];
    bckm_put_u32(f, node_id);
    derive_fixed(domain, BCKM_KDF_PAIR_SEED, f, sizeof f, out);
}

int bckm_kdf_session_kek(const uint8_t key[BCKM_KEY_BYTES], const uint8_t rx[32],
                         const uint8_t tx[32], const uint8_t th[32], uint8_t out[BCKM_KEY_BYTES]) {
    uint8_t f[96];
    memcpy(f, rx, 32);
    memcpy(f + 32, tx, 32);
    memcpy(f + 64, th, 32);
    int e = bckm_kdf_derive(key, BCKM_KDF_KEK, f, sizeof f, out);
    bckm_wipe(f, sizeof f);
    return e;
}

void bckm_drbg_init(struct bckm_drbg *d, const uint8_t seed[BCKM_KEY_BYTES]) {
    if (seed != NULL)
        memcpy(d->key, seed, BCKM_KEY_BYTES);
    else
        randombytes_buf(d->key, BCKM_KEY_BYTES);
    d->counter = 0;
}

void bckm_drbg_fill(struct bckm_drbg *d, uint8_t *out, size_t len) {
    uint8_t f[9], s[randombytes_SEEDBYTES];
    bckm_put_u64(f, d->counter);
    f[8] = 0;
    derive_fixed(d->key, BCKM_KDF_DRBG, f, sizeof f, s);
    f[8] = 1;
    derive_fixed(d->key, BCKM_KDF_DRBG, f, sizeof f, d->key); /* ratchet */
    d->counter++;
    randombytes_buf_deterministic(out, len, s);
    bckm_wipe(s, sizeof s);
}

/* Field by field rather than the struct as bytes: the same 40 bytes end up
 * zero (the struct has no padding), and each write is one the proof's memory
 * model can follow. The counter is not secret, so a plain store does. */
void bckm_drbg_wipe(struct bckm_drbg *d) {
    if (d == NULL) return;
    bckm_wipe(d->key, sizeof d->key);
    d->counter = 0;
}
