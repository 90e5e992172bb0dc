/*
 * Block header, body, block hash, transaction root and commit certificate:
 * known-answer vectors, seeded random round trips, and one test per class of
 * malformed input.
 */
#include "check.h"
#include "layer2_fixtures.h"

#define BLOCK_VECTORS "spec/vectors/block.txt"

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
        memcmp(a->block_hash, b->block_hash, 32) != 0 || a->count != b->count) return 0;
    for (uint32_t i = 0; i < a->count; i++)
        if (a->sigs[i].bp != b->sigs[i].bp || memcmp(a->sigs[i].sig, b->sigs[i].sig, 64) != 0) return 0;
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
    if (bckm_block_encode(&fx.h, fx.envs, 3, blk_buf, sizeof blk_buf, &fx.blen) != BCKM_OK) return 0;
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
    REQUIRE(check_vector(BLOCK_VECTORS, "header", want, sizeof want) == (long)BCKM_BLOCK_HEADER_BYTES);
    CHECK_EQ(bckm_block_header_encode(&fx.h, hdr), BCKM_OK);
    CHECK_MEM(hdr, want, sizeof hdr);
    REQUIRE(check_vector(BLOCK_VECTORS, "block_hash", v, sizeof v) == 32);
    CHECK_MEM(fx.hash, v, 32);
    long n = check_vector(BLOCK_VECTORS, "block", want, sizeof want);
    REQUIRE(n == (long)(BCKM_BLOCK_HEADER_BYTES + 3 * BCKM_ENVELOPE_BYTES));
    CHECK_EQ(fx.blen, n);
    CHECK_MEM(blk_buf, want, (size_t)n);
    struct bckm_block_header h;
    CHECK_EQ(bckm_block_decode(want, (size_t)n, &h, envs_a, 3), BCKM_OK);
    CHECK(header_equal(&h, &fx.h));
    for (int i = 0; i < 3; i++) CHECK(env_equal(&envs_a[i], &fx.envs[i]));
}

/* A body mixing versions: the REATTACH envelope (198 bytes) between two
 * version-1 ones; each envelope's version byte gives its length. */
static void body_with_reattach(void) {
    struct bckm_envelope envs[3], dec[3];
    struct bckm_block_header h, hd;
    static uint8_t b[BCKM_BLOCK_HEADER_BYTES + 3 * BCKM_ENVELOPE_MAX_BYTES + 1];
    size_t len = 0;
    REQUIRE(fix_envelope(0, &envs[0]) == BCKM_OK);
    REQUIRE(fix_reattach(&envs[1], NULL) == BCKM_OK);
    REQUIRE(fix_envelope(2, &envs[2]) == BCKM_OK);
    REQUIRE(fix_block(&h, dec) == BCKM_OK);
    REQUIRE(bckm_block_seal(&h, envs, 3) == BCKM_OK);
    REQUIRE(bckm_block_encode(&h, envs, 3, b, sizeof b, &len) == BCKM_OK);
    CHECK_EQ(len, BCKM_BLOCK_HEADER_BYTES + 2 * BCKM_ENVELOPE_BYTES + BCKM_ENVELOPE_V2_BYTES);
    CHECK_EQ(b[BCKM_BLOCK_HEADER_BYTES + BCKM_ENVELOPE_BYTES], BCKM_ENVELOPE_VERSION_REATTACH);
    CHECK_EQ(bckm_block_decode(b, len, &hd, dec, 3), BCKM_OK);
    for (int i = 0; i < 3; i++) CHECK(env_equal(&dec[i], &envs[i]));
    CHECK_MEM(dec[1].consent, envs[1].consent, BCKM_SIG_BYTES);
    /* Too small a buffer, every truncation, one byte too many. */
    CHECK_EQ(bckm_block_encode(&h, envs, 3, b, len - 1, &len), BCKM_ERR_NOMEM);
    REQUIRE(bckm_block_encode(&h, envs, 3, b, sizeof b, &len) == BCKM_OK);
    for (size_t l = BCKM_BLOCK_HEADER_BYTES; l < len; l++)
        CHECK_EQ(bckm_block_decode(b, l, &hd, dec, 3), BCKM_ERR_TRUNCATED);
    CHECK_EQ(bckm_block_decode(b, len + 1, &hd, dec, 3), BCKM_ERR_FORMAT);
    /* The REATTACH's version byte turned into 1 (and back into 2 on a
     * version-1 envelope): the lengths no longer add up. */
    b[BCKM_BLOCK_HEADER_BYTES + BCKM_ENVELOPE_BYTES] = BCKM_ENVELOPE_VERSION;
    CHECK(bckm_block_decode(b, len, &hd, dec, 3) != BCKM_OK);
    b[BCKM_BLOCK_HEADER_BYTES + BCKM_ENVELOPE_BYTES] = BCKM_ENVELOPE_VERSION_REATTACH;
    b[BCKM_BLOCK_HEADER_BYTES] = BCKM_ENVELOPE_VERSION_REATTACH;
    CHECK(bckm_block_decode(b, len, &hd, dec, 3) != BCKM_OK);
    b[BCKM_BLOCK_HEADER_BYTES] = 7;
    CHECK_EQ(bckm_block_decode(b, len, &hd, dec, 3), BCKM_ERR_FORMAT);
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
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, (const uint8_t (*)[32])bp_pk, FIX_N_BPS, FIX_F), BCKM_OK);
    /* The commit message vector is what each entry signs. */
    long m = check_vector(BLOCK_VECTORS, "commit_message", msg, sizeof msg);
    REQUIRE(m == (long)(BCKM_COMMIT_LABEL_BYTES + 8 + 32));
    for (uint32_t i = 0; i < c.count; i++)
        CHECK_EQ(crypto_sign_verify_detached(c.sigs[i].sig, msg, (unsigned long long)m,
                                             bp_pk[c.sigs[i].bp - 1]), 0);
}

/* ---- round trips ------------------------------------------------------ */

static void roundtrip_header_random(void) {
    int rounds = check_small() ? 5000 : 100000, bad = 0, accepted = 0;
    rng_state = 0x686472u;
    for (int i = 0; i < rounds; i++) {
        struct bckm_block_header h, d;
        uint8_t buf[BCKM_BLOCK_HEADER_BYTES], again[BCKM_BLOCK_HEADER_BYTES];
        random_header(&h);
        if (bckm_block_header_encode(&h, buf) != BCKM_OK) { bad++; continue; }
        if (bckm_block_header_decode(buf, sizeof buf, &d) != BCKM_OK || !header_equal(&h, &d)) bad++;
        rng_bytes(buf, sizeof buf);
        buf[0] = (uint8_t)(rng_next() % 3);
        bckm_put_u32(buf + 41, (uint32_t)(rng_next() % 300));
        bckm_put_u32(buf + 117, (uint32_t)(rng_next() % 1100));
        if (bckm_block_header_decode(buf, sizeof buf, &d) == BCKM_OK) {
            accepted++;
            if (bckm_block_header_encode(&d, again) != BCKM_OK || memcmp(buf, again, sizeof buf) != 0) bad++;
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
        if (bckm_block_seal(&h, envs_a, n) != BCKM_OK) { bad++; continue; }
        if (bckm_block_encode(&h, envs_a, n, blk_buf, sizeof blk_buf, &len) != BCKM_OK) { bad++; continue; }
        if (len != BCKM_BLOCK_HEADER_BYTES + (size_t)n * BCKM_ENVELOPE_BYTES) bad++;
        if (bckm_block_decode(blk_buf, len, &d, envs_b, BCKM_BLOCK_MAX_TXS) != BCKM_OK) { bad++; continue; }
        if (!header_equal(&h, &d)) bad++;
        for (uint32_t k = 0; k < n; k++) if (!env_equal(&envs_a[k], &envs_b[k])) bad++;
        if (bckm_block_encode(&d, envs_b, n, blk_buf2, sizeof blk_buf2, &len2) != BCKM_OK ||
            len2 != len || memcmp(blk_buf, blk_buf2, len) != 0) bad++;
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
        if (bckm_cert_encode(&c, buf, sizeof buf, &len) != BCKM_OK) { bad++; continue; }
        if (len != bckm_cert_encoded_len(c.count)) bad++;
        if (bckm_cert_decode(buf, len, &d) != BCKM_OK || !cert_equal(&c, &d)) { bad++; continue; }
        if (bckm_cert_encode(&d, again, sizeof again, &len2) != BCKM_OK || len2 != len ||
            memcmp(buf, again, len) != 0) bad++;
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
    /* unknown version */
    memcpy(b, buf, sizeof b); b[0] = 2;
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    memcpy(b, buf, sizeof b); b[0] = 0;
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    /* height 0 */
    memcpy(b, buf, sizeof b); bckm_put_u64(b + 1, 0);
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    /* proposer outside 1..255 */
    memcpy(b, buf, sizeof b); bckm_put_u32(b + 41, 0);
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    memcpy(b, buf, sizeof b); bckm_put_u32(b + 41, 256);
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    /* too many envelopes */
    memcpy(b, buf, sizeof b); bckm_put_u32(b + 117, BCKM_BLOCK_MAX_TXS + 1);
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    memcpy(b, buf, sizeof b); bckm_put_u32(b + 117, 0xFFFFFFFFu);
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    memcpy(b, buf, sizeof b); bckm_put_u32(b + 117, BCKM_BLOCK_MAX_TXS);
    CHECK_EQ(bckm_block_header_decode(b, sizeof b, &d), BCKM_OK);
    /* the encoder refuses what the decoder refuses */
    struct bckm_block_header h = fx.h;
    h.height = 0;
    CHECK_EQ(bckm_block_header_encode(&h, b), BCKM_ERR_ARG);
    h = fx.h; h.proposer = 0;
    CHECK_EQ(bckm_block_header_encode(&h, b), BCKM_ERR_ARG);
    h = fx.h; h.n_txs = BCKM_BLOCK_MAX_TXS + 1;
    CHECK_EQ(bckm_block_header_encode(&h, b), BCKM_ERR_ARG);
    CHECK_EQ(bckm_block_hash(&h, b), BCKM_ERR_ARG);
}

static void block_truncated_everywhere(void) {
    struct bckm_block_header d;
    int bad = 0;
    REQUIRE(load_fixture());
    for (size_t len = 0; len < fx.blen; len++) {
        int r = block_decode_exact(blk_buf, len, &d, envs_a, BCKM_BLOCK_MAX_TXS);
        if (r != BCKM_ERR_TRUNCATED) { bad++; fprintf(stderr, "len %zu: %d\n", len, r); }
    }
    CHECK_EQ(bad, 0);
    memcpy(blk_buf2, blk_buf, fx.blen);
    blk_buf2[fx.blen] = 0;
    CHECK_EQ(block_decode_exact(blk_buf2, fx.blen + 1, &d, envs_a, 3), BCKM_ERR_FORMAT);
    blk_buf2[fx.blen + 1] = 0;
    CHECK_EQ(block_decode_exact(blk_buf2, fx.blen + BCKM_ENVELOPE_BYTES, &d, envs_a, 3), BCKM_ERR_FORMAT);
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
                                    fx.blen - BCKM_BLOCK_HEADER_BYTES, envs_a, 3), BCKM_ERR_FORMAT);
    h.n_txs = 4;
    CHECK_EQ(bckm_block_body_decode(&h, blk_buf + BCKM_BLOCK_HEADER_BYTES,
                                    fx.blen - BCKM_BLOCK_HEADER_BYTES, envs_a, 4), BCKM_ERR_TRUNCATED);
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
    size_t second = BCKM_BLOCK_HEADER_BYTES + BCKM_ENVELOPE_BYTES;
    memcpy(blk_buf2, blk_buf, fx.blen);
    blk_buf2[second] = 9;  /* envelope version */
    CHECK_EQ(bckm_block_decode(blk_buf2, fx.blen, &d, envs_a, 3), BCKM_ERR_FORMAT);
    memcpy(blk_buf2, blk_buf, fx.blen);
    blk_buf2[second + 13] = 0;  /* tx op */
    CHECK_EQ(bckm_block_decode(blk_buf2, fx.blen, &d, envs_a, 3), BCKM_ERR_FORMAT);
    memcpy(blk_buf2, blk_buf, fx.blen);
    bckm_put_u32(blk_buf2 + second + 1, 0);  /* origin BP 0 */
    CHECK_EQ(bckm_block_decode(blk_buf2, fx.blen, &d, envs_a, 3), BCKM_ERR_FORMAT);
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
    memcpy(blk_buf2 + BCKM_BLOCK_HEADER_BYTES, blk_buf + BCKM_BLOCK_HEADER_BYTES + BCKM_ENVELOPE_BYTES,
           BCKM_ENVELOPE_BYTES);
    memcpy(blk_buf2 + BCKM_BLOCK_HEADER_BYTES + BCKM_ENVELOPE_BYTES, blk_buf + BCKM_BLOCK_HEADER_BYTES,
           BCKM_ENVELOPE_BYTES);
    memcpy(blk_buf2 + BCKM_BLOCK_HEADER_BYTES + 2 * BCKM_ENVELOPE_BYTES,
           blk_buf + BCKM_BLOCK_HEADER_BYTES + 2 * BCKM_ENVELOPE_BYTES, BCKM_ENVELOPE_BYTES);
    CHECK_EQ(bckm_block_decode(blk_buf2, fx.blen, &d, envs_a, 3), BCKM_ERR_MISMATCH);
    /* A wrong root in the header. */
    memcpy(blk_buf2, blk_buf, fx.blen);
    blk_buf2[53] ^= 0x40;
    CHECK_EQ(bckm_block_decode(blk_buf2, fx.blen, &d, envs_a, 3), BCKM_ERR_MISMATCH);
    /* The root of zero envelopes is defined (and differs from one envelope's). */
    uint8_t r1[32];
    CHECK_EQ(bckm_block_tx_root(NULL, 0, root), BCKM_OK);
    CHECK_EQ(bckm_block_tx_root(fx.envs, 1, r1), BCKM_OK);
    CHECK(memcmp(root, r1, 32) != 0);
    CHECK_EQ(bckm_block_tx_root(fx.envs, BCKM_BLOCK_MAX_TXS + 1, root), BCKM_ERR_ARG);
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
        if (memcmp(hash, fx.hash, 32) == 0) undetected++;
        else if (bckm_cert_verify(&fx.cert, hash, (const uint8_t (*)[32])bp_pk, FIX_N_BPS, FIX_F) == BCKM_OK)
            undetected++;
    }
    CHECK_EQ(undetected, 0);
    CHECK_EQ(flips, (int)(8 * fx.blen));
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
    memcpy(b, fx.cbuf, fx.clen); b[0] = 2;
    CHECK_EQ(bckm_cert_decode(b, fx.clen, &d), BCKM_ERR_FORMAT);
    memcpy(b, fx.cbuf, fx.clen); bckm_put_u64(b + 1, 0);
    CHECK_EQ(bckm_cert_decode(b, fx.clen, &d), BCKM_ERR_FORMAT);
    memcpy(b, fx.cbuf, fx.clen); bckm_put_u16(b + 49, 0);
    CHECK_EQ(bckm_cert_decode(b, BCKM_CERT_FIXED_BYTES, &d), BCKM_ERR_FORMAT);
    memcpy(b, fx.cbuf, fx.clen); bckm_put_u16(b + 49, 256);
    CHECK_EQ(bckm_cert_decode(b, sizeof b, &d), BCKM_ERR_FORMAT);
    /* signer IDs outside 1..255 */
    size_t e0 = BCKM_CERT_FIXED_BYTES;
    memcpy(b, fx.cbuf, fx.clen); bckm_put_u32(b + e0, 0);
    CHECK_EQ(bckm_cert_decode(b, fx.clen, &d), BCKM_ERR_FORMAT);
    memcpy(b, fx.cbuf, fx.clen); bckm_put_u32(b + e0 + 2 * 68, 256);
    CHECK_EQ(bckm_cert_decode(b, fx.clen, &d), BCKM_ERR_FORMAT);
    /* the encoder refuses the same */
    struct bckm_cert c = fx.cert;
    size_t len;
    c.count = 0;
    CHECK_EQ(bckm_cert_encode(&c, b, sizeof b, &len), BCKM_ERR_ARG);
    c = fx.cert; c.height = 0;
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
    struct bckm_cert_sig t = c.sigs[0]; c.sigs[0] = c.sigs[1]; c.sigs[1] = t;
    CHECK_EQ(bckm_cert_encode(&c, b, sizeof b, &len), BCKM_ERR_ARG);
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, (const uint8_t (*)[32])bp_pk, FIX_N_BPS, FIX_F), BCKM_ERR_FORMAT);
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
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, (const uint8_t (*)[32])bp_pk, FIX_N_BPS, FIX_F), BCKM_ERR_FORMAT);
}

static void cert_verify_rules(void) {
    const uint8_t (*pks)[32] = (const uint8_t (*)[32])bp_pk;
    struct bckm_cert c;
    uint8_t other[32];
    REQUIRE(load_fixture());
    CHECK_EQ(bckm_cert_verify(&fx.cert, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_OK);
    /* fewer than 2f+1 signers */
    c = fx.cert; c.count = 2;
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_ERR_AUTH);
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, 0), BCKM_OK);  /* f = 0 needs 1 */
    /* all four sign */
    c = fx.cert;
    c.count = 4;
    c.sigs[2].bp = 3;
    c.sigs[3].bp = 4;
    REQUIRE(bckm_commit_sign(c.height, c.view, fx.hash, bp_sk[2], c.sigs[2].sig) == BCKM_OK);
    REQUIRE(bckm_commit_sign(c.height, c.view, fx.hash, bp_sk[3], c.sigs[3].sig) == BCKM_OK);
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_OK);
    /* a bad signature */
    c = fx.cert; c.sigs[1].sig[10] ^= 4;
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_ERR_AUTH);
    /* a signature attributed to the wrong BP */
    c = fx.cert; c.sigs[2].bp = 3;
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_ERR_AUTH);
    /* another block */
    memcpy(other, fx.hash, 32); other[0] ^= 1;
    CHECK_EQ(bckm_cert_verify(&fx.cert, other, pks, FIX_N_BPS, FIX_F), BCKM_ERR_MISMATCH);
    /* another height: the signatures cover it */
    c = fx.cert; c.height = 3;
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_ERR_AUTH);
    /* the view is not signed (see spec): changing it keeps the cert valid */
    c = fx.cert; c.view = 99;
    CHECK_EQ(bckm_cert_verify(&c, fx.hash, pks, FIX_N_BPS, FIX_F), BCKM_OK);
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
    const uint8_t (*pks)[32] = (const uint8_t (*)[32])bp_pk;
    uint8_t b[BCKM_CERT_MAX_BYTES];
    struct bckm_cert d;
    int accepted = 0;
    REQUIRE(load_fixture());
    for (size_t bit = 0; bit < 8 * fx.clen; bit++) {
        memcpy(b, fx.cbuf, fx.clen);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        /* The view bytes (9..16) are not signed: a flip there yields another
         * valid certificate of the same commit, which is allowed. */
        if (bit / 8 >= 9 && bit / 8 < 17) continue;
        if (bckm_cert_decode(b, fx.clen, &d) == BCKM_OK &&
            bckm_cert_verify(&d, fx.hash, pks, FIX_N_BPS, FIX_F) == BCKM_OK) accepted++;
    }
    CHECK_EQ(accepted, 0);
}

CHECK_CASES(CASE(kat_block), CASE(kat_cert), CASE(body_with_reattach), CASE(roundtrip_header_random),
            CASE(roundtrip_block_random), CASE(roundtrip_cert_random), CASE(header_malformed),
            CASE(block_truncated_everywhere), CASE(body_capacity_and_count),
            CASE(body_bad_envelope), CASE(body_bad_tx_root), CASE(block_bit_flips),
            CASE(cert_truncated_everywhere), CASE(cert_malformed_fields),
            CASE(cert_non_canonical_order), CASE(cert_duplicate_signers), CASE(cert_verify_rules),
            CASE(cert_bit_flips))
