/*
 * The adversary of tests/test_adversary.c: what colluding insider devices
 * and the device network know, as a knowledge closure over ground truth.
 *
 * Ground truth: the test records the true value of every set KEK, pairwise
 * set key and node KEK at every epoch (from the BPs' key managers and the
 * devices), as a chain of versions per key name. The adversary never reads
 * it to learn anything: it is an index that says which known value could
 * open which recorded message and which true value a derivation should hit.
 * A value enters the closure only when the adversary holds it (a corrupted
 * device's store), opens it (bckm_msg_open with a key it holds) or derives
 * it (the spec's update rule, core/include/bckm/kdf.h, from a known value
 * of the previous epoch and the per-set or per-pair refresh material it
 * learnt: the BPs' refresh key r itself never reaches a device).
 *
 * Two functions carry the protocol's rules and will follow format changes:
 * adv_learn_opened (what an opened message teaches) and adv_derive (how one
 * key is derived from the previous epoch's value).
 */
#ifndef BCKM_TEST_ADVERSARY_H
#define BCKM_TEST_ADVERSARY_H

#include "bckm/map.h"
#include "bckm/msg.h"

/* Kinds of key names in the ground truth. */
enum { ADV_NODE_KEK = 1, ADV_SET_KEK = 2, ADV_SET_PAIR = 3 };

#define ADV_NONE UINT32_MAX

struct adv_name {
    uint8_t kind;
    uint32_t a, b;        /* node or set; the pair as (min, max) */
    uint32_t first, last; /* version chain (ADV_NONE: empty) */
    uint32_t msgs;        /* head of the messages sealed under it */
};

/* One true value of a name, valid from epoch `from` until the next version. */
struct adv_version {
    uint32_t name, prev, next; /* neighbours in the name's chain */
    uint32_t next_at;          /* next version that starts at the same epoch */
    uint64_t from;
    uint8_t value[32];
    uint8_t known;
};

/* A recorded device-link message (deduplicated by content). */
struct adv_msg {
    uint8_t *bytes;
    size_t len;
    struct bckm_msg_header h;
    uint32_t name, next; /* the name of the KEK sealing it; next of that name */
    uint8_t opened;
};

/* Refresh material learnt (spec 4, 5): r never leaves the BPs, so the
 * adversary learns only r_X (a set refresh, t == ADV_NONE) and r_X,T (a pair
 * refresh, t == T; ADV_ANY when an opened node-KEK update did not say which
 * set it was for: the adversary then tries it on every pair of X). */
#define ADV_ANY (UINT32_MAX - 1)

struct adv_refresh {
    uint64_t epoch;
    uint32_t x, t;
    uint8_t r[BCKM_REFRESH_BYTES];
    uint32_t next; /* next refresh value of the same epoch */
};

struct adversary {
    /* knowledge */
    uint8_t (*known)[32];
    uint32_t nknown, cap_known;
    struct bckm_map known_ix; /* value prefix -> index in known */
    struct bckm_map seed_ix;  /* node -> index in known of its pair seed */
    struct adv_refresh *refresh;
    uint32_t nrefresh, cap_refresh;
    struct bckm_map refresh_ix; /* epoch + 1 -> first refresh value learnt */
    /* ground truth */
    struct adv_name *names;
    uint32_t nnames, cap_names;
    struct bckm_map name_ix; /* (kind, a, b) -> name */
    struct adv_version *vers;
    uint32_t nvers, cap_vers;
    struct bckm_map value_ix;   /* value prefix -> version */
    struct bckm_map changed_at; /* epoch + 1 -> first version starting then */
    /* the network */
    struct adv_msg *msgs;
    uint32_t nmsgs, cap_msgs;
    struct bckm_map msg_ix; /* content digest -> message */
    struct bckm_map routed; /* (message + 1) << 32 | node -> 1 */
    /* work list of versions that just became known */
    uint32_t *work;
    uint32_t nwork, cap_work;
    /* statistics */
    uint32_t opened, derived;
};

void adv_init(struct adversary *a);
void adv_free(struct adversary *a);

/* Ground truth: the true value of (kind, x, y) at `epoch` (recorded after
 * every change, for every live key; equal values extend the current version). */
void adv_truth(struct adversary *a, uint8_t kind, uint32_t x, uint32_t y, uint64_t epoch,
               const uint8_t value[32]);

/* The network: a message a BP sent to `node`. Returns its index. */
uint32_t adv_record(struct adversary *a, uint32_t node, const uint8_t *msg, size_t len);
/* 1 when message i was sent to node. */
int adv_routed(const struct adversary *a, uint32_t i, uint32_t node);

/* Knowledge entering from outside: a value held by a corrupted device, and
 * its pair seed. */
void adv_learn_key(struct adversary *a, const uint8_t value[32]);
void adv_learn_seed(struct adversary *a, uint32_t node, const uint8_t seed[32]);

/* (a) What an opened message teaches: refresh material, keys, seeds. */
void adv_learn_opened(struct adversary *a, const struct bckm_msg_header *h, const uint8_t *body);

/* (b) The derivation rule: the candidate values of name n at `epoch` from
 * its value `prev` at the previous epoch and the refresh material learnt for
 * that epoch (a set KEK with r_S; a set pair (A, B) with r_A,B and/or r_B,A,
 * each learnt or derived from a learnt r_A or r_B with label 13, one update
 * per side, lower set ID first: every combination the adversary can build).
 * Writes up to ADV_MAX_CANDIDATES values to out; returns how many. */
#define ADV_MAX_CANDIDATES 320u
uint32_t adv_derive(const struct adversary *a, const struct adv_name *n, const uint8_t prev[32],
                    uint64_t epoch, uint8_t out[ADV_MAX_CANDIDATES][32]);

/* Runs the closure to its fixpoint: opens every recorded message sealed
 * under a known key, learns from it, derives forward, until nothing new. */
void adv_close(struct adversary *a);

/* Queries. */
int adv_knows(const struct adversary *a, const uint8_t value[32]);
/* The current (last recorded) version of a name, or NULL. */
const struct adv_version *adv_current(const struct adversary *a, uint8_t kind, uint32_t x,
                                      uint32_t y);
/* The known pair seed of node, or NULL. */
const uint8_t *adv_seed(const struct adversary *a, uint32_t node);
/* Opens a copy of recorded message i with the key it knows for it into
 * body (cap bytes); returns the body length, or 0 when it cannot. */
size_t adv_open_copy(const struct adversary *a, uint32_t i, uint8_t *body, size_t cap);

#endif
