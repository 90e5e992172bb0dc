/* The smart contract: a table of accepted and rejected cases for every rule,
 * state unchanged on rejection, identical state hashes on replicas. */
#include "check.h"

#include <sodium.h>

#include "bckm/contract.h"
#include "layer2_fixtures.h"
#include "bckm/rejoin.h"

static struct bckm_bp_table bps;
static uint8_t sk[4][64];

static void setup(void) {
    memset(&bps, 0, sizeof bps);
    for (uint32_t b = 1; b <= 3; b++) {
        uint8_t seed[32] = { (uint8_t)b };
        crypto_sign_seed_keypair(bps.pk[b], sk[b], seed);
        bps.has[b] = 1;
    }
}

static struct bckm_envelope env_for(uint32_t bp, uint64_t seq, const struct bckm_tx *tx,
                                    const uint8_t *key) {
    struct bckm_envelope e;
    memset(&e, 0, sizeof e);
    e.version = BCKM_ENVELOPE_VERSION;
    e.bp = bp;
    e.seq = seq;
    e.tx = *tx;
    if (bckm_envelope_sign(&e, key) != BCKM_OK) e.version = 0;
    return e;
}

static struct bckm_tx join_tx(const struct bckm_state *st, uint32_t bp, uint32_t counter) {
    struct bckm_tx t;
    uint8_t code[32] = { 0 };
    memset(&t, 0, sizeof t);
    bckm_put_u32(code, bp);
    bckm_put_u32(code + 4, counter);
    bckm_code_commit(code, t.code_hash);
    t.op = BCKM_OP_JOIN;
    t.node_id = bckm_id_make(bp, counter);
    t.set_id = fix_assigned_set(bckm_state_registry(st), bp);
    t.refresh[0] = (uint8_t)counter;
    return t;
}

static struct bckm_tx leave_tx(const struct bckm_state *st, uint32_t node, uint8_t op) {
    struct bckm_tx t;
    uint32_t at;
    memset(&t, 0, sizeof t);
    t.op = op;
    t.node_id = node;
    if (bckm_sets_node(bckm_state_registry(st), node, &t.set_id, &at) != BCKM_OK) t.set_id = 1;
    if (bckm_sets_code_hash(bckm_state_registry(st), node, t.code_hash) != BCKM_OK)
        t.code_hash[0] = 1;
    return t;
}

/* Expects `want` from apply, and an unchanged state hash when it fails. */
static void expect(struct bckm_state *st, const struct bckm_envelope *e, int want,
                   const char *what) {
    uint8_t before[32], after[32];
    struct bckm_plan p;
    bckm_plan_init(&p);
    bckm_state_hash(st, before);
    int got = bckm_contract_apply(st, e, &p);
    bckm_state_hash(st, after);
    if (got != want)
        fprintf(stderr, "case '%s': got %s, want %s\n", what, bckm_strerror(got),
                bckm_strerror(want));
    CHECK_EQ(got, want);
    if (want != BCKM_OK)
        CHECK_MEM(before, after, 32);
    else
        CHECK(memcmp(before, after, 32) != 0);
    bckm_plan_free(&p);
}

static void rule_table(void) {
    setup();
    struct bckm_state *st;
    REQUIRE(bckm_state_new(&st, BCKM_POLICY_OWNED, &bps) == BCKM_OK);
    uint64_t seq1 = 0, seq2 = 0;
    for (uint32_t i = 1; i <= 6; i++) {
        struct bckm_tx t = join_tx(st, 1, i);
        struct bckm_envelope e = env_for(1, ++seq1, &t, sk[1]);
        expect(st, &e, BCKM_OK, "join accepted");
    }
    struct bckm_tx t = join_tx(st, 2, 1);
    struct bckm_envelope e = env_for(2, ++seq2, &t, sk[2]);
    expect(st, &e, BCKM_OK, "join at a second BP opens its own set");
    CHECK_EQ(bckm_id_bp(t.set_id), 2);

    t = join_tx(st, 1, 7);
    struct bckm_tx bad = t;
    bad.set_id = bckm_id_make(2, 1);
    e = env_for(1, seq1 + 1, &bad, sk[1]);
    expect(st, &e, BCKM_ERR_MISMATCH, "join into another BP's set (owned)");
    bad = t;
    bad.set_id = bckm_id_make(1, 9);
    e = env_for(1, seq1 + 1, &bad, sk[1]);
    expect(st, &e, BCKM_ERR_MISMATCH, "join into a set Assignment did not choose");
    bad = t;
    bad.node_id = bckm_id_make(1, 3);
    e = env_for(1, seq1 + 1, &bad, sk[1]);
    expect(st, &e, BCKM_ERR_EXISTS, "join reusing a node ID");
    struct bckm_tx first = join_tx(st, 1, 1);
    bad = t;
    memcpy(bad.code_hash, first.code_hash, 32);
    e = env_for(1, seq1 + 1, &bad, sk[1]);
    expect(st, &e, BCKM_ERR_EXISTS, "join reusing a code hash");
    bad = t;
    bad.node_id = bckm_id_make(3, 7);
    e = env_for(1, seq1 + 1, &bad, sk[1]);
    expect(st, &e, BCKM_ERR_PERM, "join with a node ID another BP allocates");
    e = env_for(1, seq1, &t, sk[1]);
    expect(st, &e, BCKM_ERR_REPLAY, "sequence number not fresh");
    e = env_for(1, seq1 + 1, &t, sk[2]);
    expect(st, &e, BCKM_ERR_AUTH, "signed with another BP's key");
    e = env_for(1, seq1 + 1, &t, sk[1]);
    e.tx.refresh[3] ^= 1;
    expect(st, &e, BCKM_ERR_AUTH, "tampered after signing");
    uint8_t rogue_pk[32], rogue_sk[64];
    crypto_sign_keypair(rogue_pk, rogue_sk);
    e = env_for(9, 1, &t, rogue_sk);
    expect(st, &e, BCKM_ERR_PERM, "signer not a BP of the cluster");
    e = env_for(1, seq1 + 5, &t, sk[1]);
    expect(st, &e, BCKM_OK, "a gap in sequence numbers is allowed");
    seq1 += 5;
    e = env_for(1, seq1 + 1, &t, sk[1]);
    expect(st, &e, BCKM_ERR_EXISTS, "the same join again");

    uint32_t victim = bckm_id_make(1, 2);
    struct bckm_tx l = leave_tx(st, victim, BCKM_OP_LEAVE);
    bad = l;
    bad.set_id ^= 3;
    e = env_for(1, seq1 + 1, &bad, sk[1]);
    expect(st, &e, BCKM_ERR_MISMATCH, "leave naming the wrong set");
    bad = l;
    bad.code_hash[5] ^= 1;
    e = env_for(1, seq1 + 1, &bad, sk[1]);
    expect(st, &e, BCKM_ERR_MISMATCH, "leave with the wrong code hash");
    bad = l;
    bad.node_id = bckm_id_make(1, 99);
    e = env_for(1, seq1 + 1, &bad, sk[1]);
    expect(st, &e, BCKM_ERR_UNKNOWN, "leave of a node that never joined");
    e = env_for(1, seq1 + 1, &l, rogue_sk);
    expect(st, &e, BCKM_ERR_AUTH, "leave signed by a key that is not its origin's");
    e = env_for(3, 1, &l, sk[3]);
    expect(st, &e, BCKM_ERR_PERM, "leave originated by a BP that does not serve the node");
    e = env_for(1, ++seq1, &l, sk[1]);
    expect(st, &e, BCKM_OK, "leave accepted");
    e = env_for(1, seq1 + 1, &l, sk[1]);
    expect(st, &e, BCKM_ERR_UNKNOWN, "leave of a node already gone");
    struct bckm_tx ev = leave_tx(st, bckm_id_make(1, 4), BCKM_OP_EVICT);
    e = env_for(1, ++seq1, &ev, sk[1]);
    expect(st, &e, BCKM_OK, "evict accepted");
    CHECK_EQ(bckm_state_seq(st, 1), seq1);
    bckm_state_free(st);
}

static void replicas_agree(void) {
    setup();
    struct bckm_state *a, *b;
    REQUIRE(bckm_state_new(&a, BCKM_POLICY_GLOBAL, &bps) == BCKM_OK);
    REQUIRE(bckm_state_new(&b, BCKM_POLICY_GLOBAL, &bps) == BCKM_OK);
    struct bckm_envelope log[40];
    uint64_t seq[4] = { 0 };
    struct bckm_plan p;
    bckm_plan_init(&p);
    for (uint32_t i = 0; i < 40; i++) {
        uint32_t bp = 1 + i % 3;
        struct bckm_tx t = join_tx(a, bp, 1 + i / 3);
        log[i] = env_for(bp, ++seq[bp], &t, sk[bp]);
        CHECK_EQ(bckm_contract_apply(a, &log[i], &p), BCKM_OK);
    }
    for (uint32_t i = 0; i < 40; i++) CHECK_EQ(bckm_contract_apply(b, &log[i], &p), BCKM_OK);
    uint8_t ha[32], hb[32];
    bckm_state_hash(a, ha);
    bckm_state_hash(b, hb);
    CHECK_MEM(ha, hb, 32);
    /* A clone diverges once it applies something more. */
    struct bckm_state *c;
    REQUIRE(bckm_state_clone(a, &c) == BCKM_OK);
    struct bckm_tx t = join_tx(c, 1, 100);
    struct bckm_envelope e = env_for(1, ++seq[1], &t, sk[1]);
    CHECK_EQ(bckm_contract_apply(c, &e, &p), BCKM_OK);
    uint8_t hc[32];
    bckm_state_hash(c, hc);
    CHECK(memcmp(ha, hc, 32) != 0);
    bckm_state_hash(a, hb);
    CHECK_MEM(ha, hb, 32);
    /* Encoded envelopes from the wire are checked the same way. */
    uint8_t wire[BCKM_ENVELOPE_BYTES];
    REQUIRE(bckm_envelope_encode(&log[0], wire) == BCKM_OK);
    CHECK_EQ(bckm_contract_check_bytes(a, wire, sizeof wire), BCKM_ERR_REPLAY);
    CHECK(bckm_contract_check_bytes(a, wire, sizeof wire - 1) != BCKM_OK);
    bckm_plan_free(&p);
    bckm_state_free(a);
    bckm_state_free(b);
    bckm_state_free(c);
}

/* apply_verified is apply without the signature check, and nothing else:
 * the same envelopes give the same state, and every other rule still holds. */
static void verified_path(void) {
    setup();
    struct bckm_state *a, *b;
    REQUIRE(bckm_state_new(&a, BCKM_POLICY_OWNED, &bps) == BCKM_OK);
    REQUIRE(bckm_state_new(&b, BCKM_POLICY_OWNED, &bps) == BCKM_OK);
    struct bckm_plan p;
    bckm_plan_init(&p);
    uint64_t seq = 0;
    for (uint32_t i = 0; i < 12; i++) {
        struct bckm_tx t = join_tx(a, 2, 1 + i);
        struct bckm_envelope e = env_for(2, ++seq, &t, sk[2]);
        CHECK_EQ(bckm_contract_verify(a, &e), BCKM_OK);
        CHECK_EQ(bckm_contract_apply(a, &e, &p), BCKM_OK);
        CHECK_EQ(bckm_contract_apply_verified(b, &e, &p), BCKM_OK);
        /* Replay and unknown origin are still refused without the signature. */
        CHECK_EQ(bckm_contract_apply_verified(b, &e, &p), BCKM_ERR_REPLAY);
        struct bckm_envelope other = e;
        other.bp = 9;
        CHECK_EQ(bckm_contract_apply_verified(b, &other, &p), BCKM_ERR_PERM);
        CHECK_EQ(bckm_contract_verify(b, &other), BCKM_ERR_PERM);
    }
    uint8_t ha[32], hb[32];
    bckm_state_hash(a, ha);
    bckm_state_hash(b, hb);
    CHECK_MEM(ha, hb, 32);
    /* verify catches what apply_verified would let through: a flipped
     * signature bit, or a field changed after signing. */
    struct bckm_tx t = join_tx(a, 2, 50);
    struct bckm_envelope e = env_for(2, ++seq, &t, sk[2]);
    struct bckm_envelope bad = e;
    bad.sig[5] ^= 1;
    CHECK_EQ(bckm_contract_verify(a, &bad), BCKM_ERR_AUTH);
    bad = e;
    bad.seq++;
    CHECK_EQ(bckm_contract_verify(a, &bad), BCKM_ERR_AUTH);
    CHECK_EQ(bckm_contract_apply(a, &bad, &p), BCKM_ERR_AUTH);
    CHECK_EQ(bckm_contract_verify(a, &e), BCKM_OK);
    bckm_plan_free(&p);
    bckm_state_free(a);
    bckm_state_free(b);
}

CHECK_CASES(CASE(rule_table), CASE(replicas_agree), CASE(verified_path))
