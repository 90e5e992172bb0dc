/*
 * The cluster on core's ledger (bckm/ledger.h): every BP commits core's
 * blocks and certificates into it, a BP that crashes comes back from its
 * LMDB store, the stores of one run hold the same chain byte for byte and
 * verify against the run's BP keys, and either backend gives the same run.
 */
#include <dirent.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bckm/common.h"
#include "bckm/ledger.h"
#include "check.h"
#include "sim/cluster.h"
#include "sim/rng.h"

/* ---- helpers -------------------------------------------------------------- */

static void rm_tree(const char *path) {
    DIR *d = opendir(path);
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            rm_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static char *temp_dir(char buf[64]) {
    strcpy(buf, "/tmp/bckm-sim-ledger-XXXXXX");
    return mkdtemp(buf);
}

/* The run's BP keys, derived from its seed as bckm_sim_run does (so a
 * change there fails this test too). */
static void run_keys(uint64_t seed, uint32_t n, uint8_t pk[][32]) {
    bckm_sim_rng rng;
    uint8_t sk[64];
    bckm_sim_rng_seed(&rng, bckm_sim_seed_derive(seed, "keys"));
    for (uint32_t i = 0; i < n; i++) {
        uint8_t s[32];
        for (size_t k = 0; k < 4; k++) bckm_put_u64(s + 8 * k, bckm_sim_rng_next(&rng));
        crypto_sign_seed_keypair(pk[i], sk, s);
    }
}

/* Opens BP i's store of a finished run, verified (chain, certificates
 * against the run's keys) by core's ledger. */
static int open_store(const char *tmp, uint32_t i, const uint8_t pk[][32], uint32_t n,
                      uint32_t flags, bckm_ledger **out) {
    char dir[128];
    struct bckm_ledger_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.bp_pk = (const uint8_t(*)[BCKM_SIGN_PK_BYTES])pk;
    cfg.n_bps = n;
    cfg.f = (n - 1) / 3;
    cfg.flags = flags;
    snprintf(dir, sizeof dir, "%s/bp-%u", tmp, i);
    return bckm_ledger_open_lmdb(dir, &cfg, out);
}

/* 1 when the two stores hold the same blocks, certificates and status
 * bytes up to height h. */
static int same_chain(bckm_ledger *a, bckm_ledger *b, uint64_t h) {
    static uint8_t x[1 << 20], y[1 << 20];
    for (uint64_t k = 1; k <= h; k++) {
        size_t lx = 0, ly = 0;
        if (bckm_ledger_get_block(a, k, x, sizeof x, &lx) != BCKM_OK ||
            bckm_ledger_get_block(b, k, y, sizeof y, &ly) != BCKM_OK || lx != ly ||
            memcmp(x, y, lx) != 0)
            return 0;
        if (bckm_ledger_get_status(a, k, x, sizeof x, &lx) != BCKM_OK ||
            bckm_ledger_get_status(b, k, y, sizeof y, &ly) != BCKM_OK || lx != ly ||
            memcmp(x, y, lx) != 0)
            return 0;
    }
    return 1;
}

/* ---- the cluster with the store ------------------------------------------- */

static void crash_params(bckm_sim_params *p, uint32_t victim) {
    bckm_sim_params_default(p);
    p->seed = 31 + victim;
    p->requests = check_small() ? 40 : 80;
    p->checkpoint_interval = 3;
    p->plan_len = 1;
    p->plan[0] = (bckm_sim_plan){ BCKM_SIM_PLAN_CRASH, victim, 60000, 200000 };
}

/* A BP crashes and comes back from its LMDB store: nothing committed is
 * lost and its stored ledger equals every other BP's. */
static void test_cluster_lmdb_restart(void) {
    for (uint32_t victim = 0; victim < 2; victim++) {
        char tmp[64];
        REQUIRE(temp_dir(tmp) != NULL);
        bckm_sim_params p;
        bckm_sim_result r;
        crash_params(&p, victim);
        p.app = BCKM_SIM_APP_KEYS; /* envelopes: the stores index them */
        p.nodes = 64;
        p.ledger = BCKM_SIM_LEDGER_LMDB;
        p.ledger_dir = tmp;
        REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
        CHECK_EQ(r.outcome, BCKM_SIM_OK);
        if (r.outcome != BCKM_SIM_OK) fprintf(stderr, "%s\n", r.violation);
        CHECK_EQ(r.restarts, 1);
        CHECK_EQ(r.lost, 0);
        CHECK_EQ(r.committed, p.requests);
        CHECK_EQ(r.bp_height[victim], r.max_height);
        CHECK_EQ(r.min_height, r.max_height);
        /* The stores on disk: core's ledger opens and verifies each; all
         * at the same height with the same blocks and results. */
        uint8_t pk[4][32];
        run_keys(p.seed, 4, pk);
        bckm_ledger *l[4] = { NULL, NULL, NULL, NULL };
        int opened = 0;
        for (uint32_t i = 0; i < 4; i++)
            opened += open_store(tmp, i, (const uint8_t(*)[32])pk, 4, 0, &l[i]) == BCKM_OK;
        CHECK_EQ(opened, 4);
        if (opened == 4) {
            CHECK(bckm_ledger_height(l[victim]) > 0);
            for (uint32_t i = 0; i < 4; i++) {
                CHECK_EQ(bckm_ledger_height(l[i]), r.max_height);
                CHECK(same_chain(l[0], l[i], r.max_height));
            }
            /* A key application's store: every tx an envelope, indexed. */
            struct bckm_ledger_entry ent[4];
            size_t got = 0;
            CHECK_EQ(bckm_ledger_txs_after(l[0], BCKM_LEDGER_POS_START, ent, 4, &got), BCKM_OK);
            CHECK(got > 0);
        }
        for (uint32_t i = 0; i < 4; i++) bckm_ledger_close(l[i]);
        /* With other keys the certificates do not verify: the store is refused. */
        pk[2][0] ^= 1;
        bckm_ledger *bad = NULL;
        CHECK(open_store(tmp, 0, (const uint8_t(*)[32])pk, 4, 0, &bad) != BCKM_OK);
        bckm_ledger_close(bad);
        /* The same directory again: refused before anything runs. */
        CHECK_EQ(bckm_sim_run(&p, &r), BCKM_ERR_STATE);
        CHECK(strstr(r.violation, "another run") != NULL);
        rm_tree(tmp);
    }
}

/* The kv test store's transactions are not envelopes: its ledger is opaque,
 * and an opaque store is refused when opened as an envelope one. */
static void test_kv_store_is_opaque(void) {
    char tmp[64];
    REQUIRE(temp_dir(tmp) != NULL);
    bckm_sim_params p;
    bckm_sim_result r;
    crash_params(&p, 0);
    p.ledger = BCKM_SIM_LEDGER_LMDB;
    p.ledger_dir = tmp;
    REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
    CHECK_EQ(r.outcome, BCKM_SIM_OK);
    uint8_t pk[4][32];
    run_keys(p.seed, 4, pk);
    bckm_ledger *l = NULL;
    CHECK_EQ(open_store(tmp, 1, (const uint8_t(*)[32])pk, 4, BCKM_LEDGER_OPAQUE, &l), BCKM_OK);
    CHECK_EQ(bckm_ledger_height(l), r.max_height);
    bckm_ledger_close(l);
    l = NULL;
    CHECK_EQ(open_store(tmp, 1, (const uint8_t(*)[32])pk, 4, 0, &l), BCKM_ERR_CORRUPT);
    bckm_ledger_close(l);
    rm_tree(tmp);
}

/* With the model cost, the backend changes nothing the run can see: the
 * model charges a restart's replay the same for both (the memory ledger
 * stands for the disk), so even the trace hash is equal. */
static void test_cluster_mem_equals_lmdb(void) {
    char tmp[64];
    REQUIRE(temp_dir(tmp) != NULL);
    bckm_sim_params p;
    bckm_sim_result a, b;
    crash_params(&p, 1);
    REQUIRE(bckm_sim_run(&p, &a) == BCKM_OK);
    p.ledger = BCKM_SIM_LEDGER_LMDB;
    p.ledger_dir = tmp;
    REQUIRE(bckm_sim_run(&p, &b) == BCKM_OK);
    CHECK_EQ(a.outcome, BCKM_SIM_OK);
    CHECK_EQ(b.outcome, BCKM_SIM_OK);
    CHECK_EQ(a.restarts, 1);
    CHECK_EQ(b.restarts, 1);
    CHECK_EQ(a.committed, b.committed);
    CHECK_EQ(a.max_height, b.max_height);
    CHECK_EQ(a.bp_cpu_us, b.bp_cpu_us);
    CHECK_EQ(a.end_us, b.end_us);
    for (uint32_t i = 0; i < 4; i++) CHECK_EQ(a.bp_height[i], b.bp_height[i]);
    CHECK_MEM(a.trace_hash, b.trace_hash, 32);
    rm_tree(tmp);
}

/* The restart's replay and catch-up are charged to the BP's CPU, in
 * proportion to what it replays; a run without a crash charges none. */
static void test_restart_is_charged(void) {
    bckm_sim_params p;
    bckm_sim_result a, b, none;
    crash_params(&p, 2);
    p.checkpoint_interval = 0; /* no snapshot: the restart replays the whole ledger */
    REQUIRE(bckm_sim_run(&p, &a) == BCKM_OK);
    CHECK_EQ(a.outcome, BCKM_SIM_OK);
    CHECK_EQ(a.restarts, 1);
    CHECK(a.restart_cpu_us > 0);
    CHECK(a.restart_cpu_us < a.bp_cpu_us);
    /* A later crash has more to replay. */
    p.plan[0].start_us = 150000;
    p.plan[0].end_us = 290000;
    REQUIRE(bckm_sim_run(&p, &b) == BCKM_OK);
    CHECK_EQ(b.outcome, BCKM_SIM_OK);
    CHECK_EQ(b.restarts, 1);
    CHECK(b.restart_cpu_us > a.restart_cpu_us);
    p.plan_len = 0;
    REQUIRE(bckm_sim_run(&p, &none) == BCKM_OK);
    CHECK_EQ(none.outcome, BCKM_SIM_OK);
    CHECK_EQ(none.restart_cpu_us, 0);
}

CHECK_CASES(CASE(test_cluster_lmdb_restart), CASE(test_kv_store_is_opaque),
            CASE(test_cluster_mem_equals_lmdb), CASE(test_restart_is_charged))
