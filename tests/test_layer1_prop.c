/*
 * Property test of Layer 1: seeded random join/leave/evict sequences over
 * networks up to 10,000 nodes, with a real device key store for every node.
 * After each operation it checks the invariants of spec/protocol.md:
 * registry integrity and uniformity bounds, every device at the current
 * epoch with exactly |S| + m keys, link agreement, the sharing rule (key
 * census), forward and backward secrecy, tamper and replay rejection.
 */
#include "check.h"
#include "l1world.h"

#include "bckm/msg.h"

/* How many of the last epoch's messages the key holder d can open with any
 * key it holds. */
static uint32_t openable(struct l1world *w, const struct bckm_device *d, struct bckm_msgs *msgs,
                         uint32_t p) {
    uint32_t opened = 0;
    const uint8_t *keys[4 + 2 * 1024];
    uint32_t nk = 0;
    keys[nk++] = d->kek;
    keys[nk++] = d->set_kek;
    keys[nk++] = d->seed;
    for (uint32_t k = 0; k < d->n_peers && nk < 2048; k++) keys[nk++] = d->keys[k].key;
    for (uint32_t k = 0; k < d->n_sets && nk < 2048; k++)
        keys[nk++] = d->keys[d->cap_peers + k].key;
    for (uint32_t bp = 1; bp <= p; bp++) {
        struct bckm_msgs *m = &msgs[bp];
        for (uint32_t i = 0; i < m->n; i++) {
            uint8_t *copy = malloc(m->refs[i].len);
            for (uint32_t k = 0; k < nk; k++) {
                struct bckm_msg_header h;
                memcpy(copy, m->buf + m->refs[i].off, m->refs[i].len);
                if (bckm_msg_open(copy, m->refs[i].len, keys[k], &h) == BCKM_OK) opened++;
            }
            free(copy);
        }
    }
    (void)w;
    return opened;
}

static void copy_msgs(struct bckm_msgs *dst, const struct bckm_msgs *src) {
    bckm_msgs_clear(dst);
    dst->buf = realloc(dst->buf, src->len ? src->len : 1);
    dst->cap = src->len ? src->len : 1;
    memcpy(dst->buf, src->buf, src->len);
    dst->len = src->len;
    dst->refs = realloc(dst->refs, (size_t)(src->n ? src->n : 1) * sizeof *dst->refs);
    dst->refs_cap = src->n ? src->n : 1;
    memcpy(dst->refs, src->refs, (size_t)src->n * sizeof *dst->refs);
    dst->n = src->n;
}

static uint32_t random_member(struct l1world *w) {
    for (;;) {
        uint32_t i = l1_rand(w, w->fleet.ndevs);
        if (w->fleet.devs[i].live) return w->fleet.devs[i].node_id;
    }
}

static void run(uint32_t p, bckm_policy pol, uint32_t n0, uint32_t ops, uint32_t census_every,
                uint64_t seed) {
    /* Long runs shrink the network far enough that Reorder must move nodes. */
    int expect_reorder = ops >= 10 * n0 / 2;
    struct l1world w;
    REQUIRE(l1_init(&w, p, pol, n0 + ops + 64, seed) == 0);
    l1_delivery_errors = 0;
    REQUIRE(l1_genesis(&w, n0) == BCKM_OK);
    CHECK_EQ(l1_check(&w, 64), 0);
    CHECK_EQ(l1_census(&w), 0);
    struct bckm_msgs before[BCKM_MAX_BPS + 1];
    for (uint32_t b = 0; b <= p; b++) bckm_msgs_init(&before[b]);
    uint32_t fs_leaks = 0, bs_leaks = 0, failures = 0, moves = 0, dissolved = 0;
    for (uint32_t op = 0; op < ops; op++) {
        /* Phases: growth, shrinkage (drives Reorder), then a mix. */
        uint32_t phase = (op * 3) / ops, r = l1_rand(&w, 100), n = bckm_sets_nodes(w.reg);
        uint32_t join_pct = phase == 0 ? 75 : phase == 1 ? 20 : 50;
        int e;
        if (n < 4 || r < join_pct) {
            for (uint32_t b = 1; b <= p; b++) copy_msgs(&before[b], &w.out[b]);
            uint32_t node;
            e = l1_join(&w, 1 + l1_rand(&w, p), &node);
            /* Backward secrecy: the joiner opens nothing sent before it joined. */
            if (e == BCKM_OK && op % 7 == 0)
                bs_leaks += openable(&w, l1_device(&w, node), before, p);
        } else {
            uint32_t u = random_member(&w);
            e = l1_leave(&w, u, r % 3 == 0 ? BCKM_OP_EVICT : BCKM_OP_LEAVE);
            /* Forward secrecy: the departed node opens nothing sent after. */
            if (e == BCKM_OK && op % 7 == 1) fs_leaks += openable(&w, l1_device(&w, u), w.out, p);
        }
        if (e != BCKM_OK) {
            failures++;
            fprintf(stderr, "op %u failed: %s\n", op, bckm_strerror(e));
            break;
        }
        moves += w.plan.move_count;
        for (uint32_t i = 0; i < w.plan.retired_count; i++)
            if (w.plan.move_count > 0) dissolved++;
        CHECK_EQ(l1_check(&w, 16), 0);
        if (census_every && op % census_every == census_every - 1) CHECK_EQ(l1_census(&w), 0);
    }
    CHECK_EQ(l1_census(&w), 0);
    CHECK_EQ(failures, 0);
    CHECK_EQ(fs_leaks, 0);
    CHECK_EQ(bs_leaks, 0);
    CHECK_EQ(l1_delivery_errors, 0);
    /* The shrinking phase must have driven Reorder, or the test proves little. */
    if (expect_reorder) CHECK(moves > 0);
    printf("  p=%u policy=%s n0=%u ops=%u -> n=%u sets=%u epoch=%llu reorder moves=%u\n", p,
           pol == BCKM_POLICY_OWNED ? "owned" : "global", n0, ops, bckm_sets_nodes(w.reg),
           bckm_sets_count(w.reg), (unsigned long long)bckm_sets_epoch(w.reg), moves);
    for (uint32_t b = 0; b <= p; b++) bckm_msgs_free(&before[b]);
    l1_free(&w);
}

static void prop_global_single_bp(void) {
    if (check_small())
        run(1, BCKM_POLICY_GLOBAL, 60, 300, 50, 1);
    else
        run(1, BCKM_POLICY_GLOBAL, 150, 1500, 100, 1);
}

static void prop_owned_three_bps(void) {
    if (check_small())
        run(3, BCKM_POLICY_OWNED, 60, 300, 50,
            12); /* seed with Reorder moves under the ratcheting DRBG */
    else
        run(3, BCKM_POLICY_OWNED, 200, 1500, 100, 2);
}

static void prop_global_three_bps(void) {
    if (check_small())
        run(3, BCKM_POLICY_GLOBAL, 60, 300, 50, 3);
    else
        run(3, BCKM_POLICY_GLOBAL, 200, 1000, 100, 3);
}

static void prop_medium_network(void) {
    if (check_small())
        run(4, BCKM_POLICY_OWNED, 600, 60, 30, 4);
    else
        run(4, BCKM_POLICY_OWNED, 2000, 150, 50, 4);
}

static void prop_ten_thousand_nodes(void) {
    if (check_small())
        run(1, BCKM_POLICY_GLOBAL, 1500, 20, 10, 5);
    else
        run(1, BCKM_POLICY_GLOBAL, 10000, 40, 20, 5);
}

/* A tampered message is rejected and changes nothing; the genuine one then
 * applies, and replaying it is rejected and changes nothing. */
static void tamper_and_replay(void) {
    struct l1world w;
    REQUIRE(l1_init(&w, 1, BCKM_POLICY_GLOBAL, 512, 9) == 0);
    REQUIRE(l1_genesis(&w, 40) == BCKM_OK);
    w.hold = 1;
    uint32_t tampered = 0, replayed = 0, applied = 0, unchanged = 0, trials = 0;
    for (int round = 0; round < 30; round++) {
        uint32_t u = random_member(&w);
        int e = round % 2 ? l1_join(&w, 1, NULL) : l1_leave(&w, u, BCKM_OP_LEAVE);
        REQUIRE(e == BCKM_OK);
        struct bckm_msgs *m = &w.out[1];
        for (uint32_t i = 0; i < m->n; i++) {
            const struct bckm_msg_ref *r = &m->refs[i];
            uint32_t target = r->recipient;
            if (r->kek_type == BCKM_KEK_SET) {
                uint32_t cnt;
                const uint32_t *mem = bckm_sets_members(w.reg, r->recipient, &cnt);
                target = mem[0];
            }
            struct bckm_device *d = l1_device(&w, target);
            if (d == NULL ||
                (r->kind == BCKM_MSG_UPDATE && r->kek_type == BCKM_KEK_SET && d->epoch == 0))
                continue;
            size_t bytes = BCKM_DEVICE_BYTES(d->cap_peers, d->cap_sets);
            uint8_t *snap = malloc(bytes), *copy = malloc(r->len);
            memcpy(snap, d, bytes);
            /* flip one random bit anywhere in the message */
            memcpy(copy, m->buf + r->off, r->len);
            uint32_t bit = l1_rand(&w, (uint32_t)r->len * 8);
            copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            trials++;
            if (bckm_device_apply(d, copy, r->len) != BCKM_OK) tampered++;
            if (memcmp(snap, d, bytes) == 0) unchanged++;
            free(snap);
            free(copy);
        }
        l1_deliver_all(&w);
        /* every live device is now at the new epoch; replay everything */
        for (uint32_t i = 0; i < m->n; i++) {
            const struct bckm_msg_ref *r = &m->refs[i];
            uint32_t target = r->recipient;
            if (r->kek_type == BCKM_KEK_SET) {
                uint32_t cnt;
                target = bckm_sets_members(w.reg, r->recipient, &cnt)[0];
            }
            struct bckm_device *d = l1_device(&w, target);
            if (d == NULL) continue;
            size_t bytes = BCKM_DEVICE_BYTES(d->cap_peers, d->cap_sets);
            uint8_t *snap = malloc(bytes), *copy = malloc(r->len);
            memcpy(snap, d, bytes);
            memcpy(copy, m->buf + r->off, r->len);
            int e2 = bckm_device_apply(d, copy, r->len);
            if (e2 == BCKM_ERR_REPLAY || e2 == BCKM_ERR_UNKNOWN) replayed++;
            if (e2 == BCKM_OK) applied++;
            if (memcmp(snap, d, bytes) != 0) unchanged = 0;
            free(snap);
            free(copy);
        }
    }
    CHECK(trials > 100);
    CHECK_EQ(tampered, trials);
    CHECK_EQ(unchanged, trials);
    CHECK_EQ(applied, 0);
    CHECK(replayed > 0);
    CHECK_EQ(l1_check(&w, 32), 0);
    l1_free(&w);
}

CHECK_CASES(CASE(prop_global_single_bp), CASE(prop_owned_three_bps), CASE(prop_global_three_bps),
            CASE(prop_medium_network), CASE(prop_ten_thousand_nodes), CASE(tamper_and_replay))
