/* Byzantine BPs at the key layer in the PBFT cluster (spec/cluster.md,
 * "Byzantine BPs at the key layer"): a swarm over both policies in which up
 * to f BPs evict nodes of other BPs, forge rekey messages to other BPs'
 * devices and replay recorded ones (to devices in resync too). Every forgery
 * and replay must be refused by the device it reaches and every foreign
 * eviction by the contract; a run in which an honest BP's device accepts one
 * fails, and the test mode in which devices trust the forger's key shows
 * that it does. */
#include <string.h>

#include "bckm/common.h"
#include "bckm/sets.h"
#include "check.h"
#include "sim/cluster.h"
#include "sim/keynet.h"

struct totals {
    uint64_t runs, forged, forged_refused, replayed, replays_refused, resyncs;
    uint64_t evicts, refused_check, refused_exec;
};

static void test_swarm_byzantine_keys(void) {
    uint64_t seeds = check_small() ? 30 : 200, bad = 0;
    struct totals t[3];
    memset(t, 0, sizeof t);
    for (uint64_t s = 1; s <= seeds; s++) {
        bckm_sim_params p;
        bckm_sim_result r;
        bckm_sim_swarm_params_app(s, 0, -1, BCKM_SIM_APP_KEYS, &p);
        bckm_sim_swarm_byz_keys(s, &p);
        uint32_t keybyz = 0;
        for (uint32_t i = 0; i < p.bps; i++) keybyz += p.byz_keys[i] != 0;
        CHECK(keybyz >= 1 && keybyz <= (p.bps - 1) / 3);
        REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
        if (r.outcome != BCKM_SIM_OK) {
            bad++;
            fprintf(stderr,
                    "seed %llu: %s (replay: bckm-sim check --seeds %llu-%llu --app keys "
                    "--byzantine-keys)\n",
                    (unsigned long long)s, r.violation, (unsigned long long)s,
                    (unsigned long long)s);
        }
        CHECK_EQ(r.lost, 0);
        CHECK_EQ(r.device_violations, 0);
        CHECK_EQ(r.byz_accepted, 0);
        CHECK_EQ(r.byz_forged_refused, r.byz_forged);
        CHECK_EQ(r.byz_replays_refused, r.byz_replayed);
        struct totals *x = &t[p.policy == BCKM_POLICY_GLOBAL ? 2 : 1];
        x->runs++;
        x->forged += r.byz_forged;
        x->forged_refused += r.byz_forged_refused;
        x->replayed += r.byz_replayed;
        x->replays_refused += r.byz_replays_refused;
        x->resyncs += r.byz_resyncs;
        x->evicts += r.byz_evicts;
        x->refused_check += r.byz_evicts_refused_check;
        x->refused_exec += r.byz_evicts_refused_exec;
    }
    CHECK_EQ(bad, 0);
    /* Every behaviour really ran, under both policies. */
    for (int k = 1; k <= 2; k++) {
        CHECK(t[k].runs > 0);
        CHECK(t[k].forged > 0);
        CHECK(t[k].forged_refused > 0);
        CHECK(t[k].replayed > 0);
        CHECK(t[k].replays_refused > 0);
        CHECK(t[k].resyncs > 0);
        CHECK(t[k].evicts > 0);
        CHECK(t[k].refused_check > 0);
    }
    /* Some forged leave/evict reached execution (a Byzantine primary's block). */
    CHECK(t[1].refused_exec + t[2].refused_exec > 0);
}

static void byz_params(bckm_sim_params *p, uint64_t seed, int policy, uint8_t behaviours) {
    bckm_sim_params_default(p);
    p->app = BCKM_SIM_APP_KEYS;
    p->seed = seed;
    p->nodes = 40;
    p->policy = policy;
    p->requests = 30;
    p->devices = BCKM_SIM_DEVICES_ALL;
    p->byz_keys[1] = behaviours;
}

/* The checker can fire: with honest BPs' devices made to trust the forging
 * BP's key (test mode), its forgeries get accepted and the run fails with
 * exactly that violation; the same runs without the test mode pass. */
static void test_trusting_device_caught(void) {
    uint64_t caught = 0, runs = 0;
    for (uint64_t s = 1; s <= 4; s++) {
        bckm_sim_params p;
        bckm_sim_result r;
        byz_params(&p, s, BCKM_POLICY_GLOBAL, BCKM_KEYNET_BYZ_FORGE);
        REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
        CHECK_EQ(r.outcome, BCKM_SIM_OK);
        CHECK_EQ(r.byz_accepted, 0);
        CHECK(r.byz_forged > 0);
        p.byz_keys_trust = 1;
        REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
        runs++;
        if (r.outcome == BCKM_SIM_SAFETY &&
            strstr(r.violation, "accepted a forged rekey message") != NULL) {
            caught++;
            CHECK(r.byz_accepted > 0);
        }
    }
    CHECK_EQ(caught, runs);
}

/* Each behaviour alone, owned policy: it runs and is refused. */
static void test_each_behaviour(void) {
    static const uint8_t kinds[] = { BCKM_KEYNET_BYZ_EVICT, BCKM_KEYNET_BYZ_FORGE,
                                     BCKM_KEYNET_BYZ_REPLAY };
    for (size_t k = 0; k < sizeof kinds; k++) {
        bckm_sim_params p;
        bckm_sim_result r;
        byz_params(&p, 7, BCKM_POLICY_OWNED, kinds[k]);
        REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
        CHECK_EQ(r.outcome, BCKM_SIM_OK);
        if (r.outcome != BCKM_SIM_OK) fprintf(stderr, "behaviour %u: %s\n", kinds[k], r.violation);
        CHECK_EQ(r.byz_accepted, 0);
        CHECK_EQ(r.device_violations, 0);
        if (kinds[k] == BCKM_KEYNET_BYZ_EVICT) {
            CHECK(r.byz_evicts > 0);
            CHECK(r.byz_evicts_refused_check > 0);
            CHECK_EQ(r.byz_forged + r.byz_replayed, 0);
        } else if (kinds[k] == BCKM_KEYNET_BYZ_FORGE) {
            CHECK(r.byz_forged > 0);
            CHECK_EQ(r.byz_forged_refused, r.byz_forged);
            CHECK_EQ(r.byz_evicts + r.byz_replayed, 0);
        } else {
            CHECK(r.byz_replayed > 0);
            CHECK(r.byz_resyncs > 0);
            CHECK_EQ(r.byz_replays_refused, r.byz_replayed);
            CHECK_EQ(r.byz_evicts + r.byz_forged, 0);
        }
    }
}

CHECK_CASES(CASE(test_swarm_byzantine_keys), CASE(test_trusting_device_caught),
            CASE(test_each_behaviour));
