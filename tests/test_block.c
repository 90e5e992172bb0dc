/*
 * Block header, body, block hash, transaction root and commit certificate:
 * known-answer vectors, seeded random round trips, and one test per class of
 * malformed input.
 */
#include "check.h"
#include "layer2_fixtures.h"

#define BLOCK_VECTORS "spec/vectors/block.txt"

/* A body record: u16 length || the transaction. */
#define REC(n) (BCKM_BLOCK_TX_PREFIX_BYTES + (size_t)(n))
/* A version-1 envelope's record. */
#define ENV_REC REC(BCKM_ENVELOPE_BYTES)
/* Offset of tx_root in an encoded header (block.h). */
#define ROOT_OFF 53u

static uint64_t rng_state;

static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void rng_bytes(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)rng_next();
}

/* Large buffers live here rather than on the stack. */
static uint8_t blk_buf[BCKM_BLOCK_MAX_BYTES + 64];
static uint8_t blk_buf2[BCKM_BLOCK_MAX_BYTES + 64];
static struct bckm_envelope envs_a[BCKM_BLOCK_MAX_TXS];
static struct bckm_envelope envs_b[BCKM_BLOCK_MAX_TXS];
static uint8_t bp_pk[FIX_N_BPS][BCKM_SIGN_PK_BYTES];
static uint8_t bp_sk[FIX_N_BPS][BCKM_SIGN_SK_BYTES];

static void load_keys(void) {
    for (uint32_t b = 1; b <= FIX_N_BPS; b++) fix_bp_keys(b, bp_pk[b - 1], bp_sk[b - 1]);
}

static int header_equal(const struct bckm_block_header *a, const struct bckm_block_header *b) {
    return a->version == b->version && a->height == b->height &&
           memcmp(a->prev_hash, b->prev_hash, 32) == 0 && a->proposer == b->proposer &&
           a->time == b->time && memcmp(a->tx_root, b->tx_root, 32) == 0 &&
           memcmp(a->state_hash, b->state_hash, 32) == 0 && a->n_txs == b->n_txs;
}

static int env_equal(const struct bckm_envelope *a, const struct bckm_envelope *b) {
    uint8_t x[BCKM_ENVELOPE_MAX_BYTES], y[BCKM_ENVELOPE_MAX_BYTES];
    size_t nx = 0, ny = 0;
    return bckm_envelope_encode_to(a, x, sizeof x, &nx) == BCKM_OK &&
           bckm_envelope_encode_to(b, y, sizeof y, &ny) == BCKM_OK && nx == ny &&
           memcmp(x, y, nx) == 0;
}

static int cert_equal(const struct bckm_cert *a, const struct bckm_cert *b) {
    if (a->version != b->version || a->height != b->height || a->view != b->view ||
        memcmp(a->block_hash, b->block_hash, 32) != 0 || a->count != b->count)
        return 0;
    for (uint32_t i = 0; i < a->count; i++)
        if (a->sigs[i].bp != b->sigs[i].bp || memcmp(a->sigs[i].sig, b->sigs[i].sig, 64) != 0)
            return 0;
    return 1;
}

static void random_envelope(struct bckm_envelope *env) {
    memset(env, 0, sizeof *env);
    env->version = BCKM_ENVELOPE_VERSION;
    env->bp = (uint32_t)(1 + rng_next() % BCKM_MAX_BPS);
    env->seq = rng_next();
    env->tx.op = (uint8_t)(1 + rng_next() % 3);
    env->tx.node_id = (uint32_t)(1 + rng_next() % 0xFFFFFFFEu);
    env->tx.set_id = (uint32_t)(1 + rng_next() % 0xFFFFFFFEu);
    rng_bytes(env->tx.code_hash, 32);
    rng_bytes(env->tx.refresh, 16);
    rng_bytes(env->sig, 64);
}

static void random_header(struct bckm_block_header *h) {
    memset(h, 0, sizeof *h);
    h->version = BCKM_BLOCK_VERSION;
    h->height = 1 + rng_next() % 0xFFFFFFFFFFFFFFFEull;
    rng_bytes(h->prev_hash, 32);
    h->proposer = (uint32_t)(1 + rng_next() % BCKM_MAX_BPS);
    h->time = rng_next();
    rng_bytes(h->tx_root, 32);
    rng_bytes(h->state_hash, 32);
    h->n_txs = (uint32_t)(rng_next() % (BCKM_BLOCK_MAX_TXS + 1));
}

static void random_cert(struct bckm_cert *c) {
    memset(c, 0, sizeof *c);
    c->version = BCKM_CERT_VERSION;
    c->height = 1 + rng_next() % 1000000;
    c->view = rng_next() % 16;
    rng_bytes(c->block_hash, 32);
    /* Strictly increasing signers drawn from 1..255. */
    uint32_t count = 0;
    for (uint32_t bp = 1; bp <= BCKM_MAX_BPS; bp++) {
        if (rng_next() % 8 == 0 || (bp == BCKM_MAX_BPS && count == 0)) {
            c->sigs[count].bp = bp;
            rng_bytes(c->sigs[count].sig, 64);
            count++;
        }
    }
    c->count = count;
}

/* Runs a decoder on an exact-size heap copy so ASan sees any overread. */
static int block_decode_exact(const uint8_t *buf, size_t len, struct bckm_block_header *h,
                              struct bckm_envelope *envs, uint32_t cap) {
    uint8_t *copy = check_exact_copy(buf, len);
    int r = bckm_block_decode(copy, len, h, envs, cap);
    free(copy);
    return r;
}

static int cert_decode_exact(const uint8_t *buf, size_t len, struct bckm_cert *c) {
    uint8_t *copy = check_exact_copy(buf, len);
    int r = bckm_cert_decode(copy, len, c);
    free(copy);
    return r;
}

/* Rewrites the root in an encoded block (header || body of n records) to
 * the root of its body, as a proposer sealing those bytes would: a change
 * to a transaction is then seen by the envelope decoder, not the root. */
static int reseal(uint8_t *blk, size_t len, uint32_t n) {
    return bckm_block_body_root(blk + BCKM_BLOCK_HEADER_BYTES, len - BCKM_BLOCK_HEADER_BYTES, n,
                                blk + ROOT_OFF);
}

static int header_decode_exact(const uint8_t *buf, size_t len, struct bckm_block_header *h) {
    uint8_t *copy = check_exact_copy(buf, len);
    int r = bckm_block_header_decode(copy, len, h);
    free(copy);
    return r;
}

/* The fixture block encoded, its hash and its certificate. */
struct fixture {
    struct bckm_block_header h;
    struct bckm_envelope envs[3];
    uint8_t hash[BCKM_HASH_BYTES];
    size_t blen;
    struct bckm_cert cert;
    uint8_t cbuf[BCKM_CERT_MAX_BYTES];
    size_t clen;
};
static struct fixture fx;

static int load_fixture(void) {
    load_keys();
    if (fix_block(&fx.h, fx.envs) != BCKM_OK) return 0;
    if (bckm_block_hash(&fx.h, fx.hash) != BCKM_OK) return 0;
    if (bckm_block_encode(&fx.h, fx.envs, 3, blk_buf, sizeof blk_buf, &fx.blen) != BCKM_OK)
        return 0;
    if (fix_cert(fx.hash, &fx.cert) != BCKM_OK) return 0;
    return bckm_cert_encode(&fx.cert, fx.cbuf, sizeof fx.cbuf, &fx.clen) == BCKM_OK;
}

/* ---- known answers ---------------------------------------------------- */

static void kat_block(void) {
    static uint8_t want[BCKM_BLOCK_MAX_BYTES];
    uint8_t hdr[BCKM_BLOCK_HEADER_BYTES], v[64];
    REQUIRE(load_fixture());
    for (uint32_t b = 1; b <= FIX_N_BPS; b++) {
        char name[16];
        snprintf(name, sizeof name, "bp%u_pk", b);
        REQUIRE(check_vector(BLOCK_VECTORS, name, v, sizeof v) == 32);
        CHECK_MEM(v, bp_pk[b - 1], 32);
    }
    REQUIRE(check_vector(BLOCK_VECTORS, "tx_root", v, sizeof v) == 32);
    CHECK_MEM(fx.h.tx_root, v, 32);
    REQUIRE(check_vector(BLOCK_VECTORS, "header", want, sizeof want) ==
            (long)BCKM_BLOCK_HEADER_BYTES);
    CHECK_EQ(bckm_block_header_encode(&fx.h, hdr), BCKM_OK);
    CHECK_MEM(hdr, want, sizeof hdr);
    REQUIRE(check_vector(BLOCK_VECTORS, "block_hash", v, sizeof v) == 32);
    CHECK_MEM(fx.hash, v, 32);
    long n = check_vector(BLOCK_VECTORS, "block", want, sizeof want);
    REQUIRE(n == (long)(BCKM_BLOCK_HEADER_BYTES + 3 * ENV_REC));
    CHECK_EQ(fx.blen, n);
    CHECK_MEM(blk_buf, want, (size_t)n);
    CHECK_EQ(want[0], 2); /* header version 2 */
    struct bckm_block_header h;
    CHECK_EQ(bckm_block_decode(want, (size_t)n, &h, envs_a, 3), BCKM_OK);
    CHECK(header_equal(&h, &fx.h));
    for (int i = 0; i < 3; i++) CHECK(env_equal(&envs_a[i], &fx.envs[i]));
    /* Each record is u16 length 134 || the envelope's own encoding. */
    for (int i = 0; i < 3; i++) {
        uint8_t e[BCKM_ENVELOPE_BYTES];
        const uint8_t *r = want + BCKM_BLOCK_HEADER_BYTES + (size_t)i * ENV_REC;
        CHECK_EQ(bckm_get_u16(r), BCKM_ENVELOPE_BYTES);
        CHECK_EQ(bckm_envelope_encode(&fx.envs[i], e), BCKM_OK);
        CHECK_MEM(r + BCKM_BLOCK_TX_PREFIX_BYTES, e, sizeof e);
    }
    /* The root of the body bytes is the root of the envelopes. */
    CHECK_EQ(bckm_block_body_root(want + BCKM_BLOCK_HEADER_BYTES,
                                  (size_t)n - BCKM_BLOCK_HEADER_BYTES, 3, v),
             BCKM_OK);
    CHECK_MEM(v, fx.h.tx_root, 32);
    CHECK_EQ(bckm_block_body_check(&fx.h, want + BCKM_BLOCK_HEADER_BYTES,
                                   (size_t)n - BCKM_BLOCK_HEADER_BYTES),
             BCKM_OK);
}

/* The empty body's root and the opaque body: records built with
 * bckm_block_body_put, the bytes and root pinned by the vectors. */
static void kat_opaque_body(void) {
    static uint8_t want[2 * FIX_OPAQUE_BODY_BYTES], body[FIX_OPAQUE_BODY_BYTES];
    uint8_t v[64], root[32], tx[BCKM_BLOCK_TX_MAX_BYTES];
    size_t len = 0;
    REQUIRE(check_vector(BLOCK_VECTORS, "empty_tx_root", v, sizeof v) == 32);
    CHECK_EQ(bckm_block_body_root(NULL, 0, 0, root), BCKM_OK);
    CHECK_MEM(root, v, 32);
    CHECK_EQ(bckm_block_tx_root(NULL, 0, root), BCKM_OK);
    CHECK_MEM(root, v, 32);
    long n = check_vector(BLOCK_VECTORS, "opaque_body", want, sizeof want);
    REQUIRE(n == (long)FIX_OPAQUE_BODY_BYTES);
    REQUIRE(fix_opaque_body(body, sizeof body, &len) == BCKM_OK);
    CHECK_EQ(len, n);
    CHECK_MEM(body, want, (size_t)n);
    REQUIRE(check_vector(BLOCK_VECTORS, "opaque_tx_root", v, sizeof v) == 32);
    CHECK_EQ(bckm_block_body_root(want, (size_t)n, FIX_OPAQUE_TXS, root), BCKM_OK);
    CHECK_MEM(root, v, 32);
    /* Read back record by record. */
    size_t pos = 0, tl = 0;
    const uint8_t *t = NULL;
    for (unsigned k = 0; k < FIX_OPAQUE_TXS; k++) {
        size_t wl = fix_opaque_tx(k, tx);
        REQUIRE(bckm_block_body_next(want, (size_t)n, &pos, &t, &tl) == 1);
        CHECK_EQ(tl, wl);
        CHECK_MEM(t, tx, wl);
    }
    CHECK_EQ(pos, n);
    CHECK_EQ(bckm_block_body_next(want, (size_t)n, &pos, &t, &tl), 0);
    /* Not envelopes: a block of this body is well framed, its root right,
     * and still no envelope block. */
    struct bckm_block_header h, d;
    REQUIRE(load_fixture());
    h = fx.h;
    h.n_txs = FIX_OPAQUE_TXS;
    memcpy(h.tx_root, root, 32);
    CHECK_EQ(bckm_block_body_check(&h, want, (size_t)n), BCKM_OK);
    CHECK_EQ(bckm_block_body_decode(&h, want, (size_t)n, envs_a, 3), BCKM_ERR_FORMAT);
    REQUIRE(bckm_block_header_encode(&h, blk_buf2) == BCKM_OK);
    memcpy(blk_buf2 + BCKM_BLOCK_HEADER_BYTES, want, (size_t)n);
    memset(&d, 0x5C, sizeof d);
    struct bckm_block_header before = d;
    CHECK_EQ(block_decode_exact(blk_buf2, BCKM_BLOCK_HEADER_BYTES + (size_t)n, &d, envs_a, 3),
             BCKM_ERR_FORMAT);
    CHECK(memcmp(&d, &before, sizeof d) == 0);
}

/* A body mixing versions: the REATTACH envelope (198 bytes) between two
 * version-1 ones; each envelope's version byte gives its length. */
static void body_with_reattach(void) {
    struct bckm_envelope envs[3], dec[3];
    struct bckm_block_header h, hd;
    static uint8_t b[BCKM_BLOCK_HEADER_BYTES + 3 * REC(BCKM_ENVELOPE_MAX_BYTES) + 1];
    const size_t second = BCKM_BLOCK_HEADER_BYTES + ENV_REC; /* the REATTACH record */
    size_t len = 0;
    REQUIRE(fix_envelope(0, &envs[0]) == BCKM_OK);
    REQUIRE(fix_reattach(&envs[1], NULL) == BCKM_OK);
    REQUIRE(fix_envelope(2, &envs[2]) == BCKM_OK);
    REQUIRE(fix_block(&h, dec) == BCKM_OK);
    REQUIRE(bckm_block_seal(&h, envs, 3) == BCKM_OK);
    REQUIRE(bckm_block_encode(&h, envs, 3, b, sizeof b, &len) == BCKM_OK);
    CHECK_EQ(len, BCKM_BLOCK_HEADER_BYTES + 2 * ENV_REC + REC(BCKM_ENVELOPE_V2_BYTES));
    CHECK_EQ(bckm_get_u16(b + second), BCKM_ENVELOPE_V2_BYTES);
    CHECK_EQ(b[second + 2], BCKM_ENVELOPE_VERSION_REATTACH);
    CHECK_EQ(bckm_block_decode(b, len, &hd, dec, 3), BCKM_OK);
    for (int i = 0; i < 3; i++) CHECK(env_equal(&dec[i], &envs[i]));
    CHECK_MEM(dec[1].consent, envs[1].consent, BCKM_SIG_BYTES);
    /* Too small a buffer, every truncation, one byte too many. */
    CHECK_EQ(bckm_block_encode(&h, envs, 3, b, len - 1, &len), BCKM_ERR_NOMEM);
    REQUIRE(bckm_block_encode(&h, envs, 3, b, sizeof b, &len) == BCKM_OK);
    for (size_t l = BCKM_BLOCK_HEADER_BYTES; l < len; l++)
        CHECK_EQ(bckm_block_decode(b, l, &hd, dec, 3), BCKM_ERR_TRUNCATED);
    CHECK_EQ(bckm_block_decode(b, len + 1, &hd, dec, 3), BCKM_ERR_FORMAT);
    /* The REATTACH's version byte turned into 1 (and 2 on a version-1
     * envelope): the root no longer matches; resealed over the changed
     * bytes, the record's length is not that version's length. */
    b[second + 2] = BCKM_ENVELOPE_VERSION;
    CHECK_EQ(bckm_block_decode(b, len, &hd, dec, 3), BCKM_ERR_MISMATCH);
    REQUIRE(reseal(b, len, 3) == BCKM_OK);
    CHECK_EQ(bckm_block_decode(b, len, &hd, dec, 3), BCKM_ERR_FORMAT);
    b[second + 2] = BCKM_ENVELOPE_VERSION_REATTACH;
    b[BCKM_BLOCK_HEADER_BYTES + 2] = BCKM_ENVELOPE_VERSION_REATTACH;
    REQUIRE(reseal(b, len, 3) == BCKM_OK);
    CHECK_EQ(bckm_block_decode(b, len, &hd, dec, 3), BCKM_ERR_FORMAT);
    b[BCKM_BLOCK_HEADER_BYTES + 2] = 7;
    REQUIRE(reseal(b, len, 3) == BCKM_OK);
    CHECK_EQ(bckm_block_decode(b, len, &hd, dec, 3), BCKM_ERR_FORMAT);
    b[BCKM_BLOCK_HEADER_BYTES + 2] = BCKM_ENVELOPE_VERSION;
    REQUIRE(reseal(b, len, 3) == BCKM_OK);
    CHECK_EQ(bckm_block_decode(b, len, &hd, dec, 3), BCKM_OK);
    /* A record whose length claims a version-2 envelope while holding
     * version 1 bytes: the records no longer fill the body. */
    bckm_put_u16(b + BCKM_BLOCK_HEADER_BYTES, BCKM_ENVELOPE_V2_BYTES);
    CHECK(bckm_block_decode(b, len, &hd, dec, 3) != BCKM_OK);
}

static void kat_cert(void) {
    static uint8_t want[BCKM_CERT_MAX_BYTES];
    uint8_t msg[128];
    REQUIRE(load_fixture());
    long n = check_vector(BLOCK_VECTORS, "cert", want, sizeof want);
    REQUIRE(n == (long)bckm_cert_encoded_len(3));
    CHECK_EQ(fx.clen, n);
    CHECK_MEM(fx.cbuf, want, (size_t)n);
    struct bckm_cert c;
    CHECK_EQ(bckm_cert_decode(want, (size_t)n, &c), BCKM_OK);
    CHECK(cert_equal(&c, &fx.cert));
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, (const uint8_t(*)[32])bp_pk, FIX_N_BPS, FIX_F), BCKM_OK);
    /* The commit message vector is what each entry signs. */
    long m = check_vector(BLOCK_VECTORS, "commit_message", msg, sizeof msg);
    REQUIRE(m == (long)BCKM_COMMIT_MSG_BYTES);
    CHECK_EQ(m, BCKM_COMMIT_LABEL_BYTES + 8 + 8 + 32);
    for (uint32_t i = 0; i < c.count; i++)
        CHECK_EQ(crypto_sign_verify_detached(c.sigs[i].sig, msg, (unsigned long long)m,
                                             bp_pk[c.sigs[i].bp - 1]),
                 0);
    /* The library builds the same message: label, height, view, hash. */
    uint8_t mine[BCKM_COMMIT_MSG_BYTES];
    bckm_commit_message(c.height, c.view, fx.hash, mine);
    CHECK_MEM(mine, msg, sizeof mine);
    CHECK_EQ(bckm_get_u64(msg + BCKM_COMMIT_LABEL_BYTES + 8), 3); /* the view */
    CHECK_EQ(want[0], 2);                                         /* certificate version 2 */
}

/* ---- round trips ------------------------------------------------------ */

static void roundtrip_header_random(void) {
    int rounds = check_small() ? 5000 : 100000, bad = 0, accepted = 0;
    rng_state = 0x686472u;
    for (int i = 0; i < rounds; i++) {
        struct bckm_block_header h, d;
        uint8_t buf[BCKM_BLOCK_HEADER_BYTES], again[BCKM_BLOCK_HEADER_BYTES];
        random_header(&h);
        if (bckm_block_header_encode(&h, buf) != BCKM_OK) {
            bad++;
            continue;
        }
        if (bckm_block_header_decode(buf, sizeof buf, &d) != BCKM_OK || !header_equal(&h, &d))
            bad++;
        rng_bytes(buf, sizeof buf);
        buf[0] = (uint8_t)(rng_next() % 3);
        bckm_put_u32(buf + 41, (uint32_t)(rng_next() % 300));
        bckm_put_u32(buf + 117, (uint32_t)(rng_next() % 1100));
        if (bckm_block_header_decode(buf, sizeof buf, &d) == BCKM_OK) {
            accepted++;
            if (bckm_block_header_encode(&d, again) != BCKM_OK ||
                memcmp(buf, again, sizeof buf) != 0)
                bad++;
        }
    }
    CHECK_EQ(bad, 0);
    CHECK(accepted > 0);
}

static void roundtrip_block_random(void) {
    int rounds = check_small() ? 30 : 300, bad = 0;
    rng_state = 0x626c6bu;
    for (int i = 0; i < rounds; i++) {
        struct bckm_block_header h, d;
        size_t len = 0, len2 = 0;
        random_header(&h);
        uint32_t n = (uint32_t)(rng_next() % 40);
        if (i == 0) n = 0;
        if (i == 1) n = BCKM_BLOCK_MAX_TXS;
        for (uint32_t k = 0; k < n; k++) random_envelope(&envs_a[k]);
        if (bckm_block_seal(&h, envs_a, n) != BCKM_OK) {
            bad++;
            continue;
        }
        if (bckm_block_encode(&h, envs_a, n, blk_buf, sizeof blk_buf, &len) != BCKM_OK) {
            bad++;
            continue;
        }
        if (len != BCKM_BLOCK_HEADER_BYTES + (size_t)n * ENV_REC) bad++;
        if (bckm_block_body_check(&h, blk_buf + BCKM_BLOCK_HEADER_BYTES,
                                  len - BCKM_BLOCK_HEADER_BYTES) != BCKM_OK)
            bad++;
        if (bckm_block_decode(blk_buf, len, &d, envs_b, BCKM_BLOCK_MAX_TXS) != BCKM_OK) {
            bad++;
            continue;
        }
        if (!header_equal(&h, &d)) bad++;
        for (uint32_t k = 0; k < n; k++)
            if (!env_equal(&envs_a[k], &envs_b[k])) bad++;
        if (bckm_block_encode(&d, envs_b, n, blk_buf2, sizeof blk_buf2, &len2) != BCKM_OK ||
            len2 != len || memcmp(blk_buf, blk_buf2, len) != 0)
            bad++;
    }
    CHECK_EQ(bad, 0);
}

static void roundtrip_cert_random(void) {
    static struct bckm_cert c, d;
    static uint8_t buf[BCKM_CERT_MAX_BYTES], again[BCKM_CERT_MAX_BYTES];
    int rounds = check_small() ? 500 : 10000, bad = 0;
    rng_state = 0x63657274u;
    for (int i = 0; i < rounds; i++) {
        size_t len = 0, len2 = 0;
        random_cert(&c);
        if (bckm_cert_encode(&c, buf, sizeof buf, &len) != BCKM_OK) {
            bad++;
            continue;
        }
        if (len != bckm_cert_encoded_len(c.count)) bad++;
        if (bckm_cert_decode(buf, len, &d) != BCKM_OK || !cert_equal(&c, &d)) {
            bad++;
            continue;
        }
        if (bckm_cert_encode(&d, again, sizeof again, &len2) != BCKM_OK || len2 != len ||
            memcmp(buf, again, len) != 0)
            bad++;
    }
    CHECK_EQ(bad, 0);
}

/* ---- malformed headers and bodies ------------------------------------- */

static void header_malformed(void) {
    uint8_t buf[BCKM_BLOCK_HEADER_BYTES + 4], b[BCKM_BLOCK_HEADER_BYTES];
    struct bckm_block_header d, before;
    REQUIRE(load_fixture());
    REQUIRE(bckm_block_header_encode(&fx.h, buf) == BCKM_OK);
    memset(buf + BCKM_BLOCK_HEADER_BYTES, 0, 4);
    memset(&d, 0x33, sizeof d);
    before = d;
    for (size_t len = 0; len < BCKM_BLOCK_HEADER_BYTES; len++)
        CHECK_EQ(header_decode_exact(buf, len, &d), BCKM_ERR_TRUNCATED);
    CHECK_EQ(header_decode_exact(buf, BCKM_BLOCK_HEADER_BYTES + 1, &d), BCKM_ERR_FORMAT);
    CHECK(memcmp(&d, &before, sizeof d) == 0);
    /* unknown version, version 1 (the old format) included */
    memcpy(b, buf, sizeof b);
    b[0] = 1;
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    memcpy(b, buf, sizeof b);
    b[0] = 3;
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    memcpy(b, buf, sizeof b);
    b[0] = 0;
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    /* height 0 */
    memcpy(b, buf, sizeof b);
    bckm_put_u64(b + 1, 0);
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    /* proposer outside 1..255 */
    memcpy(b, buf, sizeof b);
    bckm_put_u32(b + 41, 0);
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    memcpy(b, buf, sizeof b);
    bckm_put_u32(b + 41, 256);
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    /* too many envelopes */
    memcpy(b, buf, sizeof b);
    bckm_put_u32(b + 117, BCKM_BLOCK_MAX_TXS + 1);
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    memcpy(b, buf, sizeof b);
    bckm_put_u32(b + 117, 0xFFFFFFFFu);
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    memcpy(b, buf, sizeof b);
    bckm_put_u32(b + 117, BCKM_BLOCK_MAX_TXS);
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_OK);
    /* the encoder refuses what the decoder refuses */
    struct bckm_block_header h = fx.h;
    h.height = 0;
    CHECK_EQ(bckm_block_header_encode(&h, b), BCKM_ERR_ARG);
    h = fx.h;
    h.proposer = 0;
    CHECK_EQ(bckm_block_header_encode(&h, b), BCKM_ERR_ARG);
    h = fx.h;
    h.version = 1;
    CHECK_EQ(bckm_block_header_encode(&h, b), BCKM_ERR_ARG);
    h = fx.h;
    h.n_txs = BCKM_BLOCK_MAX_TXS + 1;
    CHECK_EQ(bckm_block_header_encode(&h, b), BCKM_ERR_ARG);
    CHECK_EQ(bckm_block_hash(&h, b), BCKM_ERR_ARG);
}

static void block_truncated_everywhere(void) {
    struct bckm_block_header d;
    int bad = 0;
    REQUIRE(load_fixture());
    for (size_t len = 0; len < fx.blen; len++) {
        int r = block_decode_exact(blk_buf, len, &d, envs_a, BCKM_BLOCK_MAX_TXS);
        if (r != BCKM_ERR_TRUNCATED) {
            bad++;
            fprintf(stderr, "len %zu: %d\n", len, r);
        }
    }
    CHECK_EQ(bad, 0);
    memcpy(blk_buf2, blk_buf, fx.blen);
    blk_buf2[fx.blen] = 0;
    CHECK_EQ(block_decode_exact(blk_buf2, fx.blen + 1, &d, envs_a, 3), BCKM_ERR_FORMAT);
    blk_buf2[fx.blen + 1] = 0;
    CHECK_EQ(block_decode_exact(blk_buf2, fx.blen + ENV_REC, &d, envs_a, 3), BCKM_ERR_FORMAT);
    CHECK_EQ(block_decode_exact(blk_buf, fx.blen, &d, envs_a, 3), BCKM_OK);
}

static void body_capacity_and_count(void) {
    struct bckm_block_header d, h;
    REQUIRE(load_fixture());
    /* The caller's array is too small: refused before any envelope is written. */
    CHECK_EQ(bckm_block_decode(blk_buf, fx.blen, &d, envs_a, 2), BCKM_ERR_NOMEM);
    /* The header count disagrees with the body length. */
    h = fx.h;
    h.n_txs = 2;
    CHECK_EQ(bckm_block_body_decode(&h, blk_buf + BCKM_BLOCK_HEADER_BYTES,
                                    fx.blen - BCKM_BLOCK_HEADER_BYTES, envs_a, 3),
             BCKM_ERR_FORMAT);
    h.n_txs = 4;
    CHECK_EQ(bckm_block_body_decode(&h, blk_buf + BCKM_BLOCK_HEADER_BYTES,
                                    fx.blen - BCKM_BLOCK_HEADER_BYTES, envs_a, 4),
             BCKM_ERR_TRUNCATED);
    /* An encoder never writes a block whose header disagrees with its body. */
    size_t len;
    h = fx.h;
    h.n_txs = 2;
    CHECK_EQ(bckm_block_encode(&h, fx.envs, 3, blk_buf2, sizeof blk_buf2, &len), BCKM_ERR_ARG);
    CHECK_EQ(bckm_block_encode(&fx.h, fx.envs, 3, blk_buf2, fx.blen - 1, &len), BCKM_ERR_NOMEM);
    CHECK_EQ(bckm_block_encode(&fx.h, fx.envs, 3, blk_buf2, 10, &len), BCKM_ERR_NOMEM);
    /* A body may be empty. */
    h = fx.h;
    REQUIRE(bckm_block_seal(&h, NULL, 0) == BCKM_OK);
    CHECK_EQ(bckm_block_encode(&h, NULL, 0, blk_buf2, sizeof blk_buf2, &len), BCKM_OK);
    CHECK_EQ(len, BCKM_BLOCK_HEADER_BYTES);
    CHECK_EQ(bckm_block_decode(blk_buf2, len, &d, NULL, 0), BCKM_OK);
}

static void body_bad_envelope(void) {
    struct bckm_block_header d;
    REQUIRE(load_fixture());
    /* The second envelope, past its record's length prefix. Each change is
     * resealed, so the envelope decoder (not the root) must refuse it. */
    size_t second = BCKM_BLOCK_HEADER_BYTES + ENV_REC + BCKM_BLOCK_TX_PREFIX_BYTES;
    memcpy(blk_buf2, blk_buf, fx.blen);
    blk_buf2[second] = 9; /* envelope version */
    CHECK_EQ(bckm_block_decode(blk_buf2, fx.blen, &d, envs_a, 3), BCKM_ERR_MISMATCH);
    REQUIRE(reseal(blk_buf2, fx.blen, 3) == BCKM_OK);
    CHECK_EQ(bckm_block_decode(blk_buf2, fx.blen, &d, envs_a, 3), BCKM_ERR_FORMAT);
    memcpy(blk_buf2, blk_buf, fx.blen);
    blk_buf2[second + 13] = 0; /* tx op */
    REQUIRE(reseal(blk_buf2, fx.blen, 3) == BCKM_OK);
    CHECK_EQ(bckm_block_decode(blk_buf2, fx.blen, &d, envs_a, 3), BCKM_ERR_FORMAT);
    memcpy(blk_buf2, blk_buf, fx.blen);
    bckm_put_u32(blk_buf2 + second + 1, 0); /* origin BP 0 */
    REQUIRE(reseal(blk_buf2, fx.blen, 3) == BCKM_OK);
    CHECK_EQ(bckm_block_decode(blk_buf2, fx.blen, &d, envs_a, 3), BCKM_ERR_FORMAT);
    /* Resealing an unchanged body gives back the original block. */
    memcpy(blk_buf2, blk_buf, fx.blen);
    REQUIRE(reseal(blk_buf2, fx.blen, 3) == BCKM_OK);
    CHECK_MEM(blk_buf2, blk_buf, fx.blen);
}

static void body_bad_tx_root(void) {
    struct bckm_block_header d;
    uint8_t root[32];
    REQUIRE(load_fixture());
    /* A changed signature byte still decodes but no longer matches the root. */
    memcpy(blk_buf2, blk_buf, fx.blen);
    blk_buf2[fx.blen - 1] ^= 1;
    CHECK_EQ(bckm_block_decode(blk_buf2, fx.blen, &d, envs_a, 3), BCKM_ERR_MISMATCH);
    /* Swapping two envelopes changes the root: order is committed. */
    memcpy(blk_buf2, blk_buf, BCKM_BLOCK_HEADER_BYTES);
    memcpy(blk_buf2 + BCKM_BLOCK_HEADER_BYTES, blk_buf + BCKM_BLOCK_HEADER_BYTES + ENV_REC,
           ENV_REC);
    memcpy(blk_buf2 + BCKM_BLOCK_HEADER_BYTES + ENV_REC, blk_buf + BCKM_BLOCK_HEADER_BYTES,
           ENV_REC);
    memcpy(blk_buf2 + BCKM_BLOCK_HEADER_BYTES + 2 * ENV_REC,
           blk_buf + BCKM_BLOCK_HEADER_BYTES + 2 * ENV_REC, ENV_REC);
    CHECK_EQ(bckm_block_decode(blk_buf2, fx.blen, &d, envs_a, 3), BCKM_ERR_MISMATCH);
    /* A wrong root in the header. */
    memcpy(blk_buf2, blk_buf, fx.blen);
    blk_buf2[ROOT_OFF] ^= 0x40;
    CHECK_EQ(bckm_block_decode(blk_buf2, fx.blen, &d, envs_a, 3), BCKM_ERR_MISMATCH);
    /* The root of zero envelopes is defined (and differs from one envelope's). */
    uint8_t r1[32];
    CHECK_EQ(bckm_block_tx_root(NULL, 0, root), BCKM_OK);
    CHECK_EQ(bckm_block_tx_root(fx.envs, 1, r1), BCKM_OK);
    CHECK(memcmp(root, r1, 32) != 0);
    CHECK_EQ(bckm_block_tx_root(fx.envs, BCKM_BLOCK_MAX_TXS + 1, root), BCKM_ERR_ARG);
    /* The root commits to the count: the same bytes read as another number
     * of records is refused rather than hashed. */
    uint8_t r3[32];
    CHECK_EQ(bckm_block_body_root(blk_buf + BCKM_BLOCK_HEADER_BYTES, 3 * ENV_REC, 3, r3), BCKM_OK);
    CHECK_MEM(r3, fx.h.tx_root, 32);
    memcpy(root, r3, 32);
    CHECK_EQ(bckm_block_body_root(blk_buf + BCKM_BLOCK_HEADER_BYTES, 3 * ENV_REC, 2, root),
             BCKM_ERR_FORMAT);
    CHECK_EQ(bckm_block_body_root(blk_buf + BCKM_BLOCK_HEADER_BYTES, 3 * ENV_REC, 4, root),
             BCKM_ERR_TRUNCATED);
    CHECK_MEM(root, r3, 32);
    /* body_check: the header's root or nothing */
    struct bckm_block_header h = fx.h;
    CHECK_EQ(bckm_block_body_check(&h, blk_buf + BCKM_BLOCK_HEADER_BYTES, 3 * ENV_REC), BCKM_OK);
    h.tx_root[31] ^= 1;
    CHECK_EQ(bckm_block_body_check(&h, blk_buf + BCKM_BLOCK_HEADER_BYTES, 3 * ENV_REC),
             BCKM_ERR_MISMATCH);
    h = fx.h;
    h.n_txs = 2;
    CHECK_EQ(bckm_block_body_check(&h, blk_buf + BCKM_BLOCK_HEADER_BYTES, 3 * ENV_REC),
             BCKM_ERR_FORMAT);
}

static void block_bit_flips(void) {
    struct bckm_block_header d;
    uint8_t hash[32];
    int undetected = 0, flips = 0;
    REQUIRE(load_fixture());
    for (size_t bit = 0; bit < 8 * fx.blen; bit++) {
        memcpy(blk_buf2, blk_buf, fx.blen);
        blk_buf2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        flips++;
        if (bckm_block_decode(blk_buf2, fx.blen, &d, envs_a, 3) != BCKM_OK) continue;
        /* Accepted only if the header changed, so the certificate no longer
         * matches the hash. */
        if (bckm_block_hash(&d, hash) != BCKM_OK) continue;
        if (memcmp(hash, fx.hash, 32) == 0)
            undetected++;
        else if (bckm_cert_verify(&fx.cert, hash, (const uint8_t(*)[32])bp_pk, FIX_N_BPS, FIX_F) ==
                 BCKM_OK)
            undetected++;
    }
    CHECK_EQ(undetected, 0);
    CHECK_EQ(flips, (int)(8 * fx.blen));
}

/* ---- body framing ------------------------------------------------------ */

/* Every way a record can be malformed, for next, root and check; nothing
 * is written on error (the position, the outputs, the root). */
static void body_framing(void) {
    static uint8_t body[4 * REC(BCKM_BLOCK_TX_MAX_BYTES) + 8], copy[sizeof body];
    uint8_t tx[BCKM_BLOCK_TX_MAX_BYTES + 1], root[32], good[32], sentinel[32];
    const uint8_t *t = NULL, *t0 = (const uint8_t *)"x";
    size_t pos = 0, len = 0, tl = 77;
    struct bckm_block_header h;
    REQUIRE(load_fixture());
    for (size_t j = 0; j < sizeof tx; j++) tx[j] = (uint8_t)(j * 7u + 1u);
    memset(sentinel, 0xE7, sizeof sentinel);

    /* put: lengths 1 and 1024 fit; 0 and 1025 are refused, nothing written */
    memset(body, 0x55, sizeof body);
    CHECK_EQ(bckm_block_body_put(body, sizeof body, &len, tx, 1), BCKM_OK);
    CHECK_EQ(len, REC(1));
    CHECK_EQ(bckm_block_body_put(body, sizeof body, &len, tx, BCKM_BLOCK_TX_MAX_BYTES), BCKM_OK);
    CHECK_EQ(len, REC(1) + REC(BCKM_BLOCK_TX_MAX_BYTES));
    CHECK_EQ(bckm_get_u16(body), 1);
    CHECK_EQ(bckm_get_u16(body + REC(1)), BCKM_BLOCK_TX_MAX_BYTES);
    memcpy(copy, body, sizeof body);
    size_t len0 = len;
    CHECK_EQ(bckm_block_body_put(body, sizeof body, &len, tx, 0), BCKM_ERR_ARG);
    CHECK_EQ(bckm_block_body_put(body, sizeof body, &len, tx, BCKM_BLOCK_TX_MAX_BYTES + 1),
             BCKM_ERR_ARG);
    CHECK_EQ(bckm_block_body_put(body, sizeof body, &len, NULL, 3), BCKM_ERR_ARG);
    /* does not fit: one byte short, and no room even for the prefix */
    CHECK_EQ(bckm_block_body_put(body, len + REC(5) - 1, &len, tx, 5), BCKM_ERR_NOMEM);
    CHECK_EQ(bckm_block_body_put(body, len + 1, &len, tx, 5), BCKM_ERR_NOMEM);
    CHECK_EQ(bckm_block_body_put(body, len, &len, tx, 1), BCKM_ERR_NOMEM);
    size_t past = len + 1;
    CHECK_EQ(bckm_block_body_put(body, len, &past, tx, 1), BCKM_ERR_ARG); /* pos beyond cap */
    CHECK_EQ(past, len + 1);
    CHECK_EQ(len, len0);
    CHECK_MEM(body, copy, sizeof body);
    /* exactly fitting */
    CHECK_EQ(bckm_block_body_put(body, len + REC(5), &len, tx, 5), BCKM_OK);
    CHECK_EQ(len, len0 + REC(5));
    REQUIRE(bckm_block_body_root(body, len, 3, good) == BCKM_OK);

    /* next: the three records, then the end */
    pos = 0;
    CHECK_EQ(bckm_block_body_next(body, len, &pos, &t, &tl), 1);
    CHECK(t == body + 2 && tl == 1);
    CHECK_EQ(bckm_block_body_next(body, len, &pos, &t, &tl), 1);
    CHECK(t == body + REC(1) + 2 && tl == BCKM_BLOCK_TX_MAX_BYTES);
    CHECK_MEM(t, tx, BCKM_BLOCK_TX_MAX_BYTES);
    CHECK_EQ(bckm_block_body_next(body, len, &pos, &t, &tl), 1);
    CHECK_EQ(tl, 5);
    CHECK_EQ(pos, len);
    CHECK_EQ(bckm_block_body_next(body, len, &pos, &t, &tl), 0);
    CHECK_EQ(bckm_block_body_next(NULL, 0, &(size_t){ 0 }, &t, &tl), 0); /* the empty body */
    pos = len + 1;
    CHECK_EQ(bckm_block_body_next(body, len, &pos, &t, &tl), BCKM_ERR_ARG);

#define NEXT_FAILS(buf, n, at, want)                                                               \
    do {                                                                                           \
        size_t p_ = (at), l_ = 77;                                                                 \
        const uint8_t *t_ = t0;                                                                    \
        CHECK_EQ(bckm_block_body_next((buf), (n), &p_, &t_, &l_), (want));                         \
        CHECK(p_ == (at) && t_ == t0 && l_ == 77);                                                 \
    } while (0)
#define ROOT_FAILS(buf, n, cnt, want)                                                              \
    do {                                                                                           \
        memcpy(root, sentinel, 32);                                                                \
        CHECK_EQ(bckm_block_body_root((buf), (n), (cnt), root), (want));                           \
        CHECK_MEM(root, sentinel, 32);                                                             \
        h = fx.h;                                                                                  \
        h.n_txs = (cnt);                                                                           \
        memcpy(h.tx_root, good, 32);                                                               \
        CHECK_EQ(bckm_block_body_check(&h, (buf), (n)), (want));                                   \
    } while (0)

    /* a zero-length record */
    memcpy(copy, body, len);
    bckm_put_u16(copy + REC(1), 0);
    NEXT_FAILS(copy, len, REC(1), BCKM_ERR_FORMAT);
    ROOT_FAILS(copy, len, 3, BCKM_ERR_FORMAT);
    /* a record over 1024 bytes (the length 1025, and 0xFFFF) */
    memcpy(copy, body, len);
    bckm_put_u16(copy + REC(1), BCKM_BLOCK_TX_MAX_BYTES + 1);
    NEXT_FAILS(copy, len, REC(1), BCKM_ERR_FORMAT);
    ROOT_FAILS(copy, len, 3, BCKM_ERR_FORMAT);
    bckm_put_u16(copy + REC(1), 0xFFFF);
    ROOT_FAILS(copy, len, 3, BCKM_ERR_FORMAT);
    /* a truncated prefix: one byte of it left */
    memcpy(copy, body, len);
    NEXT_FAILS(copy, REC(1) + 1, REC(1), BCKM_ERR_TRUNCATED);
    ROOT_FAILS(copy, REC(1) + 1, 2, BCKM_ERR_TRUNCATED);
    /* a truncated record: prefix whole, bytes short */
    NEXT_FAILS(copy, len - 1, REC(1) + REC(BCKM_BLOCK_TX_MAX_BYTES), BCKM_ERR_TRUNCATED);
    ROOT_FAILS(copy, len - 1, 3, BCKM_ERR_TRUNCATED);
    /* every truncation of the body */
    int bad = 0;
    for (size_t l = 0; l < len; l++) {
        memcpy(root, sentinel, 32);
        uint8_t *e = check_exact_copy(body, l);
        if (bckm_block_body_root(e, l, 3, root) != BCKM_ERR_TRUNCATED ||
            memcmp(root, sentinel, 32) != 0)
            bad++;
        free(e);
    }
    CHECK_EQ(bad, 0);
    /* trailing bytes after the last record (one byte, and a whole record) */
    memcpy(copy, body, len);
    copy[len] = 0;
    ROOT_FAILS(copy, len + 1, 3, BCKM_ERR_FORMAT);
    ROOT_FAILS(body, len, 2, BCKM_ERR_FORMAT);
    /* n_txs too large: the records run out */
    ROOT_FAILS(body, len, 4, BCKM_ERR_TRUNCATED);
    ROOT_FAILS(NULL, 0, 1, BCKM_ERR_TRUNCATED);
    /* a non-empty body of zero transactions */
    ROOT_FAILS(body, len, 0, BCKM_ERR_FORMAT);
    /* argument errors */
    memcpy(root, sentinel, 32);
    CHECK_EQ(bckm_block_body_root(body, len, BCKM_BLOCK_MAX_TXS + 1, root), BCKM_ERR_ARG);
    CHECK_EQ(bckm_block_body_root(NULL, 5, 0, root), BCKM_ERR_ARG);
    CHECK_MEM(root, sentinel, 32);
    CHECK_EQ(bckm_block_body_check(NULL, body, len), BCKM_ERR_ARG);
#undef NEXT_FAILS
#undef ROOT_FAILS

    /* the well-formed body checks, and a different root is MISMATCH */
    h = fx.h;
    h.n_txs = 3;
    memcpy(h.tx_root, good, 32);
    CHECK_EQ(bckm_block_body_check(&h, body, len), BCKM_OK);
    h.tx_root[0] ^= 0x80;
    CHECK_EQ(bckm_block_body_check(&h, body, len), BCKM_ERR_MISMATCH);
    /* one changed transaction byte changes the root */
    memcpy(copy, body, len);
    copy[REC(1) + 2 + 500] ^= 1;
    CHECK_EQ(bckm_block_body_root(copy, len, 3, root), BCKM_OK);
    CHECK(memcmp(root, good, 32) != 0);
    /* the root is not the hash of other labels' inputs: an empty body of
     * one count differs from another's */
    uint8_t r0[32];
    CHECK_EQ(bckm_block_body_root(NULL, 0, 0, r0), BCKM_OK);
    CHECK(memcmp(r0, good, 32) != 0);
}

/* Random transactions put and read back: same bytes, same order, the root
 * agreeing with the envelope root whenever the records are envelopes. */
static void body_put_next_random(void) {
    static uint8_t body[BCKM_BLOCK_MAX_BYTES], txs[64][BCKM_BLOCK_TX_MAX_BYTES];
    static size_t lens[64];
    int rounds = check_small() ? 50 : 500, bad = 0;
    rng_state = 0x626f6479u;
    for (int r = 0; r < rounds; r++) {
        uint32_t n = (uint32_t)(rng_next() % 64);
        size_t len = 0, want = 0;
        for (uint32_t k = 0; k < n; k++) {
            /* short, long and the extremes */
            uint64_t c = rng_next() % 8;
            lens[k] = c == 0   ? 1
                      : c == 1 ? BCKM_BLOCK_TX_MAX_BYTES
                               : 1 + rng_next() % (c < 5 ? 40 : BCKM_BLOCK_TX_MAX_BYTES);
            rng_bytes(txs[k], lens[k]);
            if (bckm_block_body_put(body, sizeof body, &len, txs[k], lens[k]) != BCKM_OK) bad++;
            want += REC(lens[k]);
        }
        if (len != want) bad++;
        size_t pos = 0, tl = 0;
        const uint8_t *t = NULL;
        for (uint32_t k = 0; k < n; k++) {
            if (bckm_block_body_next(body, len, &pos, &t, &tl) != 1 || tl != lens[k] ||
                memcmp(t, txs[k], tl) != 0) {
                bad++;
                break;
            }
        }
        if (pos != len || bckm_block_body_next(body, len, &pos, &t, &tl) != 0) bad++;
        uint8_t root[32];
        if (bckm_block_body_root(body, len, n, root) != BCKM_OK) bad++;
        if (bckm_block_body_root(body, len, n + 1, root) != BCKM_ERR_TRUNCATED) bad++;
        if (n > 0 && bckm_block_body_root(body, len, n - 1, root) != BCKM_ERR_FORMAT) bad++;
    }
    /* envelopes through body_put make the body of bckm_block_body_encode */
    for (int r = 0; r < 20; r++) {
        uint32_t n = (uint32_t)(rng_next() % 20);
        size_t len = 0, elen = 0;
        for (uint32_t k = 0; k < n; k++) {
            uint8_t e[BCKM_ENVELOPE_BYTES];
            random_envelope(&envs_a[k]);
            if (bckm_envelope_encode(&envs_a[k], e) != BCKM_OK ||
                bckm_block_body_put(body, sizeof body, &len, e, sizeof e) != BCKM_OK)
                bad++;
        }
        uint8_t r1[32], r2[32];
        if (bckm_block_body_encode(envs_a, n, blk_buf2, sizeof blk_buf2, &elen) != BCKM_OK ||
            elen != len || memcmp(blk_buf2, body, len) != 0)
            bad++;
        if (bckm_block_tx_root(envs_a, n, r1) != BCKM_OK ||
            bckm_block_body_root(body, len, n, r2) != BCKM_OK || memcmp(r1, r2, 32) != 0)
            bad++;
    }
    CHECK_EQ(bad, 0);
}

/* ---- malformed certificates ------------------------------------------- */

static void cert_truncated_everywhere(void) {
    struct bckm_cert d;
    int bad = 0;
    REQUIRE(load_fixture());
    for (size_t len = 0; len < fx.clen; len++)
        if (cert_decode_exact(fx.cbuf, len, &d) != BCKM_ERR_TRUNCATED) bad++;
    CHECK_EQ(bad, 0);
    uint8_t b[BCKM_CERT_MAX_BYTES];
    memcpy(b, fx.cbuf, fx.clen);
    b[fx.clen] = 0;
    CHECK_EQ(cert_decode_exact(b, fx.clen + 1, &d), BCKM_ERR_FORMAT);
    CHECK_EQ(cert_decode_exact(fx.cbuf, fx.clen, &d), BCKM_OK);
}

static void cert_malformed_fields(void) {
    static uint8_t b[BCKM_CERT_MAX_BYTES + 68];
    struct bckm_cert d;
    REQUIRE(load_fixture());
    memcpy(b, fx.cbuf, fx.clen);
    b[0] = 1; /* version 1, whose view was not signed */
    CHECK_EQ(bckm_cert_decode(b, fx.clen, &d), BCKM_ERR_FORMAT);
    memcpy(b, fx.cbuf, fx.clen);
    b[0] = 3;
    CHECK_EQ(bckm_cert_decode(b, fx.clen, &d), BCKM_ERR_FORMAT);
    memcpy(b, fx.cbuf, fx.clen);
    bckm_put_u64(b + 1, 0);
    CHECK_EQ(bckm_cert_decode(b, fx.clen, &d), BCKM_ERR_FORMAT);
    memcpy(b, fx.cbuf, fx.clen);
    bckm_put_u16(b + 49, 0);
    CHECK_EQ(bckm_cert_decode(b, BCKM_CERT_FIXED_BYTES, &d), BCKM_ERR_FORMAT);
    memcpy(b, fx.cbuf, fx.clen);
    bckm_put_u16(b + 49, 256);
    CHECK_EQ(bckm_cert_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    /* signer IDs outside 1..255 */
    size_t e0 = BCKM_CERT_FIXED_BYTES;
    memcpy(b, fx.cbuf, fx.clen);
    bckm_put_u32(b + e0, 0);
    CHECK_EQ(bckm_cert_decode(b, fx.clen, &d), BCKM_ERR_FORMAT);
    memcpy(b, fx.cbuf, fx.clen);
    bckm_put_u32(b + e0 + 2 * 68, 256);
    CHECK_EQ(bckm_cert_decode(b, fx.clen, &d), BCKM_ERR_FORMAT);
    /* the encoder refuses the same */
    struct bckm_cert c = fx.cert;
    size_t len;
    c.count = 0;
    CHECK_EQ(bckm_cert_encode(&c, b, sizeof b, &len), BCKM_ERR_ARG);
    c = fx.cert;
    c.version = 1;
    CHECK_EQ(bckm_cert_encode(&c, b, sizeof b, &len), BCKM_ERR_ARG);
    c = fx.cert;
    c.height = 0;
    CHECK_EQ(bckm_cert_encode(&c, b, sizeof b, &len), BCKM_ERR_ARG);
    c = fx.cert;
    CHECK_EQ(bckm_cert_encode(&c, b, fx.clen - 1, &len), BCKM_ERR_NOMEM);
}

static void cert_non_canonical_order(void) {
    uint8_t b[BCKM_CERT_MAX_BYTES], e[68];
    struct bckm_cert d, c;
    size_t e0 = BCKM_CERT_FIXED_BYTES, len;
    REQUIRE(load_fixture());
    /* swap the first two entries (BP 2 before BP 1) */
    memcpy(b, fx.cbuf, fx.clen);
    memcpy(e, b + e0, 68);
    memmove(b + e0, b + e0 + 68, 68);
    memcpy(b + e0 + 68, e, 68);
    CHECK_EQ(bckm_cert_decode(b, fx.clen, &d), BCKM_ERR_FORMAT);
    c = fx.cert;
    struct bckm_cert_sig t = c.sigs[0];
    c.sigs[0] = c.sigs[1];
    c.sigs[1] = t;
    CHECK_EQ(bckm_cert_encode(&c, b, sizeof b, &len), BCKM_ERR_ARG);
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, (const uint8_t(*)[32])bp_pk, FIX_N_BPS, FIX_F),
             BCKM_ERR_FORMAT);
}

static void cert_duplicate_signers(void) {
    uint8_t b[BCKM_CERT_MAX_BYTES];
    struct bckm_cert d, c;
    size_t e0 = BCKM_CERT_FIXED_BYTES, len;
    REQUIRE(load_fixture());
    /* BP 1 three times: would reach 2f+1 = 3 if duplicates counted. */
    memcpy(b, fx.cbuf, fx.clen);
    memcpy(b + e0 + 68, b + e0, 68);
    memcpy(b + e0 + 136, b + e0, 68);
    CHECK_EQ(bckm_cert_decode(b, fx.clen, &d), BCKM_ERR_FORMAT);
    c = fx.cert;
    c.sigs[1] = c.sigs[0];
    c.sigs[2] = c.sigs[0];
    CHECK_EQ(bckm_cert_encode(&c, b, sizeof b, &len), BCKM_ERR_ARG);
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, (const uint8_t(*)[32])bp_pk, FIX_N_BPS, FIX_F),
             BCKM_ERR_FORMAT);
}

static void cert_verify_rules(void) {
    const uint8_t(*pks)[32] = (const uint8_t(*)[32])bp_pk;
    struct bckm_cert c;
    uint8_t other[32];
    REQUIRE(load_fixture());
    CHECK_EQ(bckm_cert_verify(&fx.cert, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_OK);
    /* fewer than 2f+1 signers */
    c = fx.cert;
    c.count = 2;
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_ERR_AUTH);
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, 0), BCKM_OK); /* f = 0 needs 1 */
    /* all four sign */
    c = fx.cert;
    c.count = 4;
    c.sigs[2].bp = 3;
    c.sigs[3].bp = 4;
    REQUIRE(bckm_commit_sign(c.height, c.view, fx.hash, bp_sk[2], c.sigs[2].sig) == BCKM_OK);
    REQUIRE(bckm_commit_sign(c.height, c.view, fx.hash, bp_sk[3], c.sigs[3].sig) == BCKM_OK);
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_OK);
    /* a bad signature */
    c = fx.cert;
    c.sigs[1].sig[10] ^= 4;
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_ERR_AUTH);
    /* a signature attributed to the wrong BP */
    c = fx.cert;
    c.sigs[2].bp = 3;
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_ERR_AUTH);
    /* another block */
    memcpy(other, fx.hash, 32);
    other[0] ^= 1;
    CHECK_EQ(bckm_cert_verify(&fx.cert, other, pks, FIX_N_BPS, FIX_F), BCKM_ERR_MISMATCH);
    /* another height: the signatures cover it */
    c = fx.cert;
    c.height = 3;
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_ERR_AUTH);
    /* another view: the signatures cover it, so commit votes of view 3
     * cannot be counted in any other view */
    c = fx.cert;
    c.view = 99;
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_ERR_AUTH);
    c = fx.cert;
    c.view = fx.cert.view + 1u;
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_ERR_AUTH);
    c = fx.cert;
    c.view = 0;
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_ERR_AUTH);
    /* one vote signed for view 4 among two of view 3: not 2f+1 for either */
    c = fx.cert;
    REQUIRE(bckm_commit_sign(c.height, 4, fx.hash, bp_sk[3], c.sigs[2].sig) == BCKM_OK);
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_ERR_AUTH);
    c.view = 4;
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_ERR_AUTH);
    /* commit_sign/verify directly: the view is part of the message */
    {
        uint8_t sig[64];
        REQUIRE(bckm_commit_sign(2, 5, fx.hash, bp_sk[0], sig) == BCKM_OK);
        CHECK_EQ(bckm_commit_verify(2, 5, fx.hash, bp_pk[0], sig), BCKM_OK);
        CHECK_EQ(bckm_commit_verify(2, 6, fx.hash, bp_pk[0], sig), BCKM_ERR_AUTH);
        CHECK_EQ(bckm_commit_verify(2, 5ull | (1ull << 63), fx.hash, bp_pk[0], sig), BCKM_ERR_AUTH);
        CHECK_EQ(bckm_commit_verify(3, 5, fx.hash, bp_pk[0], sig), BCKM_ERR_AUTH);
    }
    /* a signer outside the BP table */
    CHECK_EQ(bckm_cert_verify(&fx.cert, fx.hash, pks, 3, FIX_F), BCKM_ERR_UNKNOWN);
    /* impossible quorum parameters */
    CHECK_EQ(bckm_cert_verify(&fx.cert, fx.hash, pks, FIX_N_BPS, 2), BCKM_ERR_ARG);
    CHECK_EQ(bckm_cert_verify(&fx.cert, fx.hash, pks, FIX_N_BPS, 0xFFFFFFFFu), BCKM_ERR_ARG);
    CHECK_EQ(bckm_cert_verify(&fx.cert, fx.hash, pks, 0, 0), BCKM_ERR_ARG);
    /* an envelope signature of the same key is not a commit signature */
    c = fx.cert;
    memcpy(c.sigs[0].sig, fx.envs[0].sig, 64);
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_ERR_AUTH);
}

static void cert_bit_flips(void) {
    const uint8_t(*pks)[32] = (const uint8_t(*)[32])bp_pk;
    uint8_t b[BCKM_CERT_MAX_BYTES];
    struct bckm_cert d;
    int accepted = 0;
    REQUIRE(load_fixture());
    for (size_t bit = 0; bit < 8 * fx.clen; bit++) {
        memcpy(b, fx.cbuf, fx.clen);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        /* Every byte counts, the view bytes (9..16) included: they are signed. */
        if (bckm_cert_decode(b, fx.clen, &d) == BCKM_OK &&
            bckm_cert_verify(&d, fx.hash, pks, FIX_N_BPS, FIX_F) == BCKM_OK)
            accepted++;
    }
    CHECK_EQ(accepted, 0);
}

CHECK_CASES(CASE(kat_block), CASE(kat_opaque_body), CASE(kat_cert), CASE(body_with_reattach),
            CASE(roundtrip_header_random), CASE(roundtrip_block_random),
            CASE(roundtrip_cert_random), CASE(header_malformed), CASE(block_truncated_everywhere),
            CASE(body_capacity_and_count), CASE(body_bad_envelope), CASE(body_bad_tx_root),
            CASE(block_bit_flips), CASE(body_framing), CASE(body_put_next_random),
            CASE(cert_truncated_everywhere), CASE(cert_malformed_fields),
            CASE(cert_non_canonical_order), CASE(cert_duplicate_signers), CASE(cert_verify_rules),
            CASE(cert_bit_flips))
