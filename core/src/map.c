#include "bckm/map.h"

#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void bckm_map_init(struct bckm_map *m) { memset(m, 0, sizeof *m); }

void bckm_map_free(struct bckm_map *m) {
    free(m->keys);
    free(m->vals);
    bckm_map_init(m);
}

static int grow(struct bckm_map *m) {
    uint32_t ncap = m->cap ? m->cap * 2 : 16;
    if (ncap < m->cap) return BCKM_ERR_NOMEM;
    uint64_t *nk = calloc(ncap, sizeof *nk);
    uint32_t *nv = calloc(ncap, sizeof *nv);
    if (nk == NULL || nv == NULL) {
        free(nk);
        free(nv);
        return BCKM_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == 0) continue;
        uint32_t j = (uint32_t)mix(m->keys[i]) & (ncap - 1);
        while (nk[j] != 0) j = (j + 1) & (ncap - 1);
        nk[j] = m->keys[i];
        nv[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
    return BCKM_OK;
}

int bckm_map_reserve(struct bckm_map *m, uint32_t extra) {
    /* The put rule: a put grows when (len + 1) * 4 > cap * 3. */
    while (extra > 0 && ((uint64_t)m->len + extra) * 4 > (uint64_t)m->cap * 3) {
        int e = grow(m);
        if (e != BCKM_OK) return e;
    }
    return BCKM_OK;
}

int bckm_map_put(struct bckm_map *m, uint64_t key, uint32_t val) {
    if (key == 0) return BCKM_ERR_ARG;
    /* Keep the load under 3/4 so probes stay short. */
    if ((uint64_t)(m->len + 1) * 4 > (uint64_t)m->cap * 3) {
        int e = grow(m);
        if (e != BCKM_OK) return e;
    }
    uint32_t j = (uint32_t)mix(key) & (m->cap - 1);
    while (m->keys[j] != 0) {
        if (m->keys[j] == key) {
            m->vals[j] = val;
            return BCKM_OK;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = key;
    m->vals[j] = val;
    m->len++;
    return BCKM_OK;
}

int bckm_map_get(const struct bckm_map *m, uint64_t key, uint32_t *val) {
    if (m->cap == 0 || key == 0) return 0;
    uint32_t j = (uint32_t)mix(key) & (m->cap - 1);
    while (m->keys[j] != 0) {
        if (m->keys[j] == key) {
            if (val) *val = m->vals[j];
            return 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}

int bckm_map_del(struct bckm_map *m, uint64_t key) {
    if (m->cap == 0 || key == 0) return 0;
    uint32_t mask = m->cap - 1;
    uint32_t j = (uint32_t)mix(key) & mask;
    while (m->keys[j] != key) {
        if (m->keys[j] == 0) return 0;
        j = (j + 1) & mask;
    }
    /* Backward-shift deletion keeps every remaining key reachable without
     * tombstones. */
    uint32_t hole = j;
    for (uint32_t k = (j + 1) & mask; m->keys[k] != 0; k = (k + 1) & mask) {
        uint32_t home = (uint32_t)mix(m->keys[k]) & mask;
        /* Move k into the hole when its home is not in (hole, k]. */
        int between = hole <= k ? (home > hole && home <= k) : (home > hole || home <= k);
        if (!between) {
            m->keys[hole] = m->keys[k];
            m->vals[hole] = m->vals[k];
            hole = k;
        }
    }
    m->keys[hole] = 0;
    m->vals[hole] = 0;
    m->len--;
    return 1;
}

int bckm_map_clone(const struct bckm_map *m, struct bckm_map *out) {
    bckm_map_init(out);
    if (m->cap == 0) return BCKM_OK;
    out->keys = malloc((size_t)m->cap * sizeof *out->keys);
    out->vals = malloc((size_t)m->cap * sizeof *out->vals);
    if (out->keys == NULL || out->vals == NULL) {
        bckm_map_free(out);
        return BCKM_ERR_NOMEM;
    }
    memcpy(out->keys, m->keys, (size_t)m->cap * sizeof *out->keys);
    memcpy(out->vals, m->vals, (size_t)m->cap * sizeof *out->vals);
    out->cap = m->cap;
    out->len = m->len;
    return BCKM_OK;
}

size_t bckm_map_bytes(const struct bckm_map *m) {
    return (size_t)m->cap * (sizeof(uint64_t) + sizeof(uint32_t));
}
