/* The PBFT cluster replicating the key-management contract: determinism in
 * the cost model, a swarm of seeds with f Byzantine BPs and faults, crash and
 * restart, state transfer, the Layer 1 timing split, and a run from a genesis
 * of 100,000 nodes over 32 BPs. After every run the cluster has checked that
 * each simulated device of an honest BP is at the current epoch and agrees
 * with its peers. */
#include <string.h>

#include "bckm/common.h"
#include "bckm/sets.h"
#include "check.h"
#include "sim/cluster.h"

static void key_params(bckm_sim_params *p, uint64_t seed, uint32_t nodes) {
    bckm_sim_params_default(p);
    p->app = BCKM_SIM_APP_KEYS;
    p->seed = seed;
    p->nodes = nodes;
    p->devices = BCKM_SIM_DEVICES_ALL;
}

/* What every finished key-app run must show. */
static void check_keys_run(const bckm_sim_params *p, const bckm_sim_result *r) {
    CHECK_EQ(r->outcome, BCKM_SIM_OK);
    if (r->outcome != BCKM_SIM_OK)
        fprintf(stderr, "seed %llu: %s\n", (unsigned long long)p->seed, r->violation);
    CHECK_EQ(r->lost, 0);
    CHECK_EQ(r->committed, p->requests);
    CHECK_EQ(r->device_violations, 0);
    CHECK_EQ(r->keynet_failures, 0);
    CHECK_EQ(r->joins + r->leaves + r->evicts, r->committed);
    /* Each committed request changed the network by exactly one node. */
    CHECK_EQ(r->members + r->leaves + r->evicts, (uint64_t)p->nodes + r->joins);
}

static void test_determinism(void) {
    bckm_sim_params p;
    bckm_sim_result a, b, c;
    key_params(&p, 5, 120);
    p.requests = check_small() ? 20 : 60;
    char err[128];
    REQUIRE(bckm_sim_faults_parse("loss=1/50,dup=1/50,reorder=1/10,crash=1/500,byz=mixed",
                                  &p.faults, err, sizeof err) == BCKM_OK);
    p.fault_us = 150000;
    REQUIRE(bckm_sim_run(&p, &a) == BCKM_OK);
    REQUIRE(bckm_sim_run(&p, &b) == BCKM_OK);
    check_keys_run(&p, &a);
    CHECK_MEM(a.trace_hash, b.trace_hash, 32);
    CHECK_EQ(a.events, b.events);
    CHECK_EQ(a.members, b.members);
    CHECK_EQ(a.rekey_messages, b.rekey_messages);
    CHECK(a.rekey_messages > 0);
    CHECK(a.devices > 0);
    CHECK(a.t_k.mean_us == b.t_k.mean_us && a.t_a.p99_us == b.t_a.p99_us);
    p.seed = 6;
    REQUIRE(bckm_sim_run(&p, &c) == BCKM_OK);
    check_keys_run(&p, &c);
    CHECK(memcmp(a.trace_hash, c.trace_hash, 32) != 0);
    /* The key app's runs differ from the kv app's on the same seed. */
    p.seed = 5;
    p.app = BCKM_SIM_APP_KV;
    REQUIRE(bckm_sim_run(&p, &c) == BCKM_OK);
    CHECK(memcmp(a.trace_hash, c.trace_hash, 32) != 0);
    CHECK_EQ(c.t_k.mean_us, 0.0);
}

static void test_swarm_f_byzantine(void) {
    uint64_t seeds = check_small() ? 25 : 200, bad = 0, byz = 0, restarts = 0, fetches = 0;
    uint64_t leaves = 0, global = 0, devices = 0;
    for (uint64_t s = 1; s <= seeds; s++) {
        bckm_sim_params p;
        bckm_sim_result r;
        bckm_sim_swarm_params_app(s, 0, BCKM_SIM_SWARM_F, BCKM_SIM_APP_KEYS, &p);
        CHECK_EQ(p.app, BCKM_SIM_APP_KEYS);
        REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
        if (r.outcome != BCKM_SIM_OK) {
            bad++;
            fprintf(stderr, "seed %llu: %s (replay: bckm-sim check --seeds %llu-%llu --app keys)\n",
                    (unsigned long long)s, r.violation, (unsigned long long)s,
                    (unsigned long long)s);
        }
        CHECK_EQ(r.lost, 0);
        CHECK_EQ(r.device_violations, 0);
        byz += r.byzantine;
        restarts += r.restarts;
        fetches += r.fetches;
        leaves += r.leaves + r.evicts;
        devices += r.devices;
        global += p.policy == BCKM_POLICY_GLOBAL;
    }
    CHECK_EQ(bad, 0);
    /* The swarm did exercise what it claims to. */
    CHECK(byz > 0);
    CHECK(restarts > 0);
    CHECK(fetches > 0);
    CHECK(leaves > 0);
    CHECK(devices > 0);
    CHECK(global > 0 && global < seeds);
}

static void test_f_plus_one_fork_caught(void) {
    uint64_t found = 0;
    for (uint64_t s = 1; s <= 6 && found == 0; s++) {
        bckm_sim_params p;
        bckm_sim_result r;
        bckm_sim_swarm_params_app(s, 4, 2, BCKM_SIM_APP_KEYS, &p);
        REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
        found += r.outcome == BCKM_SIM_SAFETY;
    }
    CHECK(found > 0);
}

static void test_crash_restart_keeps_committed(void) {
    for (uint32_t victim = 0; victim < 2; victim++) { /* the view-0 primary, then a backup */
        bckm_sim_params p;
        bckm_sim_result r;
        key_params(&p, 31 + victim, 150);
        p.policy = victim ? BCKM_POLICY_GLOBAL : BCKM_POLICY_OWNED;
        p.requests = check_small() ? 40 : 80;
        p.checkpoint_interval = 3;
        p.plan_len = 1;
        p.plan[0] = (bckm_sim_plan){ BCKM_SIM_PLAN_CRASH, victim, 40000, 180000 };
        REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
        check_keys_run(&p, &r);
        CHECK_EQ(r.restarts, 1);
        CHECK(r.bp_restored_from[victim] > 0);
        CHECK_EQ(r.bp_height[victim], r.max_height);
        CHECK_EQ(r.min_height, r.max_height);
        CHECK(r.devices > 0);
    }
}

static void test_lagging_bp_state_transfer(void) {
    bckm_sim_params p;
    bckm_sim_result r;
    key_params(&p, 41, 100);
    p.requests = check_small() ? 40 : 80;
    p.block_max_txs = 2;
    p.plan_len = 1;
    p.plan[0] = (bckm_sim_plan){ BCKM_SIM_PLAN_ISOLATE, 3, 5000, 250000 };
    REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
    check_keys_run(&p, &r);
    CHECK(r.bp_fetches[3] > 0);
    CHECK_EQ(r.bp_height[3], r.max_height);
    CHECK(r.max_height > 16);
}

/* T_r is assembled from T_k, T_e and T_a as the mode says, per request, so
 * the means add up the same way. */
static void test_timing_split(void) {
    static const int modes[] = { BCKM_SIM_COMMIT, BCKM_SIM_SYNC, BCKM_SIM_ASYNC };
    for (int m = 0; m < 3; m++) {
        for (int cost = 0; cost < 2; cost++) {
            bckm_sim_params p;
            bckm_sim_result r;
            key_params(&p, 51, 80);
            p.requests = 30;
            p.mode = modes[m];
            p.cost = cost ? BCKM_SIM_COST_MEASURED : BCKM_SIM_COST_MODEL;
            REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
            check_keys_run(&p, &r);
            CHECK(r.t_k.mean_us > 0);
            CHECK(r.t_k.p50_us > 0);
            CHECK(r.t_e.mean_us > 0);
            CHECK(r.t_a.mean_us > 0);
            double want = r.t_k.mean_us;
            if (p.mode != BCKM_SIM_ASYNC) want += r.t_e.mean_us;
            if (p.mode == BCKM_SIM_COMMIT) want += r.t_a.mean_us;
            double d = r.t_r.mean_us - want;
            CHECK(d < 0.001 && d > -0.001);
        }
    }
}

/* A BP whose key manager keeps its rekey messages leaves its devices behind:
 * the end-of-run device check reports it (and only then). */
static void test_device_check_catches(void) {
    bckm_sim_params p;
    bckm_sim_result r;
    key_params(&p, 71, 60);
    p.requests = 20;
    REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
    check_keys_run(&p, &r);
    p.withhold_rekeys = 2;
    REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
    CHECK_EQ(r.outcome, BCKM_SIM_SAFETY);
    CHECK(r.device_violations > 0);
    CHECK(strncmp(r.violation, "devices:", 8) == 0);
    CHECK_EQ(r.lost, 0); /* consensus itself was fine */
}

static void test_scale_genesis(void) {
    bckm_sim_params p;
    bckm_sim_result r;
    key_params(&p, 61, check_small() ? 10000 : 100000);
    p.bps = 32;
    p.requests = 20;
    p.devices = 200;
    REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
    check_keys_run(&p, &r);
    CHECK(r.devices > 0);
    CHECK(r.devices < p.nodes / 10); /* a sample, not every device */
    CHECK(r.rekey_messages > 0);
    CHECK_EQ(r.min_height, r.max_height);
}

/* A BP prepares against its check state (committed plus admitted), so
 * requests it prepares between two blocks see each other: with one BP and
 * requests arriving far faster than blocks, none is refused at admission or
 * at execution. (Preparing against the committed state alone made almost
 * every join of a block but the first fail: all claimed the same set.) */
static void test_check_state_no_conflicts(void) {
    for (int pol = BCKM_POLICY_OWNED; pol <= BCKM_POLICY_GLOBAL; pol++) {
        bckm_sim_params p;
        bckm_sim_result r;
        key_params(&p, 11, 400);
        p.bps = 1;
        p.policy = pol;
        p.requests = check_small() ? 60 : 300;
        p.request_gap_us = 20;
        p.block_max_txs = 64;
        p.mempool_cap = 1024;
        REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
        check_keys_run(&p, &r);
        CHECK(r.joins > 10);
        CHECK(r.max_height < p.requests / 4); /* many requests per block */
        CHECK_EQ(r.exec_rejected, 0);
        CHECK_EQ(r.check_rejected, 0);
        CHECK_EQ(r.retries, 0);
        /* The throughput window and the CPU account. */
        CHECK(r.first_arrival_us > 0);
        CHECK(r.first_arrival_us < r.commit90_us);
        CHECK(r.commit90_us <= r.last_commit_us);
        CHECK(r.last_commit_us <= r.end_us);
        CHECK(r.bp_cpu_us > 0);
    }
}

CHECK_CASES(CASE(test_check_state_no_conflicts), CASE(test_determinism),
            CASE(test_swarm_f_byzantine), CASE(test_f_plus_one_fork_caught),
            CASE(test_crash_restart_keeps_committed), CASE(test_lagging_bp_state_transfer),
            CASE(test_timing_split), CASE(test_device_check_catches), CASE(test_scale_genesis))
