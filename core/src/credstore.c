#include "bckm/credstore.h"
#include "secret_array.h"
#include "bckm/map.h"

#include <stdlib.h>
#include <string.h>

struct cred {
    uint32_t serial;
    uint8_t spent;
    uint8_t psk[BCKM_KEY_BYTES];
};

struct bckm_credstore {
    struct cred *c;
    uint32_t n, cap;
    struct bckm_map index; /* serial + 1 -> index in c */
};

int bckm_credstore_new(struct bckm_credstore **out) {
    if (out == NULL) return BCKM_ERR_ARG;
    struct bckm_credstore *cs = calloc(1, sizeof *cs);
    if (cs == NULL) return BCKM_ERR_NOMEM;
    bckm_map_init(&cs->index);
    *out = cs;
    return BCKM_OK;
}

void bckm_credstore_free(struct bckm_credstore *cs) {
    if (cs == NULL) return;
    if (cs->c != NULL) bckm_wipe(cs->c, (size_t)cs->cap * sizeof *cs->c);
    free(cs->c);
    bckm_map_free(&cs->index);
    bckm_wipe(cs, sizeof *cs);
    free(cs);
}

static struct cred *find(const struct bckm_credstore *cs, uint32_t serial) {
    uint32_t i;
    return bckm_map_get(&cs->index, (uint64_t)serial + 1, &i) ? &cs->c[i] : NULL;
}

int bckm_credstore_add(struct bckm_credstore *cs, uint32_t serial,
                       const uint8_t psk[BCKM_KEY_BYTES]) {
    if (cs == NULL || psk == NULL) return BCKM_ERR_ARG;
    if (find(cs, serial) != NULL) return BCKM_ERR_EXISTS;
    if (cs->n == cs->cap) {
        /* Not realloc: the old array holds PSKs and must be wiped. */
        uint32_t ncap = cs->cap ? cs->cap * 2 : 16;
        struct cred *nc = bckm_secret_resize(cs->c, (size_t)cs->cap * sizeof *nc,
                                             (size_t)cs->n * sizeof *nc, (size_t)ncap * sizeof *nc);
        if (nc == NULL) return BCKM_ERR_NOMEM;
        cs->c = nc;
        cs->cap = ncap;
    }
    if (bckm_map_put(&cs->index, (uint64_t)serial + 1, cs->n) != BCKM_OK) return BCKM_ERR_NOMEM;
    struct cred *c = &cs->c[cs->n++];
    c->serial = serial;
    c->spent = 0;
    memcpy(c->psk, psk, BCKM_KEY_BYTES);
    return BCKM_OK;
}

int bckm_credstore_get(const struct bckm_credstore *cs, uint32_t serial,
                       uint8_t out[BCKM_KEY_BYTES]) {
    if (cs == NULL || out == NULL) return BCKM_ERR_ARG;
    const struct cred *c = find(cs, serial);
    if (c == NULL) return BCKM_ERR_UNKNOWN;
    if (c->spent) return BCKM_ERR_PERM;
    memcpy(out, c->psk, BCKM_KEY_BYTES);
    return BCKM_OK;
}

int bckm_credstore_spend(struct bckm_credstore *cs, uint32_t serial) {
    if (cs == NULL) return BCKM_ERR_ARG;
    struct cred *c = find(cs, serial);
    if (c == NULL) return BCKM_ERR_UNKNOWN;
    if (c->spent) return BCKM_ERR_PERM;
    bckm_wipe(c->psk, sizeof c->psk);
    c->spent = 1;
    return BCKM_OK;
}

int bckm_credstore_is_spent(const struct bckm_credstore *cs, uint32_t serial) {
    const struct cred *c = cs != NULL ? find(cs, serial) : NULL;
    return c != NULL && c->spent;
}
