/*
 * The device side: a node's key store in caller-provided memory, with no
 * heap (BearSSL style). It opens rekey messages from its BP, updates its keys
 * and answers "which key protects my link with peer X".
 *
 * A node u in set S holds: its node KEK K_u, the set KEK K_S, its pair seed
 * Q_u, its secret code, one pairwise node key per other member of S, and one
 * pairwise set key per other live set: |S| + m keys (KEKs included) for m
 * sets, about 2*sqrt(n) (spec/protocol.md, "Storage").
 *
 * Every message must come from the device's serving BP (its batch signature
 * verifies under bp_pk) and move the device exactly one epoch forward (or,
 * in resync, answer the device's own challenge): a wrong, forged, tampered,
 * replayed or out-of-order message is rejected with an error and the store
 * is left exactly as it was.
 */
#ifndef BCKM_DEVICE_H
#define BCKM_DEVICE_H

#include "bckm/common.h"

struct bckm_device_key {
    uint32_t id; /* peer node ID or other set ID */
    uint8_t key[BCKM_KEY_BYTES];
};

struct bckm_device {
    uint32_t node_id; /* 0 until the first bundle */
    uint32_t set_id;
    uint64_t epoch; /* last epoch applied; 0 before joining */
    uint8_t has_code;
    uint8_t resync;        /* 1 while catching up after sleep or rejoin */
    uint8_t bp_id;         /* the serving BP (1..255) */
    uint8_t bp_pk[32];     /* its Ed25519 key: every accepted message verifies under it */
    uint8_t bps_root[32];  /* hash of the cluster's BP table (rejoin handshake) */
    uint8_t challenge[16]; /* the resync challenge a resync answer must carry */
    uint8_t kek[BCKM_KEY_BYTES];
    uint8_t set_kek[BCKM_KEY_BYTES];
    uint8_t seed[BCKM_KEY_BYTES];
    uint8_t code[BCKM_CODE_BYTES];
    uint32_t cap_peers, cap_sets;
    uint32_t n_peers, n_sets;
    /* keys[0, cap_peers): pairwise node keys sorted by peer ID;
     * keys[cap_peers, cap_peers + cap_sets): pairwise set keys sorted by set ID. */
    struct bckm_device_key keys[];
};

/* Bytes a store with these capacities needs (for static allocation). */
#define BCKM_DEVICE_BYTES(cap_peers, cap_sets)                                                     \
    (sizeof(struct bckm_device) +                                                                  \
     ((size_t)(cap_peers) + (size_t)(cap_sets)) * sizeof(struct bckm_device_key))

/* Capacities for a network of at most max_nodes nodes and max_bps BPs:
 * peers = s(max_nodes) - 1, sets = s(max_nodes) + 2 * max_bps (the
 * uniformity bounds of the spec). */
void bckm_device_caps(uint32_t max_nodes, uint32_t max_bps, uint32_t *cap_peers,
                      uint32_t *cap_sets);

/*
 * Initialises a store in mem (mem_len >= BCKM_DEVICE_BYTES(...), aligned for
 * struct bckm_device) holding only what enrolment established: the node KEK,
 * the serving BP's ID (1..255) and Ed25519 key, and the BP table's root.
 */
int bckm_device_init(void *mem, size_t mem_len, uint32_t cap_peers, uint32_t cap_sets,
                     const uint8_t kek[BCKM_KEY_BYTES], uint32_t bp_id, const uint8_t bp_pk[32],
                     const uint8_t bps_root[32], struct bckm_device **out) BCKM_MUST_CHECK;

/*
 * Applies one rekey message (spec/protocol.md section 7). Checks, in this
 * order, before any write: header canonical; kind 1 or 2 (a handover is
 * never accepted, BCKM_ERR_PERM); sender == bp_id (BCKM_ERR_PERM);
 * addressing (BCKM_ERR_UNKNOWN); challenge and epoch (BCKM_ERR_REPLAY): a
 * nonzero challenge must equal the device's while in resync, and the epoch
 * is exactly epoch + 1, or -- a bundle answering the challenge -- at least
 * epoch; the batch signature under bp_pk (BCKM_ERR_AUTH, one
 * verification); the AEAD (BCKM_ERR_AUTH); the body (BCKM_ERR_FORMAT) and
 * its consistency with the store (BCKM_ERR_STATE, BCKM_ERR_NOMEM). The
 * buffer is decrypted in place (consumed) and wiped. On any error the store
 * is unchanged. An accepted bundle ends resync.
 */
int bckm_device_apply(struct bckm_device *d, uint8_t *msg, size_t len) BCKM_MUST_CHECK;

/* The key for the link with `peer`, a member of `peer_set`: the pairwise
 * node key inside the device's set, the pairwise set key otherwise. */
int bckm_device_key_for(const struct bckm_device *d, uint32_t peer, uint32_t peer_set,
                        uint8_t out[BCKM_KEY_BYTES]) BCKM_MUST_CHECK;

/* Number of keys held: K_u, K_S, pairwise node keys, pairwise set keys. */
uint32_t bckm_device_key_count(const struct bckm_device *d);

/* Rejoin with another BP (spec 10.4): installs the KEK agreed with the
 * adopting BP and that BP's identity (both authenticated by the rejoin
 * handshake against bps_root), and enters resync expecting `challenge`.
 * BCKM_ERR_ARG (store unchanged) for a NULL argument, a BP ID outside 1..255
 * or a device that has not joined. */
int bckm_device_rejoin(struct bckm_device *d, const uint8_t kek[BCKM_KEY_BYTES], uint32_t bp_id,
                       const uint8_t bp_pk[32], const uint8_t challenge[16]) BCKM_MUST_CHECK;

/* Wake-up after sleeping (spec 10.5): enters resync expecting `challenge`
 * (16 bytes the caller draws from the OS randomness); the device then sends
 * its BP its last epoch (d->epoch) and the challenge. In resync the device
 * also accepts a bundle at its own epoch or later that carries the
 * challenge (a BP that cannot replay the missed epochs sends the current
 * state); an accepted bundle ends resync. An all-zero challenge answers
 * nothing: with it only the next epoch is accepted. */
void bckm_device_begin_resync(struct bckm_device *d, const uint8_t challenge[16]);

/* Handover (owned policy, spec 10.4): the device's own key state as a kind
 * 3 message (device -> BP, sender 0, no trailer) sealed under its (new)
 * node KEK, for an adopting BP that did not hold its set's keys. nonce: 24
 * fresh bytes. */
int bckm_device_export(const struct bckm_device *d, const uint8_t nonce[24], uint8_t *out,
                       size_t cap, size_t *out_len) BCKM_MUST_CHECK;

void bckm_device_wipe(struct bckm_device *d);

#endif
