/*
 * Lists of rekey messages (bckm/msgs.h): one buffer of sealed messages and
 * a table of references into it, and who each message is for.
 */
#include "km_internal.h"
#include "bckm/map.h"

#include <stdlib.h>
#include <string.h>

void bckm_msgs_init(struct bckm_msgs *m) { memset(m, 0, sizeof *m); }
void bckm_msgs_clear(struct bckm_msgs *m) {
    m->len = 0;
    m->n = 0;
}
void bckm_msgs_free(struct bckm_msgs *m) {
    free(m->buf);
    free(m->refs);
    bckm_msgs_init(m);
}

int bckm_msgs_route(const struct bckm_msgs *m, const struct bckm_sets *reg,
                    int (*deliver)(void *ctx, uint32_t node, const uint8_t *msg, size_t len),
                    void *ctx) {
    if (m == NULL || reg == NULL || deliver == NULL) return BCKM_ERR_ARG;
    /* A node that gets a bundle in this batch gets its whole new state from
     * it; the batch's set messages (to its new set) are not for it. */
    struct bckm_map bundled;
    bckm_map_init(&bundled);
    int e = BCKM_OK;
    for (uint32_t i = 0; i < m->n && e == BCKM_OK; i++)
        if (m->refs[i].kind == BCKM_MSG_BUNDLE) e = bckm_map_put(&bundled, m->refs[i].recipient, 1);
    for (uint32_t i = 0; i < m->n && e == BCKM_OK; i++) {
        const struct bckm_msg_ref *r = &m->refs[i];
        if (r->kek_type != BCKM_KEK_SET) {
            e = deliver(ctx, r->recipient, m->buf + r->off, r->len);
            continue;
        }
        uint32_t nrec = 0;
        const uint32_t *rec = bckm_sets_members(reg, r->recipient, &nrec);
        for (uint32_t k = 0; rec != NULL && k < nrec && e == BCKM_OK; k++) {
            if (bckm_map_get(&bundled, rec[k], NULL)) continue;
            e = deliver(ctx, rec[k], m->buf + r->off, r->len);
        }
    }
    bckm_map_free(&bundled);
    return e;
}

/* Room for nrefs more messages of `bytes` bytes in all. */
int bckm_msgs_reserve(struct bckm_msgs *m, uint32_t nrefs, size_t bytes) {
    if (m->refs_cap - m->n < nrefs) {
        uint32_t ncap = m->refs_cap ? m->refs_cap : 64;
        while (ncap - m->n < nrefs) {
            if (ncap > UINT32_MAX / 2) return BCKM_ERR_NOMEM;
            ncap *= 2;
        }
        struct bckm_msg_ref *r = realloc(m->refs, (size_t)ncap * sizeof *r);
        if (r == NULL) return BCKM_ERR_NOMEM;
        m->refs = r;
        m->refs_cap = ncap;
    }
    if (m->cap - m->len < bytes) {
        size_t ncap = m->cap ? m->cap : 4096;
        while (ncap - m->len < bytes) ncap *= 2;
        uint8_t *b = realloc(m->buf, ncap);
        if (b == NULL) return BCKM_ERR_NOMEM;
        m->buf = b;
        m->cap = ncap;
    }
    return BCKM_OK;
}
