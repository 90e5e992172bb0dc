/*
 * What keynet.c (the application, the request path, the key managers'
 * steps) and keynet_byz.c (the key-layer Byzantine BPs) share: the network's
 * state and a few helpers. Private to those two files.
 */
#ifndef BCKM_SIM_KEYNET_INTERNAL_H
#define BCKM_SIM_KEYNET_INTERNAL_H

#include "sim/fleet.h"
#include "sim/keynet.h"
#include "sim/sigcache.h"
#include "sim/u64set.h"

#include "bckm/map.h"

#include <sodium.h>
#include <stdio.h>

struct kapp;

struct step {
    uint8_t env[BCKM_ENVELOPE_BYTES];
    uint64_t ns; /* the key manager's CPU time, measured */
};

struct nodelist {
    uint32_t *ids;
    uint32_t n, cap;
};

struct bckm_keynet {
    struct bckm_keynet_params p;
    /* The BPs' key managers and keys, and the sampled device stores. */
    struct bckm_fleet fleet;
    int have_fleet;
    uint64_t next_seq[BCKM_MAX_BPS + 1];
    struct bckm_state *genesis;
    /* BP bp's key manager has handled the first followed[bp] changes of
     * the chain, each taken from the one execution of it by driver[bp] (its
     * newest replica): a replica restored by state transfer or replay hands
     * it exactly the changes it has not handled, in chain order. done[bp]
     * lists what it handled and the cluster has not yet taken; err[bp] is
     * its first failure (it then stops). */
    size_t followed[BCKM_MAX_BPS + 1];
    struct kapp *driver[BCKM_MAX_BPS + 1];
    struct steps {
        struct step *s;
        size_t head, n, cap;
    } done[BCKM_MAX_BPS + 1];
    int err[BCKM_MAX_BPS + 1];
    uint64_t device_ns; /* CPU time of device work, measured */
    struct bckm_plan plan;
    struct bckm_msgs msgs;
    struct bckm_drbg rng;
    struct nodelist live[BCKM_MAX_BPS + 1]; /* current members served by each BP */
    struct bckm_map leaving;                /* node ID -> 1 while its leave is in flight */
    uint64_t device_errors;                 /* besides the fleet's delivery refusals */
    /* Envelopes some replica verified: the simulator does the work once and
     * charges every other replica verify_charge_ns for it. */
    bckm_sim_sigcache shared_verified;
    uint64_t charged_ns;
    /* Key-layer Byzantine BPs: their own random stream (so an honest run's
     * draws are the same with or without them), the messages honest BPs
     * delivered (what a replayer recorded), the forged envelopes' IDs. */
    uint32_t nforge, nreplay, nevict;
    struct bckm_drbg adv;
    struct recorded {
        uint32_t node;
        uint64_t epoch;
        size_t len;
        uint8_t *msg;
    } rec[64];
    uint32_t rec_next;
    bckm_u64set forged_envs;
    struct bckm_keynet_byz_stats byz;
};

/* The network's stream (requests, device sample, device checks). */
static inline uint32_t keynet_rnd(struct bckm_keynet *kn, uint32_t bound) {
    return bckm_fleet_rand(&kn->rng, bound);
}
/* The key-layer adversary's own stream: an honest run draws the same
 * without it. */
static inline uint32_t keynet_adv_rnd(struct bckm_keynet *kn, uint32_t bound) {
    return bckm_fleet_rand(&kn->adv, bound);
}

static inline uint64_t keynet_env_id(const uint8_t *tx, size_t len) {
    uint8_t h[8];
    crypto_generichash(h, sizeof h, tx, len, NULL, 0);
    return bckm_get_u64(h);
}

/* The first violation, kept for the run's report. */
static inline void keynet_byz_note(struct bckm_keynet *kn, const char *what, uint32_t node,
                                   uint32_t bp) {
    if (kn->byz.first[0] != '\0') return;
    snprintf(kn->byz.first, sizeof kn->byz.first, "%s (node %u, BP %u)", what, node, bp);
}

/* The registry of the app's check state (committed plus admitted); NULL
 * when it cannot be built. */
const struct bckm_sets *keynet_check_registry(const bckm_sim_app *app);

/* BP bp's devices receive its key manager's messages for this change
 * (kn->msgs), reg being the registry right after it, with the key-layer
 * Byzantine BPs' forgeries, replays and a resync in between. */
void keynet_byz_release(struct bckm_keynet *kn, uint32_t bp, const struct bckm_sets *reg);

#endif
