/* The key-management network the cluster replicates, driven here by a plain
 * sequential orderer (no PBFT): requests at random BPs, every BP executes
 * every envelope in the same order, key managers rekey their own devices.
 * Checks device agreement, identical state hashes, snapshots. */
#include <string.h>

#include "check.h"

#include "sim/keynet.h"

static void run(uint32_t bps, bckm_policy pol, uint32_t nodes, uint32_t requests,
                uint32_t devices) {
    struct bckm_keynet *kn;
    struct bckm_keynet_params p = { bps, nodes, pol, 7 + bps, devices, nodes + requests + 16,
                                    0,   { 0 }, 0,   0,       NULL };
    REQUIRE(bckm_keynet_new(&kn, &p) == BCKM_OK);
    bckm_sim_app app[BCKM_MAX_BPS + 1];
    for (uint32_t b = 1; b <= bps; b++) {
        app[b] = bckm_keynet_app(kn, b);
        REQUIRE(app[b].self != NULL);
    }
    uint32_t committed = 0, rejected = 0, failures = 0;
    uint8_t env[BCKM_ENVELOPE_BYTES];
    for (uint32_t i = 0; i < requests; i++) {
        uint32_t bp = 1 + (i * 7) % bps;
        uint8_t op = i % 5 >= 3 ? (i % 2 ? BCKM_OP_LEAVE : BCKM_OP_EVICT) : BCKM_OP_JOIN;
        int re = bckm_keynet_request(kn, &app[bp], bp, op, env);
        if (re != BCKM_OK) {
            failures++;
            fprintf(stderr, "request %u at %u: %s\n", i, bp, bckm_strerror(re));
            continue;
        }
        if (app[bp].ops->check_tx(app[bp].self, env, sizeof env) != BCKM_SIM_TX_OK) {
            rejected++;
            bckm_keynet_abandon(kn, bp, env);
            continue;
        }
        for (uint32_t b = 1; b <= bps; b++) {
            uint8_t h[32];
            app[b].ops->begin_block(app[b].self, i + 1);
            if (app[b].ops->deliver_tx(app[b].self, env, sizeof env) != BCKM_SIM_TX_OK) failures++;
            app[b].ops->commit(app[b].self, h);
            int ce = bckm_keynet_committed(kn, b);
            if (ce != BCKM_OK) {
                failures++;
                fprintf(stderr, "commit at %u: %s\n", b, bckm_strerror(ce));
            }
        }
        committed++;
    }
    CHECK_EQ(failures, 0);
    CHECK_EQ(rejected, 0);
    CHECK(committed > requests / 2);
    uint8_t h1[32], hb[32];
    app[1].ops->commit(app[1].self, h1);
    for (uint32_t b = 2; b <= bps; b++) {
        app[b].ops->commit(app[b].self, hb);
        CHECK_MEM(h1, hb, 32);
    }
    CHECK_EQ(bckm_keynet_check_devices(kn, &app[1], 500), 0);
    /* State transfer: a fresh replica restored from a snapshot has the same state. */
    uint8_t *snap;
    size_t slen;
    REQUIRE(app[1].ops->snapshot(app[1].self, &snap, &slen) == BCKM_OK);
    bckm_sim_app fresh = bckm_keynet_app(kn, 0);
    CHECK_EQ(fresh.ops->restore(fresh.self, snap, slen), BCKM_OK);
    uint8_t hf[32];
    fresh.ops->commit(fresh.self, hf);
    app[1].ops->commit(app[1].self, h1);
    CHECK_MEM(h1, hf, 32);
    /* A corrupted snapshot is refused and changes nothing. */
    snap[20] ^= 1;
    CHECK(fresh.ops->restore(fresh.self, snap, slen) != BCKM_OK);
    CHECK(fresh.ops->restore(fresh.self, snap, slen - 1) != BCKM_OK);
    fresh.ops->commit(fresh.self, hb);
    free(snap);
    fresh.ops->destroy(fresh.self);
    struct bckm_keynet_stats st;
    bckm_keynet_stats(kn, &st);
    CHECK(st.messages > 0);
    CHECK_EQ(st.device_errors, 0);
    for (uint32_t b = 1; b <= bps; b++) app[b].ops->destroy(app[b].self);
    bckm_keynet_free(kn);
}

/* A BP whose key manager commits a change but never releases its messages
 * leaves its devices behind: the device check sees it, and only for that
 * BP's devices. Also: follow reports each change once and nothing after. */
static void withheld_messages_caught(void) {
    struct bckm_keynet *kn;
    struct bckm_keynet_params p = { 3, 60,  BCKM_POLICY_OWNED, 99, UINT32_MAX, 200, 0, { 0 }, 0,
                                    2, NULL };
    REQUIRE(bckm_keynet_new(&kn, &p) == BCKM_OK);
    bckm_sim_app app[4];
    for (uint32_t b = 1; b <= 3; b++) {
        app[b] = bckm_keynet_app(kn, b);
        REQUIRE(app[b].self != NULL);
    }
    uint8_t env[BCKM_ENVELOPE_BYTES], seen[BCKM_ENVELOPE_BYTES];
    struct bckm_envelope e;
    REQUIRE(bckm_keynet_prepare(kn, &app[2], 2, BCKM_OP_JOIN, &e) == BCKM_OK);
    REQUIRE(bckm_keynet_seal(kn, 2, &e, env) == BCKM_OK);
    CHECK_EQ(e.bp, 2);
    CHECK_EQ(e.seq, 1);
    for (uint32_t b = 1; b <= 3; b++) {
        uint8_t h[32];
        app[b].ops->begin_block(app[b].self, 1);
        CHECK_EQ(app[b].ops->deliver_tx(app[b].self, env, sizeof env), BCKM_SIM_TX_OK);
        app[b].ops->commit(app[b].self, h);
        CHECK_EQ(bckm_keynet_pending(kn, b, &app[b]), 1);
        int stepped = 0;
        memset(seen, 0, sizeof seen);
        CHECK_EQ(bckm_keynet_follow(kn, b, &stepped, seen, NULL), BCKM_OK);
        CHECK_EQ(stepped, 1);
        CHECK_MEM(seen, env, sizeof env);
        CHECK_EQ(bckm_keynet_follow(kn, b, &stepped, NULL, NULL), BCKM_OK);
        CHECK_EQ(stepped, 0);
        CHECK_EQ(bckm_keynet_pending(kn, b, &app[b]), 0);
    }
    uint8_t all[256], not2[256];
    memset(all, 1, sizeof all);
    memset(not2, 1, sizeof not2);
    not2[2] = 0;
    CHECK(bckm_keynet_check_devices_of(kn, &app[1], 200, all) > 0);
    CHECK(bckm_keynet_check_devices(kn, &app[1], 200) > 0);
    CHECK_EQ(bckm_keynet_check_devices_of(kn, &app[1], 200, not2), 0);
    for (uint32_t b = 1; b <= 3; b++) app[b].ops->destroy(app[b].self);
    bckm_keynet_free(kn);
}

/* Executes one block of envelopes at every given app; returns how many were
 * refused. */
static uint32_t block(bckm_sim_app *apps, uint32_t napps, uint64_t h,
                      uint8_t (*envs)[BCKM_ENVELOPE_BYTES], uint32_t n) {
    uint32_t refused = 0;
    for (uint32_t k = 0; k < napps; k++) {
        uint8_t hash[32];
        apps[k].ops->begin_block(apps[k].self, h);
        for (uint32_t i = 0; i < n; i++)
            if (apps[k].ops->deliver_tx(apps[k].self, envs[i], BCKM_ENVELOPE_BYTES) !=
                BCKM_SIM_TX_OK)
                refused++;
        apps[k].ops->commit(apps[k].self, hash);
    }
    return refused;
}

/* A prepared and admitted request at BP b of app `a`. */
static void admit(struct bckm_keynet *kn, bckm_sim_app *a, uint32_t b,
                  uint8_t env[BCKM_ENVELOPE_BYTES]) {
    REQUIRE(bckm_keynet_request(kn, a, b, BCKM_OP_JOIN, env) == BCKM_OK);
    CHECK_EQ(a->ops->check_tx(a->self, env, BCKM_ENVELOPE_BYTES), BCKM_SIM_TX_OK);
}

/* The check state across blocks: kept when a block executes a prefix of
 * what it admitted (the recheck then confirms the rest), rebuilt otherwise;
 * either way every request prepared against it executes. */
static void check_state_follows_blocks(void) {
    struct bckm_keynet *kn;
    struct bckm_keynet_params p = { 2, 50, BCKM_POLICY_OWNED, 31, 0, 200, 0, { 0 }, 0, 0, NULL };
    REQUIRE(bckm_keynet_new(&kn, &p) == BCKM_OK);
    bckm_sim_app app[2] = { bckm_keynet_app(kn, 1),
                            bckm_keynet_app(kn, 2) }; /* BP 1's replica, BP 2's */
    REQUIRE(app[0].self != NULL && app[1].self != NULL);
    uint8_t e[10][BCKM_ENVELOPE_BYTES];
    for (int i = 0; i < 4; i++) admit(kn, &app[0], 1, e[i]);
    /* A prefix: kept; the recheck confirms the two left, in order. */
    CHECK_EQ(block(app, 2, 1, e, 2), 0);
    CHECK_EQ(app[0].ops->check_tx(app[0].self, e[2], BCKM_ENVELOPE_BYTES), BCKM_SIM_TX_OK);
    CHECK_EQ(app[0].ops->check_tx(app[0].self, e[3], BCKM_ENVELOPE_BYTES), BCKM_SIM_TX_OK);
    admit(kn, &app[0], 1, e[4]);
    CHECK_EQ(block(app, 2, 2, e + 2, 3), 0);
    /* A block led by another BP's envelope: rebuilt, and still right. */
    admit(kn, &app[1], 2, e[5]);
    admit(kn, &app[0], 1, e[6]);
    admit(kn, &app[0], 1, e[7]);
    CHECK_EQ(block(app, 2, 3, e + 5, 2), 0);
    CHECK_EQ(app[0].ops->check_tx(app[0].self, e[7], BCKM_ENVELOPE_BYTES), BCKM_SIM_TX_OK);
    admit(kn, &app[0], 1, e[8]);
    /* An envelope already executed is refused by the recheck (replay). */
    CHECK(app[0].ops->check_tx(app[0].self, e[6], BCKM_ENVELOPE_BYTES) != BCKM_SIM_TX_OK);
    CHECK_EQ(block(app, 2, 4, e + 7, 2), 0);
    uint8_t h0[32], h1[32];
    app[0].ops->commit(app[0].self, h0);
    app[1].ops->commit(app[1].self, h1);
    CHECK_MEM(h0, h1, 32);
    CHECK_EQ(bckm_sets_nodes(bckm_keynet_registry(&app[0])), 50 + 9);
    for (int k = 0; k < 2; k++) app[k].ops->destroy(app[k].self);
    bckm_keynet_free(kn);
}

/* A replica takes another's verification only for the very same bytes: an
 * envelope with one bit changed is verified, and refused, at every replica. */
static void shared_verification_exact(void) {
    struct bckm_keynet *kn;
    struct bckm_keynet_params p = { 2, 20, BCKM_POLICY_OWNED, 5, 0, 100, 1000, { 0 }, 0, 0, NULL };
    REQUIRE(bckm_keynet_new(&kn, &p) == BCKM_OK);
    bckm_sim_app app[2] = { bckm_keynet_app(kn, 1), bckm_keynet_app(kn, 2) };
    REQUIRE(app[0].self != NULL && app[1].self != NULL);
    uint8_t env[BCKM_ENVELOPE_BYTES], bad[BCKM_ENVELOPE_BYTES];
    REQUIRE(bckm_keynet_request(kn, &app[0], 1, BCKM_OP_JOIN, env) == BCKM_OK);
    (void)bckm_keynet_take_charge_ns(kn);
    CHECK_EQ(app[0].ops->verify_tx(app[0].self, env, sizeof env), BCKM_SIM_TX_OK);
    CHECK_EQ(bckm_keynet_take_charge_ns(kn), 0); /* really verified */
    CHECK_EQ(app[1].ops->verify_tx(app[1].self, env, sizeof env), BCKM_SIM_TX_OK);
    CHECK_EQ(bckm_keynet_take_charge_ns(kn), 1000); /* shared, charged */
    CHECK_EQ(app[1].ops->verify_tx(app[1].self, env, sizeof env), BCKM_SIM_TX_OK);
    CHECK_EQ(bckm_keynet_take_charge_ns(kn), 0); /* its own cache: free */
    for (size_t i = 0; i < sizeof env; i += 17) {
        memcpy(bad, env, sizeof env);
        bad[i] ^= 0x01;
        for (int k = 0; k < 2; k++) {
            CHECK(app[k].ops->verify_tx(app[k].self, bad, sizeof bad) != BCKM_SIM_TX_OK);
            CHECK(app[k].ops->check_tx(app[k].self, bad, sizeof bad) != BCKM_SIM_TX_OK);
        }
    }
    for (int k = 0; k < 2; k++) app[k].ops->destroy(app[k].self);
    bckm_keynet_free(kn);
}

/* The contract runs once per change at a replica, and that execution drives
 * its BP's key manager: a BP whose replica missed changes (it was down) and
 * is restored from another's snapshot hands its key manager exactly those
 * changes, from the restore's own executions, in order and once. */
static void restored_replica_drives_its_key_manager(void) {
    struct bckm_keynet *kn;
    struct bckm_keynet_params p = { 2, 40,  BCKM_POLICY_OWNED, 77, UINT32_MAX, 100, 0, { 0 }, 0,
                                    0, NULL };
    REQUIRE(bckm_keynet_new(&kn, &p) == BCKM_OK);
    bckm_sim_app a1 = bckm_keynet_app(kn, 1), down = bckm_keynet_app(kn, 2);
    REQUIRE(a1.self != NULL && down.self != NULL);
    down.ops->destroy(down.self); /* BP 2 is down: nothing drives its key manager */
    uint8_t env[3][BCKM_ENVELOPE_BYTES];
    for (int i = 0; i < 3; i++) {
        uint8_t h[32];
        REQUIRE(bckm_keynet_request(kn, &a1, 1, BCKM_OP_JOIN, env[i]) == BCKM_OK);
        a1.ops->begin_block(a1.self, (uint64_t)i + 1);
        CHECK_EQ(a1.ops->deliver_tx(a1.self, env[i], BCKM_ENVELOPE_BYTES), BCKM_SIM_TX_OK);
        a1.ops->commit(a1.self, h);
    }
    CHECK_EQ(bckm_keynet_committed(kn, 1), BCKM_OK);
    CHECK_EQ(bckm_keynet_pending(kn, 2, &a1), 3);
    CHECK(bckm_keynet_check_devices(kn, &a1, 100) > 0); /* BP 2's devices are behind */
    uint8_t *snap;
    size_t slen;
    REQUIRE(a1.ops->snapshot(a1.self, &snap, &slen) == BCKM_OK);
    bckm_sim_app a2 = bckm_keynet_app(kn, 2);
    REQUIRE(a2.self != NULL);
    CHECK_EQ(a2.ops->restore(a2.self, snap, slen), BCKM_OK);
    free(snap);
    uint8_t seen[BCKM_ENVELOPE_BYTES];
    int stepped = 0;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(bckm_keynet_follow(kn, 2, &stepped, seen, NULL), BCKM_OK);
        CHECK_EQ(stepped, 1);
        CHECK_MEM(seen, env[i], BCKM_ENVELOPE_BYTES);
    }
    CHECK_EQ(bckm_keynet_follow(kn, 2, &stepped, NULL, NULL), BCKM_OK);
    CHECK_EQ(stepped, 0);
    CHECK_EQ(bckm_keynet_pending(kn, 2, &a2), 0);
    CHECK_EQ(bckm_keynet_check_devices(kn, &a2, 200), 0);
    /* A reference replica executes the same chain and drives nothing. */
    bckm_sim_app ref = bckm_keynet_app(kn, 0);
    REQUIRE(ref.self != NULL);
    ref.ops->begin_block(ref.self, 1);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(ref.ops->deliver_tx(ref.self, env[i], BCKM_ENVELOPE_BYTES), BCKM_SIM_TX_OK);
    CHECK_EQ(bckm_keynet_follow(kn, 1, &stepped, NULL, NULL), BCKM_OK);
    CHECK_EQ(stepped, 0);
    CHECK_EQ(bckm_keynet_check_devices(kn, &a2, 200), 0);
    ref.ops->destroy(ref.self);
    a1.ops->destroy(a1.self);
    a2.ops->destroy(a2.self);
    bckm_keynet_free(kn);
}

static void owned_four_bps_all_devices(void) {
    run(4, BCKM_POLICY_OWNED, 200, check_small() ? 60 : 300, UINT32_MAX);
}
static void global_three_bps_all_devices(void) {
    run(3, BCKM_POLICY_GLOBAL, 150, check_small() ? 60 : 300, UINT32_MAX);
}
static void sampled_devices_large_genesis(void) {
    run(8, BCKM_POLICY_OWNED, check_small() ? 2000 : 20000, 40, 200);
}

CHECK_CASES(CASE(owned_four_bps_all_devices), CASE(global_three_bps_all_devices),
            CASE(sampled_devices_large_genesis), CASE(withheld_messages_caught),
            CASE(check_state_follows_blocks), CASE(shared_verification_exact),
            CASE(restored_replica_drives_its_key_manager))
