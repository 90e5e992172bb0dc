/*
 * The key manager's key pools: 32-byte keys indexed by ID in a map, with a
 * free list, so memory follows the number of live keys and a freed key is
 * wiped at once.
 */
#include "km_internal.h"
#include "bckm/map.h"
#include "secret_array.h"

#include <stdlib.h>
#include <string.h>

void bckm_keypool_init(struct bckm_keypool *p) {
    memset(p, 0, sizeof *p);
    bckm_map_init(&p->index);
}

void bckm_keypool_free(struct bckm_keypool *p) {
    if (p->keys != NULL) bckm_wipe(p->keys, (size_t)p->cap * BCKM_KEY_BYTES);
    free(p->keys);
    free(p->free_slots);
    bckm_map_free(&p->index);
    bckm_keypool_init(p);
}

uint8_t *bckm_keypool_get(const struct bckm_keypool *p, uint64_t id) {
    uint32_t slot;
    if (!bckm_map_get(&p->index, id, &slot)) return NULL;
    return p->keys[slot];
}

/* Room for `extra` new keys: bckm_keypool_put of that many new IDs cannot fail. */
int bckm_keypool_reserve(struct bckm_keypool *p, uint32_t extra) {
    if (p->nfree + (p->cap - p->used) < extra) {
        uint32_t need = p->used - p->nfree + extra, ncap = p->cap ? p->cap : 64;
        while (ncap < need) {
            if (ncap > UINT32_MAX / 2) return BCKM_ERR_NOMEM;
            ncap *= 2;
        }
        uint32_t *nf = realloc(p->free_slots, (size_t)ncap * sizeof *nf);
        if (nf == NULL) return BCKM_ERR_NOMEM;
        p->free_slots = nf;
        size_t old = (size_t)p->cap * BCKM_KEY_BYTES;
        uint8_t(*nk)[BCKM_KEY_BYTES] =
            bckm_secret_resize(p->keys, old, old, (size_t)ncap * BCKM_KEY_BYTES);
        if (nk == NULL) return BCKM_ERR_NOMEM;
        p->keys = nk;
        p->cap = ncap;
    }
    return bckm_map_reserve(&p->index, extra);
}

int bckm_keypool_put(struct bckm_keypool *p, uint64_t id, const uint8_t key[BCKM_KEY_BYTES]) {
    uint8_t *k = bckm_keypool_get(p, id);
    if (k != NULL) {
        memcpy(k, key, BCKM_KEY_BYTES);
        return BCKM_OK;
    }
    if (bckm_keypool_reserve(p, 1) != BCKM_OK) return BCKM_ERR_NOMEM;
    uint32_t slot = p->nfree > 0 ? p->free_slots[--p->nfree] : p->used++;
    if (bckm_map_put(&p->index, id, slot) != BCKM_OK) {
        p->free_slots[p->nfree++] = slot;
        return BCKM_ERR_NOMEM;
    }
    memcpy(p->keys[slot], key, BCKM_KEY_BYTES);
    return BCKM_OK;
}

void bckm_keypool_del(struct bckm_keypool *p, uint64_t id) {
    uint32_t slot;
    if (!bckm_map_get(&p->index, id, &slot)) return;
    bckm_wipe(p->keys[slot], BCKM_KEY_BYTES);
    (void)bckm_map_del(&p->index, id);
    p->free_slots[p->nfree++] = slot;
}

size_t bckm_keypool_bytes(const struct bckm_keypool *p) {
    return bckm_map_bytes(&p->index) + (size_t)p->cap * (BCKM_KEY_BYTES + sizeof(uint32_t));
}

uint64_t bckm_pair_id(uint32_t a, uint32_t b) {
    uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
    return ((uint64_t)lo << 32) | hi;
}
