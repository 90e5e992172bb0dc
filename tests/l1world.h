/*
 * A Layer 1 test world: p BPs (each a key manager over one shared registry,
 * standing in for the replicated state) and a real device key store for
 * every node, with message delivery as the spec defines it. Shared by the
 * property test and the rejoin tests.
 */
#ifndef BCKM_TEST_L1WORLD_H
#define BCKM_TEST_L1WORLD_H

#include "bckm/contract.h"
#include "bckm/device.h"
#include "bckm/kdf.h"
#include "bckm/km.h"
#include "bckm/map.h"
#include "bckm/msg.h"
#include "bckm/sets.h"
#include "sim/fleet.h"

/* The world's fleet (sim/fleet.h) holds the key managers w->fleet.km[b],
 * the BP table and signing keys, and the devices w->fleet.devs (live:
 * a current member; asleep: receives nothing; bp: the BP serving it). */
struct l1world {
    uint32_t p;
    bckm_policy policy;
    struct bckm_sets *reg; /* stands in for the replicated state */
    struct bckm_fleet fleet;
    struct bckm_drbg rng;
    uint32_t n_peak;
    struct bckm_msgs out[BCKM_MAX_BPS + 1]; /* last epoch's messages per BP */
    struct bckm_plan plan;
    struct bckm_tx last;
    uint32_t last_bp;
    int hold;                       /* 1: commit without delivering */
    uint8_t dead[BCKM_MAX_BPS + 1]; /* failed BPs: commit and deliver nothing */
    /* The network's view (tests/test_adversary.c): when set, called for every
     * message a BP transmits to a device it serves, before the device (awake
     * or asleep) gets it. Observation only; NULL by default. */
    void (*tap)(void *ctx, uint32_t bp, uint32_t node, const uint8_t *msg, size_t len);
    void *tap_ctx;
};

int l1_init(struct l1world *w, uint32_t p, bckm_policy policy, uint32_t max_nodes, uint64_t seed);
void l1_free(struct l1world *w);
/* Builds a genesis network of n nodes spread over the BPs. */
int l1_genesis(struct l1world *w, uint32_t n);
/* One change at BP bp; delivers every message; returns BCKM_OK or an error. */
int l1_join(struct l1world *w, uint32_t bp, uint32_t *node_out);
int l1_leave(struct l1world *w, uint32_t node, uint8_t op);
/* A join through real enrolment (enrol.h): BP bp reads serial's PSK from
 * the credential store cs, runs the exchange with a device holding psk,
 * spends the serial once the device's confirmation checks out, then joins
 * the node with the agreed KEK. The credential store's error (spent or
 * unknown serial) when it refuses; nothing changes then. */
struct bckm_credstore;
int l1_enrol_join(struct l1world *w, struct bckm_credstore *cs, uint32_t bp, uint32_t serial,
                  const uint8_t psk[32], uint32_t *node_out);
/* The node consents to be served by bp (its next REATTACH counter) and the
 * REATTACH is committed at every live BP (no messages). */
int l1_reattach(struct l1world *w, uint32_t node, uint32_t bp);
/* One seeded change: a join at a random BP (always while the network has
 * fewer than 8 nodes), else a random current member leaves or is evicted. */
int l1_step(struct l1world *w);
/* The configuration BP bp's key manager was made with, less its secrets
 * (domain, generator seed: what bckm_km_state_open takes from the sealed
 * state), in reproducible mode. */
struct bckm_km_config l1_km_config(const struct l1world *w, uint32_t bp);
/* Delivers the last change's messages (after a commit made with hold = 1). */
void l1_deliver_all(struct l1world *w);
uint32_t l1_rand(struct l1world *w, uint32_t bound);
struct bckm_device *l1_device(struct l1world *w, uint32_t node);
/* Index of a node's device in w->fleet.devs, or UINT32_MAX. */
uint32_t l1_index(struct l1world *w, uint32_t node);
/* Delivers a batch of messages produced by BP bp. */
void l1_deliver(struct l1world *w, uint32_t bp, struct bckm_msgs *m);
/* Checks the invariants of spec/protocol.md sections 2, 5 and 7 over every
 * live device and `pairs` random links; returns the number of violations
 * (printed). */
uint32_t l1_check(struct l1world *w, uint32_t pairs);
/* The sharing rule, by a census of every key every device holds; returns
 * the number of key groups that break it. */
uint32_t l1_census(struct l1world *w);
/* The mutual rejoin handshake of node `node` with BP b (spec 10.4): the node
 * checks b against the world's BP table root, b checks the node's code
 * against its commitment on chain; on success both hold the new KEK, copied
 * to kek_out, and the device has installed it with b's identity and a fresh
 * resync challenge (bckm_device_rejoin), copied to challenge_out for the
 * BP's answer. */
int l1_rejoin(struct l1world *w, uint32_t node, uint32_t b, uint8_t kek_out[32],
              uint8_t challenge_out[16]);
/* The whole move of node to BP b when b holds the node's set keys (global
 * policy, or a set b owns or adopted): the rejoin handshake, b's adoption
 * bundle delivered, and the REATTACH committed; the node is then served by
 * b. */
int l1_move_to(struct l1world *w, uint32_t node, uint32_t b);
/* Seals body under kek with header h as BP bp would (sender bp) and signs it
 * as a one-message batch with bp's key, appending it to out: a genuine
 * message with a body the test chose, for tests of the body checks. */
int l1_seal_as(struct l1world *w, uint32_t bp, const struct bckm_msg_header *h,
               const uint8_t kek[32], const uint8_t *body, size_t body_len, struct bckm_msgs *out);
/* Delivery failures seen so far (messages a live device rejected). */
extern uint32_t l1_delivery_errors;

#endif
