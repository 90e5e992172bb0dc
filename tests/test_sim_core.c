/* Unit tests of the simulator's building blocks: PRNG, event queue, fault
 * spec parser, test application, mempool, block format. */
#include <sodium.h>

#include "bckm/common.h"
#include "check.h"
#include "sim/block.h"
#include "sim/evq.h"
#include "sim/kvapp.h"
#include "sim/mempool.h"
#include "sim/net.h"
#include "sim/rng.h"

static void test_rng_deterministic(void) {
    bckm_sim_rng a, b, c;
    bckm_sim_rng_seed(&a, 42);
    bckm_sim_rng_seed(&b, 42);
    bckm_sim_rng_seed(&c, 43);
    int same = 1, differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = bckm_sim_rng_next(&a), y = bckm_sim_rng_next(&b), z = bckm_sim_rng_next(&c);
        if (x != y) same = 0;
        if (x != z) differ = 1;
    }
    CHECK(same);
    CHECK(differ);
    CHECK(bckm_sim_seed_derive(1, "net") != bckm_sim_seed_derive(1, "faults"));
    CHECK(bckm_sim_seed_derive(1, "net") != bckm_sim_seed_derive(2, "net"));
    CHECK_EQ(bckm_sim_seed_derive(7, "net"), bckm_sim_seed_derive(7, "net"));
}

static void test_rng_ranges(void) {
    bckm_sim_rng r;
    bckm_sim_rng_seed(&r, 0);
    unsigned hist[7] = { 0 };
    int in_range = 1;
    for (int i = 0; i < 7000; i++) {
        uint64_t v = bckm_sim_rng_below(&r, 7);
        if (v >= 7)
            in_range = 0;
        else
            hist[v]++;
        uint64_t w = bckm_sim_rng_range(&r, 10, 12);
        if (w < 10 || w > 12) in_range = 0;
    }
    CHECK(in_range);
    for (int i = 0; i < 7; i++) CHECK(hist[i] > 800 && hist[i] < 1200);
    CHECK_EQ(bckm_sim_rng_below(&r, 0), 0);
    CHECK(!bckm_sim_rng_chance(&r, 0, 10));
    CHECK(bckm_sim_rng_chance(&r, 10, 10));
    CHECK(!bckm_sim_rng_chance(&r, 1, 0));
    unsigned hits = 0;
    for (int i = 0; i < 10000; i++) hits += (unsigned)bckm_sim_rng_chance(&r, 1, 4);
    CHECK(hits > 2200 && hits < 2800);
}

static void test_evq_order(void) {
    bckm_sim_evq q;
    bckm_sim_evq_init(&q);
    bckm_sim_rng r;
    bckm_sim_rng_seed(&r, 5);
    for (uint32_t i = 0; i < 2000; i++)
        REQUIRE(bckm_sim_evq_push(&q, bckm_sim_rng_below(&r, 50), 0, i, 0, NULL) == BCKM_OK);
    bckm_sim_event e, prev = { 0, 0, 0, 0, 0, NULL };
    int ordered = 1, n = 0;
    while (bckm_sim_evq_pop(&q, &e)) {
        /* time never decreases; equal times keep insertion order */
        if (n > 0 &&
            (e.time_us < prev.time_us || (e.time_us == prev.time_us && e.target < prev.target)))
            ordered = 0;
        if (q.now_us != e.time_us) ordered = 0;
        prev = e;
        n++;
    }
    CHECK(ordered);
    CHECK_EQ(n, 2000);
    /* the clock does not run backwards: a past event is clamped to now */
    REQUIRE(bckm_sim_evq_push(&q, 1, 0, 0, 0, NULL) == BCKM_OK);
    CHECK(bckm_sim_evq_pop(&q, &e));
    CHECK_EQ(e.time_us, prev.time_us);
    CHECK_EQ(bckm_sim_evq_peek_time(&q), UINT64_MAX);
    bckm_sim_evq_free(&q);
}

static void test_faults_parse_good(void) {
    bckm_sim_faults f;
    char err[128];
    REQUIRE(bckm_sim_faults_parse("loss=1/100,dup=1/200,partition=1/1000,crash=1/5000,byz=silent",
                                  &f, err, sizeof err) == BCKM_OK);
    CHECK_EQ(f.loss.num, 1);
    CHECK_EQ(f.loss.den, 100);
    CHECK_EQ(f.dup.den, 200);
    CHECK_EQ(f.partition.den, 1000);
    CHECK_EQ(f.crash.den, 5000);
    CHECK_EQ(f.byz_kind, BCKM_BYZ_SILENT);
    CHECK_EQ(f.byz_count, -1);
    REQUIRE(bckm_sim_faults_parse("none", &f, err, sizeof err) == BCKM_OK);
    CHECK_EQ(f.loss.num, 0);
    REQUIRE(bckm_sim_faults_parse("", &f, err, sizeof err) == BCKM_OK);
    REQUIRE(bckm_sim_faults_parse("byz=mixed,byzn=2,reorder=0/1", &f, err, sizeof err) == BCKM_OK);
    CHECK_EQ(f.byz_kind, BCKM_BYZ_MIXED);
    CHECK_EQ(f.byz_count, 2);
}

static void test_faults_parse_bad(void) {
    static const char *const bad[] = {
        "loss",
        "loss=",
        "loss=1",
        "loss=1/0",
        "loss=2/1",
        "loss=-1/2",
        "loss=1/2/3",
        "loss=a/b",
        "loss=1/100,loss=1/100",
        "drop=1/2",
        ",",
        "loss=1/2,",
        ",loss=1/2",
        "loss=1/2,,dup=1/2",
        "byz=evil",
        "byzn=2",
        "byz=silent,byzn=x",
        "byz=silent,byzn=999",
        "loss=99999999999/99999999999",
        "loss=1 /2",
        "loss=+1/2",
        "LOSS=1/2",
        "byz=",
        "loss=1000000001/1000000002",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bckm_sim_faults f;
        char err[128];
        int rc = bckm_sim_faults_parse(bad[i], &f, err, sizeof err);
        CHECK(rc == BCKM_ERR_FORMAT);
        CHECK(err[0] != '\0');
        if (rc == BCKM_OK) fprintf(stderr, "accepted bad spec '%s'\n", bad[i]);
    }
    bckm_sim_faults f;
    CHECK(bckm_sim_faults_parse(NULL, &f, NULL, 0) == BCKM_ERR_ARG);
    CHECK(bckm_sim_faults_parse("loss=1/2", NULL, NULL, 0) == BCKM_ERR_ARG);
}

static void test_profiles(void) {
    const bckm_sim_profile *t = bckm_sim_profile_find("tendermint");
    REQUIRE(t != NULL);
    CHECK_EQ(t->block_interval_us, 1000000);
    CHECK(bckm_sim_profile_find("lan") != NULL);
    CHECK(bckm_sim_profile_find("wan") != NULL);
    CHECK(bckm_sim_profile_find("moon") == NULL);
    CHECK(bckm_sim_profile_find("lan")->one_way_us < bckm_sim_profile_find("wan")->one_way_us);
}

static void test_kvapp_conflict_and_snapshot(void) {
    REQUIRE(sodium_init() >= 0);
    uint8_t key[32] = { 1, 2, 3 };
    bckm_sim_app a = bckm_kv_new(8, key), b = bckm_kv_new(8, key);
    REQUIRE(a.self != NULL && b.self != NULL);
    uint8_t t1[BCKM_KV_TX_BYTES], t2[BCKM_KV_TX_BYTES], bad[BCKM_KV_TX_BYTES];
    bckm_kv_make_tx(t1, key, 1, 3, 0, 111);
    bckm_kv_make_tx(t2, key, 2, 3, 0, 222);
    memcpy(bad, t1, sizeof bad);
    bad[30] ^= 1;
    /* both pass CheckTx against the same committed state ... */
    CHECK_EQ(a.ops->check_tx(a.self, t1, sizeof t1), BCKM_SIM_TX_OK);
    CHECK_EQ(a.ops->check_tx(a.self, t2, sizeof t2), BCKM_SIM_TX_OK);
    CHECK_EQ(a.ops->verify_tx(a.self, bad, sizeof bad), BCKM_KV_REJ_TAG);
    CHECK_EQ(a.ops->verify_tx(a.self, t1, 10), BCKM_KV_REJ_FORMAT);
    /* ... but only the first ordered executes */
    a.ops->begin_block(a.self, 1);
    CHECK_EQ(a.ops->deliver_tx(a.self, t1, sizeof t1), BCKM_SIM_TX_OK);
    CHECK_EQ(a.ops->deliver_tx(a.self, t2, sizeof t2), BCKM_KV_REJ_CONFLICT);
    CHECK_EQ(a.ops->deliver_tx(a.self, t1, sizeof t1), BCKM_KV_REJ_DUPLICATE);
    uint8_t ha[32], hb[32];
    a.ops->commit(a.self, ha);
    CHECK_EQ(bckm_kv_version(&a, 3), 1);
    uint8_t *snap;
    size_t snap_len;
    REQUIRE(a.ops->snapshot(a.self, &snap, &snap_len) == BCKM_OK);
    REQUIRE(b.ops->restore(b.self, snap, snap_len) == BCKM_OK);
    b.ops->commit(b.self, hb);
    CHECK_MEM(ha, hb, 32);
    CHECK_EQ(b.ops->height(b.self), 1);
    snap[snap_len - 1] ^= 1; /* an altered executed-id list breaks the chain */
    CHECK(b.ops->restore(b.self, snap, snap_len) == BCKM_ERR_CORRUPT);
    CHECK(b.ops->restore(b.self, snap, 10) == BCKM_ERR_TRUNCATED);
    free(snap);
    a.ops->destroy(a.self);
    b.ops->destroy(b.self);
}

static void test_mempool(void) {
    REQUIRE(sodium_init() >= 0);
    uint8_t key[32] = { 9 };
    bckm_sim_app a = bckm_kv_new(4, key);
    REQUIRE(a.self != NULL);
    bckm_sim_mempool m;
    bckm_sim_mempool_init(&m, 2, 16);
    uint8_t t1[BCKM_KV_TX_BYTES], t2[BCKM_KV_TX_BYTES], t3[BCKM_KV_TX_BYTES];
    bckm_kv_make_tx(t1, key, 1, 0, 0, 5);
    bckm_kv_make_tx(t2, key, 2, 0, 0, 6); /* conflicts with t1 */
    bckm_kv_make_tx(t3, key, 3, 1, 0, 7);
    CHECK_EQ(bckm_sim_mempool_add(&m, &a, t1, sizeof t1, 10), BCKM_OK);
    CHECK_EQ(bckm_sim_mempool_add(&m, &a, t1, sizeof t1, 11), BCKM_ERR_EXISTS);
    CHECK_EQ(bckm_sim_mempool_add(&m, &a, t2, sizeof t2, 12), BCKM_OK);
    CHECK_EQ(bckm_sim_mempool_add(&m, &a, t3, sizeof t3, 13), BCKM_ERR_STATE);
    CHECK_EQ(bckm_sim_mempool_oldest(&m), 10);
    static const uint8_t zero[32];
    bckm_sim_block b;
    bckm_sim_block_init(&b, 1, zero, 0, 0, zero);
    REQUIRE(bckm_sim_mempool_reap(&m, 1, &b) == BCKM_OK);
    CHECK_EQ(b.h.n_txs, 1);
    a.ops->begin_block(a.self, 1);
    CHECK_EQ(a.ops->deliver_tx(a.self, t1, sizeof t1), BCKM_SIM_TX_OK);
    uint8_t h[32];
    a.ops->commit(a.self, h);
    /* t1 leaves with the block; t2 fails the recheck (its version is stale) */
    bckm_sim_mempool_update(&m, &a, &b);
    CHECK_EQ(m.len, 0);
    CHECK_EQ(m.rechecked_out, 1);
    CHECK_EQ(bckm_sim_mempool_add(&m, &a, t1, sizeof t1, 20), BCKM_KV_REJ_DUPLICATE);
    free(b.body);
    bckm_sim_mempool_free(&m);
    a.ops->destroy(a.self);
}

/* The simulator's block is core's: the digest is core's block hash over
 * the header with the body's root, and a body that disagrees with its
 * header has no digest. */
static void test_block_format(void) {
    uint8_t prev[32] = { 7 }, state[32] = { 9 };
    bckm_sim_block b;
    bckm_sim_block_init(&b, 3, prev, 1, 100, state);
    uint8_t tx[5] = { 1, 2, 3, 4, 5 }, d1[32], d2[32];
    REQUIRE(bckm_sim_block_add_tx(&b, tx, 5) == BCKM_OK);
    REQUIRE(bckm_sim_block_add_tx(&b, tx, 3) == BCKM_OK);
    CHECK(bckm_sim_block_add_tx(&b, tx, 0) == BCKM_ERR_ARG);
    CHECK_EQ(b.h.n_txs, 2);
    CHECK_EQ(b.h.proposer, 2); /* replica 1 is BP 2 */
    CHECK_EQ(bckm_sim_block_proposer(&b), 1);
    REQUIRE(bckm_sim_block_digest(&b, d1) == BCKM_OK);
    /* The digest is core's hash of the header. */
    uint8_t hh[32];
    REQUIRE(bckm_block_hash(&b.h, hh) == BCKM_OK);
    CHECK_MEM(d1, hh, 32);
    uint32_t off = 0;
    const uint8_t *p;
    size_t len;
    CHECK_EQ(bckm_sim_block_next_tx(&b, &off, &p, &len), 1);
    CHECK_EQ(len, 5);
    CHECK_EQ(bckm_sim_block_next_tx(&b, &off, &p, &len), 1);
    CHECK_EQ(len, 3);
    CHECK_EQ(bckm_sim_block_next_tx(&b, &off, &p, &len), 0);
    /* Encoded and decoded: the same block. */
    uint8_t *enc = NULL;
    size_t elen = 0;
    bckm_sim_block *back = NULL;
    REQUIRE(bckm_sim_block_encode(&b, &enc, &elen) == BCKM_OK);
    CHECK_EQ(elen, BCKM_BLOCK_HEADER_BYTES + b.body_len);
    REQUIRE(bckm_sim_block_decode(enc, elen, &back) == BCKM_OK);
    REQUIRE(bckm_sim_block_digest(back, d2) == BCKM_OK);
    CHECK_MEM(d1, d2, 32);
    CHECK_EQ(back->body_len, b.body_len);
    /* A body altered under its header: no digest, and not decodable. */
    enc[BCKM_BLOCK_HEADER_BYTES + 2] ^= 1;
    bckm_sim_block *bad = NULL;
    CHECK_EQ(bckm_sim_block_decode(enc, elen, &bad), BCKM_ERR_MISMATCH);
    CHECK(bad == NULL);
    b.body[2] ^= 1;
    CHECK_EQ(bckm_sim_block_digest(&b, d2), BCKM_ERR_MISMATCH);
    b.body[2] ^= 1;
    b.body[1] = 200; /* length runs past the end */
    off = 0;
    CHECK_EQ(bckm_sim_block_next_tx(&b, &off, &p, &len), BCKM_ERR_FORMAT);
    CHECK(bckm_sim_block_digest(&b, d2) != BCKM_OK);
    b.body[1] = 5;
    /* Every header field is hashed: the proposer, the time, the state. */
    REQUIRE(bckm_sim_block_digest(&b, d2) == BCKM_OK);
    CHECK_MEM(d1, d2, 32);
    b.h.time++;
    REQUIRE(bckm_sim_block_digest(&b, d2) == BCKM_OK);
    CHECK(memcmp(d1, d2, 32) != 0);
    b.h.time--;
    b.h.state_hash[5] ^= 1;
    REQUIRE(bckm_sim_block_digest(&b, d2) == BCKM_OK);
    CHECK(memcmp(d1, d2, 32) != 0);
    b.h.state_hash[5] ^= 1;
    b.h.proposer = 0; /* not a BP ID */
    CHECK_EQ(bckm_sim_block_digest(&b, d2), BCKM_ERR_FORMAT);
    free(enc);
    bckm_sim_block_free(back);
    free(b.body);
}

CHECK_CASES(CASE(test_rng_deterministic), CASE(test_rng_ranges), CASE(test_evq_order),
            CASE(test_faults_parse_good), CASE(test_faults_parse_bad), CASE(test_profiles),
            CASE(test_kvapp_conflict_and_snapshot), CASE(test_mempool), CASE(test_block_format))
