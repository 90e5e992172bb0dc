/*
 * Network profiles and the fault specification.
 *
 * A profile is a named set of delays and timeouts (spec/cluster.md lists
 * them). A fault spec is a comma-separated list of key=value items, every
 * probability an integer ratio num/den:
 *   loss=1/100      each message is dropped with this probability
 *   dup=1/200       each message is delivered twice
 *   reorder=1/50    each message gets an extra random delay (reordering)
 *   partition=1/1000  per fault step (one profile tick): a partition starts
 *   crash=1/5000    per fault step: a BP crashes (restarts later)
 *   byz=KIND        behaviour of the Byzantine BPs: silent, equivocate,
 *                   censor, invalid, forge or mixed (each its own, from the seed)
 *   byzn=K          how many BPs are Byzantine (default f when byz is given)
 * "none" or "" means no faults. Unknown keys, repeated keys, malformed or
 * out-of-range ratios (num > den, den = 0, values above 10^9) are rejected.
 */
#ifndef BCKM_SIM_NET_H
#define BCKM_SIM_NET_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;
    uint64_t one_way_us;        /* base one-way message delay */
    uint64_t jitter_us;         /* uniform extra delay in [0, jitter] */
    uint64_t reorder_max_us;    /* extra delay of a reordered message, uniform [0, max] */
    uint64_t block_interval_us; /* minimum time from a commit to the next proposal */
    uint64_t vc_timeout_us;     /* view-change timeout (doubles per failed view) */
    uint64_t retransmit_us;     /* re-send period of the current round */
    uint64_t fetch_delay_us;    /* wait before fetching missing blocks */
    uint64_t tick_us;           /* timer resolution and fault step */
    uint64_t deadline_us;       /* a request's deadline before the client retries */
} bckm_sim_profile;

/* The profile called `name`, or NULL. */
const bckm_sim_profile *bckm_sim_profile_find(const char *name);
/* Names of all profiles, NULL-terminated. */
extern const char *const bckm_sim_profile_names[];

typedef struct {
    uint32_t num, den;
} bckm_sim_ratio;

enum {
    BCKM_BYZ_HONEST = 0,
    BCKM_BYZ_SILENT = 1,
    BCKM_BYZ_EQUIVOCATE = 2,
    BCKM_BYZ_CENSOR = 3,
    BCKM_BYZ_INVALID = 4,
    BCKM_BYZ_FORGE = 5,
    BCKM_BYZ_MIXED = 6 /* only in a spec: draw one of 1..5 per BP */
};

const char *bckm_sim_byz_name(int kind);

typedef struct {
    bckm_sim_ratio loss, dup, reorder, partition, crash;
    int byz_kind;  /* BCKM_BYZ_*; HONEST when not given */
    int byz_count; /* -1: f */
} bckm_sim_faults;

/* Parses a fault spec. On error returns BCKM_ERR_FORMAT (or BCKM_ERR_ARG for
 * NULL arguments) and writes a one-line reason into err (if errlen > 0);
 * *out is left zeroed. */
int bckm_sim_faults_parse(const char *spec, bckm_sim_faults *out, char *err, size_t errlen);

/* Parses "num/den" (both decimal, den >= 1, num <= den, each <= 10^9). */
int bckm_sim_ratio_parse(const char *s, size_t len, bckm_sim_ratio *out);

#endif
