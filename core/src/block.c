/*
 * Block header, body, hashes and commit certificates
 * (spec/layer2-formats.md). Contracts: core/include/bckm/block.h.
 */
#include "bckm/block.h"

#include <sodium.h>
#include <string.h>

/* Byte offsets inside a header. */
#define HDR_OFF_VERSION 0u
#define HDR_OFF_HEIGHT 1u
#define HDR_OFF_PREV 9u
#define HDR_OFF_PROPOSER 41u
#define HDR_OFF_TIME 45u
#define HDR_OFF_ROOT 53u
#define HDR_OFF_STATE 85u
#define HDR_OFF_NTXS 117u

/* Byte offsets inside a certificate's fixed part and inside one entry. */
#define CERT_OFF_VERSION 0u
#define CERT_OFF_HEIGHT 1u
#define CERT_OFF_VIEW 9u
#define CERT_OFF_HASH 17u
#define CERT_OFF_COUNT 49u
#define ENTRY_OFF_BP 0u
#define ENTRY_OFF_SIG 4u

/*@ assigns \nothing;
    ensures \result == 1 <==> (1 <= bp && bp <= 255);
    ensures \result == 0 || \result == 1;
 */
static int bp_in_range(uint32_t bp) { return bp >= BCKM_BP_MIN && bp <= BCKM_MAX_BPS; }

/*@ requires \valid(dst + (0 .. n - 1)) && \valid_read(src + (0 .. n - 1));
    requires \separated(dst + (0 .. n - 1), src + (0 .. n - 1));
    assigns dst[0 .. n - 1];
    ensures \forall integer k; 0 <= k < n ==> dst[k] == \old(src[k]);
 */
static void copy_bytes(uint8_t *dst, const uint8_t *src, size_t n) {
    size_t i;
    /*@ loop invariant 0 <= i <= n;
        loop invariant \forall integer k; 0 <= k < i ==> dst[k] == \at(src[k], Pre);
        loop assigns i, dst[0 .. n - 1];
        loop variant n - i; */
    for (i = 0; i < n; i++) dst[i] = src[i];
}

/*@ requires \valid(dst + (0 .. n - 1));
    assigns dst[0 .. n - 1];
    ensures \forall integer k; 0 <= k < n ==> dst[k] == 0;
 */
static void zero_bytes(uint8_t *dst, size_t n) {
    size_t i;
    /*@ loop invariant 0 <= i <= n;
        loop invariant \forall integer k; 0 <= k < i ==> dst[k] == 0;
        loop assigns i, dst[0 .. n - 1];
        loop variant n - i; */
    for (i = 0; i < n; i++) dst[i] = 0;
}

/*@ requires \valid_read(a + (0 .. n - 1)) && \valid_read(b + (0 .. n - 1));
    assigns \nothing;
 */
static int same_bytes(const uint8_t *a, const uint8_t *b, size_t n) {
    size_t i;
    int eq = 1;
    /* Hashes are public: no need for a constant-time compare here, and a
     * plain one leaves no bitwise downcast for the proof. */
    /*@ loop invariant 0 <= i <= n;
        loop invariant eq == 0 || eq == 1;
        loop assigns i, eq;
        loop variant n - i; */
    for (i = 0; i < n; i++) {
        if (a[i] != b[i]) eq = 0;
    }
    return eq;
}

/* ---- header ------------------------------------------------------------ */

/* The header's field rules, on the values themselves: the one copy that
 * bckm_block_header_is_valid and the decoder (which checks the fields in
 * locals before it writes anything) both use. */
/*@ assigns \nothing;
    ensures \result == 1 <==> (version == BCKM_BLOCK_VERSION && height != 0 &&
                               1 <= proposer <= BCKM_MAX_BPS && n_txs <= BCKM_BLOCK_MAX_TXS);
    ensures \result == 0 || \result == 1;
 */
static int header_fields_ok(uint8_t version, uint64_t height, uint32_t proposer, uint32_t n_txs) {
    return version == BCKM_BLOCK_VERSION && height != 0 && bp_in_range(proposer) &&
           n_txs <= BCKM_BLOCK_MAX_TXS;
}

int bckm_block_header_is_valid(const struct bckm_block_header *h) {
    return header_fields_ok(h->version, h->height, h->proposer, h->n_txs);
}

int bckm_block_header_encode(const struct bckm_block_header *h,
                             uint8_t out[BCKM_BLOCK_HEADER_BYTES]) {
    int ret = BCKM_OK;

    if (h == NULL || out == NULL) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (!bckm_block_header_is_valid(h)) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    /* Each assertion adds the field just written to those before it. */
    out[HDR_OFF_VERSION] = h->version;
    bckm_put_u64(out + HDR_OFF_HEIGHT, h->height);
    /*@ assert out[0] == \at(h->version, Pre) &&
               bckm_be64(out[1], out[2], out[3], out[4], out[5], out[6], out[7], out[8]) == \at(h->height, Pre); */
    copy_bytes(out + HDR_OFF_PREV, h->prev_hash, BCKM_HASH_BYTES);
    /*@ assert out[0] == \at(h->version, Pre) &&
               bckm_be64(out[1], out[2], out[3], out[4], out[5], out[6], out[7], out[8]) == \at(h->height, Pre) &&
               (\forall integer k; 0 <= k < BCKM_HASH_BYTES ==> out[HDR_OFF_PREV + k] == \at(h->prev_hash[k], Pre)); */
    bckm_put_u32(out + HDR_OFF_PROPOSER, h->proposer);
    /*@ assert out[0] == \at(h->version, Pre) &&
               bckm_be64(out[1], out[2], out[3], out[4], out[5], out[6], out[7], out[8]) == \at(h->height, Pre) &&
               (\forall integer k; 0 <= k < BCKM_HASH_BYTES ==> out[HDR_OFF_PREV + k] == \at(h->prev_hash[k], Pre)) &&
               bckm_be32(out[41], out[42], out[43], out[44]) == \at(h->proposer, Pre); */
    bckm_put_u64(out + HDR_OFF_TIME, h->time);
    /*@ assert out[0] == \at(h->version, Pre) &&
               bckm_be64(out[1], out[2], out[3], out[4], out[5], out[6], out[7], out[8]) == \at(h->height, Pre) &&
               (\forall integer k; 0 <= k < BCKM_HASH_BYTES ==> out[HDR_OFF_PREV + k] == \at(h->prev_hash[k], Pre)) &&
               bckm_be32(out[41], out[42], out[43], out[44]) == \at(h->proposer, Pre) &&
               bckm_be64(out[45], out[46], out[47], out[48], out[49], out[50], out[51], out[52]) == \at(h->time, Pre); */
    copy_bytes(out + HDR_OFF_ROOT, h->tx_root, BCKM_HASH_BYTES);
    /*@ assert out[0] == \at(h->version, Pre) &&
               bckm_be64(out[1], out[2], out[3], out[4], out[5], out[6], out[7], out[8]) == \at(h->height, Pre) &&
               (\forall integer k; 0 <= k < BCKM_HASH_BYTES ==> out[HDR_OFF_PREV + k] == \at(h->prev_hash[k], Pre)) &&
               bckm_be32(out[41], out[42], out[43], out[44]) == \at(h->proposer, Pre) &&
               bckm_be64(out[45], out[46], out[47], out[48], out[49], out[50], out[51], out[52]) == \at(h->time, Pre) &&
               (\forall integer k; 0 <= k < BCKM_HASH_BYTES ==> out[HDR_OFF_ROOT + k] == \at(h->tx_root[k], Pre)); */
    copy_bytes(out + HDR_OFF_STATE, h->state_hash, BCKM_HASH_BYTES);
    /*@ assert out[0] == \at(h->version, Pre) &&
               bckm_be64(out[1], out[2], out[3], out[4], out[5], out[6], out[7], out[8]) == \at(h->height, Pre) &&
               (\forall integer k; 0 <= k < BCKM_HASH_BYTES ==> out[HDR_OFF_PREV + k] == \at(h->prev_hash[k], Pre)) &&
               bckm_be32(out[41], out[42], out[43], out[44]) == \at(h->proposer, Pre) &&
               bckm_be64(out[45], out[46], out[47], out[48], out[49], out[50], out[51], out[52]) == \at(h->time, Pre) &&
               (\forall integer k; 0 <= k < BCKM_HASH_BYTES ==> out[HDR_OFF_ROOT + k] == \at(h->tx_root[k], Pre)) &&
               (\forall integer k; 0 <= k < BCKM_HASH_BYTES ==> out[HDR_OFF_STATE + k] == \at(h->state_hash[k], Pre)); */
    bckm_put_u32(out + HDR_OFF_NTXS, h->n_txs);

out:
    return ret;
}

int bckm_block_header_decode(const uint8_t *buf, size_t len, struct bckm_block_header *out) {
    int ret = BCKM_OK;
    uint8_t version;
    uint64_t height;
    uint32_t proposer;
    uint64_t time;
    uint32_t n_txs;

    if (buf == NULL || out == NULL) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (len < BCKM_BLOCK_HEADER_BYTES) {
        ret = BCKM_ERR_TRUNCATED;
        goto out;
    }
    if (len > BCKM_BLOCK_HEADER_BYTES) {
        ret = BCKM_ERR_FORMAT;
        goto out;
    }

    /* The scalar fields go into locals and are checked first
     * (header_fields_ok); then every field goes straight from buf
     * into out. Nothing after the checks can fail, so out is written only
     * on success. */
    version = buf[HDR_OFF_VERSION];
    height = bckm_get_u64(buf + HDR_OFF_HEIGHT);
    proposer = bckm_get_u32(buf + HDR_OFF_PROPOSER);
    time = bckm_get_u64(buf + HDR_OFF_TIME);
    n_txs = bckm_get_u32(buf + HDR_OFF_NTXS);
    if (!header_fields_ok(version, height, proposer, n_txs)) {
        ret = BCKM_ERR_FORMAT;
        goto out;
    }

    copy_bytes(out->prev_hash, buf + HDR_OFF_PREV, BCKM_HASH_BYTES);
    /*@ assert (\forall integer k; 0 <= k < BCKM_HASH_BYTES ==> out->prev_hash[k] == \at(buf[HDR_OFF_PREV + k], Pre)); */
    copy_bytes(out->tx_root, buf + HDR_OFF_ROOT, BCKM_HASH_BYTES);
    /*@ assert (\forall integer k; 0 <= k < BCKM_HASH_BYTES ==> out->prev_hash[k] == \at(buf[HDR_OFF_PREV + k], Pre)) &&
               (\forall integer k; 0 <= k < BCKM_HASH_BYTES ==> out->tx_root[k] == \at(buf[HDR_OFF_ROOT + k], Pre)); */
    copy_bytes(out->state_hash, buf + HDR_OFF_STATE, BCKM_HASH_BYTES);
    /*@ assert (\forall integer k; 0 <= k < BCKM_HASH_BYTES ==> out->prev_hash[k] == \at(buf[HDR_OFF_PREV + k], Pre)) &&
               (\forall integer k; 0 <= k < BCKM_HASH_BYTES ==> out->tx_root[k] == \at(buf[HDR_OFF_ROOT + k], Pre)) &&
               (\forall integer k; 0 <= k < BCKM_HASH_BYTES ==> out->state_hash[k] == \at(buf[HDR_OFF_STATE + k], Pre)); */
    out->version = version;
    out->height = height;
    out->proposer = proposer;
    out->time = time;
    out->n_txs = n_txs;

out:
    return ret;
}

int bckm_block_hash(const struct bckm_block_header *h, uint8_t out[BCKM_HASH_BYTES]) {
    static const uint8_t label[BCKM_BLOCK_LABEL_BYTES] = BCKM_BLOCK_LABEL;
    uint8_t msg[BCKM_BLOCK_LABEL_BYTES + BCKM_BLOCK_HEADER_BYTES];
    int ret = BCKM_OK;

    if (h == NULL || out == NULL) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    copy_bytes(msg, label, BCKM_BLOCK_LABEL_BYTES);
    ret = bckm_block_header_encode(h, msg + BCKM_BLOCK_LABEL_BYTES);
    if (ret != BCKM_OK) goto out;
    if (crypto_generichash(out, BCKM_HASH_BYTES, msg, sizeof msg, NULL, 0) != 0)
        ret = BCKM_ERR_CRYPTO;

out:
    return ret;
}

/* ---- body -------------------------------------------------------------- */

/* One record of a body: u16 length || the transaction's bytes. */
#define TX_PREFIX_BYTES 2u

int bckm_block_body_put(uint8_t *out, size_t cap, size_t *pos, const uint8_t *tx, size_t len) {
    if (out == NULL || pos == NULL || tx == NULL) return BCKM_ERR_ARG;
    if (len == 0 || len > BCKM_BLOCK_TX_MAX_BYTES || *pos > cap) return BCKM_ERR_ARG;
    if (cap - *pos < TX_PREFIX_BYTES + len) return BCKM_ERR_NOMEM;
    bckm_put_u16(out + *pos, (uint16_t)len);
    memcpy(out + *pos + TX_PREFIX_BYTES, tx, len);
    *pos += TX_PREFIX_BYTES + len;
    return BCKM_OK;
}

int bckm_block_body_next(const uint8_t *body, size_t len, size_t *pos, const uint8_t **tx,
                         size_t *tx_len) {
    size_t n;

    if (pos == NULL || tx == NULL || tx_len == NULL || (len > 0 && body == NULL) || *pos > len)
        return BCKM_ERR_ARG;
    if (*pos == len) return 0;
    if (len - *pos < TX_PREFIX_BYTES) return BCKM_ERR_TRUNCATED;
    n = bckm_get_u16(body + *pos);
    if (n == 0 || n > BCKM_BLOCK_TX_MAX_BYTES) return BCKM_ERR_FORMAT;
    if (len - *pos - TX_PREFIX_BYTES < n) return BCKM_ERR_TRUNCATED;
    *tx = body + *pos + TX_PREFIX_BYTES;
    *tx_len = n;
    *pos += TX_PREFIX_BYTES + n;
    return 1;
}

int bckm_block_body_root(const uint8_t *body, size_t len, uint32_t n,
                         uint8_t out[BCKM_HASH_BYTES]) {
    static const uint8_t label[BCKM_TXROOT_LABEL_BYTES] = BCKM_TXROOT_LABEL;
    crypto_generichash_state st;
    const uint8_t *tx;
    size_t pos = 0, tx_len;
    uint8_t cnt[4];
    uint32_t i;
    int r;

    if (out == NULL || (len > 0 && body == NULL) || n > BCKM_BLOCK_MAX_TXS) return BCKM_ERR_ARG;
    /* The framing first: exactly n well-formed records fill the body. */
    for (i = 0; i < n; i++) {
        r = bckm_block_body_next(body, len, &pos, &tx, &tx_len);
        if (r == 0) return BCKM_ERR_TRUNCATED;
        if (r < 0) return r;
    }
    if (pos != len) return BCKM_ERR_FORMAT;
    bckm_put_u32(cnt, n);
    if (crypto_generichash_init(&st, NULL, 0, BCKM_HASH_BYTES) != 0 ||
        crypto_generichash_update(&st, label, sizeof label) != 0 ||
        crypto_generichash_update(&st, cnt, sizeof cnt) != 0 ||
        (len > 0 && crypto_generichash_update(&st, body, len) != 0) ||
        crypto_generichash_final(&st, out, BCKM_HASH_BYTES) != 0)
        return BCKM_ERR_CRYPTO;
    return BCKM_OK;
}

int bckm_block_body_check(const struct bckm_block_header *hdr, const uint8_t *body, size_t len) {
    uint8_t root[BCKM_HASH_BYTES];
    int ret;

    if (hdr == NULL) return BCKM_ERR_ARG;
    ret = bckm_block_body_root(body, len, hdr->n_txs, root);
    if (ret == BCKM_OK && !same_bytes(root, hdr->tx_root, BCKM_HASH_BYTES)) ret = BCKM_ERR_MISMATCH;
    return ret;
}

int bckm_block_tx_root(const struct bckm_envelope *envs, uint32_t n, uint8_t out[BCKM_HASH_BYTES]) {
    static const uint8_t label[BCKM_TXROOT_LABEL_BYTES] = BCKM_TXROOT_LABEL;
    crypto_generichash_state st;
    uint8_t cnt[4];
    uint8_t enc[TX_PREFIX_BYTES + BCKM_ENVELOPE_MAX_BYTES];
    size_t len = 0;
    int ret = BCKM_OK;
    uint32_t i;

    if (out == NULL || (n > 0 && envs == NULL)) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (n > BCKM_BLOCK_MAX_TXS) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (crypto_generichash_init(&st, NULL, 0, BCKM_HASH_BYTES) != 0) {
        ret = BCKM_ERR_CRYPTO;
        goto out;
    }
    bckm_put_u32(cnt, n);
    if (crypto_generichash_update(&st, label, sizeof label) != 0 ||
        crypto_generichash_update(&st, cnt, sizeof cnt) != 0) {
        ret = BCKM_ERR_CRYPTO;
        goto out;
    }
    /* The same bytes as the root of bckm_block_body_encode's body. */
    for (i = 0; i < n; i++) {
        ret = bckm_envelope_encode_to(&envs[i], enc + TX_PREFIX_BYTES, sizeof enc - TX_PREFIX_BYTES,
                                      &len);
        if (ret != BCKM_OK) goto out;
        bckm_put_u16(enc, (uint16_t)len);
        if (crypto_generichash_update(&st, enc, TX_PREFIX_BYTES + len) != 0) {
            ret = BCKM_ERR_CRYPTO;
            goto out;
        }
    }
    if (crypto_generichash_final(&st, out, BCKM_HASH_BYTES) != 0) ret = BCKM_ERR_CRYPTO;

out:
    return ret;
}

int bckm_block_body_encode(const struct bckm_envelope *envs, uint32_t n, uint8_t *out, size_t cap,
                           size_t *out_len) {
    int ret = BCKM_OK;
    size_t remain = cap;
    size_t pos = 0;
    size_t w = 0;
    uint32_t i;

    if (out_len == NULL || (n > 0 && envs == NULL) || (cap > 0 && out == NULL)) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (n > BCKM_BLOCK_MAX_TXS) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    /*@ loop invariant 0 <= i <= n && 0 <= pos <= cap && remain == cap - pos;
        loop invariant pos <= i * (TX_PREFIX_BYTES + BCKM_ENVELOPE_MAX_BYTES);
        loop assigns i, pos, remain, ret, w, out[0 .. cap - 1];
        loop variant n - i; */
    for (i = 0; i < n; i++) {
        /* u16 length || the envelope at its own length (134 or 198),
         * checked against what remains by the encoder itself. */
        if (remain < TX_PREFIX_BYTES) {
            ret = BCKM_ERR_NOMEM;
            goto out;
        }
        ret = bckm_envelope_encode_to(&envs[i], out + pos + TX_PREFIX_BYTES,
                                      remain - TX_PREFIX_BYTES, &w);
        if (ret != BCKM_OK) goto out;
        bckm_put_u16(out + pos, (uint16_t)w);
        pos += TX_PREFIX_BYTES + w;
        remain -= TX_PREFIX_BYTES + w;
    }
    *out_len = pos;

out:
    return ret;
}

int bckm_block_body_decode(const struct bckm_block_header *hdr, const uint8_t *buf, size_t len,
                           struct bckm_envelope *envs, uint32_t cap) {
    const uint8_t *tx;
    size_t pos = 0, tx_len;
    int ret;
    uint32_t i;

    if (hdr == NULL || (len > 0 && buf == NULL)) return BCKM_ERR_ARG;
    if (hdr->n_txs > BCKM_BLOCK_MAX_TXS) return BCKM_ERR_ARG;
    if (hdr->n_txs > cap || (hdr->n_txs > 0 && envs == NULL)) return BCKM_ERR_NOMEM;
    ret = bckm_block_body_check(hdr, buf, len);
    if (ret != BCKM_OK) return ret;
    /* Framing and root are good; every transaction must be an envelope. */
    for (i = 0; i < hdr->n_txs; i++) {
        if (bckm_block_body_next(buf, len, &pos, &tx, &tx_len) != 1) return BCKM_ERR_FORMAT;
        if (tx_len != bckm_envelope_wire_len(tx[0])) return BCKM_ERR_FORMAT;
        ret = bckm_envelope_decode(tx, tx_len, &envs[i]);
        if (ret != BCKM_OK) return ret;
    }
    return BCKM_OK;
}

int bckm_block_seal(struct bckm_block_header *hdr, const struct bckm_envelope *envs, uint32_t n) {
    int ret = BCKM_OK;

    if (hdr == NULL) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    ret = bckm_block_tx_root(envs, n, hdr->tx_root);
    if (ret != BCKM_OK) goto out;
    hdr->n_txs = n;

out:
    return ret;
}

int bckm_block_encode(const struct bckm_block_header *hdr, const struct bckm_envelope *envs,
                      uint32_t n, uint8_t *out, size_t cap, size_t *out_len) {
    uint8_t root[BCKM_HASH_BYTES];
    size_t body_len = 0;
    int ret = BCKM_OK;

    if (hdr == NULL || out_len == NULL || (cap > 0 && out == NULL)) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (hdr->n_txs != n) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    ret = bckm_block_tx_root(envs, n, root);
    if (ret != BCKM_OK) goto out;
    if (!same_bytes(root, hdr->tx_root, BCKM_HASH_BYTES)) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (cap < BCKM_BLOCK_HEADER_BYTES) {
        ret = BCKM_ERR_NOMEM;
        goto out;
    }
    ret = bckm_block_header_encode(hdr, out);
    if (ret != BCKM_OK) goto out;
    ret = bckm_block_body_encode(envs, n, out + BCKM_BLOCK_HEADER_BYTES,
                                 cap - BCKM_BLOCK_HEADER_BYTES, &body_len);
    if (ret != BCKM_OK) goto out;
    *out_len = BCKM_BLOCK_HEADER_BYTES + body_len;

out:
    return ret;
}

int bckm_block_decode(const uint8_t *buf, size_t len, struct bckm_block_header *hdr,
                      struct bckm_envelope *envs, uint32_t cap) {
    struct bckm_block_header h;
    int ret = BCKM_OK;

    if (buf == NULL || hdr == NULL) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (len < BCKM_BLOCK_HEADER_BYTES) {
        ret = BCKM_ERR_TRUNCATED;
        goto out;
    }
    ret = bckm_block_header_decode(buf, BCKM_BLOCK_HEADER_BYTES, &h);
    if (ret != BCKM_OK) goto out;
    ret = bckm_block_body_decode(&h, buf + BCKM_BLOCK_HEADER_BYTES, len - BCKM_BLOCK_HEADER_BYTES,
                                 envs, cap);
    if (ret != BCKM_OK) goto out;
    *hdr = h;

out:
    return ret;
}

/* ---- commit certificate ----------------------------------------------- */

size_t bckm_cert_encoded_len(uint32_t count) {
    if (count > BCKM_CERT_MAX_SIGS) return 0;
    return BCKM_CERT_FIXED_BYTES + (size_t)count * BCKM_CERT_ENTRY_BYTES;
}

/* Canonical signer list: count in range, every ID in range, strictly
 * increasing (which also rules out duplicates). */
/*@ requires \valid_read(c);
    assigns \nothing;
    ensures \result != 0 ==> 1 <= c->count <= BCKM_CERT_MAX_SIGS;
 */
static int cert_signers_canonical(const struct bckm_cert *c) {
    uint32_t i;
    int ok = 1;

    if (c->count == 0 || c->count > BCKM_CERT_MAX_SIGS) return 0;
    /*@ loop invariant 0 <= i <= c->count;
        loop assigns i, ok;
        loop variant c->count - i; */
    for (i = 0; i < c->count; i++) {
        if (!bp_in_range(c->sigs[i].bp)) ok = 0;
        if (i > 0 && c->sigs[i].bp <= c->sigs[i - 1].bp) ok = 0;
    }
    return ok;
}

/*@ requires \valid_read(c);
    assigns \nothing;
    ensures \result != 0 ==> 1 <= c->count <= BCKM_CERT_MAX_SIGS;
 */
static int cert_is_valid(const struct bckm_cert *c) {
    return c->version == BCKM_CERT_VERSION && c->height != 0 && cert_signers_canonical(c);
}

int bckm_cert_encode(const struct bckm_cert *c, uint8_t *out, size_t cap, size_t *out_len) {
    int ret = BCKM_OK;
    size_t pos;
    uint32_t i;

    if (c == NULL || out_len == NULL || (cap > 0 && out == NULL)) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (!cert_is_valid(c)) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (cap < bckm_cert_encoded_len(c->count)) {
        ret = BCKM_ERR_NOMEM;
        goto out;
    }

    out[CERT_OFF_VERSION] = c->version;
    bckm_put_u64(out + CERT_OFF_HEIGHT, c->height);
    bckm_put_u64(out + CERT_OFF_VIEW, c->view);
    copy_bytes(out + CERT_OFF_HASH, c->block_hash, BCKM_HASH_BYTES);
    bckm_put_u16(out + CERT_OFF_COUNT, (uint16_t)c->count);
    pos = BCKM_CERT_FIXED_BYTES;
    /*@ loop invariant 0 <= i <= c->count;
        loop invariant pos == BCKM_CERT_FIXED_BYTES + i * BCKM_CERT_ENTRY_BYTES;
        loop invariant 1 <= c->count <= BCKM_CERT_MAX_SIGS;
        loop invariant BCKM_CERT_FIXED_BYTES + c->count * BCKM_CERT_ENTRY_BYTES <= cap;
        loop assigns i, pos, out[0 .. cap - 1];
        loop variant c->count - i; */
    for (i = 0; i < c->count; i++) {
        bckm_put_u32(out + pos + ENTRY_OFF_BP, c->sigs[i].bp);
        copy_bytes(out + pos + ENTRY_OFF_SIG, c->sigs[i].sig, BCKM_SIG_BYTES);
        pos += BCKM_CERT_ENTRY_BYTES;
    }
    *out_len = pos;

out:
    return ret;
}

int bckm_cert_decode(const uint8_t *buf, size_t len, struct bckm_cert *out) {
    int ret = BCKM_OK;
    uint8_t version;
    uint64_t height;
    uint64_t view;
    uint32_t count;
    uint32_t bp;
    uint32_t prev = 0;
    size_t remain;
    size_t pos;
    uint32_t i;

    if (buf == NULL || out == NULL) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (len < BCKM_CERT_FIXED_BYTES) {
        ret = BCKM_ERR_TRUNCATED;
        goto out;
    }

    /* Every field and entry is read and checked before out is written, so
     * that *out is untouched when the input is rejected. */
    version = buf[CERT_OFF_VERSION];
    height = bckm_get_u64(buf + CERT_OFF_HEIGHT);
    view = bckm_get_u64(buf + CERT_OFF_VIEW);
    count = bckm_get_u16(buf + CERT_OFF_COUNT);
    if (version != BCKM_CERT_VERSION || height == 0) {
        ret = BCKM_ERR_FORMAT;
        goto out;
    }
    if (count == 0 || count > BCKM_CERT_MAX_SIGS) {
        ret = BCKM_ERR_FORMAT;
        goto out;
    }

    pos = BCKM_CERT_FIXED_BYTES;
    remain = len - BCKM_CERT_FIXED_BYTES;
    /*@ loop invariant 0 <= i <= count;
        loop invariant pos == BCKM_CERT_FIXED_BYTES + i * BCKM_CERT_ENTRY_BYTES;
        loop invariant pos <= len && remain == len - pos;
        loop assigns i, pos, remain, bp, prev;
        loop variant count - i; */
    for (i = 0; i < count; i++) {
        if (remain < BCKM_CERT_ENTRY_BYTES) {
            ret = BCKM_ERR_TRUNCATED;
            goto out;
        }
        bp = bckm_get_u32(buf + pos + ENTRY_OFF_BP);
        if (!bp_in_range(bp)) {
            ret = BCKM_ERR_FORMAT;
            goto out;
        }
        if (i > 0 && bp <= prev) {
            ret = BCKM_ERR_FORMAT;
            goto out;
        }
        prev = bp;
        pos += BCKM_CERT_ENTRY_BYTES;
        remain -= BCKM_CERT_ENTRY_BYTES;
    }
    if (remain != 0) {
        ret = BCKM_ERR_FORMAT;
        goto out;
    }

    /* Accepted: the fields, the count entries, and zero in every unused
     * entry (so that two equal certificates compare equal field by field,
     * as with the former zeroed local copied out as a whole). */
    //@ assert len == BCKM_CERT_FIXED_BYTES + count * BCKM_CERT_ENTRY_BYTES;
    out->version = version;
    out->height = height;
    out->view = view;
    copy_bytes(out->block_hash, buf + CERT_OFF_HASH, BCKM_HASH_BYTES);
    out->count = count;
    /*@ loop invariant 0 <= i <= BCKM_CERT_MAX_SIGS;
        loop invariant out->count == count;
        loop assigns i, pos, out->sigs[0 .. BCKM_CERT_MAX_SIGS - 1];
        loop variant BCKM_CERT_MAX_SIGS - i; */
    for (i = 0; i < BCKM_CERT_MAX_SIGS; i++) {
        if (i < count) {
            pos = BCKM_CERT_FIXED_BYTES + (size_t)i * BCKM_CERT_ENTRY_BYTES;
            out->sigs[i].bp = bckm_get_u32(buf + pos + ENTRY_OFF_BP);
            copy_bytes(out->sigs[i].sig, buf + pos + ENTRY_OFF_SIG, BCKM_SIG_BYTES);
        } else {
            out->sigs[i].bp = 0;
            zero_bytes(out->sigs[i].sig, BCKM_SIG_BYTES);
        }
    }

out:
    return ret;
}

void bckm_commit_message(uint64_t height, uint64_t view, const uint8_t block_hash[BCKM_HASH_BYTES],
                         uint8_t msg[BCKM_COMMIT_MSG_BYTES]) {
    static const uint8_t label[BCKM_COMMIT_LABEL_BYTES] = BCKM_COMMIT_LABEL;
    memcpy(msg, label, BCKM_COMMIT_LABEL_BYTES);
    bckm_put_u64(msg + BCKM_COMMIT_LABEL_BYTES, height);
    bckm_put_u64(msg + BCKM_COMMIT_LABEL_BYTES + 8u, view);
    memcpy(msg + BCKM_COMMIT_LABEL_BYTES + 16u, block_hash, BCKM_HASH_BYTES);
}

int bckm_commit_sign(uint64_t height, uint64_t view, const uint8_t block_hash[BCKM_HASH_BYTES],
                     const uint8_t sk[BCKM_SIGN_SK_BYTES], uint8_t sig[BCKM_SIG_BYTES]) {
    uint8_t msg[BCKM_COMMIT_MSG_BYTES];
    int ret = BCKM_OK;

    if (block_hash == NULL || sk == NULL || sig == NULL || height == 0) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    bckm_commit_message(height, view, block_hash, msg);
    if (crypto_sign_detached(sig, NULL, msg, sizeof msg, sk) != 0) ret = BCKM_ERR_CRYPTO;

out:
    return ret;
}

int bckm_commit_verify(uint64_t height, uint64_t view, const uint8_t block_hash[BCKM_HASH_BYTES],
                       const uint8_t pk[BCKM_SIGN_PK_BYTES], const uint8_t sig[BCKM_SIG_BYTES]) {
    uint8_t msg[BCKM_COMMIT_MSG_BYTES];
    int ret = BCKM_OK;

    if (block_hash == NULL || pk == NULL || sig == NULL) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    bckm_commit_message(height, view, block_hash, msg);
    if (crypto_sign_verify_detached(sig, msg, sizeof msg, pk) != 0) ret = BCKM_ERR_AUTH;

out:
    return ret;
}

int bckm_cert_verify(const struct bckm_cert *c, const uint8_t block_hash[BCKM_HASH_BYTES],
                     const uint8_t (*bp_pk)[BCKM_SIGN_PK_BYTES], uint32_t n_bps, uint32_t f) {
    int ret = BCKM_OK;
    uint32_t valid = 0;
    uint32_t i;

    if (c == NULL || block_hash == NULL || bp_pk == NULL) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (n_bps == 0 || n_bps > BCKM_MAX_BPS) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    /* 2f+1 <= n_bps, written so that a huge f cannot overflow. */
    if (f > (n_bps - 1u) / 2u) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (!cert_is_valid(c)) {
        ret = BCKM_ERR_FORMAT;
        goto out;
    }
    if (!same_bytes(c->block_hash, block_hash, BCKM_HASH_BYTES)) {
        ret = BCKM_ERR_MISMATCH;
        goto out;
    }
    for (i = 0; i < c->count; i++) {
        uint32_t bp = c->sigs[i].bp;
        if (bp > n_bps) {
            ret = BCKM_ERR_UNKNOWN;
            goto out;
        }
        ret = bckm_commit_verify(c->height, c->view, c->block_hash, bp_pk[bp - 1u], c->sigs[i].sig);
        if (ret != BCKM_OK) goto out;
        /* Signers are strictly increasing (cert_is_valid), so each counts once. */
        valid++;
    }
    if (valid < 2u * f + 1u) ret = BCKM_ERR_AUTH;

out:
    return ret;
}
