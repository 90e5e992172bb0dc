/*
 * The BP-side key manager (Layer 1 at a gateway).
 *
 * It holds the node KEKs of the devices attached to this BP, the set KEKs
 * and pairwise set keys it is entitled to (placement policy), and derives
 * pairwise node keys on demand from per-node seeds, so its memory is O(n)
 * in the number of nodes (no per-pair storage for node pairs).
 *
 * A change goes through three steps:
 *   1. prepare (join/leave/evict): chooses the set (Assignment), allocates
 *      the node ID, secret code and refresh key, and fills the change (the
 *      57-byte transaction's fields);
 *   2. the registry applies it (bckm_sets_apply: validation, Reorder) -- in
 *      Layer 2, when the block holding it commits;
 *   3. commit: updates this BP's keys for the new epoch and returns every
 *      rekey message this BP must send its devices.
 * Each BP of a cluster runs step 3 for every committed change: the refresh
 * key is on chain, so every BP rekeys its own devices.
 */
#ifndef BCKM_KM_H
#define BCKM_KM_H

#include "bckm/common.h"
#include "bckm/msgs.h"
#include "bckm/sets.h"

struct bckm_km; /* opaque */

struct bckm_km_config {
    uint32_t bp_id; /* 1..255 */
    bckm_policy policy;
    /* This BP's domain secret (owned) or the cluster's (global): initial set
     * keys, initial pairwise set keys between its own sets, pair seeds. */
    uint8_t domain[BCKM_KEY_BYTES];
    /* Seed of the DRBG for refresh keys, codes and nonces; NULL: OS random. */
    const uint8_t *drbg_seed;
    /* The BP's Ed25519 secret key (the one it signs envelopes with): every
     * batch of rekey messages is signed with it (bckm/rekey_auth.h). The key
     * manager keeps a copy and wipes it in bckm_km_free. */
    uint8_t sign_sk[64];
};

int bckm_km_new(struct bckm_km **out, const struct bckm_km_config *cfg) BCKM_MUST_CHECK;
void bckm_km_free(struct bckm_km *km); /* wipes every key */

/* Owned policy: the secret shared with BP `other`, from the two BPs' static
 * X25519 keys (bckm_km_bp_secret). Initial pairwise set keys between a set
 * of this BP and a set of `other` derive from it. */
int bckm_km_set_peer_secret(struct bckm_km *km, uint32_t other,
                            const uint8_t secret[BCKM_KEY_BYTES]) BCKM_MUST_CHECK;
/* D_ab = KDF(X25519(sk_a, pk_b); a, b), the same on both sides. */
int bckm_km_bp_secret(const uint8_t my_sk[32], uint32_t me, const uint8_t their_pk[32],
                      uint32_t them, uint8_t out[BCKM_KEY_BYTES]) BCKM_MUST_CHECK;

/* Step 1. kek is the node KEK agreed at enrolment (bckm_enrol_*). */
int bckm_km_prepare_join(struct bckm_km *km, const struct bckm_sets *reg,
                         const uint8_t kek[BCKM_KEY_BYTES], struct bckm_tx *out) BCKM_MUST_CHECK;
int bckm_km_prepare_leave(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id,
                          uint8_t op, struct bckm_tx *out) BCKM_MUST_CHECK;
/* Drops a prepared join that will not commit (rejected at execution). */
void bckm_km_abort(struct bckm_km *km, uint32_t node_id);

/* Every function below that appends messages to out appends one signed
 * batch (bckm_rekey_batch_sign over exactly the messages it appended); on
 * error it appends nothing.
 *
 * Step 3. reg is the registry after bckm_sets_apply(origin_bp, c) made plan.
 * Appends this BP's messages to out. */
int bckm_km_commit(struct bckm_km *km, const struct bckm_sets *reg, uint32_t origin_bp,
                   const struct bckm_tx *c, const struct bckm_plan *plan,
                   struct bckm_msgs *out) BCKM_MUST_CHECK;

/* A commit is all or nothing: every check and allocation it needs comes
 * before its first change, so an error leaves the key manager's keys, log
 * and `out` exactly as they were. A node served here that Reorder moves
 * into a set this BP may not key (under owned, a set only another BP
 * adopted: spec 10.4) is no longer served: no bundle, its KEK is dropped,
 * and it must rejoin a BP that holds the set. bckm_km_dropped lists the
 * nodes the last commit dropped (valid until the next commit). */
uint32_t bckm_km_dropped(const struct bckm_km *km, const uint32_t **nodes);

/* Genesis: installs a prepared join's KEK without messages (the registry
 * already applied it), then bckm_km_provision gives every attached member its
 * full bundle at the registry's epoch, with keys initialised from the
 * domain secrets. */
int bckm_km_adopt(struct bckm_km *km, uint32_t node_id) BCKM_MUST_CHECK;
int bckm_km_provision(struct bckm_km *km, const struct bckm_sets *reg,
                      struct bckm_msgs *out) BCKM_MUST_CHECK;
/* Large genesis: bckm_km_provision with out == NULL initialises the keys
 * only; bckm_km_bundle_for then hands one node its bundle (with its code
 * while the BP still has it), and bckm_km_forget_codes wipes the codes of
 * every genesis node that got no bundle. */
int bckm_km_bundle_for(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id,
                       struct bckm_msgs *out) BCKM_MUST_CHECK;
void bckm_km_forget_codes(struct bckm_km *km);

/* Rejoin (BP failure, mobility): attach a node that proved its secret code,
 * with the KEK agreed anew, and hand it a full bundle at the current epoch
 * carrying the node's resync challenge (bckm_device_rejoin). */
int bckm_km_adopt_node(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id,
                       const uint8_t kek[BCKM_KEY_BYTES], const uint8_t challenge[16],
                       struct bckm_msgs *out) BCKM_MUST_CHECK;

/*
 * Sleeping node (spec 10.5): the node woke up at epoch last_epoch. When this
 * BP's log still holds every missed epoch, shows the node a member of its
 * set throughout (it joined, or was moved, at or before last_epoch: no join
 * of it and no move of it after last_epoch) and Reorder did not move it,
 * it replays them: one update per missed epoch, sealed under the node's KEK
 * (the paper's "missed refresh keys"); otherwise it sends one bundle with the
 * current keys. The node KEK must be known (attached or adopted). Every
 * message carries `challenge`, the one the node sent with its request
 * (NULL: all zero, which a device in resync accepts only at its next epoch).
 */
int bckm_km_catch_up(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id,
                     uint64_t last_epoch, const uint8_t challenge[16],
                     struct bckm_msgs *out) BCKM_MUST_CHECK;
/*
 * The resync request of a node attached here (bckm/resync.h): looks its KEK
 * up by the node ID the request names and checks the request's tag under it.
 * Only then may the BP call bckm_km_catch_up with the opened fields (the
 * challenge included).
 * BCKM_ERR_UNKNOWN (no KEK for that node), BCKM_ERR_AUTH (bad tag).
 */
int bckm_km_open_resync(const struct bckm_km *km, const uint8_t *req, size_t len, uint32_t *node,
                        uint64_t *last_epoch, uint8_t challenge[16]) BCKM_MUST_CHECK;

/*
 * Owned-policy adoption (spec 10.4): the orphan handed over its key state
 * (bckm_device_export, sealed under kek, the KEK of the rejoin handshake).
 * The BP rolls the handed keys forward through its log to the current epoch,
 * adopts the node's set (it can rekey it from then on), installs the KEK and
 * sends the node the updates it missed.
 */
int bckm_km_import_handover(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id,
                            const uint8_t kek[BCKM_KEY_BYTES], const uint8_t *msg, size_t len,
                            struct bckm_msgs *out) BCKM_MUST_CHECK;

/* Epochs the key manager's log keeps for catch-up. */
#define BCKM_KM_LOG_EPOCHS 1024u

/* Queries for tests, resilience analysis and benchmarks. */
int bckm_km_knows_set(const struct bckm_km *km, uint32_t set_id);
int bckm_km_set_key(const struct bckm_km *km, uint32_t set_id,
                    uint8_t out[BCKM_KEY_BYTES]) BCKM_MUST_CHECK;
int bckm_km_pair_key(const struct bckm_km *km, uint32_t a, uint32_t b,
                     uint8_t out[BCKM_KEY_BYTES]) BCKM_MUST_CHECK;
/* The pairwise node key of u and v (both in one set this BP owns). */
int bckm_km_node_pair_key(const struct bckm_km *km, const struct bckm_sets *reg, uint32_t u,
                          uint32_t v, uint8_t out[BCKM_KEY_BYTES]) BCKM_MUST_CHECK;
int bckm_km_has_node(const struct bckm_km *km, uint32_t node_id);
/* Copies the generator state of a reproducible-mode key manager into out;
 * BCKM_ERR_STATE in real use (drbg_seed NULL), which keeps no generator. */
struct bckm_drbg;
int bckm_km_generator(const struct bckm_km *km, struct bckm_drbg *out) BCKM_MUST_CHECK;
/* Bytes of heap the key manager holds. */
size_t bckm_km_bytes(const struct bckm_km *km);

#endif
