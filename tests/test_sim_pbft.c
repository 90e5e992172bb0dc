/* The PBFT replica as a pure state machine, driven by hand: four replicas, a
 * FIFO bus that can drop messages, no simulator. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bckm/common.h"
#include "check.h"
#include "sim/pbft.h"

#define N 4

typedef struct {
    uint32_t to;
    bckm_pbft_msg *m;
} item;

typedef struct {
    bckm_pbft_replica r[N];
    uint8_t pk[N][32], sk[N][64];
    item *q;
    size_t head, len, cap;
    /* committed blocks per replica, kept for FETCH replies */
    bckm_sim_block *blocks[N][16];
    struct bckm_cert certs[N][16];
    uint8_t digests[N][16][32];
    uint64_t height[N];
    int drop_commits; /* drop every COMMIT on the bus */
    int mute[N];      /* drop everything from/to this replica */
    uint64_t now;
} bus;

static unsigned verifies; /* signature checks asked of the port */

static int verify_port(void *ctx, const uint8_t pk[32], const uint8_t *m, size_t mlen,
                       const uint8_t sig[64]) {
    (void)ctx;
    verifies++;
    return crypto_sign_verify_detached(sig, m, mlen, pk) == 0;
}

static int validate_port(void *ctx, const bckm_sim_block *b) {
    (void)ctx;
    return b->h.n_txs > 100; /* everything small is valid here */
}

static void enqueue(bus *b, uint32_t to, bckm_pbft_msg *m) {
    if (b->len == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->q = realloc(b->q, b->cap * sizeof *b->q);
    }
    b->q[b->len++] = (item){ to, m };
}

static void drain(bus *b, uint32_t i) {
    bckm_pbft_action a;
    while (bckm_pbft_pop(&b->r[i], &a)) {
        switch (a.kind) {
        case BCKM_PBFT_ACT_SEND: enqueue(b, a.to, a.msg); break;
        case BCKM_PBFT_ACT_BROADCAST:
            for (uint32_t j = 0; j < N; j++)
                if (j != i) enqueue(b, j, bckm_pbft_msg_ref(a.msg));
            bckm_pbft_msg_unref(a.msg);
            break;
        case BCKM_PBFT_ACT_COMMIT: {
            uint64_t h = a.block->h.height;
            if (h == b->height[i] + 1 && h < 16) {
                b->blocks[i][h] = a.block;
                b->certs[i][h] = *a.cert;
                bckm_sim_block_digest(a.block, b->digests[i][h]);
                b->height[i] = h;
                bckm_pbft_executed(&b->r[i], h, b->digests[i][h]);
            } else {
                bckm_sim_block_free(a.block);
            }
            free(a.cert);
            break;
        }
        case BCKM_PBFT_ACT_FETCH_REPLY: {
            bckm_pbft_msg *m = bckm_pbft_msg_new(BCKM_PBFT_BLOCKS, i);
            for (uint64_t h = a.seq; h <= b->height[i] && m->nblocks < BCKM_PBFT_FETCH_MAX; h++) {
                m->blocks[m->nblocks] = bckm_sim_block_dup(b->blocks[i][h]);
                m->certs[m->nblocks] = malloc(sizeof(struct bckm_cert));
                *m->certs[m->nblocks] = b->certs[i][h];
                m->nblocks++;
            }
            enqueue(b, a.to, m);
            break;
        }
        default: break;
        }
    }
}

static void pump(bus *b) {
    for (uint32_t i = 0; i < N; i++) drain(b, i);
    while (b->head < b->len) {
        item it = b->q[b->head++];
        int drop = b->mute[it.to] || b->mute[it.m->from] ||
                   (b->drop_commits && it.m->type == BCKM_PBFT_COMMIT);
        if (!drop) {
            bckm_pbft_on_message(&b->r[it.to], it.m, b->now);
            drain(b, it.to);
        }
        bckm_pbft_msg_unref(it.m);
    }
}

static void bus_init(bus *b) {
    memset(b, 0, sizeof *b);
    for (uint32_t i = 0; i < N; i++) {
        uint8_t seed[32] = { (uint8_t)(i + 7) };
        crypto_sign_seed_keypair(b->pk[i], b->sk[i], seed);
    }
    for (uint32_t i = 0; i < N; i++) {
        bckm_pbft_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.n = N;
        cfg.id = i;
        memcpy(cfg.sk, b->sk[i], 64);
        memcpy(cfg.pk, b->pk, sizeof b->pk);
        cfg.vc_timeout_us = 1000;
        cfg.retransmit_us = 100000000; /* no retransmission unless asked */
        cfg.fetch_delay_us = 10;
        cfg.checkpoint_interval = 2;
        cfg.verify = verify_port;
        cfg.validate = validate_port;
        (void)bckm_pbft_init(&b->r[i], &cfg, 0, NULL, NULL, NULL, NULL, 0);
    }
}

static void bus_free(bus *b) {
    while (b->head < b->len) bckm_pbft_msg_unref(b->q[b->head++].m);
    free(b->q);
    for (uint32_t i = 0; i < N; i++) {
        bckm_pbft_free(&b->r[i]);
        for (int h = 0; h < 16; h++) bckm_sim_block_free(b->blocks[i][h]);
    }
}

static void make_block(bckm_sim_block *blk, const bus *b, uint32_t proposer, uint8_t fill) {
    uint64_t h;
    uint8_t prev[32];
    (void)bckm_pbft_can_propose(&b->r[proposer], &h, prev);
    /* On the state the proposer's host reported (the replicas check it). */
    bckm_sim_block_init(blk, h, prev, proposer, b->now, b->r[proposer].state);
    uint8_t tx[8];
    memset(tx, fill, sizeof tx);
    (void)bckm_sim_block_add_tx(blk, tx, sizeof tx);
}

static void test_normal_case_and_certificates(void) {
    REQUIRE(sodium_init() >= 0);
    bus b;
    bus_init(&b);
    CHECK(bckm_pbft_can_propose(&b.r[0], NULL, NULL));
    CHECK(!bckm_pbft_can_propose(&b.r[1], NULL, NULL));
    for (uint8_t k = 1; k <= 4; k++) {
        bckm_sim_block blk;
        make_block(&blk, &b, 0, k);
        REQUIRE(bckm_pbft_propose(&b.r[0], &blk, b.now) == BCKM_OK);
        free(blk.body);
        pump(&b);
    }
    for (uint32_t i = 0; i < N; i++) {
        CHECK_EQ(b.height[i], 4);
        for (uint64_t h = 1; h <= 4; h++) {
            CHECK_MEM(b.digests[i][h], b.digests[0][h], 32);
            CHECK(bckm_pbft_cert_valid(&b.r[1], h, b.digests[i][h], &b.certs[i][h]));
        }
        /* checkpoints every 2 blocks: 4 is stable everywhere */
        CHECK_EQ(b.r[i].stable_seq, 4);
    }
    /* A certificate stops verifying when a signature or the digest changes,
     * or when it has fewer than q distinct signers. */
    struct bckm_cert c = b.certs[2][3];
    c.sigs[0].sig[5] ^= 1;
    CHECK(!bckm_pbft_cert_valid(&b.r[1], 3, b.digests[2][3], &c));
    CHECK(!bckm_pbft_cert_valid(&b.r[1], 3, b.digests[2][2], &b.certs[2][3]));
    c = b.certs[2][3];
    c.sigs[1] = c.sigs[0]; /* one signer twice */
    CHECK(!bckm_pbft_cert_valid(&b.r[1], 3, b.digests[2][3], &c));
    bus_free(&b);
}

static void test_forged_and_equivocating_preprepare(void) {
    REQUIRE(sodium_init() >= 0);
    bus b;
    bus_init(&b);
    bckm_sim_block a_blk, b_blk;
    make_block(&a_blk, &b, 0, 1);
    make_block(&b_blk, &b, 0, 2);
    bckm_pbft_msg *pa = bckm_pbft_msg_new(BCKM_PBFT_PREPREPARE, 0);
    pa->seq = 1;
    pa->block = bckm_sim_block_dup(&a_blk);
    bckm_sim_block_digest(&a_blk, pa->digest);
    bckm_pbft_msg_sign(pa, b.sk[0]);
    bckm_pbft_msg *pb = bckm_pbft_msg_new(BCKM_PBFT_PREPREPARE, 0);
    pb->seq = 1;
    pb->block = bckm_sim_block_dup(&b_blk);
    bckm_sim_block_digest(&b_blk, pb->digest);
    bckm_pbft_msg_sign(pb, b.sk[0]);
    /* a forged copy: signed by replica 3, claiming to come from the primary */
    bckm_pbft_msg *pf = bckm_pbft_msg_new(BCKM_PBFT_PREPREPARE, 0);
    pf->seq = 1;
    pf->block = bckm_sim_block_dup(&b_blk);
    memcpy(pf->digest, pb->digest, 32);
    bckm_pbft_msg_sign(pf, b.sk[3]);
    bckm_pbft_on_message(&b.r[1], pf, 0);
    CHECK_EQ(b.r[1].rejected_msgs, 1);
    CHECK(!b.r[1].slot[0].have_pp);
    bckm_pbft_on_message(&b.r[1], pa, 0);
    bckm_pbft_on_message(&b.r[1], pb, 0);
    /* the first PRE-PREPARE for (view, height) wins; one PREPARE, for A */
    CHECK(b.r[1].slot[0].have_pp);
    CHECK_MEM(b.r[1].slot[0].digest, pa->digest, 32);
    bckm_pbft_action act;
    int prepares = 0;
    while (bckm_pbft_pop(&b.r[1], &act)) {
        if (act.msg && act.msg->type == BCKM_PBFT_PREPARE) {
            prepares++;
            CHECK_MEM(act.msg->digest, pa->digest, 32);
        }
        bckm_pbft_msg_unref(act.msg);
    }
    CHECK_EQ(prepares, 1);
    bckm_pbft_msg_unref(pa);
    bckm_pbft_msg_unref(pb);
    bckm_pbft_msg_unref(pf);
    free(a_blk.body);
    free(b_blk.body);
    bus_free(&b);
}

static void test_view_change_keeps_prepared_block(void) {
    REQUIRE(sodium_init() >= 0);
    bus b;
    bus_init(&b);
    /* Block A gets prepared everywhere but no COMMIT gets through. */
    b.drop_commits = 1;
    bckm_sim_block blk;
    make_block(&blk, &b, 0, 9);
    uint8_t da[32];
    bckm_sim_block_digest(&blk, da);
    REQUIRE(bckm_pbft_propose(&b.r[0], &blk, 0) == BCKM_OK);
    free(blk.body);
    pump(&b);
    for (uint32_t i = 0; i < N; i++) {
        CHECK_EQ(b.height[i], 0);
        CHECK(b.r[i].d.has_prepared);
    }
    /* The primary goes silent; the others time out. */
    b.drop_commits = 0;
    b.mute[0] = 1;
    for (b.now = 1000; b.now <= 2000; b.now += 1000) {
        /* the first tick starts the wait, the next ones see it expire */
        for (uint32_t i = 1; i < N; i++) {
            bckm_pbft_on_tick(&b.r[i], b.now, 1, 0);
            pump(&b);
        }
    }
    /* View 1's primary re-proposed A and the three live replicas commit it. */
    for (uint32_t i = 1; i < N; i++) {
        CHECK_EQ(b.r[i].d.view, 1);
        CHECK_EQ(b.r[i].d.in_vc, 0);
        CHECK_EQ(b.height[i], 1);
        CHECK_MEM(b.digests[i][1], da, 32);
    }
    /* The old primary comes back, learns it is behind and fetches block 1. */
    b.mute[0] = 0;
    b.now = 2500;
    for (uint32_t i = 0; i < N; i++) b.r[i].cfg.retransmit_us = 1;
    for (uint32_t i = 0; i < N; i++) {
        bckm_pbft_on_tick(&b.r[i], b.now, 0, 0);
        pump(&b);
    }
    /* STATUS told it the others are ahead; it fetched the certified block
     * and joined view 1 through the primary's NEW-VIEW. */
    CHECK_EQ(b.height[0], 1);
    CHECK_MEM(b.digests[0][1], da, 32);
    CHECK(b.r[0].fetches > 0);
    CHECK_EQ(b.r[0].d.view, 1);
    bus_free(&b);
}

/* A vote that can change nothing is dropped before its signature is checked;
 * one that can still matter is checked, and refused when forged. */
static bckm_pbft_msg *vote(const bus *b, uint8_t type, uint32_t from, uint64_t seq,
                           const uint8_t d[32]) {
    bckm_pbft_msg *m = bckm_pbft_msg_new(type, from);
    m->view = 0;
    m->seq = seq;
    memcpy(m->digest, d, 32);
    bckm_pbft_msg_sign(m, b->sk[from]);
    return m;
}

static void test_useless_votes_unverified(void) {
    REQUIRE(sodium_init() >= 0);
    bus b;
    bus_init(&b);
    bckm_sim_block blk;
    make_block(&blk, &b, 0, 1);
    REQUIRE(bckm_pbft_propose(&b.r[0], &blk, b.now) == BCKM_OK);
    free(blk.body);
    pump(&b);
    REQUIRE(b.height[1] == 1);
    uint64_t rej = b.r[1].rejected_msgs;
    /* Height 1 is committed at replica 1: a late COMMIT or PREPARE for it,
     * even a forged one, is dropped without a signature check. */
    uint8_t types[2] = { BCKM_PBFT_PREPARE, BCKM_PBFT_COMMIT };
    for (int t = 0; t < 2; t++) {
        bckm_pbft_msg *m = vote(&b, types[t], 3, 1, b.digests[1][1]);
        m->sig[3] ^= 1;
        unsigned before = verifies;
        bckm_pbft_on_message(&b.r[1], m, b.now);
        CHECK_EQ(verifies, before);
        CHECK_EQ(b.r[1].rejected_msgs, rej);
        CHECK_EQ(b.height[1], 1);
        bckm_pbft_msg_unref(m);
    }
    /* A vote for the next height can still count: it is checked, and a
     * forged one is refused. */
    uint8_t d2[32];
    memset(d2, 0x5a, sizeof d2);
    bckm_pbft_msg *m = vote(&b, BCKM_PBFT_PREPARE, 3, 2, d2);
    m->sig[3] ^= 1;
    unsigned before = verifies;
    bckm_pbft_on_message(&b.r[1], m, b.now);
    CHECK_EQ(verifies, before + 1);
    CHECK_EQ(b.r[1].rejected_msgs, rej + 1);
    bckm_pbft_msg_unref(m);
    /* A genuine one is checked once and kept; the same sender's second vote
     * for that slot is not checked again. */
    m = vote(&b, BCKM_PBFT_PREPARE, 3, 2, d2);
    before = verifies;
    bckm_pbft_on_message(&b.r[1], m, b.now);
    CHECK_EQ(verifies, before + 1);
    CHECK_EQ(b.r[1].slot[0].phave[3], 1);
    bckm_pbft_on_message(&b.r[1], m, b.now);
    CHECK_EQ(verifies, before + 1);
    CHECK_EQ(b.r[1].rejected_msgs, rej + 1);
    bckm_pbft_msg_unref(m);
    bus_free(&b);
}

CHECK_CASES(CASE(test_normal_case_and_certificates), CASE(test_useless_votes_unverified),
            CASE(test_forged_and_equivocating_preprepare),
            CASE(test_view_change_keeps_prepared_block))
