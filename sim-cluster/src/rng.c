#include "sim/rng.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void bckm_sim_rng_seed(bckm_sim_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    /* xoshiro must not start from the all-zero state; splitmix64 cannot
     * produce four zeros in a row, but keep the guard explicit. */
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
}

uint64_t bckm_sim_seed_derive(uint64_t seed, const char *label) {
    /* FNV-1a over the label, then mixed with the seed by splitmix64 so that
     * nearby seeds and similar labels give unrelated streams. */
    uint64_t h = 0xCBF29CE484222325ull;
    for (const char *p = label; *p != '\0'; p++) {
        h ^= (uint8_t)*p;
        h *= 0x100000001B3ull;
    }
    uint64_t x = seed ^ h;
    (void)splitmix64(&x);
    return splitmix64(&x);
}

uint64_t bckm_sim_rng_next(bckm_sim_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t bckm_sim_rng_below(bckm_sim_rng *r, uint64_t n) {
    if (n == 0) return 0;
    /* Reject the top partial block of the 64-bit range so every residue is
     * equally likely. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t v;
    do { v = bckm_sim_rng_next(r); } while (v >= limit);
    return v % n;
}

uint64_t bckm_sim_rng_range(bckm_sim_rng *r, uint64_t lo, uint64_t hi) {
    if (hi <= lo) return lo;
    if (hi - lo == UINT64_MAX) return bckm_sim_rng_next(r);
    return lo + bckm_sim_rng_below(r, hi - lo + 1);
}

int bckm_sim_rng_chance(bckm_sim_rng *r, uint32_t num, uint32_t den) {
    if (den == 0 || num == 0) return 0;
    if (num >= den) return 1;
    return bckm_sim_rng_below(r, den) < num;
}
