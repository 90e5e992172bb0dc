#include "sim/u64set.h"

#include <stdlib.h>
#include <string.h>

#include "bckm/common.h"

static size_t slot_of(uint64_t v, size_t cap) {
    v ^= v >> 33;
    v *= 0xFF51AFD7ED558CCDull;
    v ^= v >> 33;
    return (size_t)(v & (cap - 1));
}

void bckm_u64set_init(bckm_u64set *s) { memset(s, 0, sizeof *s); }

void bckm_u64set_free(bckm_u64set *s) {
    free(s->slots);
    memset(s, 0, sizeof *s);
}

int bckm_u64set_has(const bckm_u64set *s, uint64_t v) {
    if (v == 0) return s->has_zero;
    if (s->cap == 0) return 0;
    for (size_t i = slot_of(v, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == v) return 1;
        if (s->slots[i] == 0) return 0;
    }
}

static int grow(bckm_u64set *s) {
    size_t ncap = s->cap ? s->cap * 2 : 64;
    uint64_t *n = calloc(ncap, sizeof *n);
    if (n == NULL) return BCKM_ERR_NOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        uint64_t v = s->slots[i];
        if (v == 0) continue;
        size_t j = slot_of(v, ncap);
        while (n[j] != 0) j = (j + 1) & (ncap - 1);
        n[j] = v;
    }
    free(s->slots);
    s->slots = n;
    s->cap = ncap;
    return BCKM_OK;
}

int bckm_u64set_add(bckm_u64set *s, uint64_t v) {
    if (v == 0) {
        if (s->has_zero) return 0;
        s->has_zero = 1;
        s->len++;
        return 1;
    }
    if (bckm_u64set_has(s, v)) return 0;
    /* Keep the load under 1/2 so probes stay short. */
    if ((s->len + 1) * 2 > s->cap) {
        int rc = grow(s);
        if (rc != BCKM_OK) return rc;
    }
    size_t i = slot_of(v, s->cap);
    while (s->slots[i] != 0) i = (i + 1) & (s->cap - 1);
    s->slots[i] = v;
    s->len++;
    return 1;
}

size_t bckm_u64set_len(const bckm_u64set *s) { return s->len; }
