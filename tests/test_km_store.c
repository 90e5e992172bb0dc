/*
 * The key manager's state at rest (bckm/km_store.h): a sealed state opens
 * into a key manager with the same keys, log, pending joins and generator;
 * a world whose BPs restart from their sealed state every few changes ends
 * exactly where a world without restarts does (same state digests, same
 * rekey messages, devices agreeing); and a blob of another key, BP or
 * height, or altered in any byte, or opened into another configuration,
 * is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bckm/km_store.h"
#include "check.h"
#include "l1world.h"

static const uint8_t storage_key[32] = { 0x51, 0x52, 0x53, 0x54 };

/* Seals BP bp's key manager, frees it, and puts the opened one in its place. */
static int restart_bp(struct l1world *w, uint32_t bp, uint64_t height) {
    uint8_t *blob = NULL, before[32], after[32];
    size_t len = 0;
    struct bckm_km *km = NULL;
    struct bckm_km_config c = l1_km_config(w, bp);
    int e = bckm_km_state_digest(w->fleet.km[bp], before);
    if (e == BCKM_OK) e = bckm_km_state_seal(w->fleet.km[bp], height, storage_key, &blob, &len);
    if (e == BCKM_OK) e = bckm_km_state_open(&c, height, storage_key, blob, len, &km);
    bckm_km_state_release(blob, len);
    if (e == BCKM_OK) e = bckm_km_state_digest(km, after);
    if (e == BCKM_OK && memcmp(before, after, 32) != 0) e = BCKM_ERR_MISMATCH;
    if (e != BCKM_OK) {
        bckm_km_free(km);
        return e;
    }
    bckm_km_free(w->fleet.km[bp]);
    w->fleet.km[bp] = km;
    return BCKM_OK;
}

static void test_restarts_change_nothing(void) {
    for (int policy = 0; policy < 2; policy++) {
        bckm_policy pol = policy ? BCKM_POLICY_GLOBAL : BCKM_POLICY_OWNED;
        struct l1world a, b;
        REQUIRE(l1_init(&a, 3, pol, 256, 23) == BCKM_OK);
        REQUIRE(l1_init(&b, 3, pol, 256, 23) == BCKM_OK);
        REQUIRE(l1_genesis(&a, 24) == BCKM_OK);
        REQUIRE(l1_genesis(&b, 24) == BCKM_OK);
        uint32_t ops = check_small() ? 30 : 80, restarts = 0;
        for (uint32_t op = 1; op <= ops; op++) {
            REQUIRE(l1_step(&a) == BCKM_OK);
            REQUIRE(l1_step(&b) == BCKM_OK);
            /* The same messages, byte for byte: the restarted generator goes
             * on exactly where it was. */
            for (uint32_t bp = 1; bp <= 3; bp++) {
                CHECK_EQ(a.out[bp].len, b.out[bp].len);
                if (a.out[bp].len == b.out[bp].len && a.out[bp].len > 0)
                    CHECK_MEM(a.out[bp].buf, b.out[bp].buf, a.out[bp].len);
            }
            if (op % 5 == 0)
                for (uint32_t bp = 1; bp <= 3; bp++) {
                    CHECK_EQ(restart_bp(&b, bp, op), BCKM_OK);
                    restarts++;
                }
        }
        CHECK(restarts > 0);
        for (uint32_t bp = 1; bp <= 3; bp++) {
            uint8_t da[32], db[32];
            REQUIRE(bckm_km_state_digest(a.fleet.km[bp], da) == BCKM_OK);
            REQUIRE(bckm_km_state_digest(b.fleet.km[bp], db) == BCKM_OK);
            CHECK_MEM(da, db, 32);
        }
        CHECK_EQ(l1_check(&b, 256), 0);
        CHECK_EQ(l1_census(&b), 0);
        l1_free(&a);
        l1_free(&b);
    }
}

/* Refusals: every altered byte, a wrong key, BP or height, a short blob;
 * another policy or mode. Nothing is returned then. */
static void test_foreign_and_altered_blobs(void) {
    struct l1world w;
    REQUIRE(l1_init(&w, 3, BCKM_POLICY_OWNED, 128, 7) == BCKM_OK);
    REQUIRE(l1_genesis(&w, 12) == BCKM_OK);
    for (int i = 0; i < 6; i++) REQUIRE(l1_step(&w) == BCKM_OK);
    uint8_t *blob = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    REQUIRE(bckm_km_state_seal(w.fleet.km[2], 9, storage_key, &blob, &len) == BCKM_OK);
    /* Sealing draws no randomness: the same state seals to the same bytes. */
    REQUIRE(bckm_km_state_seal(w.fleet.km[2], 9, storage_key, &again, &len2) == BCKM_OK);
    CHECK_EQ(len, len2);
    CHECK_MEM(blob, again, len);
    bckm_km_state_release(again, len2);
    struct bckm_km_config c = l1_km_config(&w, 2);
    struct bckm_km *km = NULL;
    CHECK_EQ(bckm_km_state_open(&c, 9, storage_key, blob, len, &km), BCKM_OK);
    /* The keys are back: every set key the original holds. */
    for (uint32_t i = 0; i < bckm_sets_count(w.reg); i++) {
        uint32_t set = bckm_sets_table(w.reg)[i].id;
        uint8_t k1[32], k2[32];
        int e1 = bckm_km_set_key(w.fleet.km[2], set, k1), e2 = bckm_km_set_key(km, set, k2);
        CHECK_EQ(e1, e2);
        if (e1 == BCKM_OK) CHECK_MEM(k1, k2, 32);
    }
    bckm_km_free(km);
    km = NULL;
    uint8_t other_key[32];
    memcpy(other_key, storage_key, 32);
    other_key[31] ^= 1;
    CHECK_EQ(bckm_km_state_open(&c, 9, other_key, blob, len, &km), BCKM_ERR_AUTH);
    CHECK_EQ(bckm_km_state_open(&c, 10, storage_key, blob, len, &km), BCKM_ERR_AUTH);
    struct bckm_km_config c3 = l1_km_config(&w, 3);
    CHECK_EQ(bckm_km_state_open(&c3, 9, storage_key, blob, len, &km), BCKM_ERR_AUTH);
    CHECK_EQ(bckm_km_state_open(&c, 9, storage_key, blob, 30, &km), BCKM_ERR_AUTH);
    uint32_t refused = 0;
    for (size_t i = 0; i < len; i++) {
        blob[i] ^= 0x20;
        refused += bckm_km_state_open(&c, 9, storage_key, blob, len, &km) == BCKM_ERR_AUTH;
        blob[i] ^= 0x20;
    }
    CHECK_EQ(refused, len);
    struct bckm_km_config cg = c;
    cg.policy = BCKM_POLICY_GLOBAL;
    CHECK_EQ(bckm_km_state_open(&cg, 9, storage_key, blob, len, &km), BCKM_ERR_MISMATCH);
    struct bckm_km_config cr = c;
    cr.drbg_seed = NULL;
    CHECK_EQ(bckm_km_state_open(&cr, 9, storage_key, blob, len, &km), BCKM_ERR_MISMATCH);
    CHECK(km == NULL);
    bckm_km_state_release(blob, len);
    l1_free(&w);
}

CHECK_CASES(CASE(test_restarts_change_nothing), CASE(test_foreign_and_altered_blobs))
