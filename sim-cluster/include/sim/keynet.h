/*
 * The key-management network the cluster replicates: the bckm contract as an
 * ABCI-like application (sim/app.h) over a device fleet (sim/fleet.h: each
 * BP's key manager and Ed25519 key, the genesis network, a sample of real
 * device key stores).
 *
 * The consensus engine sees only the application; the request path calls
 * bckm_keynet_prepare (Layer 1 work at the receiving BP) and bckm_keynet_seal (the
 * signed envelope). The contract runs once per change at each replica: BP
 * bp's replica hands each change it executes, with that execution's plan,
 * to BP bp's key manager, whose rekey messages then reach bp's devices;
 * after every executed block the cluster takes what happened with
 * bckm_keynet_follow. Nothing here knows about PBFT.
 */
#ifndef BCKM_SIM_KEYNET_H
#define BCKM_SIM_KEYNET_H

#include "bckm/contract.h"
#include "bckm/device.h"
#include "bckm/km.h"
#include "bckm/tx.h"
#include "sim/app.h"

struct bckm_keynet; /* opaque */

/* Key-layer Byzantine behaviours of a BP (bckm_keynet_params.byz_keys[bp], a
 * mask; spec/cluster.md, "Byzantine BPs at the key layer"). */
enum {
    BCKM_KEYNET_BYZ_EVICT = 1,  /* originates leave/evict envelopes for nodes of other BPs */
    BCKM_KEYNET_BYZ_FORGE = 2,  /* forged rekey messages to other BPs' devices */
    BCKM_KEYNET_BYZ_REPLAY = 4, /* replays recorded messages to other BPs' devices, in resync too */
    BCKM_KEYNET_BYZ_ALL = 7
};

struct bckm_keynet_params {
    uint32_t bps;   /* 1..255 */
    uint32_t nodes; /* genesis network size */
    bckm_policy policy;
    uint64_t seed;
    uint32_t devices;   /* simulated device stores: UINT32_MAX = all */
    uint32_t max_nodes; /* device capacity bound (>= nodes + requests) */
    /* CPU time to charge a replica for an envelope signature another replica
     * already verified (the result is shared, the cost is not; see
     * bckm_keynet_take_charge_ns). 0: charge nothing. */
    uint64_t verify_charge_ns;
    /* Key-layer Byzantine behaviours per BP ID (0: honest at the key layer). */
    uint8_t byz_keys[BCKM_MAX_BPS + 1];
    /* Tests only: a forged message signed by a Byzantine BP is applied by a
     * device that trusts that BP's key (its trust anchor swapped for the
     * call), so the acceptance check must fire. Never set in a real run. */
    int trust_byz;
    /* Tests only: this BP's key manager commits every change but never
     * hands its messages to its devices (0: none). */
    uint32_t withhold_bp;
    /* The CPU clock that times key-manager and device work (measured cost);
     * NULL: nothing is timed. */
    uint64_t (*clock_ns)(void);
};

int bckm_keynet_new(struct bckm_keynet **out, const struct bckm_keynet_params *p);
void bckm_keynet_free(struct bckm_keynet *kn);

/* An application instance starting from the genesis state. bp 1..bps: BP
 * bp's replica, whose executions drive BP bp's key manager from then on (a
 * BP's newest replica drives it; one restored after a crash hands it the
 * changes it missed); 0: a replica that drives none (the checker's
 * reference, a state-transfer test). {NULL, NULL}-self on failure. */
bckm_sim_app bckm_keynet_app(struct bckm_keynet *kn, uint32_t bp);

/*
 * A request at BP bp, in two parts so the cluster can time them apart.
 * bckm_keynet_prepare is the BP's Layer 1 work: op is join, leave or evict
 * (leave/evict pick a random current member served by bp, or fail with
 * BCKM_ERR_UNKNOWN), done against the registry of `view`'s check state (the
 * BP's committed state plus the txs its mempool admitted since, see
 * sim/app.h); it fills env->tx. bckm_keynet_seal gives the envelope the BP's next
 * sequence number, signs it and encodes it (transaction generation).
 * bckm_keynet_request does both.
 */
int bckm_keynet_prepare(struct bckm_keynet *kn, const bckm_sim_app *view, uint32_t bp, uint8_t op,
                        struct bckm_envelope *env) BCKM_MUST_CHECK;
int bckm_keynet_seal(struct bckm_keynet *kn, uint32_t bp, struct bckm_envelope *env,
                     uint8_t env_out[BCKM_ENVELOPE_BYTES]) BCKM_MUST_CHECK;
int bckm_keynet_request(struct bckm_keynet *kn, const bckm_sim_app *view, uint32_t bp, uint8_t op,
                        uint8_t env_out[BCKM_ENVELOPE_BYTES]) BCKM_MUST_CHECK;
/* The envelope was rejected (it will never commit): its BP drops its pending
 * join, or forgets the pending leave, and may retry with a fresh request. */
void bckm_keynet_abandon(struct bckm_keynet *kn, uint32_t bp,
                         const uint8_t env[BCKM_ENVELOPE_BYTES]);

/*
 * What BP bp's key manager did since the last call. Its replica's
 * execution of each change made it commit that change (the plan and the
 * registry of that one execution) and hand the messages to bp's sampled
 * devices; each change is handled exactly once, in chain order.
 * bckm_keynet_follow reports the next one not yet reported (*stepped = 1, its
 * envelope in env_out and the key manager's CPU time in *ns_out, each when
 * not NULL) or none (*stepped = 0); the key manager's first failure is
 * returned once everything before it was reported (it then stops).
 * bckm_keynet_committed reports everything and returns that failure.
 */
int bckm_keynet_follow(struct bckm_keynet *kn, uint32_t bp, int *stepped,
                       uint8_t env_out[BCKM_ENVELOPE_BYTES], uint64_t *ns_out) BCKM_MUST_CHECK;
int bckm_keynet_committed(struct bckm_keynet *kn, uint32_t bp) BCKM_MUST_CHECK;
/* The CPU time charged since the last call for verifications a replica
 * did not redo (each replica still verifies every envelope once, as a real
 * BP must; the simulator shares the result and charges the cost). */
uint64_t bckm_keynet_take_charge_ns(struct bckm_keynet *kn);
/* The CPU time devices spent on their messages since the last call (with
 * clock_ns): the BP's handler does not pay for it. */
uint64_t bckm_keynet_take_device_ns(struct bckm_keynet *kn);

/* Changes `app` executed that BP bp's key manager has not handled or
 * bckm_keynet_follow has not reported. */
uint32_t bckm_keynet_pending(const struct bckm_keynet *kn, uint32_t bp, const bckm_sim_app *app);

/* Device invariants over the sample (agreement on `pairs` random links of
 * current members that are simulated, epoch equal to the registry's, key
 * count |S| + m); returns the number of violations. */
uint32_t bckm_keynet_check_devices(struct bckm_keynet *kn, const bckm_sim_app *app, uint32_t pairs);
/* The same over the devices served by the BPs with bps[id] != 0 (bps has 256
 * entries, indexed by BP ID; NULL: every BP). */
uint32_t bckm_keynet_check_devices_of(struct bckm_keynet *kn, const bckm_sim_app *app,
                                      uint32_t pairs, const uint8_t *bps);

/*
 * The Byzantine BP bp (BCKM_KEYNET_BYZ_EVICT) builds a leave or evict of a
 * current member of `view`'s check state that another BP serves, signs it
 * with its own key and encodes it. The contract must refuse it at CheckTx and
 * at execution; keynet counts both refusals (bckm_keynet_byz_stats) and, should one
 * ever execute, an eviction by a BP that does not serve the node.
 * BCKM_ERR_UNKNOWN when there is no such member.
 */
int bckm_keynet_byz_evict(struct bckm_keynet *kn, const bckm_sim_app *view, uint32_t bp,
                          uint8_t env_out[BCKM_ENVELOPE_BYTES]) BCKM_MUST_CHECK;

/* What the key-layer Byzantine BPs did and what came of it. Any nonzero
 * *_accepted or evicts_executed is a safety violation; first says which. */
struct bckm_keynet_byz_stats {
    uint64_t forged, forged_refused, forged_accepted;
    uint64_t replayed, replays_refused, replays_accepted;
    uint64_t resyncs; /* honest devices put through a resync */
    uint64_t evicts, evicts_refused_check, evicts_refused_exec, evicts_executed;
    char first[160];
};
void bckm_keynet_byz_stats(const struct bckm_keynet *kn, struct bckm_keynet_byz_stats *st);

/* Counters for reports. */
struct bckm_keynet_stats {
    uint64_t messages, message_bytes, device_errors, devices;
    size_t km_bytes[256];
};
/* BLAKE2b-256 over every simulated device in order: node, set, epoch, key
 * counts and every key with its ID (a fingerprint of the device layer). */
/* BP bp's key manager state after the block at height, sealed under key
 * (bckm/km_store.h), in a new *out of *len bytes (bckm_km_state_release). */
int bckm_keynet_km_seal(const struct bckm_keynet *kn, uint32_t bp, uint64_t height,
                        const uint8_t key[32], uint8_t **out, size_t *len) BCKM_MUST_CHECK;
/* A restart: BP bp's key manager is replaced by the one sealed in blob for
 * height. BCKM_ERR_MISMATCH when the opened state is not exactly that of
 * the key manager it replaces (which the simulator keeps across the crash
 * only for this check), or the errors of bckm_km_state_open; on error
 * nothing changes. */
int bckm_keynet_km_restore(struct bckm_keynet *kn, uint32_t bp, uint64_t height,
                           const uint8_t key[32], const uint8_t *blob, size_t len) BCKM_MUST_CHECK;
void bckm_keynet_keys_digest(const struct bckm_keynet *kn, uint8_t out[32]);
void bckm_keynet_stats(const struct bckm_keynet *kn, struct bckm_keynet_stats *st);

/* The application's registry (for tests and reports). */
const struct bckm_sets *bckm_keynet_registry(const bckm_sim_app *app);

#endif
