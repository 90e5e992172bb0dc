/*
 * Paper III.B.3-4 on top of the Layer 1 world: sleeping nodes catch up,
 * orphans of a failed BP rejoin another BP (global and owned policies), and a
 * node moves to another BP. After each, every current member agrees on every
 * link key and the sharing rule holds.
 */
#include "check.h"
#include "l1world.h"

#include "bckm/rejoin.h"

#include <sodium.h>

static uint32_t random_member_of(struct l1world *w, int want_bp_alive) {
    for (int tries = 0; tries < 100000; tries++) {
        uint32_t i = l1_rand(w, w->fleet.ndevs);
        if (!w->fleet.devs[i].live || w->fleet.devs[i].asleep) continue;
        if (want_bp_alive && w->dead[w->fleet.devs[i].bp]) continue;
        return w->fleet.devs[i].node_id;
    }
    return 0;
}

static int random_ops(struct l1world *w, uint32_t count) {
    for (uint32_t k = 0; k < count; k++) {
        uint32_t bp;
        do bp = 1 + l1_rand(w, w->p);
        while (w->dead[bp]);
        int e;
        if (l1_rand(w, 100) < 55)
            e = l1_join(w, bp, NULL);
        else
            e = l1_leave(w, random_member_of(w, 1), BCKM_OP_LEAVE);
        if (e != BCKM_OK) {
            fprintf(stderr, "op failed: %s\n", bckm_strerror(e));
            return e;
        }
    }
    return BCKM_OK;
}

static void sleeping_nodes(bckm_policy pol, uint32_t n0, uint32_t ops, uint64_t seed) {
    struct l1world w;
    REQUIRE(l1_init(&w, 2, pol, n0 + 480, seed) == 0);
    l1_delivery_errors = 0;
    REQUIRE(l1_genesis(&w, n0) == BCKM_OK);
    uint32_t sleepers[6];
    for (int i = 0; i < 6; i++) {
        uint32_t u;
        do u = random_member_of(&w, 1);
        while (w.fleet.devs[l1_index(&w, u)].asleep);
        sleepers[i] = u;
        w.fleet.devs[l1_index(&w, u)].asleep = 1;
    }
    /* Sleepers are not picked to leave (random_member_of skips them). */
    REQUIRE(random_ops(&w, ops) == BCKM_OK);
    uint32_t behind = 0;
    for (int i = 0; i < 6; i++) {
        uint32_t di = l1_index(&w, sleepers[i]);
        struct bckm_device *d = w.fleet.devs[di].dev;
        if (d->epoch < bckm_sets_epoch(w.reg)) behind++;
        w.fleet.devs[di].asleep = 0;
        uint8_t ch[16];
        randombytes_buf(ch, sizeof ch);
        bckm_device_begin_resync(d, ch);
        struct bckm_msgs m;
        bckm_msgs_init(&m);
        CHECK_EQ(
            bckm_km_catch_up(w.fleet.km[w.fleet.devs[di].bp], w.reg, sleepers[i], d->epoch, ch, &m),
            BCKM_OK);
        l1_deliver(&w, w.fleet.devs[di].bp, &m);
        bckm_msgs_free(&m);
    }
    CHECK_EQ(behind, 6);
    CHECK_EQ(l1_delivery_errors, 0);
    CHECK_EQ(l1_check(&w, 400), 0);
    CHECK_EQ(l1_census(&w), 0);
    /* and the network goes on with them */
    CHECK_EQ(random_ops(&w, 20), BCKM_OK);
    CHECK_EQ(l1_check(&w, 200), 0);
    l1_free(&w);
}

static void sleep_short_owned(void) { sleeping_nodes(BCKM_POLICY_OWNED, 120, 40, 11); }
static void sleep_short_global(void) { sleeping_nodes(BCKM_POLICY_GLOBAL, 120, 40, 12); }
/* A network large enough that each commit's batch is larger than a
 * catch-up's: the catch-up, into a fresh message buffer, must still sign
 * (the commit's reserved signing workspace fits it, the buffer has no room
 * reserved for its trailers). */
static void sleep_large_network(void) {
    sleeping_nodes(BCKM_POLICY_GLOBAL, check_small() ? 1200 : 2000, 20, 14);
}
/* Longer than the key manager's log: the BP falls back to a bundle. */
static void sleep_beyond_log(void) {
    if (check_small())
        sleeping_nodes(BCKM_POLICY_OWNED, 120, 150, 13);
    else
        sleeping_nodes(BCKM_POLICY_OWNED, 120, BCKM_KM_LOG_EPOCHS + 50, 13);
}

/* BP 2 fails; its nodes are orphans until they rejoin another BP. */
static void bp_failure(bckm_policy pol, uint32_t p, uint64_t seed) {
    struct l1world w;
    REQUIRE(l1_init(&w, p, pol, 600, seed) == 0);
    l1_delivery_errors = 0;
    REQUIRE(l1_genesis(&w, 150) == BCKM_OK);
    w.dead[2] = 1;
    for (uint32_t i = 0; i < w.fleet.ndevs; i++)
        if (w.fleet.devs[i].bp == 2) w.fleet.devs[i].asleep = 1; /* unreachable */
    REQUIRE(random_ops(&w, 25) == BCKM_OK);
    uint32_t orphans = 0, rejoined = 0;
    for (uint32_t i = 0; i < w.fleet.ndevs; i++) {
        if (!w.fleet.devs[i].live || w.fleet.devs[i].bp != 2) continue;
        orphans++;
        uint32_t b = pol == BCKM_POLICY_OWNED ? 1 : 1 + (i % 2 ? 0 : 2 % p);
        if (b == 2 || w.dead[b]) b = 1;
        uint8_t kek[32], ch[16];
        if (l1_rejoin(&w, w.fleet.devs[i].node_id, b, kek, ch) != BCKM_OK) continue;
        struct bckm_device *d = w.fleet.devs[i].dev;
        struct bckm_msgs m;
        bckm_msgs_init(&m);
        int e;
        if (pol == BCKM_POLICY_GLOBAL) {
            e = bckm_km_adopt_node(w.fleet.km[b], w.reg, w.fleet.devs[i].node_id, kek, ch, &m);
        } else {
            uint8_t hand[65536], nonce[24] = { (uint8_t)i };
            size_t hl = 0;
            e = bckm_device_export(d, nonce, hand, sizeof hand, &hl);
            if (e == BCKM_OK)
                e = bckm_km_import_handover(w.fleet.km[b], w.reg, w.fleet.devs[i].node_id, kek,
                                            hand, hl, &m);
        }
        if (e == BCKM_OK) e = l1_reattach(&w, w.fleet.devs[i].node_id, b);
        if (e != BCKM_OK) fprintf(stderr, "adoption failed: %s\n", bckm_strerror(e));
        w.fleet.devs[i].bp = b;
        w.fleet.devs[i].asleep = 0;
        l1_deliver(&w, b, &m);
        bckm_msgs_free(&m);
        if (e == BCKM_OK) rejoined++;
    }
    CHECK(orphans > 10);
    CHECK_EQ(rejoined, orphans);
    CHECK_EQ(l1_delivery_errors, 0);
    CHECK_EQ(l1_check(&w, 400), 0);
    CHECK_EQ(l1_census(&w), 0);
    /* The adopting BP serves them from then on: leaves of adopted nodes,
     * rekeys of their sets, Reorder moves. */
    REQUIRE(random_ops(&w, 60) == BCKM_OK);
    CHECK_EQ(l1_delivery_errors, 0);
    CHECK_EQ(l1_check(&w, 400), 0);
    CHECK_EQ(l1_census(&w), 0);
    l1_free(&w);
}

static void bp_failure_global(void) { bp_failure(BCKM_POLICY_GLOBAL, 3, 21); }
static void bp_failure_owned(void) { bp_failure(BCKM_POLICY_OWNED, 2, 22); }

/* Mobility: a node moves out of its BP's range and rejoins another BP, the
 * same path as after a failure, while its old BP stays up. */
static void mobility(void) {
    struct l1world w;
    REQUIRE(l1_init(&w, 3, BCKM_POLICY_GLOBAL, 600, 31) == 0);
    l1_delivery_errors = 0;
    REQUIRE(l1_genesis(&w, 90) == BCKM_OK);
    uint32_t moved = 0;
    for (int k = 0; k < 10; k++) {
        uint32_t u = random_member_of(&w, 1), i = l1_index(&w, u);
        uint32_t b = 1 + (w.fleet.devs[i].bp % 3);
        CHECK_EQ(l1_move_to(&w, u, b), BCKM_OK);
        CHECK_EQ(w.fleet.devs[i].bp, b);
        moved++;
        REQUIRE(random_ops(&w, 5) == BCKM_OK);
    }
    CHECK_EQ(moved, 10);
    CHECK_EQ(l1_delivery_errors, 0);
    CHECK_EQ(l1_check(&w, 300), 0);
    CHECK_EQ(l1_census(&w), 0);
    l1_free(&w);
}

/* The proof of the code cannot be replayed: a BP that saw one proof (or the
 * commitment) cannot answer a fresh challenge. */
static void proof_not_replayable(void) {
    uint8_t code[32] = { 5 }, commit[32], hello[36], chal[BCKM_REJOIN_CHALLENGE_BYTES], proof[64];
    uint8_t chal2[BCKM_REJOIN_CHALLENGE_BYTES], seed[32] = { 9 }, sk[64], root[32];
    struct bckm_bp_table bps;
    struct bckm_rejoin_node ns;
    struct bckm_rejoin_bp bs, bs2;
    memset(&bps, 0, sizeof bps);
    crypto_sign_seed_keypair(bps.pk[4], sk, seed);
    bps.has[4] = 1;
    bckm_bps_root(&bps, root);
    bckm_code_commit(code, commit);
    REQUIRE(bckm_rejoin_node_hello(&ns, 77, NULL, hello) == BCKM_OK);
    REQUIRE(bckm_rejoin_bp_challenge(&bs, 4, sk, hello, NULL, chal) == BCKM_OK);
    REQUIRE(bckm_rejoin_node_prove(&ns, root, &bps, code, chal, proof, NULL, NULL) == BCKM_OK);
    CHECK_EQ(bckm_rejoin_bp_verify(&bs, commit, proof), BCKM_OK);
    /* the same proof against a new challenge (same hello) fails */
    REQUIRE(bckm_rejoin_bp_challenge(&bs2, 4, sk, hello, NULL, chal2) == BCKM_OK);
    CHECK_EQ(bckm_rejoin_bp_verify(&bs2, commit, proof), BCKM_ERR_AUTH);
    /* a wrong code fails */
    uint8_t other[32] = { 6 };
    REQUIRE(bckm_rejoin_node_hello(&ns, 77, NULL, hello) == BCKM_OK);
    REQUIRE(bckm_rejoin_bp_challenge(&bs, 4, sk, hello, NULL, chal) == BCKM_OK);
    REQUIRE(bckm_rejoin_node_prove(&ns, root, &bps, other, chal, proof, NULL, NULL) == BCKM_OK);
    CHECK_EQ(bckm_rejoin_bp_verify(&bs, commit, proof), BCKM_ERR_AUTH);
    /* the commitment reveals nothing usable as a proof */
    REQUIRE(bckm_rejoin_bp_challenge(&bs, 4, sk, hello, NULL, chal) == BCKM_OK);
    uint8_t fake[64];
    memcpy(fake, commit, 32);
    memcpy(fake + 32, commit, 32);
    CHECK_EQ(bckm_rejoin_bp_verify(&bs, commit, fake), BCKM_ERR_AUTH);
    sodium_memzero(sk, sizeof sk);
}

CHECK_CASES(CASE(sleep_short_owned), CASE(sleep_short_global), CASE(sleep_large_network),
            CASE(sleep_beyond_log), CASE(bp_failure_global), CASE(bp_failure_owned), CASE(mobility),
            CASE(proof_not_replayable))
