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
 * Every message must move the device exactly one epoch forward: a wrong,
 * tampered, replayed or out-of-order message is rejected with an error and
 * the store is left exactly as it was.
 */
#ifndef BCKM_DEVICE_H
#define BCKM_DEVICE_H

#include "bckm/common.h"

struct bckm_device_key {
    uint32_t id;                 /* peer node ID or other set ID */
    uint8_t key[BCKM_KEY_BYTES];
};

struct bckm_device {
    uint32_t node_id;            /* 0 until the first bundle */
    uint32_t set_id;
    uint64_t epoch;              /* last epoch applied; 0 before joining */
    uint8_t has_code;
    uint8_t resync;              /* 1 while catching up after sleep or rejoin */
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
#define BCKM_DEVICE_BYTES(cap_peers, cap_sets) \
    (sizeof(struct bckm_device) + ((size_t)(cap_peers) + (size_t)(cap_sets)) * sizeof(struct bckm_device_key))

/* Capacities for a network of at most max_nodes nodes and max_bps BPs:
 * peers = s(max_nodes) - 1, sets = s(max_nodes) + 2 * max_bps (the
 * uniformity bounds of the spec). */
void bckm_device_caps(uint32_t max_nodes, uint32_t max_bps, uint32_t *cap_peers, uint32_t *cap_sets);

/*
 * Initialises a store in mem (mem_len >= BCKM_DEVICE_BYTES(...), aligned for
 * struct bckm_device) holding only the node KEK agreed at enrolment.
 */
int bckm_device_init(void *mem, size_t mem_len, uint32_t cap_peers, uint32_t cap_sets,
                     const uint8_t kek[BCKM_KEY_BYTES], struct bckm_device **out) BCKM_MUST_CHECK;

/*
 * Applies one rekey message. The buffer is decrypted in place (consumed)
 * and wiped. Errors: BCKM_ERR_FORMAT (malformed), BCKM_ERR_UNKNOWN (not for
 * this device), BCKM_ERR_REPLAY (not the next epoch), BCKM_ERR_AUTH
 * (tampered or wrong key), BCKM_ERR_NOMEM (would exceed capacity),
 * BCKM_ERR_STATE (inconsistent with what the device holds). On any error
 * the store is unchanged.
 */
int bckm_device_apply(struct bckm_device *d, uint8_t *msg, size_t len) BCKM_MUST_CHECK;

/* The key for the link with `peer`, a member of `peer_set`: the pairwise
 * node key inside the device's set, the pairwise set key otherwise. */
int bckm_device_key_for(const struct bckm_device *d, uint32_t peer, uint32_t peer_set,
                        uint8_t out[BCKM_KEY_BYTES]) BCKM_MUST_CHECK;

/* Number of keys held: K_u, K_S, pairwise node keys, pairwise set keys. */
uint32_t bckm_device_key_count(const struct bckm_device *d);

/* Rejoin with another BP (spec 10.4): installs the KEK agreed by the rejoin
 * handshake and enters resync mode. */
void bckm_device_set_kek(struct bckm_device *d, const uint8_t kek[BCKM_KEY_BYTES]);

/* Wake-up after sleeping (spec 10.5): enters resync mode; the device then
 * tells its BP its last epoch (d->epoch). In resync mode the device also
 * accepts one bundle at its own epoch or later (a BP that cannot replay the
 * missed epochs sends the current state); any accepted bundle ends it. */
void bckm_device_begin_resync(struct bckm_device *d);

/* Handover (owned policy, spec 10.4): the device's own key state as a
 * bundle sealed under its (new) node KEK, for an adopting BP that did not
 * hold its set's keys. nonce: 24 fresh bytes. */
int bckm_device_export(const struct bckm_device *d, const uint8_t nonce[24], uint8_t *out, size_t cap,
                       size_t *out_len) BCKM_MUST_CHECK;

void bckm_device_wipe(struct bckm_device *d);

#endif
