/* Sets: Assignment and Reorder rules, and the contract checks of the registry. */
#include "check.h"

#include "bckm/rejoin.h"
#include "bckm/sets.h"

static void target_is_ceil_sqrt(void) {
    CHECK_EQ(bckm_sets_target(0), 1);
    CHECK_EQ(bckm_sets_target(1), 1);
    CHECK_EQ(bckm_sets_target(2), 2);
    CHECK_EQ(bckm_sets_target(4), 2);
    CHECK_EQ(bckm_sets_target(5), 3);
    CHECK_EQ(bckm_sets_target(10000), 100);
    CHECK_EQ(bckm_sets_target(10001), 101);
    CHECK_EQ(bckm_sets_target(UINT32_MAX), 65536);
    uint32_t bad = 0;
    for (uint32_t n = 1; n < 100000; n++) {
        uint64_t s = bckm_sets_target(n);
        if (s * s < n || (s - 1) * (s - 1) >= n) bad++;
    }
    CHECK_EQ(bad, 0);
}

static void assignment_rules(void) {
    struct bckm_set_info t[4] = {
        { 0x01000001, 1, 3 }, { 0x01000002, 1, 2 }, { 0x01000003, 1, 2 }, { 0x02000001, 2, 1 }
    };
    uint32_t id;
    int fresh;
    /* n' = 9 -> s = 3: the smallest open set of owner 1, lowest ID on ties. */
    CHECK_EQ(bckm_sets_assign(t, 4, 1, 9, 4, &id, &fresh), BCKM_OK);
    CHECK_EQ(id, 0x01000002);
    CHECK_EQ(fresh, 0);
    /* Another owner's sets are not candidates under the owned policy. */
    t[1].size = 3;
    t[2].size = 3;
    CHECK_EQ(bckm_sets_assign(t, 4, 1, 9, 4, &id, &fresh), BCKM_OK);
    CHECK_EQ(id, 0x01000004);
    CHECK_EQ(fresh, 1);
    /* An exhausted counter fails cleanly. */
    CHECK_EQ(bckm_sets_assign(t, 4, 1, 9, BCKM_ID_COUNTER_MAX + 1, &id, &fresh), BCKM_ERR_NOMEM);
    /* Dissolve: 4 sets for 5 nodes at s=3 > ceil(5/3)+1 = 3 -> smallest, youngest. */
    struct bckm_set_info u[4] = { { 1, 0, 2 }, { 2, 0, 1 }, { 3, 0, 1 }, { 4, 0, 1 } };
    uint32_t v;
    CHECK_EQ(bckm_sets_pick_dissolve(u, 4, 0, 5, 3, &v), 1);
    CHECK_EQ(v, 3);
    CHECK_EQ(bckm_sets_pick_dissolve(u, 3, 0, 5, 3, &v), 0);
}

/* Reorder's move plan: members go one by one to the smallest open set of
 * the victim's owner, sizes follow the moves, and a plan with no room
 * leaves every size as it was. */
static void move_plan_rules(void) {
    /* cap 3; owner 1 has sets at indices 0 (victim), 1, 2, 4; owner 2 at 3. */
    struct bckm_set_info t[5] = { { 0x01000005, 1, 3 },
                                  { 0x01000002, 1, 2 },
                                  { 0x01000001, 1, 1 },
                                  { 0x02000001, 2, 0 },
                                  { 0x01000003, 1, 1 } };
    uint32_t dest[3] = { 99, 99, 99 };
    CHECK_EQ(bckm_sets_plan_moves(t, 5, 1, 3, 0, dest, 3), 1);
    /* Sizes at indices 1, 2, 4 are 2, 1, 1: the first member goes to index
     * 2 (size 1, the lower ID), the second to index 4 (now the only set of
     * size 1), the third to index 2 again (all at size 2: ID 1 is lowest). */
    CHECK_EQ(dest[0], 2);
    CHECK_EQ(dest[1], 4);
    CHECK_EQ(dest[2], 2);
    CHECK_EQ(t[0].size, 3); /* the victim keeps its size: the caller removes it */
    CHECK_EQ(t[1].size, 2);
    CHECK_EQ(t[2].size, 3);
    CHECK_EQ(t[3].size, 0); /* another owner's set is never a destination */
    CHECK_EQ(t[4].size, 2);
    /* No room for the fourth member: every size is as before the call. */
    struct bckm_set_info u[3] = { { 0x01000003, 1, 4 },
                                  { 0x01000001, 1, 2 },
                                  { 0x01000002, 1, 1 } };
    struct bckm_set_info before[3];
    memcpy(before, u, sizeof u);
    uint32_t d4[4];
    CHECK_EQ(bckm_sets_plan_moves(u, 3, 1, 3, 0, d4, 4), 0);
    CHECK_MEM(u, before, sizeof u);
    /* Exactly enough room: all three fit and both sets end at cap. */
    CHECK_EQ(bckm_sets_plan_moves(u, 3, 1, 3, 0, d4, 3), 1);
    CHECK_EQ(u[1].size, 3);
    CHECK_EQ(u[2].size, 3);
    CHECK_EQ(d4[0], 2);
    CHECK_EQ(d4[1], 1);
    CHECK_EQ(d4[2], 2);
    /* Nothing to move: success, nothing written. */
    memcpy(u, before, sizeof u);
    CHECK_EQ(bckm_sets_plan_moves(u, 3, 1, 3, 0, d4, 0), 1);
    CHECK_MEM(u, before, sizeof u);
}

static uint64_t xorshift(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Spec 2.3's room argument, checked on random tables (the proof is
 * bckm_room_suffices in sets.c): whenever Reorder's decision dissolves a set
 * of an owner whose member count is the sum of its set sizes, the plan for
 * that set's members succeeds. A seeded xorshift keeps the run repeatable. */
static void dissolution_always_has_room(void) {
    uint64_t x = 0x9E3779B97F4A7C15u;
    uint32_t dissolved = 0, failed = 0;
    for (uint32_t round = 0; round < 20000; round++) {
        struct bckm_set_info t[12];
        uint32_t dest[64];
        uint32_t count = 0, n_owner = 0;
        xorshift(&x);
        uint32_t cap = 1 + (uint32_t)(x % 8), sets = 1 + (uint32_t)((x >> 8) % 12);
        for (uint32_t i = 0; i < sets; i++) {
            xorshift(&x);
            uint32_t owner = (x >> 20) % 3 == 0 ? 2 : 1;
            uint32_t size = 1 + (uint32_t)(x % ((x >> 40) % 4 == 0 ? 2 * cap : (cap + 1) / 2));
            t[count++] = (struct bckm_set_info){ 0x01000000u + i + 1, owner, size };
            if (owner == 1) n_owner += size;
        }
        uint32_t v, room = 0;
        if (!bckm_sets_pick_dissolve(t, count, 1, n_owner, cap, &v)) continue;
        dissolved++;
        for (uint32_t i = 0; i < count; i++)
            if (i != v && t[i].owner == 1 && t[i].size < cap) room += cap - t[i].size;
        if (room <= t[v].size) failed++;
        /* The plan succeeds exactly up to the room: m = room fits, one more
         * does not (and leaves the table as it was). */
        struct bckm_set_info before[12];
        memcpy(before, t, sizeof t);
        if (room + 1 <= 64) {
            if (bckm_sets_plan_moves(t, count, 1, cap, v, dest, room + 1) != 0) failed++;
            if (memcmp(before, t, sizeof t) != 0) failed++;
        }
        if (room <= 64 && bckm_sets_plan_moves(t, count, 1, cap, v, dest, room) != 1) failed++;
        memcpy(t, before, sizeof t);
        if (bckm_sets_plan_moves(t, count, 1, cap, v, dest, t[v].size) != 1) failed++;
    }
    CHECK(dissolved > 1000); /* the generator does reach the case */
    CHECK_EQ(failed, 0);
}

static struct bckm_tx join_change(struct bckm_sets *s, uint32_t bp, uint32_t counter) {
    struct bckm_tx c;
    memset(&c, 0, sizeof c);
    uint8_t code[32] = { 0 };
    bckm_put_u32(code, bp);
    bckm_put_u32(code + 4, counter);
    bckm_code_commit(code, c.code_hash);
    c.op = BCKM_OP_JOIN;
    c.node_id = bckm_id_make(bp, counter);
    uint32_t owner = bckm_sets_owner_for(s, bp);
    int fresh;
    if (bckm_sets_assign(bckm_sets_table(s), bckm_sets_count(s), owner, bckm_sets_nodes(s) + 1,
                         bckm_sets_next_counter(s, owner), &c.set_id, &fresh) != BCKM_OK)
        c.set_id = 0;
    return c;
}

static void contract_checks(void) {
    struct bckm_sets *s;
    struct bckm_plan p;
    bckm_plan_init(&p);
    REQUIRE(bckm_sets_new(&s, BCKM_POLICY_OWNED) == BCKM_OK);
    for (uint32_t i = 1; i <= 10; i++) {
        struct bckm_tx c = join_change(s, 1, i);
        CHECK_EQ(bckm_sets_apply(s, 1, &c, &p), BCKM_OK);
    }
    CHECK_EQ(bckm_sets_nodes(s), 10);
    CHECK_EQ(bckm_sets_audit(s), BCKM_OK);
    uint8_t before[32], after[32];
    bckm_sets_digest(s, before);
    /* join: wrong set, reused ID, reused code hash, ID of another BP */
    struct bckm_tx c = join_change(s, 1, 11);
    struct bckm_tx bad = c;
    bad.set_id ^= 1;
    CHECK_EQ(bckm_sets_apply(s, 1, &bad, &p), BCKM_ERR_MISMATCH);
    bad = c;
    bad.node_id = bckm_id_make(1, 3);
    CHECK_EQ(bckm_sets_check(s, 1, &bad), BCKM_ERR_EXISTS);
    struct bckm_tx first = join_change(s, 1, 1);
    bad = c;
    memcpy(bad.code_hash, first.code_hash, 32);
    CHECK_EQ(bckm_sets_check(s, 1, &bad), BCKM_ERR_EXISTS);
    CHECK_EQ(bckm_sets_check(s, 2, &c), BCKM_ERR_PERM);
    bad = c;
    bad.op = 9;
    CHECK_EQ(bckm_sets_check(s, 1, &bad), BCKM_ERR_ARG);
    /* leave: unknown node, wrong set, wrong hash, wrong BP */
    uint32_t set, at;
    REQUIRE(bckm_sets_node(s, bckm_id_make(1, 4), &set, &at) == BCKM_OK);
    struct bckm_tx l;
    memset(&l, 0, sizeof l);
    l.op = BCKM_OP_LEAVE;
    l.node_id = bckm_id_make(1, 4);
    l.set_id = set;
    CHECK_EQ(bckm_sets_code_hash(s, l.node_id, l.code_hash), BCKM_OK);
    bad = l;
    bad.node_id = bckm_id_make(1, 99);
    CHECK_EQ(bckm_sets_check(s, 1, &bad), BCKM_ERR_UNKNOWN);
    bad = l;
    bad.set_id = set + 1;
    CHECK_EQ(bckm_sets_check(s, 1, &bad), BCKM_ERR_MISMATCH);
    bad = l;
    bad.code_hash[0] ^= 1;
    CHECK_EQ(bckm_sets_check(s, 1, &bad), BCKM_ERR_MISMATCH);
    CHECK_EQ(bckm_sets_check(s, 0, &l), BCKM_ERR_ARG);
    CHECK_EQ(bckm_sets_check(s, 2, &l), BCKM_ERR_PERM); /* only the serving BP (spec 10.1) */
    /* rejected changes changed nothing */
    bckm_sets_digest(s, after);
    CHECK_MEM(before, after, 32);
    CHECK_EQ(bckm_sets_nodes(s), 10);
    /* a valid leave applies; the same leave again is refused (no replay) */
    CHECK_EQ(bckm_sets_apply(s, 1, &l, &p), BCKM_OK);
    CHECK_EQ(bckm_sets_check(s, 1, &l), BCKM_ERR_UNKNOWN);
    /* the departed ID and hash stay used */
    CHECK(bckm_sets_id_used(s, l.node_id));
    bckm_sets_free(s);
    bckm_plan_free(&p);
}

/* Shrinking a network drives Reorder: every member stays exactly once, IDs
 * are never reused and the set count stays within ceil(n/s)+1. */
static void reorder_keeps_members(void) {
    struct bckm_sets *s;
    struct bckm_plan p;
    bckm_plan_init(&p);
    REQUIRE(bckm_sets_new(&s, BCKM_POLICY_GLOBAL) == BCKM_OK);
    uint32_t ids[400], n = 0, moved = 0, over = 0, seen_max = 0;
    for (uint32_t i = 1; i <= 400; i++) {
        struct bckm_tx c = join_change(s, 1, i);
        REQUIRE(bckm_sets_apply(s, 1, &c, &p) == BCKM_OK);
        ids[n++] = c.node_id;
    }
    uint32_t retired_ids[4096], nret = 0, reused = 0;
    for (uint32_t k = 0; k < 390; k++) {
        uint32_t pick = (k * 7919u) % n, set, at;
        struct bckm_tx l;
        memset(&l, 0, sizeof l);
        l.op = BCKM_OP_LEAVE;
        l.node_id = ids[pick];
        REQUIRE(bckm_sets_node(s, l.node_id, &set, &at) == BCKM_OK);
        l.set_id = set;
        CHECK_EQ(bckm_sets_code_hash(s, l.node_id, l.code_hash), BCKM_OK);
        REQUIRE(bckm_sets_apply(s, 1, &l, &p) == BCKM_OK);
        ids[pick] = ids[--n];
        moved += p.move_count;
        for (uint32_t i = 0; i < p.retired_count && nret < 4096; i++)
            retired_ids[nret++] = p.retired[i];
        uint32_t cap = bckm_sets_target(bckm_sets_nodes(s)), nb = bckm_sets_nodes(s);
        if (bckm_sets_count(s) > nb / cap + (nb % cap != 0) + 1) over++;
        if (bckm_sets_audit(s) != BCKM_OK) over++;
        if (bckm_sets_count(s) > seen_max) seen_max = bckm_sets_count(s);
        /* join one back now and then: a fresh set must never reuse a retired ID */
        if (k % 5 == 0) {
            struct bckm_tx c = join_change(s, 1, 1000 + k);
            REQUIRE(bckm_sets_apply(s, 1, &c, &p) == BCKM_OK);
            ids[n++] = c.node_id;
            for (uint32_t i = 0; i < nret; i++)
                if (p.created_set == retired_ids[i]) reused++;
        }
    }
    CHECK(moved > 0);
    CHECK_EQ(over, 0);
    CHECK_EQ(reused, 0);
    bckm_sets_free(s);
    bckm_plan_free(&p);
}

static void clone_is_deep_and_equal(void) {
    struct bckm_sets *s, *c;
    struct bckm_plan p;
    bckm_plan_init(&p);
    REQUIRE(bckm_sets_new(&s, BCKM_POLICY_OWNED) == BCKM_OK);
    for (uint32_t i = 1; i <= 30; i++) {
        struct bckm_tx ch = join_change(s, 1 + i % 2, i);
        REQUIRE(bckm_sets_apply(s, 1 + i % 2, &ch, &p) == BCKM_OK);
    }
    REQUIRE(bckm_sets_clone(s, &c) == BCKM_OK);
    uint8_t a[32], b[32];
    bckm_sets_digest(s, a);
    bckm_sets_digest(c, b);
    CHECK_MEM(a, b, 32);
    CHECK_EQ(bckm_sets_audit(c), BCKM_OK);
    struct bckm_tx ch = join_change(c, 1, 100);
    CHECK_EQ(bckm_sets_apply(c, 1, &ch, &p), BCKM_OK);
    CHECK_EQ(bckm_sets_nodes(s), 30);
    CHECK_EQ(bckm_sets_nodes(c), 31);
    bckm_sets_digest(c, b);
    CHECK(memcmp(a, b, 32) != 0);
    bckm_sets_free(s);
    bckm_sets_free(c);
    bckm_plan_free(&p);
}

CHECK_CASES(CASE(target_is_ceil_sqrt), CASE(assignment_rules), CASE(move_plan_rules),
            CASE(dissolution_always_has_room), CASE(contract_checks), CASE(reorder_keeps_members),
            CASE(clone_is_deep_and_equal))
