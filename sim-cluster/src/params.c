/* A run's settings: the defaults, and the swarm's draws from a seed. */
#include "cluster_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void bckm_sim_params_default(bckm_sim_params *p) {
    memset(p, 0, sizeof *p);
    p->bps = 4;
    p->seed = 1;
    p->profile = bckm_sim_profile_find("lan");
    p->faults.byz_count = -1;
    p->requests = 50;
    p->request_gap_us = 2000;
    p->mode = BCKM_SIM_COMMIT;
    p->cost = BCKM_SIM_COST_MODEL;
    p->mempool_cap = 256;
    p->block_max_txs = 16;
    p->checkpoint_interval = 4;
    p->keys = 16;
    p->fault_us = 0;
    p->liveness_us = 20000000;
    p->app = BCKM_SIM_APP_KV;
    p->nodes = 0;
    p->policy = BCKM_POLICY_OWNED;
    p->devices = BCKM_SIM_DEVICES_ALL;
    p->join_pct = 50;
    p->leave_pct = 25;
}

void bckm_sim_swarm_params(uint64_t seed, uint32_t bps, int byzantine, bckm_sim_params *p) {
    bckm_sim_params_default(p);
    bckm_sim_rng r;
    bckm_sim_rng_seed(&r, bckm_sim_seed_derive(seed, "swarm"));
    static const uint32_t sizes[] = { 4, 4, 5, 7 };
    p->seed = seed;
    p->bps = bps ? bps : sizes[bckm_sim_rng_below(&r, 4)];
    uint32_t f = bckm_pbft_f(p->bps);
    uint32_t k = byzantine >= 0                  ? (uint32_t)byzantine
                 : byzantine == BCKM_SIM_SWARM_F ? f
                                                 : (uint32_t)bckm_sim_rng_below(&r, f + 1);
    if (k > p->bps) k = p->bps;
    static const bckm_sim_ratio loss[] = { { 0, 1 }, { 1, 200 }, { 1, 50 }, { 1, 20 } };
    static const bckm_sim_ratio dup[] = { { 0, 1 }, { 1, 100 }, { 1, 20 } };
    static const bckm_sim_ratio reorder[] = { { 0, 1 }, { 1, 20 }, { 1, 5 } };
    static const bckm_sim_ratio part[] = { { 0, 1 }, { 1, 500 }, { 1, 200 } };
    static const bckm_sim_ratio crash[] = { { 0, 1 }, { 1, 1000 }, { 1, 300 } };
    p->faults.loss = loss[bckm_sim_rng_below(&r, 4)];
    p->faults.dup = dup[bckm_sim_rng_below(&r, 3)];
    p->faults.reorder = reorder[bckm_sim_rng_below(&r, 3)];
    p->faults.partition = part[bckm_sim_rng_below(&r, 3)];
    p->faults.crash = crash[bckm_sim_rng_below(&r, 3)];
    p->requests = 20 + (uint32_t)bckm_sim_rng_below(&r, 30);
    p->request_gap_us = 500 + bckm_sim_rng_below(&r, 3000);
    p->keys = 4 + (uint32_t)bckm_sim_rng_below(&r, 28);
    p->block_max_txs = 4 + (uint32_t)bckm_sim_rng_below(&r, 28);
    p->mempool_cap = 16 + (uint32_t)bckm_sim_rng_below(&r, 240);
    p->checkpoint_interval = 2 + (uint32_t)bckm_sim_rng_below(&r, 7);
    p->fault_us = 50000 + bckm_sim_rng_below(&r, 250000);
    p->mode = (int)bckm_sim_rng_below(&r, 3);
    /* Mostly lan (cheap in events); wan and tendermint for their timers. */
    uint64_t prof = bckm_sim_rng_below(&r, 8);
    p->profile = bckm_sim_profile_find(prof == 6 ? "wan" : prof == 7 ? "tendermint" : "lan");
    p->request_gap_us += p->profile->one_way_us;
    p->fault_us = p->fault_us * (p->profile->vc_timeout_us / 50000);
    p->liveness_us = 400 * p->profile->vc_timeout_us;
    if (k > f) {
        /* More than f Byzantine BPs: they all equivocate together and hold
         * the first views' primaries, the attack PBFT cannot survive. */
        for (uint32_t i = 0; i < k; i++) p->byz_kind[i] = BCKM_BYZ_EQUIVOCATE;
        p->faults.byz_kind = BCKM_BYZ_EQUIVOCATE;
    } else {
        uint32_t ids[BCKM_SIM_MAX_BPS];
        for (uint32_t i = 0; i < p->bps; i++) ids[i] = i;
        for (uint32_t i = p->bps - 1; i > 0; i--) {
            uint32_t j = (uint32_t)bckm_sim_rng_below(&r, i + 1);
            // NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign): p->bps >= 1, ids[0..bps-1] set
            uint32_t t = ids[i];
            ids[i] = ids[j];
            ids[j] = t;
        }
        // cppcheck-suppress uninitvar ; i < k <= p->bps and ids[0..bps-1] are set
        for (uint32_t i = 0; i < k; i++) p->byz_kind[ids[i]] = 1 + (int)bckm_sim_rng_below(&r, 5);
        p->faults.byz_kind = k ? BCKM_BYZ_MIXED : BCKM_BYZ_HONEST;
    }
    p->faults.byz_count = (int)k;
}

void bckm_sim_swarm_params_app(uint64_t seed, uint32_t bps, int byzantine, int app,
                               bckm_sim_params *p) {
    bckm_sim_swarm_params(seed, bps, byzantine, p);
    if (app != BCKM_SIM_APP_KEYS) return;
    /* Its own stream, so the kv swarm's draws stay as they were. */
    bckm_sim_rng r;
    bckm_sim_rng_seed(&r, bckm_sim_seed_derive(seed, "swarm-keys"));
    p->app = BCKM_SIM_APP_KEYS;
    p->nodes = 8 + (uint32_t)bckm_sim_rng_below(&r, 120);
    p->policy = bckm_sim_rng_chance(&r, 1, 2) ? BCKM_POLICY_GLOBAL : BCKM_POLICY_OWNED;
    p->devices = bckm_sim_rng_chance(&r, 1, 4) ? BCKM_SIM_DEVICES_ALL
                                               : 4 + (uint32_t)bckm_sim_rng_below(&r, 28);
    p->join_pct = 30 + (uint32_t)bckm_sim_rng_below(&r, 50);
    p->leave_pct = (100 - p->join_pct) / 2;
}

void bckm_sim_swarm_byz_keys(uint64_t seed, bckm_sim_params *p) {
    if (p->app != BCKM_SIM_APP_KEYS) return;
    bckm_sim_rng r;
    bckm_sim_rng_seed(&r, bckm_sim_seed_derive(seed, "swarm-byz-keys"));
    uint32_t f = bckm_pbft_f(p->bps), k = 0;
    for (uint32_t i = 0; i < p->bps; i++) k += p->byz_kind[i] != BCKM_BYZ_HONEST;
    if (f == 0 || k > f) return;
    if (k == 0) {
        /* None drawn at the consensus layer: one BP is Byzantine at the key
         * layer only (it runs PBFT honestly). */
        uint32_t i = (uint32_t)bckm_sim_rng_below(&r, p->bps);
        p->byz_keys[i] = (uint8_t)(1 + bckm_sim_rng_below(&r, BCKM_KEYNET_BYZ_ALL));
        return;
    }
    for (uint32_t i = 0; i < p->bps; i++)
        if (p->byz_kind[i] != BCKM_BYZ_HONEST)
            p->byz_keys[i] = (uint8_t)(1 + bckm_sim_rng_below(&r, BCKM_KEYNET_BYZ_ALL));
}

void bckm_sim_params_describe(const bckm_sim_params *p, char *buf, size_t cap) {
    BCKM_ASSERT(buf != NULL && cap > 0, "the caller gives room for at least the terminator");
    size_t o = 0;
#define OUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(o < cap ? buf + o : NULL, o < cap ? cap - o : 0, __VA_ARGS__);           \
        if (w_ > 0) o += (size_t)w_;                                                               \
    } while (0)
    OUT("bps %u, byzantine", p->bps);
    uint32_t nbyz = 0;
    for (uint32_t i = 0; i < p->bps && i < BCKM_SIM_MAX_BPS; i++) {
        if (p->byz_kind[i] == BCKM_BYZ_HONEST && p->byz_keys[i] == 0) continue;
        OUT(" %u:%s", i, bckm_sim_byz_name(p->byz_kind[i]));
        nbyz++;
        if (p->byz_keys[i] != 0) {
            OUT("+keys(");
            static const struct {
                unsigned bit;
                const char *name;
            } kb[] = { { BCKM_KEYNET_BYZ_EVICT, "evict" },
                       { BCKM_KEYNET_BYZ_FORGE, "forge" },
                       { BCKM_KEYNET_BYZ_REPLAY, "replay" } };
            int first = 1;
            for (size_t k = 0; k < sizeof kb / sizeof kb[0]; k++)
                if (p->byz_keys[i] & kb[k].bit) {
                    OUT("%s%s", first ? "" : "|", kb[k].name);
                    first = 0;
                }
            OUT(")");
        }
    }
    /* Not yet drawn (bckm_sim_run draws them from the seed): how many. */
    if (nbyz == 0 && p->faults.byz_kind != BCKM_BYZ_HONEST)
        OUT(" %s x %s", p->faults.byz_count < 0 ? "f" : "n", bckm_sim_byz_name(p->faults.byz_kind));
    else if (nbyz == 0)
        OUT(" none");
    const bckm_sim_faults *f = &p->faults;
    OUT(", faults loss=%u/%u dup=%u/%u reorder=%u/%u partition=%u/%u crash=%u/%u for %" PRIu64
        " ms",
        f->loss.num, f->loss.den, f->dup.num, f->dup.den, f->reorder.num, f->reorder.den,
        f->partition.num, f->partition.den, f->crash.num, f->crash.den, p->fault_us / 1000);
    OUT(", requests %u gap %" PRIu64
        " us, mode %s, profile %s, block-txs %u, mempool %u, checkpoint %u",
        p->requests, p->request_gap_us,
        p->mode == BCKM_SIM_ASYNC  ? "async"
        : p->mode == BCKM_SIM_SYNC ? "sync"
                                   : "commit",
        p->profile ? p->profile->name : "?", p->block_max_txs, p->mempool_cap,
        p->checkpoint_interval);
    if (p->app == BCKM_SIM_APP_KEYS) {
        OUT(", app keys nodes %u policy %s devices ", p->nodes,
            p->policy == BCKM_POLICY_GLOBAL ? "global" : "owned");
        if (p->devices == BCKM_SIM_DEVICES_ALL)
            OUT("all");
        else
            OUT("%u", p->devices);
        OUT(" join %u%% leave %u%%", p->join_pct, p->leave_pct);
    } else {
        OUT(", app kv keys %u", p->keys);
    }
#undef OUT
    if (o >= cap) buf[cap - 1] = '\0';
}
