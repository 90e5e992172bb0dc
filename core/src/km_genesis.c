/*
 * Genesis (every member gets its first bundle) and rejoin by a node that
 * proved its secret code (bckm_km_adopt_node).
 */
#include "km_internal.h"
#include "bckm/kdf.h"
#include "bckm/msg.h"

#include <string.h>

int bckm_km_adopt(struct bckm_km *km, uint32_t node_id) {
    struct bckm_km_pending *p = bckm_km_pending_find(km, node_id);
    if (p == NULL) return BCKM_ERR_UNKNOWN;
    int e = bckm_keypool_put(&km->node_keks, node_id, p->kek);
    /* The code leaves the BP only inside the genesis bundle; keep it until then. */
    return e;
}

static int provision_batch(struct bckm_km *km, const struct bckm_sets *reg, struct bckm_msgs *out) {
    const struct bckm_set_info *tab = bckm_sets_table(reg);
    uint32_t m = bckm_sets_count(reg);
    uint8_t k[BCKM_KEY_BYTES];
    int e = BCKM_OK;
    for (uint32_t i = 0; i < m && e == BCKM_OK; i++) {
        uint32_t s = tab[i].id;
        if (bckm_km_entitled(km, s)) {
            bckm_kdf_set_init(km->domain, s, k);
            e = bckm_keypool_put(&km->set_keks, s, k);
        }
        for (uint32_t j = i + 1; j < m && e == BCKM_OK; j++) {
            uint32_t t = tab[j].id;
            if (!bckm_km_entitled_pair(km, s, t)) continue;
            const uint8_t *d = bckm_km_pair_domain(km, s, t);
            if (d == NULL) {
                e = BCKM_ERR_STATE;
                break;
            }
            bckm_kdf_setpair_init(d, s, t, k);
            e = bckm_keypool_put(&km->pair_keys, bckm_pair_id(s, t), k);
        }
    }
    bckm_wipe(k, sizeof k);
    if (e != BCKM_OK || out == NULL) return e;
    for (uint32_t i = 0; i < m; i++) {
        uint32_t count;
        const uint32_t *mem = bckm_sets_members(reg, tab[i].id, &count);
        for (uint32_t j = 0; j < count; j++) {
            if (bckm_keypool_get(&km->node_keks, mem[j]) == NULL) continue;
            struct bckm_km_pending *p = bckm_km_pending_find(km, mem[j]);
            e = bckm_km_emit_bundle(km, reg, mem[j], p != NULL ? p->code : NULL,
                                    bckm_sets_epoch(reg), NULL, out);
            if (p != NULL) bckm_km_pending_drop(km, p);
            if (e != BCKM_OK) return e;
        }
    }
    return BCKM_OK;
}

int bckm_km_provision(struct bckm_km *km, const struct bckm_sets *reg, struct bckm_msgs *out) {
    struct bckm_km_batch b = bckm_km_batch_begin(out);
    return bckm_km_batch_end(km, out, b, provision_batch(km, reg, out));
}

int bckm_km_bundle_for(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id,
                       struct bckm_msgs *out) {
    if (km == NULL || reg == NULL || out == NULL) return BCKM_ERR_ARG;
    struct bckm_km_pending *p = bckm_km_pending_find(km, node_id);
    struct bckm_km_batch b = bckm_km_batch_begin(out);
    int e = bckm_km_batch_end(km, out, b,
                              bckm_km_emit_bundle(km, reg, node_id, p != NULL ? p->code : NULL,
                                                  bckm_sets_epoch(reg), NULL, out));
    if (p != NULL && e == BCKM_OK) bckm_km_pending_drop(km, p);
    return e;
}

void bckm_km_forget_codes(struct bckm_km *km) {
    /* Only codes of nodes already adopted at genesis; open joins stay.
     * bckm_km_pending_drop may move or shrink the array, so look each one up anew. */
    uint32_t i = 0;
    while (i < km->npend) {
        if (bckm_keypool_get(&km->node_keks, km->pend[i].node_id) == NULL) {
            i++;
            continue;
        }
        bckm_km_pending_drop(km, &km->pend[i]);
    }
}

int bckm_km_adopt_node(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id,
                       const uint8_t kek[BCKM_KEY_BYTES], const uint8_t challenge[16],
                       struct bckm_msgs *out) {
    uint32_t set, attach;
    if (km == NULL || reg == NULL || kek == NULL || challenge == NULL || out == NULL)
        return BCKM_ERR_ARG;
    int e = bckm_sets_node(reg, node_id, &set, &attach);
    if (e != BCKM_OK) return e;
    if (!bckm_km_entitled(km, set)) return BCKM_ERR_PERM;
    if ((e = bckm_keypool_put(&km->node_keks, node_id, kek)) != BCKM_OK) return e;
    struct bckm_km_batch b = bckm_km_batch_begin(out);
    e = bckm_km_emit_bundle(km, reg, node_id, NULL, bckm_sets_epoch(reg), challenge, out);
    return bckm_km_batch_end(km, out, b, e);
}
