/*
 * Deterministic randomness for the simulator: one 64-bit seed drives a run,
 * and every subsystem draws from its own stream derived from that seed and a
 * label, so adding draws in one subsystem never shifts another's.
 * Generator: xoshiro256** seeded through splitmix64 (both public-domain
 * algorithms, reimplemented here). Probabilities are integer ratios.
 */
#ifndef BCKM_SIM_RNG_H
#define BCKM_SIM_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} bckm_sim_rng;

/* Seeds a stream; any seed (even 0) gives a valid, non-zero state. */
void bckm_sim_rng_seed(bckm_sim_rng *r, uint64_t seed);

/* A sub-seed for the subsystem named `label`, a pure function of both. */
uint64_t bckm_sim_seed_derive(uint64_t seed, const char *label);

uint64_t bckm_sim_rng_next(bckm_sim_rng *r);

/* Uniform in [0, n); n == 0 gives 0. Unbiased (rejection sampling). */
uint64_t bckm_sim_rng_below(bckm_sim_rng *r, uint64_t n);

/* Uniform in [lo, hi] (inclusive); hi < lo gives lo. */
uint64_t bckm_sim_rng_range(bckm_sim_rng *r, uint64_t lo, uint64_t hi);

/* 1 with probability num/den (den == 0 or num == 0 gives 0). */
int bckm_sim_rng_chance(bckm_sim_rng *r, uint32_t num, uint32_t den);

#endif
