/*
 * Step 1 of a change (bckm/km.h): a join, leave or evict prepared at this
 * BP, and the joins it has prepared and not yet seen commit (their KEK and
 * secret code wait here until the commit hands the code over).
 */
#include "km_internal.h"
#include "bckm/map.h"
#include "bckm/rejoin.h"
#include "secret_array.h"

#include <string.h>

int bckm_km_prepare_join(struct bckm_km *km, const struct bckm_sets *reg,
                         const uint8_t kek[BCKM_KEY_BYTES], struct bckm_tx *out) {
    if (km == NULL || reg == NULL || kek == NULL || out == NULL) return BCKM_ERR_ARG;
    if (km->next_node > BCKM_ID_COUNTER_MAX) return BCKM_ERR_NOMEM;
    uint32_t owner = bckm_sets_owner_for(reg, km->bp), set;
    int fresh;
    if (bckm_sets_nodes(reg) == UINT32_MAX) return BCKM_ERR_NOMEM;
    int e = bckm_sets_assign(bckm_sets_table(reg), bckm_sets_count(reg), owner,
                             bckm_sets_nodes(reg) + 1, bckm_sets_next_counter(reg, owner), &set,
                             &fresh);
    if (e != BCKM_OK) return e;
    if (km->npend == km->cap_pend) {
        uint32_t ncap = km->cap_pend ? km->cap_pend * 2 : 8;
        struct bckm_km_pending *np =
            bckm_secret_resize(km->pend, (size_t)km->cap_pend * sizeof *np,
                               (size_t)km->npend * sizeof *np, (size_t)ncap * sizeof *np);
        if (np == NULL) return BCKM_ERR_NOMEM;
        km->pend = np;
        km->cap_pend = ncap;
    }
    uint32_t node = bckm_id_make(km->bp, km->next_node);
    if (bckm_map_put(&km->pend_index, node, km->npend) != BCKM_OK) return BCKM_ERR_NOMEM;
    km->next_node++;
    struct bckm_km_pending *p = &km->pend[km->npend++];
    p->node_id = node;
    memcpy(p->kek, kek, BCKM_KEY_BYTES);
    bckm_km_random(km, p->code, BCKM_CODE_BYTES);
    memset(out, 0, sizeof *out);
    out->op = BCKM_OP_JOIN;
    out->node_id = p->node_id;
    out->set_id = set;
    bckm_code_commit(p->code, out->code_hash);
    bckm_km_random(km, out->refresh, BCKM_REFRESH_BYTES);
    return BCKM_OK;
}

int bckm_km_prepare_leave(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id,
                          uint8_t op, struct bckm_tx *out) {
    if (km == NULL || reg == NULL || out == NULL) return BCKM_ERR_ARG;
    if (op != BCKM_OP_LEAVE && op != BCKM_OP_EVICT) return BCKM_ERR_ARG;
    uint32_t set, attach;
    int e = bckm_sets_node(reg, node_id, &set, &attach);
    if (e != BCKM_OK) return e;
    (void)attach;
    if (bckm_keypool_get(&km->node_keks, node_id) == NULL)
        return BCKM_ERR_PERM; /* not served here */
    memset(out, 0, sizeof *out);
    out->op = op;
    out->node_id = node_id;
    out->set_id = set;
    e = bckm_sets_code_hash(reg, node_id, out->code_hash);
    if (e != BCKM_OK) return e;
    bckm_km_random(km, out->refresh, BCKM_REFRESH_BYTES);
    return BCKM_OK;
}

struct bckm_km_pending *bckm_km_pending_find(struct bckm_km *km, uint32_t node_id) {
    uint32_t i;
    return bckm_map_get(&km->pend_index, node_id, &i) ? &km->pend[i] : NULL;
}

/* Gives memory back once most pending joins are gone (a genesis of n nodes
 * leaves n entries behind), so the BP stays O(current pending) there. A
 * failed allocation just keeps the larger arrays. */
static void pending_compact(struct bckm_km *km) {
    if (km->cap_pend <= 16 || (uint64_t)km->npend * 4 >= km->cap_pend) return;
    uint32_t ncap = km->cap_pend / 2;
    struct bckm_map idx;
    bckm_map_init(&idx);
    for (uint32_t i = 0; i < km->npend; i++) {
        if (bckm_map_put(&idx, km->pend[i].node_id, i) != BCKM_OK) {
            bckm_map_free(&idx);
            return;
        }
    }
    struct bckm_km_pending *np =
        bckm_secret_resize(km->pend, (size_t)km->cap_pend * sizeof *np,
                           (size_t)km->npend * sizeof *np, (size_t)ncap * sizeof *np);
    if (np == NULL) {
        bckm_map_free(&idx);
        return;
    }
    km->pend = np;
    km->cap_pend = ncap;
    bckm_map_free(&km->pend_index);
    km->pend_index = idx;
}

void bckm_km_pending_drop(struct bckm_km *km, struct bckm_km_pending *p) {
    uint32_t i = (uint32_t)(p - km->pend);
    (void)bckm_map_del(&km->pend_index, p->node_id);
    bckm_wipe(p, sizeof *p);
    km->npend--;
    if (i != km->npend) {
        km->pend[i] = km->pend[km->npend];
        /* The key exists, so the put only replaces a value and cannot fail. */
        int e = bckm_map_put(&km->pend_index, km->pend[i].node_id, i);
        (void)e;
    }
    bckm_wipe(&km->pend[km->npend], sizeof *p);
    pending_compact(km);
}

void bckm_km_abort(struct bckm_km *km, uint32_t node_id) {
    struct bckm_km_pending *p = bckm_km_pending_find(km, node_id);
    if (p != NULL) bckm_km_pending_drop(km, p);
}
