/*
 * The 57-byte transaction and the signed envelope: known-answer vectors,
 * seeded random round trips, and one test per class of malformed input.
 */
#include "check.h"
#include "layer2_fixtures.h"

#define TX_VECTORS "spec/vectors/tx.txt"
#define ENV_VECTORS "spec/vectors/envelope.txt"

static uint64_t rng_state;

/* splitmix64: a fixed seed gives the same sequence on every run. */
static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void rng_bytes(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)rng_next();
}

static int tx_equal(const struct bckm_tx *a, const struct bckm_tx *b) {
    return a->op == b->op && a->node_id == b->node_id && a->set_id == b->set_id &&
           memcmp(a->code_hash, b->code_hash, sizeof a->code_hash) == 0 &&
           memcmp(a->refresh, b->refresh, sizeof a->refresh) == 0;
}

static int env_equal(const struct bckm_envelope *a, const struct bckm_envelope *b) {
    return a->version == b->version && a->bp == b->bp && a->seq == b->seq &&
           tx_equal(&a->tx, &b->tx) && memcmp(a->sig, b->sig, sizeof a->sig) == 0;
}

static void random_tx(struct bckm_tx *tx) {
    memset(tx, 0, sizeof *tx);
    tx->op = (uint8_t)(1 + rng_next() % 3);
    tx->node_id = (uint32_t)rng_next();
    if (tx->node_id == 0) tx->node_id = 1;
    tx->set_id = (uint32_t)rng_next();
    if (tx->set_id == 0) tx->set_id = 1;
    rng_bytes(tx->code_hash, sizeof tx->code_hash);
    rng_bytes(tx->refresh, sizeof tx->refresh);
}

static void random_envelope(struct bckm_envelope *env) {
    memset(env, 0, sizeof *env);
    env->version = BCKM_ENVELOPE_VERSION;
    env->bp = (uint32_t)(1 + rng_next() % BCKM_MAX_BPS);
    env->seq = rng_next();
    random_tx(&env->tx);
    rng_bytes(env->sig, sizeof env->sig);
}

/* Decodes a copy of buf[0..len) held in a buffer of exactly len bytes, so
 * that ASan catches any read past the end. */
static int decode_tx_exact(const uint8_t *buf, size_t len, struct bckm_tx *out) {
    uint8_t *copy = check_exact_copy(buf, len);
    int r = bckm_tx_decode(copy, len, out);
    free(copy);
    return r;
}

static int decode_env_exact(const uint8_t *buf, size_t len, struct bckm_envelope *out) {
    uint8_t *copy = check_exact_copy(buf, len);
    int r = bckm_envelope_decode(copy, len, out);
    free(copy);
    return r;
}

/* ---- known answers ---------------------------------------------------- */

static void kat_tx(void) {
    static const char *names[3] = { "tx_join", "tx_leave", "tx_evict" };
    for (unsigned k = 0; k < 3; k++) {
        uint8_t want[BCKM_TX_BYTES + 8], got[BCKM_TX_BYTES];
        struct bckm_tx tx, dec;
        long n = check_vector(TX_VECTORS, names[k], want, sizeof want);
        REQUIRE(n == (long)BCKM_TX_BYTES);
        fix_tx(k, &tx);
        CHECK_EQ(bckm_tx_encode(&tx, got), BCKM_OK);
        CHECK_MEM(got, want, BCKM_TX_BYTES);
        CHECK_EQ(bckm_tx_decode(want, (size_t)n, &dec), BCKM_OK);
        CHECK(tx_equal(&tx, &dec));
        CHECK_EQ(dec.op, k + 1);
    }
}

static void kat_envelope(void) {
    static const char *names[3] = { "envelope_0", "envelope_1", "envelope_2" };
    for (unsigned k = 0; k < 3; k++) {
        uint8_t want[BCKM_ENVELOPE_BYTES + 8], got[BCKM_ENVELOPE_BYTES];
        uint8_t pk_vec[64], pk[BCKM_SIGN_PK_BYTES], sk[BCKM_SIGN_SK_BYTES];
        char pkname[16];
        struct bckm_envelope env, dec;
        long n = check_vector(ENV_VECTORS, names[k], want, sizeof want);
        REQUIRE(n == (long)BCKM_ENVELOPE_BYTES);
        snprintf(pkname, sizeof pkname, "bp%u_pk", k + 1);
        REQUIRE(check_vector(ENV_VECTORS, pkname, pk_vec, sizeof pk_vec) ==
                (long)BCKM_SIGN_PK_BYTES);
        fix_bp_keys(k + 1, pk, sk);
        CHECK_MEM(pk, pk_vec, BCKM_SIGN_PK_BYTES);
        REQUIRE(fix_envelope(k, &env) == BCKM_OK);
        CHECK_EQ(bckm_envelope_encode(&env, got), BCKM_OK);
        CHECK_MEM(got, want, BCKM_ENVELOPE_BYTES);
        CHECK_EQ(bckm_envelope_decode(want, (size_t)n, &dec), BCKM_OK);
        CHECK(env_equal(&env, &dec));
        CHECK_EQ(bckm_envelope_verify(&dec, pk_vec), BCKM_OK);
    }
    /* The signed message is the label followed by the first 70 bytes. */
    uint8_t msg[128], env0[BCKM_ENVELOPE_BYTES];
    long m = check_vector(ENV_VECTORS, "envelope_0_signed_message", msg, sizeof msg);
    REQUIRE(m == (long)(BCKM_ENVELOPE_LABEL_BYTES + BCKM_ENVELOPE_SIGNED_BYTES));
    REQUIRE(check_vector(ENV_VECTORS, "envelope_0", env0, sizeof env0) ==
            (long)BCKM_ENVELOPE_BYTES);
    CHECK_MEM(msg, BCKM_ENVELOPE_LABEL, BCKM_ENVELOPE_LABEL_BYTES);
    CHECK_MEM(msg + BCKM_ENVELOPE_LABEL_BYTES, env0, BCKM_ENVELOPE_SIGNED_BYTES);
    uint8_t pk[64];
    REQUIRE(check_vector(ENV_VECTORS, "bp1_pk", pk, sizeof pk) == 32);
    CHECK_EQ(crypto_sign_verify_detached(env0 + BCKM_ENVELOPE_SIGNED_BYTES, msg,
                                         (unsigned long long)m, pk),
             0);
}

/* The version-2 (REATTACH) vector, checked byte by byte against the layout
 * of spec/layer2-formats.md with libsodium directly: the commitment is the
 * code's Ed25519 public key, the consent verifies under it over the
 * statement, the BP signature covers everything before it (consent
 * included). */
static void kat_reattach(void) {
    uint8_t code[64], commit[64], st[64], consent[128], msg[256], env3[BCKM_ENVELOPE_MAX_BYTES + 8];
    uint8_t txv[BCKM_TX_BYTES + 8], pk[64], sk[64], got[BCKM_ENVELOPE_MAX_BYTES];
    REQUIRE(check_vector(ENV_VECTORS, "reattach_code", code, sizeof code) == 32);
    REQUIRE(check_vector(ENV_VECTORS, "reattach_commit", commit, sizeof commit) == 32);
    REQUIRE(check_vector(ENV_VECTORS, "reattach_statement", st, sizeof st) ==
            (long)BCKM_REATTACH_STATEMENT_BYTES);
    REQUIRE(check_vector(ENV_VECTORS, "reattach_consent", consent, sizeof consent) == 64);
    long m = check_vector(ENV_VECTORS, "envelope_3_signed_message", msg, sizeof msg);
    REQUIRE(m == (long)(BCKM_ENVELOPE_LABEL_BYTES + BCKM_ENVELOPE_V2_SIGNED_BYTES));
    long n = check_vector(ENV_VECTORS, "envelope_3", env3, sizeof env3);
    REQUIRE(n == (long)BCKM_ENVELOPE_V2_BYTES);
    REQUIRE(check_vector(TX_VECTORS, "tx_reattach", txv, sizeof txv) == (long)BCKM_TX_BYTES);
    crypto_sign_seed_keypair(pk, sk, code);
    CHECK_MEM(pk, commit, 32);
    CHECK_MEM(st, BCKM_REATTACH_LABEL, BCKM_REATTACH_LABEL_BYTES);
    CHECK_EQ(crypto_sign_verify_detached(consent, st, BCKM_REATTACH_STATEMENT_BYTES, commit), 0);
    CHECK_EQ(env3[0], BCKM_ENVELOPE_VERSION_REATTACH);
    CHECK_MEM(env3 + 13, txv, BCKM_TX_BYTES);
    CHECK_EQ(txv[0], BCKM_TX_OP_REATTACH);
    CHECK_MEM(txv + 9, commit, 32);
    CHECK_MEM(env3 + 70, consent, 64);
    CHECK_MEM(msg, BCKM_ENVELOPE_LABEL, BCKM_ENVELOPE_LABEL_BYTES);
    CHECK_MEM(msg + BCKM_ENVELOPE_LABEL_BYTES, env3, BCKM_ENVELOPE_V2_SIGNED_BYTES);
    uint8_t bp2[BCKM_SIGN_PK_BYTES], bsk[BCKM_SIGN_SK_BYTES];
    fix_bp_keys(2, bp2, bsk);
    CHECK_EQ(crypto_sign_verify_detached(env3 + BCKM_ENVELOPE_V2_SIGNED_BYTES, msg,
                                         (unsigned long long)m, bp2),
             0);
    /* The library agrees: fixture, encoder, decoder, verifiers. */
    struct bckm_envelope env, dec;
    size_t len = 0;
    REQUIRE(fix_reattach(&env, NULL) == BCKM_OK);
    CHECK_EQ(bckm_envelope_encode_to(&env, got, sizeof got, &len), BCKM_OK);
    CHECK_EQ(len, BCKM_ENVELOPE_V2_BYTES);
    CHECK_MEM(got, env3, BCKM_ENVELOPE_V2_BYTES);
    CHECK_EQ(bckm_envelope_decode(env3, (size_t)n, &dec), BCKM_OK);
    CHECK(env_equal(&env, &dec));
    CHECK_MEM(dec.consent, consent, 64);
    CHECK_EQ(bckm_envelope_verify(&dec, bp2), BCKM_OK);
    CHECK_EQ(bckm_reattach_verify(commit, dec.tx.node_id, 2, 3, dec.consent), BCKM_OK);
    CHECK_EQ(bckm_reattach_verify(commit, dec.tx.node_id, 3, 3, dec.consent), BCKM_ERR_AUTH);
    /* Every length but 198 is refused; out untouched. */
    memset(&dec, 0x5A, sizeof dec);
    struct bckm_envelope before = dec;
    for (size_t l = 0; l < (size_t)n; l++)
        CHECK_EQ(decode_env_exact(env3, l, &dec), BCKM_ERR_TRUNCATED);
    env3[n] = 0;
    CHECK_EQ(decode_env_exact(env3, (size_t)n + 1, &dec), BCKM_ERR_FORMAT);
    CHECK(memcmp(&dec, &before, sizeof dec) == 0);
    /* Every flipped bit of the signed part breaks the BP signature or the
     * format. */
    for (size_t bit = 0; bit < 8 * BCKM_ENVELOPE_V2_SIGNED_BYTES; bit += 7) {
        env3[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int e = bckm_envelope_decode(env3, (size_t)n, &dec);
        if (e == BCKM_OK) CHECK_EQ(bckm_envelope_verify(&dec, bp2), BCKM_ERR_AUTH);
        env3[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    bckm_wipe(sk, sizeof sk);
}

/* ---- round trips ------------------------------------------------------ */

static void roundtrip_tx_random(void) {
    int rounds = check_small() ? 5000 : 100000;
    int bad = 0, accepted = 0;
    rng_state = 0x7478u;
    for (int i = 0; i < rounds; i++) {
        struct bckm_tx tx, dec;
        uint8_t buf[BCKM_TX_BYTES], again[BCKM_TX_BYTES];
        random_tx(&tx);
        if (bckm_tx_encode(&tx, buf) != BCKM_OK) {
            bad++;
            continue;
        }
        if (bckm_tx_decode(buf, sizeof buf, &dec) != BCKM_OK || !tx_equal(&tx, &dec)) bad++;
        /* Random bytes: whatever is accepted re-encodes to the same bytes. */
        rng_bytes(buf, sizeof buf);
        buf[0] = (uint8_t)(rng_next() % 4);
        if (bckm_tx_decode(buf, sizeof buf, &dec) == BCKM_OK) {
            accepted++;
            if (bckm_tx_encode(&dec, again) != BCKM_OK || memcmp(buf, again, sizeof buf) != 0)
                bad++;
        }
    }
    CHECK_EQ(bad, 0);
    CHECK(accepted > rounds / 2); /* three ops in four are valid */
}

static void roundtrip_envelope_random(void) {
    int rounds = check_small() ? 2000 : 50000;
    int bad = 0, accepted = 0;
    rng_state = 0x656e76u;
    for (int i = 0; i < rounds; i++) {
        struct bckm_envelope env, dec;
        uint8_t buf[BCKM_ENVELOPE_BYTES], again[BCKM_ENVELOPE_BYTES];
        random_envelope(&env);
        if (bckm_envelope_encode(&env, buf) != BCKM_OK) {
            bad++;
            continue;
        }
        if (bckm_envelope_decode(buf, sizeof buf, &dec) != BCKM_OK || !env_equal(&env, &dec)) bad++;
        rng_bytes(buf + 5, sizeof buf - 5);
        buf[0] = (uint8_t)(rng_next() % 3);
        bckm_put_u32(buf + 1, (uint32_t)(rng_next() % 300));
        buf[13] = (uint8_t)(rng_next() % 4);
        if (bckm_envelope_decode(buf, sizeof buf, &dec) == BCKM_OK) {
            accepted++;
            if (bckm_envelope_encode(&dec, again) != BCKM_OK || memcmp(buf, again, sizeof buf) != 0)
                bad++;
        }
    }
    CHECK_EQ(bad, 0);
    CHECK(accepted > 0);
}

static void sign_verify_random(void) {
    int rounds = check_small() ? 50 : 500;
    int bad = 0;
    rng_state = 0x736967u;
    for (int i = 0; i < rounds; i++) {
        uint8_t pk[BCKM_SIGN_PK_BYTES], sk[BCKM_SIGN_SK_BYTES], other_pk[BCKM_SIGN_PK_BYTES];
        uint8_t other_sk[BCKM_SIGN_SK_BYTES];
        struct bckm_envelope env, dec;
        uint8_t buf[BCKM_ENVELOPE_BYTES];
        random_envelope(&env);
        fix_bp_keys(env.bp, pk, sk);
        fix_bp_keys(env.bp % BCKM_MAX_BPS + 1, other_pk, other_sk);
        if (bckm_envelope_sign(&env, sk) != BCKM_OK) {
            bad++;
            continue;
        }
        if (bckm_envelope_encode(&env, buf) != BCKM_OK) {
            bad++;
            continue;
        }
        if (bckm_envelope_decode(buf, sizeof buf, &dec) != BCKM_OK) {
            bad++;
            continue;
        }
        if (bckm_envelope_verify(&dec, pk) != BCKM_OK) bad++;
        if (bckm_envelope_verify(&dec, other_pk) != BCKM_ERR_AUTH) bad++;
    }
    CHECK_EQ(bad, 0);
}

/* ---- malformed transactions ------------------------------------------ */

static void tx_wrong_length(void) {
    struct bckm_tx tx, out, before;
    uint8_t buf[BCKM_TX_BYTES + 16];
    fix_tx(0, &tx);
    REQUIRE(bckm_tx_encode(&tx, buf) == BCKM_OK);
    memset(buf + BCKM_TX_BYTES, 0, 16);
    memset(&out, 0xA5, sizeof out);
    before = out;
    for (size_t len = 0; len < BCKM_TX_BYTES; len++) {
        CHECK_EQ(decode_tx_exact(buf, len, &out), BCKM_ERR_TRUNCATED);
    }
    for (size_t len = BCKM_TX_BYTES + 1; len <= sizeof buf; len++) {
        CHECK_EQ(decode_tx_exact(buf, len, &out), BCKM_ERR_FORMAT);
    }
    CHECK(memcmp(&out, &before, sizeof out) == 0); /* untouched on error */
    CHECK_EQ(bckm_tx_decode(NULL, BCKM_TX_BYTES, &out), BCKM_ERR_ARG);
    CHECK_EQ(bckm_tx_decode(buf, BCKM_TX_BYTES, NULL), BCKM_ERR_ARG);
    CHECK_EQ(decode_tx_exact(buf, BCKM_TX_BYTES, &out), BCKM_OK);
}

static void tx_unknown_op(void) {
    struct bckm_tx tx, out;
    uint8_t buf[BCKM_TX_BYTES];
    fix_tx(0, &tx);
    REQUIRE(bckm_tx_encode(&tx, buf) == BCKM_OK);
    for (unsigned op = 0; op < 256; op++) {
        buf[0] = (uint8_t)op;
        int want = (op >= 1 && op <= 4) ? BCKM_OK : BCKM_ERR_FORMAT;
        CHECK_EQ(bckm_tx_decode(buf, sizeof buf, &out), want);
        tx.op = (uint8_t)op;
        CHECK_EQ(bckm_tx_encode(&tx, buf), want == BCKM_OK ? BCKM_OK : BCKM_ERR_ARG);
    }
}

static void tx_zero_ids(void) {
    struct bckm_tx tx, out;
    uint8_t buf[BCKM_TX_BYTES];
    fix_tx(1, &tx);
    REQUIRE(bckm_tx_encode(&tx, buf) == BCKM_OK);
    uint8_t z[BCKM_TX_BYTES];
    memcpy(z, buf, sizeof z);
    memset(z + 1, 0, 4); /* node ID 0 */
    CHECK_EQ(bckm_tx_decode(z, sizeof z, &out), BCKM_ERR_FORMAT);
    memcpy(z, buf, sizeof z);
    memset(z + 5, 0, 4); /* set ID 0 */
    CHECK_EQ(bckm_tx_decode(z, sizeof z, &out), BCKM_ERR_FORMAT);
    struct bckm_tx t2 = tx;
    t2.node_id = 0;
    CHECK_EQ(bckm_tx_encode(&t2, z), BCKM_ERR_ARG);
    t2 = tx;
    t2.set_id = 0;
    CHECK_EQ(bckm_tx_encode(&t2, z), BCKM_ERR_ARG);
    /* Any other single nonzero byte in an ID is accepted. */
    memcpy(z, buf, sizeof z);
    memset(z + 1, 0, 4);
    z[4] = 1;
    CHECK_EQ(bckm_tx_decode(z, sizeof z, &out), BCKM_OK);
    CHECK_EQ(out.node_id, 1);
}

/* ---- malformed envelopes ---------------------------------------------- */

static void envelope_wrong_length(void) {
    struct bckm_envelope env, out, before;
    uint8_t buf[BCKM_ENVELOPE_BYTES + 8];
    REQUIRE(fix_envelope(0, &env) == BCKM_OK);
    REQUIRE(bckm_envelope_encode(&env, buf) == BCKM_OK);
    memset(buf + BCKM_ENVELOPE_BYTES, 0, 8);
    memset(&out, 0x5A, sizeof out);
    before = out;
    for (size_t len = 0; len < BCKM_ENVELOPE_BYTES; len++) {
        CHECK_EQ(decode_env_exact(buf, len, &out), BCKM_ERR_TRUNCATED);
    }
    for (size_t len = BCKM_ENVELOPE_BYTES + 1; len <= sizeof buf; len++) {
        CHECK_EQ(decode_env_exact(buf, len, &out), BCKM_ERR_FORMAT);
    }
    CHECK(memcmp(&out, &before, sizeof out) == 0);
    CHECK_EQ(bckm_envelope_decode(NULL, 0, &out), BCKM_ERR_ARG);
}

static void envelope_unknown_version(void) {
    struct bckm_envelope env, out;
    uint8_t buf[BCKM_ENVELOPE_BYTES];
    REQUIRE(fix_envelope(0, &env) == BCKM_OK);
    REQUIRE(bckm_envelope_encode(&env, buf) == BCKM_OK);
    for (unsigned v = 0; v < 256; v++) {
        buf[0] = (uint8_t)v;
        /* 134 bytes: a version 2 is short for its length (198), any
         * other version is unknown. */
        CHECK_EQ(bckm_envelope_decode(buf, sizeof buf, &out), v == 1   ? BCKM_OK
                                                              : v == 2 ? BCKM_ERR_TRUNCATED
                                                                       : BCKM_ERR_FORMAT);
    }
    env.version = 2;
    CHECK_EQ(bckm_envelope_encode(&env, buf), BCKM_ERR_ARG);
    CHECK_EQ(bckm_envelope_sign(&env, buf), BCKM_ERR_ARG);
}

static void envelope_bp_range(void) {
    static const uint32_t bad_bps[] = { 0, 256, 0x100u + 1, 0x01000001u, 0xFFFFFFFFu };
    static const uint32_t good_bps[] = { 1, 2, 128, 255 };
    struct bckm_envelope env, out;
    uint8_t buf[BCKM_ENVELOPE_BYTES];
    REQUIRE(fix_envelope(0, &env) == BCKM_OK);
    REQUIRE(bckm_envelope_encode(&env, buf) == BCKM_OK);
    for (size_t i = 0; i < sizeof bad_bps / sizeof bad_bps[0]; i++) {
        bckm_put_u32(buf + 1, bad_bps[i]);
        CHECK_EQ(bckm_envelope_decode(buf, sizeof buf, &out), BCKM_ERR_FORMAT);
        env.bp = bad_bps[i];
        uint8_t o[BCKM_ENVELOPE_BYTES];
        CHECK_EQ(bckm_envelope_encode(&env, o), BCKM_ERR_ARG);
    }
    for (size_t i = 0; i < sizeof good_bps / sizeof good_bps[0]; i++) {
        bckm_put_u32(buf + 1, good_bps[i]);
        CHECK_EQ(bckm_envelope_decode(buf, sizeof buf, &out), BCKM_OK);
        CHECK_EQ(out.bp, good_bps[i]);
    }
}

static void envelope_bad_tx(void) {
    struct bckm_envelope env, out;
    uint8_t buf[BCKM_ENVELOPE_BYTES], b[BCKM_ENVELOPE_BYTES];
    REQUIRE(fix_envelope(2, &env) == BCKM_OK);
    REQUIRE(bckm_envelope_encode(&env, buf) == BCKM_OK);
    memcpy(b, buf, sizeof b);
    b[13] = 4; /* unknown op */
    CHECK_EQ(bckm_envelope_decode(b, sizeof b, &out), BCKM_ERR_FORMAT);
    memcpy(b, buf, sizeof b);
    memset(b + 14, 0, 4); /* node ID 0 */
    CHECK_EQ(bckm_envelope_decode(b, sizeof b, &out), BCKM_ERR_FORMAT);
    memcpy(b, buf, sizeof b);
    memset(b + 18, 0, 4); /* set ID 0 */
    CHECK_EQ(bckm_envelope_decode(b, sizeof b, &out), BCKM_ERR_FORMAT);
}

static void envelope_bad_signature(void) {
    uint8_t pk[BCKM_SIGN_PK_BYTES], sk[BCKM_SIGN_SK_BYTES];
    struct bckm_envelope env, out;
    uint8_t buf[BCKM_ENVELOPE_BYTES];
    REQUIRE(fix_envelope(0, &env) == BCKM_OK);
    fix_bp_keys(1, pk, sk);
    CHECK_EQ(bckm_envelope_verify(&env, pk), BCKM_OK);
    /* Every field is covered by the signature. */
    out = env;
    out.seq++;
    CHECK_EQ(bckm_envelope_verify(&out, pk), BCKM_ERR_AUTH);
    out = env;
    out.bp = 2;
    CHECK_EQ(bckm_envelope_verify(&out, pk), BCKM_ERR_AUTH);
    out = env;
    out.tx.refresh[15] ^= 1;
    CHECK_EQ(bckm_envelope_verify(&out, pk), BCKM_ERR_AUTH);
    out = env;
    out.tx.op = BCKM_TX_OP_LEAVE;
    CHECK_EQ(bckm_envelope_verify(&out, pk), BCKM_ERR_AUTH);
    out = env;
    out.sig[0] ^= 0x80;
    CHECK_EQ(bckm_envelope_verify(&out, pk), BCKM_ERR_AUTH);
    /* A commit signature by the same key over other bytes never passes as an
     * envelope signature (domain separation): sign the bare 70 bytes. */
    REQUIRE(bckm_envelope_encode(&env, buf) == BCKM_OK);
    out = env;
    REQUIRE(crypto_sign_detached(out.sig, NULL, buf, BCKM_ENVELOPE_SIGNED_BYTES, sk) == 0);
    CHECK_EQ(bckm_envelope_verify(&out, pk), BCKM_ERR_AUTH);
}

static void envelope_bit_flips(void) {
    uint8_t pk[BCKM_SIGN_PK_BYTES], sk[BCKM_SIGN_SK_BYTES];
    struct bckm_envelope env, out;
    uint8_t buf[BCKM_ENVELOPE_BYTES], b[BCKM_ENVELOPE_BYTES];
    int passed = 0;
    REQUIRE(fix_envelope(0, &env) == BCKM_OK);
    REQUIRE(bckm_envelope_encode(&env, buf) == BCKM_OK);
    fix_bp_keys(1, pk, sk);
    for (size_t bit = 0; bit < 8 * sizeof buf; bit++) {
        memcpy(b, buf, sizeof b);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (bckm_envelope_decode(b, sizeof b, &out) == BCKM_OK &&
            bckm_envelope_verify(&out, pk) == BCKM_OK)
            passed++;
    }
    CHECK_EQ(passed, 0);
}

CHECK_CASES(CASE(kat_tx), CASE(kat_envelope), CASE(kat_reattach), CASE(roundtrip_tx_random),
            CASE(roundtrip_envelope_random), CASE(sign_verify_random), CASE(tx_wrong_length),
            CASE(tx_unknown_op), CASE(tx_zero_ids), CASE(envelope_wrong_length),
            CASE(envelope_unknown_version), CASE(envelope_bp_range), CASE(envelope_bad_tx),
            CASE(envelope_bad_signature), CASE(envelope_bit_flips))
