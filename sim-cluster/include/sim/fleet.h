/*
 * A device fleet: the key managers of p BPs wired as a cluster's set-up
 * wires them (domain secrets, Ed25519 signing keys, static X25519 keys and
 * the pairwise BP secrets, the BP table and its root), the genesis network,
 * a sample of real device key stores, delivery of rekey messages to them
 * (copy, then apply in place) and the device invariants.
 *
 * The fleet knows no registry of its own: every call that needs one takes
 * the caller's (a bare registry in the Layer 1 tests and the resilience
 * analysis, the contract state's in the replicated key application), so
 * one contract execution serves every key manager. It draws randomness
 * only from the stream its caller passes, in the order documented at each
 * call, so a world built on it replays bit for bit from its seed.
 */
#ifndef BCKM_SIM_FLEET_H
#define BCKM_SIM_FLEET_H

#include "bckm/contract.h"
#include "bckm/device.h"
#include "bckm/kdf.h"
#include "bckm/km.h"
#include "bckm/map.h"
#include "bckm/sets.h"
#include "bckm/tx.h"

/* One simulated device. */
struct bckm_fleet_dev {
    uint32_t node_id;
    struct bckm_device *dev;
    int live;    /* a current member, as its world tracks it */
    int asleep;  /* radio off: receives nothing */
    uint32_t bp; /* the BP serving it (joined at, or moved to) */
};

struct bckm_fleet {
    uint32_t p; /* BPs 1..p */
    bckm_policy policy;
    struct bckm_km *km[BCKM_MAX_BPS + 1];
    /* The BPs' Ed25519 keys (envelopes, rekey batches, rejoin challenges)
     * and the root of their table (spec 8), the trust anchor every device
     * learns at enrolment. */
    struct bckm_bp_table bps;
    uint8_t sign_sk[BCKM_MAX_BPS + 1][BCKM_SIGN_SK_BYTES];
    uint8_t bps_root[BCKM_HASH_BYTES];
    struct bckm_fleet_dev *devs; /* in the order they were added */
    uint32_t ndevs, cap_devs;
    struct bckm_map dev_of;       /* node ID -> index in devs */
    uint32_t cap_peers, cap_sets; /* every store's capacity */
    /* Delivery counters: messages handed over (all of a batch), their
     * bytes, and messages a device refused. */
    uint64_t messages, message_bytes, errors;
    int report; /* 1: print each refusal on stderr */
};

/* Where BP b's Ed25519 key seed comes from: the world's own rule (drawn
 * from rng, or derived from its seed so that its random sequence does not
 * depend on it). */
typedef void (*bckm_fleet_sign_seed_fn)(void *ctx, uint32_t bp, struct bckm_drbg *rng,
                                        uint8_t seed[32]);

struct bckm_fleet_config {
    uint32_t bps; /* 1..BCKM_MAX_BPS */
    bckm_policy policy;
    uint32_t max_nodes;    /* device store capacity bound (>= 1) */
    struct bckm_drbg *rng; /* the world's stream */
    bckm_fleet_sign_seed_fn sign_seed;
    void *sign_ctx;
};

/*
 * Builds the key managers. Draws from cfg->rng, in order: the cluster's
 * domain secret (32 bytes); then per BP b = 1..p: its signing seed (through
 * sign_seed), its domain secret (owned policy only), its DRBG seed and its
 * X25519 secret (32 bytes each). On error the fleet is freed.
 */
int bckm_fleet_init(struct bckm_fleet *f, const struct bckm_fleet_config *cfg) BCKM_MUST_CHECK;
void bckm_fleet_free(struct bckm_fleet *f); /* wipes every key and store */

/* A device store for a node that joins with this KEK, served by the BP its
 * ID names and trusting the fleet's BP table. BCKM_ERR_ARG when the node
 * already has one. */
int bckm_fleet_add(struct bckm_fleet *f, uint32_t node,
                   const uint8_t kek[BCKM_KEY_BYTES]) BCKM_MUST_CHECK;
/* The node's entry, or NULL. */
struct bckm_fleet_dev *bckm_fleet_dev(const struct bckm_fleet *f, uint32_t node);
struct bckm_device *bckm_fleet_device(const struct bckm_fleet *f, uint32_t node);
/* Index of the node's entry in devs, or UINT32_MAX. */
uint32_t bckm_fleet_index(const struct bckm_fleet *f, uint32_t node);

/* u32 of 4 bytes from rng, reduced mod bound (0 when bound is 0): the draw
 * every world built on the fleet uses. */
uint32_t bckm_fleet_rand(struct bckm_drbg *rng, uint32_t bound);

/*
 * One genesis node at BP bp: a KEK drawn from rng (32 bytes), BP bp's
 * join prepared against reg, applied by apply(ctx, bp, tx, plan) (the
 * registry's or the contract's genesis step, which must change reg), and
 * the KEK adopted without messages. The join and the KEK are returned.
 */
int bckm_fleet_genesis_node(struct bckm_fleet *f, uint32_t bp, const struct bckm_sets *reg,
                            struct bckm_drbg *rng,
                            int (*apply)(void *ctx, uint32_t bp, const struct bckm_tx *tx,
                                         struct bckm_plan *plan),
                            void *ctx, struct bckm_plan *plan, struct bckm_tx *tx_out,
                            uint8_t kek_out[BCKM_KEY_BYTES]) BCKM_MUST_CHECK;
/* The usual genesis step: bckm_sets_apply on ctx, a struct bckm_sets *. */
int bckm_fleet_apply_sets(void *ctx, uint32_t bp, const struct bckm_tx *tx, struct bckm_plan *plan);

/*
 * Provisions the genesis network BP by BP. Whole (per_device == 0): each
 * BP's full batch of bundles is built and delivered. Per device: each BP's
 * keys are set up without messages, then only its simulated devices get a
 * bundle (in device order) and the codes of the others are forgotten, so a
 * large genesis never holds every bundle at once.
 */
int bckm_fleet_provision(struct bckm_fleet *f, const struct bckm_sets *reg,
                         int per_device) BCKM_MUST_CHECK;

/*
 * Delivery of BP bp's batch m (bckm_msgs_route over reg decides who applies
 * what). For each (node, message) pair, d is the node's device when bp
 * serves it, else NULL; filter (NULL: none) sees every pair first and
 * returns 0 to withhold the message. A message then reaches d when d is not
 * NULL and not asleep: a copy of it is applied, since a device opens
 * messages in place. Refusals are counted in f->errors. BCKM_OK, or the
 * routing's error (also counted).
 */
typedef int (*bckm_fleet_filter_fn)(void *ctx, uint32_t node, struct bckm_fleet_dev *d,
                                    const uint8_t *msg, size_t len);
int bckm_fleet_deliver(struct bckm_fleet *f, uint32_t bp, const struct bckm_sets *reg,
                       const struct bckm_msgs *m, bckm_fleet_filter_fn filter, void *ctx);
/* Copy-then-apply of one message to a device; the device's result. */
int bckm_fleet_apply(struct bckm_fleet *f, struct bckm_device *d, const uint8_t *msg, size_t len);

/*
 * The device invariants (spec/protocol.md 2, 5 and 7) over the devices of
 * current members of reg that BPs with bps[id] != 0 serve (bps: 256
 * entries by BP ID; NULL: every BP): epoch equal to the registry's, set
 * equal to the registry's, |S| + m keys, and agreement of both ends on
 * `pairs` random links among them (two bckm_fleet_rand draws from rng per
 * link).
 */
struct bckm_fleet_check {
    uint32_t members;     /* devices checked */
    uint32_t stale;       /* epoch behind or ahead of the registry's */
    uint32_t wrong_set;   /* in another set than the registry says */
    uint32_t wrong_count; /* not |S| + m keys */
    uint32_t disagree;    /* links whose two ends derive different keys */
    uint32_t bad_devices; /* devices with a stale epoch, a wrong set or count */
};
int bckm_fleet_check(const struct bckm_fleet *f, const struct bckm_sets *reg, struct bckm_drbg *rng,
                     uint32_t pairs, const uint8_t *bps,
                     struct bckm_fleet_check *out) BCKM_MUST_CHECK;

/* BLAKE2b-256 over every simulated device in order: node, set, epoch, key
 * counts and index, then every key with its ID (a fingerprint of the
 * device layer). */
void bckm_fleet_keys_digest(const struct bckm_fleet *f, uint8_t out[32]);

#endif
