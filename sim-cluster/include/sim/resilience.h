/*
 * Resilience analysis (paper section IV, Props. 1-4, Fig. 4).
 *
 * Builds a Layer 1 network (p key managers over one registry, genesis as a
 * deployment provisions it), captures K nodes (their real device stores) or
 * K BPs (every key their key manager holds or can derive), and counts the
 * links among all n(n-1)/2 that the captured keys decipher.
 *
 * A link u-v is protected by the pairwise node key K_uv when u and v share a
 * set, by the pairwise set key K_ST otherwise. It is deciphered when the
 * adversary holds that key's value. Cross-set links are counted per set
 * pair (|S| * |T| links share one key), intra-set links per pair only in the
 * sets where the adversary holds some pairwise node key, so the count costs
 * O(m^2 + captured sets' pairs), never O(n^2).
 */
#ifndef BCKM_SIM_RESILIENCE_H
#define BCKM_SIM_RESILIENCE_H

#include <stdint.h>

#include "bckm/common.h"
#include "bckm/device.h"
#include "bckm/km.h"
#include "bckm/sets.h"

enum { BCKM_RES_CAPTURE_NODE = 1, BCKM_RES_CAPTURE_BP = 2 };
/* random: K distinct members drawn from the seed; cover: the order that
 * reaches every link soonest (all members but the oldest of each set, then
 * the oldest ones, singleton sets first; BPs 1, 2, ...), used to check Props. 2 and 4. */
enum { BCKM_RES_PICK_RANDOM = 1, BCKM_RES_PICK_COVER = 2 };

/* Largest network the command builds: genesis bundles of one BP are held in
 * memory at once (about 72 * sqrt(n) bytes per node). */
#define BCKM_RES_MAX_NODES 65536u

struct bckm_res_params {
    uint32_t nodes, bps;
    bckm_policy policy;
    int capture;    /* BCKM_RES_CAPTURE_* */
    int pick;       /* BCKM_RES_PICK_* */
    uint32_t count; /* K */
    uint64_t seed;
    int all_devices; /* 1: a device store for every node (tests); 0: captured only */
};

struct bckm_res_result {
    uint64_t links_total, links_deciphered;
    uint64_t intra_total, intra_deciphered; /* links inside one set */
    uint64_t cross_total, cross_deciphered; /* links across two sets */
    double rate;
    double rate_paper;         /* Prop. 1 (node) or Prop. 3 (BP), see below */
    double rate_paper_member;  /* the proposition's value for one captured member */
    uint32_t sets;             /* live sets m */
    uint32_t set_min, set_max; /* set sizes */
    uint32_t captured;         /* K */
    uint64_t keys_held;        /* distinct key values the adversary holds */
    uint64_t node_keks_held;   /* node KEKs (BP capture; not link keys) */
    /* Device storage of the captured nodes (node capture only). */
    uint32_t dev_keys_min, dev_keys_max;
    double dev_keys_mean;
    /* The smallest capture that deciphers every link, from the set sizes
     * (nodes) and the BPs' membership (BPs); the counting checks it. */
    uint32_t min_nodes_all, min_bps_all;
    uint32_t nodes_per_bp_min, nodes_per_bp_max;
};

/* The network and the adversary's knowledge; opaque. */
struct bckm_res_world;

int bckm_res_build(struct bckm_res_world **out, const struct bckm_res_params *p) BCKM_MUST_CHECK;
void bckm_res_free(struct bckm_res_world *w);
/* Captures per p->capture / pick / count and counts; fills *r. */
int bckm_res_run(struct bckm_res_world *w, struct bckm_res_result *r) BCKM_MUST_CHECK;

/* Accessors for tests that recount by brute force. */
const struct bckm_sets *bckm_res_registry(const struct bckm_res_world *w);
/* The device store of a node (every node when all_devices, else only
 * captured ones after bckm_res_run); NULL when none. */
const struct bckm_device *bckm_res_device(const struct bckm_res_world *w, uint32_t node_id);
/* 1 when the adversary holds this key value (after bckm_res_run). */
int bckm_res_knows(const struct bckm_res_world *w, const uint8_t key[BCKM_KEY_BYTES]);
/* 1 when the node / BP was captured. */
int bckm_res_captured_node(const struct bckm_res_world *w, uint32_t node_id);
int bckm_res_captured_bp(const struct bckm_res_world *w, uint32_t bp);

/* Paper formulas. */
double bckm_res_prop1(uint32_t n);             /* node capture, one node */
double bckm_res_prop3(uint32_t n, uint32_t p); /* BP capture, one BP */

/* `bckm-sim resilience` (argv[0] is the command name). Exit codes: 0 done,
 * 1 failure while running, 2 bad flags. */
int bckm_resilience_main(int argc, char **argv);

#endif
