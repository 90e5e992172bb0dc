/*
 * The envelopes whose signature one replica has already verified, so that
 * it verifies each envelope once rather than at admission, again in every
 * proposal that carries it and again at execution (Ed25519 verification is
 * the largest per-transaction cost of a replica).
 *
 * An entry is the BLAKE2b-256 digest of the whole encoded envelope,
 * signature included, compared in full: a different envelope, even with a
 * colliding 64-bit index key, is never taken as verified. Fixed capacity;
 * when full, the oldest entry is forgotten (a miss only costs a
 * verification). Not shared between replicas: each trusts only its own
 * checks.
 *
 * Not a plain set (sim/u64set.h) or map: it is bounded and forgets in FIFO
 * order, and it compares full 32-byte digests, so it keeps core's map only
 * as the index of its ring.
 */
#ifndef BCKM_SIM_SIGCACHE_H
#define BCKM_SIM_SIGCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "bckm/map.h"

typedef struct {
    struct bckm_map index;   /* key of a digest -> its slot */
    uint8_t (*digest)[32];   /* ring of cap slots */
    uint32_t cap, len, head; /* head: the oldest slot once full */
} bckm_sim_sigcache;

/* cap > 0 entries; BCKM_ERR_NOMEM or BCKM_ERR_ARG. */
int bckm_sim_sigcache_init(bckm_sim_sigcache *c, uint32_t cap);
void bckm_sim_sigcache_free(bckm_sim_sigcache *c);
/* 1 when these exact bytes were added (and not yet forgotten), else 0. */
int bckm_sim_sigcache_has(const bckm_sim_sigcache *c, const uint8_t *env, size_t len);
/* Records that the signature of these bytes verified. */
void bckm_sim_sigcache_add(bckm_sim_sigcache *c, const uint8_t *env, size_t len);

#endif
