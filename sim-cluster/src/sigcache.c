#include "sim/sigcache.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bckm/common.h"

static void digest_of(const uint8_t *env, size_t len, uint8_t out[32]) {
    crypto_generichash(out, 32, env, len, NULL, 0);
}

/* The map wants nonzero keys. */
static uint64_t key_of(const uint8_t d[32]) {
    uint64_t k = bckm_get_u64(d);
    return k ? k : 1;
}

int bckm_sim_sigcache_init(bckm_sim_sigcache *c, uint32_t cap) {
    if (c == NULL || cap == 0) return BCKM_ERR_ARG;
    memset(c, 0, sizeof *c);
    c->digest = malloc((size_t)cap * sizeof *c->digest);
    if (c->digest == NULL) return BCKM_ERR_NOMEM;
    c->cap = cap;
    bckm_map_init(&c->index);
    return BCKM_OK;
}

void bckm_sim_sigcache_free(bckm_sim_sigcache *c) {
    if (c == NULL) return;
    bckm_map_free(&c->index);
    free(c->digest);
    memset(c, 0, sizeof *c);
}

int bckm_sim_sigcache_has(const bckm_sim_sigcache *c, const uint8_t *env, size_t len) {
    uint8_t d[32];
    uint32_t slot;
    digest_of(env, len, d);
    return bckm_map_get(&c->index, key_of(d), &slot) && memcmp(c->digest[slot], d, 32) == 0;
}

void bckm_sim_sigcache_add(bckm_sim_sigcache *c, const uint8_t *env, size_t len) {
    uint8_t d[32];
    uint32_t slot;
    digest_of(env, len, d);
    uint64_t k = key_of(d);
    if (bckm_map_get(&c->index, k, &slot) && memcmp(c->digest[slot], d, 32) == 0) return;
    if (c->len < c->cap) {
        slot = c->len++;
    } else {
        /* Forget the oldest, unless its key now names another slot. */
        slot = c->head;
        c->head = (c->head + 1) % c->cap;
        uint32_t at;
        uint64_t old = key_of(c->digest[slot]);
        if (bckm_map_get(&c->index, old, &at) && at == slot) (void)bckm_map_del(&c->index, old);
    }
    memcpy(c->digest[slot], d, 32);
    /* Out of memory: the entry is not indexed, which only costs a later
     * verification. */
    if (bckm_map_put(&c->index, k, slot) != BCKM_OK) memset(c->digest[slot], 0, 32);
}
