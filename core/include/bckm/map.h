/*
 * A hash map from nonzero 64-bit keys to 32-bit values (open addressing,
 * linear probing, backward-shift deletion). BP-side only: it allocates.
 * Used for node, set-pair and code-hash indexes, where the BP must stay
 * O(n) in memory.
 */
#ifndef BCKM_MAP_H
#define BCKM_MAP_H

#include "bckm/common.h"

struct bckm_map {
    uint64_t *keys; /* 0 = empty slot */
    uint32_t *vals;
    uint32_t cap; /* power of two, or 0 */
    uint32_t len;
};

void bckm_map_init(struct bckm_map *m);
void bckm_map_free(struct bckm_map *m);
/* Inserts or replaces. key must be nonzero. */
int bckm_map_put(struct bckm_map *m, uint64_t key, uint32_t val) BCKM_MUST_CHECK;
/* Grows the table so that `extra` more puts of new keys cannot fail. */
int bckm_map_reserve(struct bckm_map *m, uint32_t extra) BCKM_MUST_CHECK;
/* 1 and *val when present, else 0. */
int bckm_map_get(const struct bckm_map *m, uint64_t key, uint32_t *val);
/* 1 when removed, 0 when absent. */
int bckm_map_del(struct bckm_map *m, uint64_t key);
int bckm_map_clone(const struct bckm_map *m, struct bckm_map *out) BCKM_MUST_CHECK;
/* Bytes held, for memory accounting. */
size_t bckm_map_bytes(const struct bckm_map *m);

#endif
