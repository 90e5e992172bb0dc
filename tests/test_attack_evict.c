/*
 * Issue 14, attack 5: who may evict whom. Only the BP serving a node (the
 * one that took its join, or the one its last REATTACH names) may leave or
 * evict it; a REATTACH needs the node's own signed consent, fresh; code-hash
 * uniqueness is decided on all 32 bytes. Every refusal leaves the state
 * hash unchanged.
 */
#include "check.h"
#include "l1world.h"

#include <sodium.h>

#include "bckm/contract.h"
#include "layer2_fixtures.h"
#include "bckm/ledger.h"
#include "bckm/rejoin.h"
#include "ledger_chain.h"

#include <stdlib.h>

static struct bckm_bp_table bps;
static uint8_t sk[4][64];
static uint64_t seq[4];

static void setup(void) {
    memset(&bps, 0, sizeof bps);
    memset(seq, 0, sizeof seq);
    for (uint32_t b = 1; b <= 3; b++) {
        uint8_t seed[32] = { 0xE7, (uint8_t)b };
        crypto_sign_seed_keypair(bps.pk[b], sk[b], seed);
        bps.has[b] = 1;
    }
}

static void code_of(uint32_t bp, uint32_t counter, uint8_t code[32]) {
    memset(code, 0, 32);
    code[0] = 0xC0;
    bckm_put_u32(code + 1, bp);
    bckm_put_u32(code + 5, counter);
}

/* A signed envelope of the right version for its op (consent may be NULL). */
static struct bckm_envelope env_for(uint32_t bp, const struct bckm_tx *tx, const uint8_t *consent,
                                    const uint8_t *key) {
    struct bckm_envelope e;
    memset(&e, 0, sizeof e);
    e.version = tx->op == BCKM_OP_REATTACH ? BCKM_ENVELOPE_VERSION_REATTACH : BCKM_ENVELOPE_VERSION;
    e.bp = bp;
    e.seq = ++seq[bp];
    e.tx = *tx;
    if (consent != NULL) memcpy(e.consent, consent, BCKM_SIG_BYTES);
    if (bckm_envelope_sign(&e, key) != BCKM_OK) e.version = 0;
    return e;
}

static struct bckm_tx join_tx_hash(const struct bckm_state *st, uint32_t bp, uint32_t counter,
                                   const uint8_t hash[32]) {
    struct bckm_tx t;
    memset(&t, 0, sizeof t);
    t.op = BCKM_OP_JOIN;
    t.node_id = bckm_id_make(bp, counter);
    memcpy(t.code_hash, hash, 32);
    t.set_id = fix_assigned_set(bckm_state_registry(st), bp);
    t.refresh[0] = (uint8_t)counter;
    return t;
}

static uint32_t join(struct bckm_state *st, uint32_t bp, uint32_t counter) {
    uint8_t code[32], hash[32];
    struct bckm_plan p;
    bckm_plan_init(&p);
    code_of(bp, counter, code);
    bckm_code_commit(code, hash);
    struct bckm_tx t = join_tx_hash(st, bp, counter, hash);
    struct bckm_envelope e = env_for(bp, &t, NULL, sk[bp]);
    CHECK_EQ(bckm_contract_apply(st, &e, &p), BCKM_OK);
    bckm_plan_free(&p);
    return t.node_id;
}

static struct bckm_tx leave_tx(const struct bckm_state *st, uint32_t node, uint8_t op) {
    struct bckm_tx t;
    memset(&t, 0, sizeof t);
    t.op = op;
    t.node_id = node;
    CHECK_EQ(bckm_sets_node(bckm_state_registry(st), node, &t.set_id, NULL), BCKM_OK);
    CHECK_EQ(bckm_sets_code_hash(bckm_state_registry(st), node, t.code_hash), BCKM_OK);
    t.refresh[1] = 0x5E;
    return t;
}

/* Applies e and expects want; on a refusal the state hash, the epoch and
 * the node's serving BP are unchanged. */
static void expect(struct bckm_state *st, const struct bckm_envelope *e, int want,
                   const char *what) {
    uint8_t before[32], after[32];
    uint32_t node = e->tx.node_id, at0 = 0, at1 = 0;
    const struct bckm_sets *r = bckm_state_registry(st);
    int was_member = bckm_sets_node(r, node, NULL, &at0) == BCKM_OK;
    uint64_t epoch = bckm_sets_epoch(r);
    struct bckm_plan p;
    bckm_plan_init(&p);
    bckm_state_hash(st, before);
    int got = bckm_contract_apply(st, e, &p);
    bckm_state_hash(st, after);
    if (got != want)
        fprintf(stderr, "case '%s': got %s, want %s\n", what, bckm_strerror(got),
                bckm_strerror(want));
    CHECK_EQ(got, want);
    if (want != BCKM_OK) {
        CHECK_MEM(before, after, 32);
        CHECK_EQ(bckm_sets_epoch(r), epoch);
        CHECK_EQ(bckm_sets_node(r, node, NULL, &at1) == BCKM_OK, was_member);
        CHECK_EQ(at1, at0);
    } else {
        CHECK(memcmp(before, after, 32) != 0);
    }
    bckm_plan_free(&p);
}

static uint32_t serving(const struct bckm_state *st, uint32_t node) {
    uint32_t at = 0;
    if (bckm_sets_node(bckm_state_registry(st), node, NULL, &at) != BCKM_OK) return 0;
    return at;
}

/* The node's consent to bp with counter ctr, and the REATTACH envelope bp
 * sends with it. */
static struct bckm_envelope reattach_env(const struct bckm_state *st, uint32_t node,
                                         uint32_t joined_bp, uint32_t counter, uint32_t bp,
                                         uint64_t ctr) {
    uint8_t code[32], consent[64];
    struct bckm_tx t;
    code_of(joined_bp, counter, code);
    CHECK_EQ(bckm_reattach_consent(code, node, bp, ctr, consent), BCKM_OK);
    CHECK_EQ(bckm_sets_reattach_tx(bckm_state_registry(st), node, ctr, &t), BCKM_OK);
    bckm_wipe(code, sizeof code);
    return env_for(bp, &t, consent, sk[bp]);
}

/* A BP that does not serve a node can neither leave nor evict it; the
 * serving BP can. */
static void only_serving_bp_evicts(void) {
    setup();
    struct bckm_state *st;
    REQUIRE(bckm_state_new(&st, BCKM_POLICY_GLOBAL, &bps) == BCKM_OK);
    uint32_t u = 0, v = 0;
    for (uint32_t i = 1; i <= 5; i++) {
        u = join(st, 1, i);
        v = join(st, 2, i);
    }
    struct bckm_tx ev = leave_tx(st, u, BCKM_OP_EVICT), lv = leave_tx(st, u, BCKM_OP_LEAVE);
    struct bckm_envelope e = env_for(2, &ev, NULL, sk[2]);
    expect(st, &e, BCKM_ERR_PERM, "evict by a BP that does not serve the node");
    e = env_for(3, &ev, NULL, sk[3]);
    expect(st, &e, BCKM_ERR_PERM, "evict by a third BP");
    e = env_for(2, &lv, NULL, sk[2]);
    expect(st, &e, BCKM_ERR_PERM, "leave by a BP that does not serve the node");
    CHECK_EQ(bckm_contract_check(st, &e), BCKM_ERR_PERM);
    /* The same change from the serving BP goes through. */
    e = env_for(1, &ev, NULL, sk[1]);
    expect(st, &e, BCKM_OK, "evict by the serving BP");
    CHECK_EQ(serving(st, u), 0);
    struct bckm_tx lv2 = leave_tx(st, v, BCKM_OP_LEAVE);
    e = env_for(1, &lv2, NULL, sk[1]);
    expect(st, &e, BCKM_ERR_PERM, "BP 1 leaving BP 2's node");
    e = env_for(2, &lv2, NULL, sk[2]);
    expect(st, &e, BCKM_OK, "BP 2 leaving its own node");
    bckm_state_free(st);
}

/* A REATTACH whose consent is forged, made for another BP, or tampered is
 * refused, and the node stays with its BP. */
static void reattach_forged_refused(void) {
    setup();
    struct bckm_state *st;
    REQUIRE(bckm_state_new(&st, BCKM_POLICY_GLOBAL, &bps) == BCKM_OK);
    uint32_t u = 0;
    for (uint32_t i = 1; i <= 4; i++) {
        u = join(st, 1, i);
        (void)join(st, 2, i);
    }
    struct bckm_tx t;
    REQUIRE(bckm_sets_reattach_tx(bckm_state_registry(st), u, 1, &t) == BCKM_OK);
    uint8_t zero[64] = { 0 }, wrong_code[32], consent[64];
    struct bckm_envelope e = env_for(2, &t, zero, sk[2]);
    expect(st, &e, BCKM_ERR_AUTH, "REATTACH with no consent");
    /* Signed with a code that is not the node's (the BP's own guess). */
    code_of(2, 77, wrong_code);
    REQUIRE(bckm_reattach_consent(wrong_code, u, 2, 1, consent) == BCKM_OK);
    e = env_for(2, &t, consent, sk[2]);
    expect(st, &e, BCKM_ERR_AUTH, "REATTACH with a consent made without the node's code");
    /* The node's real consent, but to BP 3: BP 2 cannot use it. */
    uint8_t code[32];
    code_of(1, 4, code);
    REQUIRE(bckm_reattach_consent(code, u, 3, 1, consent) == BCKM_OK);
    e = env_for(2, &t, consent, sk[2]);
    expect(st, &e, BCKM_ERR_AUTH, "REATTACH with a consent given to another BP");
    /* The node's consent to BP 2 for counter 1, on a transaction naming 2. */
    REQUIRE(bckm_reattach_consent(code, u, 2, 1, consent) == BCKM_OK);
    struct bckm_tx t2 = t;
    t2.refresh[7] = 2;
    e = env_for(2, &t2, consent, sk[2]);
    expect(st, &e, BCKM_ERR_AUTH, "REATTACH naming another counter than the consent");
    t2 = t;
    t2.refresh[15] = 1;
    e = env_for(2, &t2, consent, sk[2]);
    expect(st, &e, BCKM_ERR_FORMAT, "REATTACH with nonzero padding");
    t2 = t;
    t2.code_hash[31] ^= 1;
    e = env_for(2, &t2, consent, sk[2]);
    expect(st, &e, BCKM_ERR_MISMATCH, "REATTACH naming another commitment");
    t2 = t;
    bckm_put_u64(t2.refresh, 0);
    e = env_for(2, &t2, consent, sk[2]);
    expect(st, &e, BCKM_ERR_REPLAY, "REATTACH with counter 0");
    /* A REATTACH in a version-1 envelope, or without consent, is refused. */
    e = env_for(2, &t, consent, sk[2]);
    e.version = BCKM_ENVELOPE_VERSION;
    CHECK_EQ(bckm_contract_check(st, &e), BCKM_ERR_FORMAT);
    struct bckm_plan p;
    bckm_plan_init(&p);
    CHECK_EQ(bckm_contract_genesis(st, 2, &t, &p), BCKM_ERR_PERM);
    bckm_plan_free(&p);
    CHECK_EQ(serving(st, u), 1);
    /* Still unable to evict it. */
    struct bckm_tx ev = leave_tx(st, u, BCKM_OP_EVICT);
    e = env_for(2, &ev, NULL, sk[2]);
    expect(st, &e, BCKM_ERR_PERM, "evict after refused REATTACHes");
    bckm_wipe(code, sizeof code);
    bckm_state_free(st);
}

/* After a valid REATTACH the new BP serves the node: it can evict it and
 * the old BP cannot. No key epoch opens. */
static void reattach_moves_the_right_to_evict(void) {
    setup();
    struct bckm_state *st;
    REQUIRE(bckm_state_new(&st, BCKM_POLICY_GLOBAL, &bps) == BCKM_OK);
    uint32_t u = 0;
    for (uint32_t i = 1; i <= 4; i++) {
        u = join(st, 1, i);
        (void)join(st, 2, i);
    }
    uint64_t epoch = bckm_sets_epoch(bckm_state_registry(st));
    uint32_t set0;
    REQUIRE(bckm_sets_node(bckm_state_registry(st), u, &set0, NULL) == BCKM_OK);
    struct bckm_envelope e = reattach_env(st, u, 1, 4, 2, 1);
    struct bckm_plan p;
    bckm_plan_init(&p);
    CHECK_EQ(bckm_contract_check(st, &e), BCKM_OK);
    uint8_t h0[32], h1[32];
    bckm_state_hash(st, h0);
    CHECK_EQ(bckm_contract_apply(st, &e, &p), BCKM_OK);
    bckm_state_hash(st, h1);
    CHECK(memcmp(h0, h1, 32) != 0); /* part of the replicated state */
    CHECK_EQ(p.epoch, epoch);       /* no key epoch */
    CHECK_EQ(p.changed_count + p.retired_count + p.move_count + p.created_set, 0);
    CHECK_EQ(bckm_sets_epoch(bckm_state_registry(st)), epoch);
    uint32_t set1;
    REQUIRE(bckm_sets_node(bckm_state_registry(st), u, &set1, NULL) == BCKM_OK);
    CHECK_EQ(set1, set0);
    CHECK_EQ(serving(st, u), 2);
    CHECK_EQ(bckm_sets_reattach_ctr(bckm_state_registry(st), u), 1);
    bckm_plan_free(&p);
    /* The same envelope again: a replay of the sequence number. */
    expect(st, &e, BCKM_ERR_REPLAY, "the same REATTACH envelope again");
    struct bckm_tx ev = leave_tx(st, u, BCKM_OP_EVICT);
    struct bckm_envelope x = env_for(1, &ev, NULL, sk[1]);
    expect(st, &x, BCKM_ERR_PERM, "evict by the old serving BP");
    x = env_for(2, &ev, NULL, sk[2]);
    expect(st, &x, BCKM_OK, "evict by the new serving BP");
    bckm_state_free(st);
}

/* An old consent cannot move a node back: after it consents to BP 2 (1),
 * then BP 1 (2), BP 2 cannot re-send consent 1; nor can a fresh envelope
 * reuse a counter. */
static void reattach_replayed_refused(void) {
    setup();
    struct bckm_state *st;
    REQUIRE(bckm_state_new(&st, BCKM_POLICY_GLOBAL, &bps) == BCKM_OK);
    uint32_t u = 0;
    for (uint32_t i = 1; i <= 4; i++) {
        u = join(st, 1, i);
        (void)join(st, 2, i);
    }
    struct bckm_envelope to2 = reattach_env(st, u, 1, 4, 2, 1);
    expect(st, &to2, BCKM_OK, "REATTACH to BP 2");
    struct bckm_envelope to1 = reattach_env(st, u, 1, 4, 1, 2);
    expect(st, &to1, BCKM_OK, "REATTACH back to BP 1");
    CHECK_EQ(serving(st, u), 1);
    /* BP 2 re-sends the node's old consent under a fresh sequence number. */
    struct bckm_envelope again = to2;
    again.seq = ++seq[2];
    REQUIRE(bckm_envelope_sign(&again, sk[2]) == BCKM_OK);
    expect(st, &again, BCKM_ERR_REPLAY, "the node's old consent replayed by BP 2");
    CHECK_EQ(serving(st, u), 1);
    struct bckm_tx ev = leave_tx(st, u, BCKM_OP_EVICT);
    struct bckm_envelope x = env_for(2, &ev, NULL, sk[2]);
    expect(st, &x, BCKM_ERR_PERM, "BP 2 evicting after the replay was refused");
    /* A consent with a counter not above the last (2) is refused too. */
    struct bckm_envelope same = reattach_env(st, u, 1, 4, 3, 2);
    expect(st, &same, BCKM_ERR_REPLAY, "a consent reusing counter 2");
    /* A REATTACH to the BP already serving moves the counter on. */
    struct bckm_envelope stay = reattach_env(st, u, 1, 4, 1, 5);
    expect(st, &stay, BCKM_OK, "REATTACH to the serving BP");
    struct bckm_envelope late = reattach_env(st, u, 1, 4, 3, 4);
    expect(st, &late, BCKM_ERR_REPLAY, "a consent older than the last one");
    CHECK_EQ(serving(st, u), 1);
    bckm_state_free(st);
}

/* Uniqueness on the full 32 bytes: two commitments sharing their first 8
 * (or 31) bytes are both accepted; the exact duplicate is refused. */
static void code_hash_full_uniqueness(void) {
    setup();
    struct bckm_state *st;
    REQUIRE(bckm_state_new(&st, BCKM_POLICY_OWNED, &bps) == BCKM_OK);
    uint8_t h[3][32];
    memset(h, 0xAB, sizeof h);
    h[1][8] ^= 1;  /* same first 8 bytes as h[0] */
    h[2][31] ^= 1; /* same first 31 bytes as h[0] */
    struct bckm_plan p;
    bckm_plan_init(&p);
    for (uint32_t i = 0; i < 3; i++) {
        struct bckm_tx t = join_tx_hash(st, 1, i + 1, h[i]);
        struct bckm_envelope e = env_for(1, &t, NULL, sk[1]);
        expect(st, &e, BCKM_OK, "a commitment sharing a prefix with another");
    }
    for (uint32_t i = 0; i < 3; i++) {
        uint32_t n = 0;
        CHECK_EQ(bckm_sets_node_by_code(bckm_state_registry(st), h[i], &n), BCKM_OK);
        CHECK_EQ(n, bckm_id_make(1, i + 1));
    }
    for (uint32_t i = 0; i < 3; i++) {
        struct bckm_tx t = join_tx_hash(st, 1, 10 + i, h[i]);
        struct bckm_envelope e = env_for(1, &t, NULL, sk[1]);
        expect(st, &e, BCKM_ERR_EXISTS, "a full duplicate commitment");
    }
    /* After the first node leaves, its commitment stays spent. */
    struct bckm_tx lv = leave_tx(st, bckm_id_make(1, 1), BCKM_OP_LEAVE);
    struct bckm_envelope e = env_for(1, &lv, NULL, sk[1]);
    expect(st, &e, BCKM_OK, "leave");
    struct bckm_tx t = join_tx_hash(st, 1, 20, h[0]);
    e = env_for(1, &t, NULL, sk[1]);
    expect(st, &e, BCKM_ERR_EXISTS, "a departed node's commitment again");
    /* Many random commitments: all distinct, all found, audit holds (the
     * index grows through several sizes). */
    for (uint32_t i = 0; i < 300; i++) {
        uint8_t r[32];
        randombytes_buf(r, sizeof r);
        memcpy(r, h[0], 8);
        t = join_tx_hash(st, 2, 1 + i, r);
        e = env_for(2, &t, NULL, sk[2]);
        CHECK_EQ(bckm_contract_apply(st, &e, &p), BCKM_OK);
        uint32_t n = 0;
        CHECK_EQ(bckm_sets_node_by_code(bckm_state_registry(st), r, &n), BCKM_OK);
        CHECK_EQ(n, t.node_id);
    }
    CHECK_EQ(bckm_sets_audit(bckm_state_registry(st)), BCKM_OK);
    /* The clone's index answers the same. */
    struct bckm_state *c;
    REQUIRE(bckm_state_clone(st, &c) == BCKM_OK);
    uint32_t n = 0;
    CHECK_EQ(bckm_sets_node_by_code(bckm_state_registry(c), h[2], &n), BCKM_OK);
    CHECK_EQ(n, bckm_id_make(1, 3));
    CHECK_EQ(bckm_sets_audit(bckm_state_registry(c)), BCKM_OK);
    bckm_state_free(c);
    bckm_plan_free(&p);
    bckm_state_free(st);
}

/* A REATTACH on the wire: 198 bytes, checked from bytes like any envelope;
 * the block body carries it between version-1 envelopes. */
static void reattach_on_the_wire(void) {
    setup();
    struct bckm_state *st;
    REQUIRE(bckm_state_new(&st, BCKM_POLICY_GLOBAL, &bps) == BCKM_OK);
    uint32_t u = 0;
    for (uint32_t i = 1; i <= 3; i++) u = join(st, 1, i);
    struct bckm_envelope e = reattach_env(st, u, 1, 3, 2, 1), d;
    uint8_t buf[BCKM_ENVELOPE_MAX_BYTES + 1];
    size_t n = 0;
    CHECK_EQ(bckm_envelope_encode(&e, buf), BCKM_ERR_ARG); /* does not fit 134 bytes */
    REQUIRE(bckm_envelope_encode_to(&e, buf, sizeof buf, &n) == BCKM_OK);
    CHECK_EQ(n, BCKM_ENVELOPE_V2_BYTES);
    CHECK_EQ(bckm_envelope_encode_to(&e, buf, n - 1, &n), BCKM_ERR_NOMEM);
    CHECK_EQ(bckm_contract_check_bytes(st, buf, BCKM_ENVELOPE_V2_BYTES), BCKM_OK);
    CHECK_EQ(bckm_envelope_decode(buf, BCKM_ENVELOPE_V2_BYTES, &d), BCKM_OK);
    CHECK_MEM(d.consent, e.consent, 64);
    /* A flipped consent bit: the BP signature fails (it covers the consent). */
    buf[80] ^= 1;
    CHECK_EQ(bckm_contract_check_bytes(st, buf, BCKM_ENVELOPE_V2_BYTES), BCKM_ERR_AUTH);
    buf[80] ^= 1;
    /* Version 1 with op 4, version 2 with op 2: malformed. */
    buf[0] = BCKM_ENVELOPE_VERSION;
    CHECK_EQ(bckm_envelope_decode(buf, BCKM_ENVELOPE_BYTES, &d), BCKM_ERR_FORMAT);
    buf[0] = BCKM_ENVELOPE_VERSION_REATTACH;
    buf[13] = BCKM_OP_LEAVE;
    CHECK_EQ(bckm_envelope_decode(buf, BCKM_ENVELOPE_V2_BYTES, &d), BCKM_ERR_FORMAT);
    bckm_state_free(st);
}

/* The key managers: after a REATTACH the old serving BP no longer serves
 * the node (its KEK is gone, it cannot prepare its leave), the new one can,
 * and nobody sends a message. */
static void key_managers_follow(void) {
    struct l1world w;
    REQUIRE(l1_init(&w, 2, BCKM_POLICY_GLOBAL, 200, 91) == 0);
    REQUIRE(l1_genesis(&w, 30) == BCKM_OK);
    uint32_t u = 0;
    for (uint32_t i = 0; i < w.fleet.ndevs && u == 0; i++)
        if (w.fleet.devs[i].bp == 1) u = w.fleet.devs[i].node_id;
    REQUIRE(u != 0);
    struct bckm_tx c;
    CHECK_EQ(bckm_km_prepare_leave(w.fleet.km[1], w.reg, u, BCKM_OP_EVICT, &c), BCKM_OK);
    CHECK_EQ(bckm_sets_check(w.reg, 1, &c), BCKM_OK);
    uint8_t kek[32] = { 0x4B }, ch[16] = { 0x11 };
    struct bckm_msgs m;
    bckm_msgs_init(&m);
    REQUIRE(bckm_km_adopt_node(w.fleet.km[2], w.reg, u, kek, ch, &m) == BCKM_OK);
    bckm_msgs_free(&m);
    /* BP 2 holds a KEK for the node but does not serve it on chain yet. */
    CHECK_EQ(bckm_km_prepare_leave(w.fleet.km[2], w.reg, u, BCKM_OP_EVICT, &c), BCKM_OK);
    CHECK_EQ(bckm_sets_check(w.reg, 2, &c), BCKM_ERR_PERM);
    CHECK_EQ(l1_reattach(&w, u, 2), BCKM_OK);
    CHECK_EQ(w.out[1].n + w.out[2].n, 0);
    CHECK_EQ(bckm_km_prepare_leave(w.fleet.km[1], w.reg, u, BCKM_OP_EVICT, &c), BCKM_ERR_PERM);
    CHECK_EQ(bckm_km_prepare_leave(w.fleet.km[2], w.reg, u, BCKM_OP_EVICT, &c), BCKM_OK);
    CHECK_EQ(bckm_sets_check(w.reg, 2, &c), BCKM_OK);
    CHECK_EQ(bckm_sets_check(w.reg, 1, &c), BCKM_ERR_PERM);
    l1_free(&w);
}

/* A committed REATTACH is stored by both ledgers (its record is longer
 * than a version-1 one), read back with its consent, and survives reopening
 * the LMDB store (whose open checks every record against its block). */
static void ledger_stores_reattach(void) {
    struct chain_keys keys;
    chain_keys_init(&keys);
    struct bckm_envelope envs[2];
    memset(envs, 0, sizeof envs);
    envs[0].version = BCKM_ENVELOPE_VERSION;
    envs[0].bp = 1;
    envs[0].seq = 1;
    envs[0].tx.op = BCKM_OP_JOIN;
    envs[0].tx.node_id = 0x01000001u;
    envs[0].tx.set_id = 0x01000001u;
    envs[1].version = BCKM_ENVELOPE_VERSION_REATTACH;
    envs[1].bp = 2;
    envs[1].seq = 1;
    envs[1].tx.op = BCKM_OP_REATTACH;
    envs[1].tx.node_id = 0x01000001u;
    envs[1].tx.set_id = 0x01000001u;
    bckm_put_u64(envs[1].tx.refresh, 1);
    memset(envs[1].consent, 0xC5, sizeof envs[1].consent);
    REQUIRE(bckm_envelope_sign(&envs[0], keys.sk[0]) == BCKM_OK);
    REQUIRE(bckm_envelope_sign(&envs[1], keys.sk[1]) == BCKM_OK);
    struct bckm_block_header h;
    memset(&h, 0, sizeof h);
    h.version = BCKM_BLOCK_VERSION;
    h.height = 1;
    h.proposer = 1;
    REQUIRE(bckm_block_seal(&h, envs, 2) == BCKM_OK);
    static uint8_t
        blk[BCKM_BLOCK_HEADER_BYTES + 2 * (BCKM_BLOCK_TX_PREFIX_BYTES + BCKM_ENVELOPE_MAX_BYTES)];
    static uint8_t cert[CHAIN_CERT_CAP];
    static struct bckm_cert c;
    size_t bl = 0, cl = 0;
    uint8_t hash[32];
    REQUIRE(bckm_block_encode(&h, envs, 2, blk, sizeof blk, &bl) == BCKM_OK);
    /* one record per envelope: u16 length || the envelope (134 and 198 bytes) */
    CHECK_EQ(bl, BCKM_BLOCK_HEADER_BYTES + 2 * BCKM_BLOCK_TX_PREFIX_BYTES + BCKM_ENVELOPE_BYTES +
                     BCKM_ENVELOPE_V2_BYTES);
    REQUIRE(bckm_block_hash(&h, hash) == BCKM_OK);
    memset(&c, 0, sizeof c);
    c.version = BCKM_CERT_VERSION;
    c.height = 1;
    c.view = 0;
    memcpy(c.block_hash, hash, 32);
    for (uint32_t b = 1; b <= 3; b++) {
        c.sigs[c.count].bp = b;
        REQUIRE(bckm_commit_sign(1, 0, hash, keys.sk[b - 1], c.sigs[c.count].sig) == BCKM_OK);
        c.count++;
    }
    REQUIRE(bckm_cert_encode(&c, cert, sizeof cert, &cl) == BCKM_OK);
    struct bckm_ledger_config cfg = chain_config(&keys);
    char dir[] = "/tmp/bckm-evict-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    for (int kind = 0; kind < 2; kind++) {
        bckm_ledger *l = NULL;
        if (kind == 0)
            REQUIRE(bckm_ledger_open_memory(&cfg, &l) == BCKM_OK);
        else
            REQUIRE(bckm_ledger_open_lmdb(dir, &cfg, &l) == BCKM_OK);
        CHECK_EQ(bckm_ledger_append(l, blk, bl, cert, cl, NULL), BCKM_OK);
        for (int again = 0; again < 1 + kind; again++) {
            if (again) {
                bckm_ledger_close(l);
                REQUIRE(bckm_ledger_open_lmdb(dir, &cfg, &l) == BCKM_OK);
            }
            struct bckm_ledger_entry out[4];
            size_t n = 0;
            CHECK_EQ(bckm_ledger_txs_after(l, BCKM_LEDGER_POS_START, out, 4, &n), BCKM_OK);
            CHECK_EQ(n, 2);
            CHECK_EQ(out[1].env.version, BCKM_ENVELOPE_VERSION_REATTACH);
            CHECK_MEM(out[1].env.consent, envs[1].consent, 64);
            CHECK_MEM(out[1].env.sig, envs[1].sig, 64);
        }
        bckm_ledger_close(l);
    }
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ(system(cmd), 0);
}

CHECK_CASES(CASE(only_serving_bp_evicts), CASE(reattach_forged_refused),
            CASE(reattach_moves_the_right_to_evict), CASE(reattach_replayed_refused),
            CASE(code_hash_full_uniqueness), CASE(reattach_on_the_wire), CASE(key_managers_follow),
            CASE(ledger_stores_reattach))
