/*
 * The key-management network the cluster replicates: the bckm contract as an
 * ABCI-like application (sim/app.h), the genesis network, each BP's key
 * manager and Ed25519 key, and a sample of real device key stores.
 *
 * The consensus engine sees only the application; the request path calls
 * keynet_request (Layer 1 work and the signed envelope at the receiving BP)
 * and, for every committed envelope, keynet_committed at every BP (that BP's
 * key manager rekeys its own devices). Nothing here knows about PBFT.
 */
#ifndef BCKM_SIM_KEYNET_H
#define BCKM_SIM_KEYNET_H

#include "bckm/contract.h"
#include "bckm/device.h"
#include "bckm/km.h"
#include "bckm/tx.h"
#include "sim/app.h"

struct keynet; /* opaque */

struct keynet_params {
    uint32_t bps;          /* 1..255 */
    uint32_t nodes;        /* genesis network size */
    bckm_policy policy;
    uint64_t seed;
    uint32_t devices;      /* simulated device stores: UINT32_MAX = all */
    uint32_t max_nodes;    /* device capacity bound (>= nodes + requests) */
};

int keynet_new(struct keynet **out, const struct keynet_params *p);
void keynet_free(struct keynet *kn);

/* An application instance starting from the genesis state (for a BP or the
 * checker's reference). */
bckm_sim_app keynet_app(struct keynet *kn);

/*
 * A request at BP bp: op is join, leave or evict (leave/evict pick a random
 * current member served by bp, or fail with BCKM_ERR_UNKNOWN). The BP's
 * Layer 1 work is done against the registry of `view` (the BP's committed
 * state). Writes the signed envelope; *seq_out is its sequence number.
 */
int keynet_request(struct keynet *kn, const bckm_sim_app *view, uint32_t bp, uint8_t op,
                   uint8_t env_out[BCKM_ENVELOPE_BYTES]) BCKM_MUST_CHECK;
/* The envelope was rejected at execution (it will never commit): the BP
 * drops its pending join and may retry with a fresh request. */
void keynet_abandon(struct keynet *kn, uint32_t bp, const uint8_t env[BCKM_ENVELOPE_BYTES]);

/*
 * An envelope committed at BP bp's application `app` (called right after its
 * deliver_tx succeeded, with that app's registry): BP bp's key manager
 * updates its keys and its sampled devices receive their messages. Each BP's
 * key manager must see every committed change exactly once, in chain order.
 */
int keynet_committed(struct keynet *kn, uint32_t bp, const bckm_sim_app *app) BCKM_MUST_CHECK;

/* Device invariants over the sample (agreement on `pairs` random links of
 * current members that are simulated, epoch equal to the registry's, key
 * count |S| + m); returns the number of violations. */
uint32_t keynet_check_devices(struct keynet *kn, const bckm_sim_app *app, uint32_t pairs);

/* Counters for reports. */
struct keynet_stats {
    uint64_t messages, message_bytes, device_errors, devices;
    size_t km_bytes[256];
};
void keynet_stats(const struct keynet *kn, struct keynet_stats *st);

/* The application's registry (for tests and reports). */
const struct bckm_sets *keynet_registry(const bckm_sim_app *app);

#endif
