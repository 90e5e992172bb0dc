/*
 * Step 3 of a change (bckm/km.h): the commit. First every check and
 * allocation (commit_prepare), then the messages under the keys devices
 * hold now, then the keys move to the new epoch, then the bundles.
 */
#include "km_internal.h"
#include "bckm/kdf.h"
#include "bckm/msg.h"
#include "bckm/rekey_auth.h"

#include <stdlib.h>
#include <string.h>

static int in_list(const uint32_t *a, uint32_t n, uint32_t v) {
    for (uint32_t i = 0; i < n; i++)
        if (a[i] == v) return 1;
    return 0;
}

static int is_dropped(const struct bckm_km *km, uint32_t u) {
    for (uint32_t i = 0; i < km->ndropped; i++)
        if (km->dropped[i] == u) return 1;
    return 0;
}

/*
 * Step 0 of a commit: every check and every allocation a commit can need,
 * before its first change, so that the commit either applies fully or
 * leaves the key manager as it was (spec 10.4, "all or nothing"). Decides
 * which movers this BP stops serving (a set it may not key, attack 6) and
 * records them in km->dropped.
 */
static int commit_prepare(struct bckm_km *km, const struct bckm_sets *reg, uint32_t origin_bp,
                          const struct bckm_tx *c, const struct bckm_plan *plan,
                          struct bckm_msgs *out) {
    const struct bckm_set_info *tab = bckm_sets_table(reg);
    uint32_t m = bckm_sets_count(reg), maxsize = 1, nrefs = 0, ndrop = 0;
    uint32_t departed = bckm_km_departed_set(c, plan);
    size_t upd = BCKM_MSG_HEADER_BYTES + BCKM_MSG_TAG_BYTES + bckm_km_update_bytes(plan), bytes = 0;
    for (uint32_t i = 0; i < m; i++)
        if (tab[i].size > maxsize) maxsize = tab[i].size;
    size_t bun = BCKM_MSG_HEADER_BYTES + BCKM_MSG_TAG_BYTES + 114 +
                 ((size_t)m + maxsize) * BCKM_MSG_KEYED_ENTRY_BYTES;
    /* Every live set this BP is entitled to has its key (a created set gets one). */
    for (uint32_t i = 0; i < m; i++) {
        uint32_t t = tab[i].id, count;
        if (!bckm_km_entitled(km, t) || t == plan->created_set) continue;
        if (t == departed) {
            const uint32_t *mem = bckm_sets_members(reg, t, &count);
            for (uint32_t k = 0; k < count; k++)
                if (bckm_keypool_get(&km->node_keks, mem[k]) != NULL) nrefs++;
            bytes += (size_t)count * upd;
        } else {
            if (bckm_keypool_get(&km->set_keks, t) == NULL) return BCKM_ERR_STATE;
            nrefs++;
            bytes += upd;
        }
    }
    /* The joiner's bundle. */
    if (c->op == BCKM_OP_JOIN && origin_bp == km->bp &&
        bckm_km_pending_find(km, c->node_id) != NULL) {
        uint32_t set, attach;
        int e = bckm_sets_node(reg, c->node_id, &set, &attach);
        if (e != BCKM_OK) return e;
        if (!bckm_km_entitled(km, set) ||
            (set != plan->created_set && bckm_keypool_get(&km->set_keks, set) == NULL))
            return BCKM_ERR_STATE;
        nrefs++;
        bytes += bun;
    }
    /* Movers served here: a bundle, or dropped when their new set is one
     * this BP may not key (only another BP adopted it). */
    for (uint32_t i = 0; i < plan->move_count; i++) {
        uint32_t u = plan->moves[i].node_id, to = plan->moves[i].to_set;
        if (bckm_keypool_get(&km->node_keks, u) == NULL) continue;
        if (!bckm_km_entitled(km, to)) {
            ndrop++;
            continue;
        }
        if (to != plan->created_set && bckm_keypool_get(&km->set_keks, to) == NULL)
            return BCKM_ERR_STATE;
        nrefs++;
        bytes += bun;
    }
    /* The batch signature's trailers and workspace too: signing happens
     * after the keys moved and must not fail then. */
    int e = bckm_msgs_reserve(out, nrefs, bytes + bckm_rekey_batch_trailer_bytes(nrefs));
    if (e == BCKM_OK) e = bckm_km_reserve_sign_work(km, bckm_rekey_batch_work_bytes(nrefs, bytes));
    if (e == BCKM_OK) e = bckm_km_reserve_scratch(km, upd > bun ? upd : bun);
    if (e == BCKM_OK) e = bckm_km_reserve_ids(km, (size_t)maxsize * 2);
    if (e == BCKM_OK) e = bckm_keypool_reserve(&km->set_keks, 1);
    if (e == BCKM_OK) e = bckm_keypool_reserve(&km->pair_keys, m);
    if (e == BCKM_OK) e = bckm_keypool_reserve(&km->node_keks, 1);
    if (e == BCKM_OK) e = bckm_km_log_reserve(km, plan);
    if (e == BCKM_OK && km->cap_dropped < ndrop) {
        uint32_t *d = realloc(km->dropped, (size_t)ndrop * sizeof *d);
        if (d == NULL)
            e = BCKM_ERR_NOMEM;
        else {
            km->dropped = d;
            km->cap_dropped = ndrop;
        }
    }
    if (e != BCKM_OK) return e;
    km->ndropped = 0;
    for (uint32_t i = 0; i < plan->move_count; i++) {
        uint32_t u = plan->moves[i].node_id;
        if (bckm_keypool_get(&km->node_keks, u) != NULL &&
            !bckm_km_entitled(km, plan->moves[i].to_set))
            km->dropped[km->ndropped++] = u;
    }
    return BCKM_OK;
}

uint32_t bckm_km_dropped(const struct bckm_km *km, const uint32_t **nodes) {
    if (nodes != NULL) *nodes = km->dropped;
    return km->ndropped;
}

static int commit_batch(struct bckm_km *km, const struct bckm_sets *reg, uint32_t origin_bp,
                        const struct bckm_tx *c, const struct bckm_plan *plan,
                        struct bckm_msgs *out) {
    if (km == NULL || reg == NULL || c == NULL || plan == NULL || out == NULL) return BCKM_ERR_ARG;
    /* REATTACH (spec 10.1): no key changes and no messages; a BP other than
     * the new serving one stops serving the node (its KEK goes). */
    if (c->op == BCKM_OP_REATTACH) {
        if (origin_bp != km->bp) bckm_keypool_del(&km->node_keks, c->node_id);
        return BCKM_OK;
    }
    const struct bckm_set_info *tab = bckm_sets_table(reg);
    uint32_t m = bckm_sets_count(reg);
    uint64_t epoch = plan->epoch;
    int leaving = c->op == BCKM_OP_LEAVE || c->op == BCKM_OP_EVICT;
    uint32_t departed = bckm_km_departed_set(c, plan);
    km->ndropped = 0;
    int e = commit_prepare(km, reg, origin_bp, c, plan, out);
    if (e != BCKM_OK) return e;

    /* (a) Messages under the keys the devices hold now, before any update.
     * A failure here (none is expected after step 0: the scratch, the
     * output and every pool are reserved) changes nothing yet. */
    for (uint32_t i = 0; i < m; i++) {
        uint32_t t = tab[i].id, count;
        if (!bckm_km_entitled(km, t) || t == plan->created_set) continue;
        const uint32_t *mem = bckm_sets_members(reg, t, &count);
        struct bckm_writer w;
        bckm_writer_init(&w, km->scratch, km->scratch_cap);
        e = bckm_km_write_update(km, reg, c, plan, t, departed, &w);
        if (e != BCKM_OK) goto undo;
        if (t == departed) {
            /* The departed node knows K_S: each remaining member gets the
             * refresh under its own node KEK. */
            for (uint32_t k = 0; k < count; k++) {
                const uint8_t *kek = bckm_keypool_get(&km->node_keks, mem[k]);
                int moved = 0;
                for (uint32_t j = 0; j < plan->move_count; j++)
                    if (plan->moves[j].node_id == mem[k]) moved = 1;
                if (kek == NULL || moved) continue;
                e = bckm_km_emit(km, out, BCKM_MSG_UPDATE, BCKM_KEK_NODE, mem[k], epoch, NULL, kek,
                                 km->scratch, w.len);
                if (e != BCKM_OK) goto undo;
            }
        } else {
            const uint8_t *kt = bckm_keypool_get(&km->set_keks, t);
            if (kt == NULL) {
                e = BCKM_ERR_STATE;
                goto undo;
            }
            e = bckm_km_emit(km, out, BCKM_MSG_UPDATE, BCKM_KEK_SET, t, epoch, NULL, kt,
                             km->scratch, w.len);
            if (e != BCKM_OK) goto undo;
        }
        bckm_wipe(km->scratch, w.len);
    }

    /* (b) Retired sets: their keys die. */
    for (uint32_t i = 0; i < plan->retired_count; i++) {
        uint32_t x = plan->retired[i];
        bckm_keypool_del(&km->set_keks, x);
        for (uint32_t j = 0; j < m; j++)
            bckm_keypool_del(&km->pair_keys, bckm_pair_id(x, tab[j].id));
        for (uint32_t j = 0; j < plan->retired_count; j++)
            bckm_keypool_del(&km->pair_keys, bckm_pair_id(x, plan->retired[j]));
    }
    /* (c) A created set starts from keys derived from the domain secrets. */
    uint8_t k[BCKM_KEY_BYTES];
    if (plan->created_set != 0) {
        uint32_t s = plan->created_set;
        if (bckm_km_entitled(km, s)) {
            bckm_kdf_set_init(km->domain, s, k);
            if ((e = bckm_keypool_put(&km->set_keks, s, k)) != BCKM_OK) goto out;
        }
        for (uint32_t j = 0; j < m; j++) {
            uint32_t t = tab[j].id;
            if (t == s || !bckm_km_entitled_pair(km, s, t)) continue;
            const uint8_t *d = bckm_km_pair_domain(km, s, t);
            if (d == NULL) continue; /* adopted set and a third BP's new set */
            bckm_kdf_setpair_init(d, s, t, k);
            if ((e = bckm_keypool_put(&km->pair_keys, bckm_pair_id(s, t), k)) != BCKM_OK) goto out;
        }
    }
    /* (d) Every key of a changed set moves to the new epoch, each once. */
    for (uint32_t i = 0; i < plan->changed_count; i++) {
        uint32_t s = plan->changed[i];
        uint8_t *ks = bckm_keypool_get(&km->set_keks, s);
        if (ks != NULL) bckm_km_set_advance(c->refresh, s, epoch, ks);
        for (uint32_t j = 0; j < m; j++) {
            uint32_t t = tab[j].id;
            if (t == s) continue;
            if (in_list(plan->changed, i, t)) continue; /* already done with t's turn */
            uint8_t *kp = bckm_keypool_get(&km->pair_keys, bckm_pair_id(s, t));
            if (kp != NULL) bckm_km_pair_advance(c->refresh, plan, s, t, kp);
        }
    }
    /* (e) The departed node's KEK dies; a joiner's KEK is installed. */
    const uint8_t *code = NULL;
    struct bckm_km_pending *p = NULL;
    if (leaving) bckm_keypool_del(&km->node_keks, c->node_id);
    if (c->op == BCKM_OP_JOIN && origin_bp == km->bp) {
        p = bckm_km_pending_find(km, c->node_id);
        if (p != NULL) {
            if ((e = bckm_keypool_put(&km->node_keks, c->node_id, p->kek)) != BCKM_OK) goto out;
            code = p->code;
        }
    }
    /* (f) Log the change for catch-up of sleeping or adopted nodes. */
    if ((e = bckm_km_log_change(km, c, plan)) != BCKM_OK) goto out;
    /* (g) Bundles: the joiner, and every mover attached here. */
    if (code != NULL) {
        e = bckm_km_emit_bundle(km, reg, c->node_id, code, epoch, NULL, out);
        bckm_km_pending_drop(km, p);
        if (e != BCKM_OK) goto out;
    }
    for (uint32_t i = 0; i < plan->move_count; i++) {
        if (bckm_keypool_get(&km->node_keks, plan->moves[i].node_id) == NULL) continue;
        /* A joiner moved in its own join epoch already has its bundle, built
         * from the registry after Reorder: one message per device per epoch. */
        if (code != NULL && plan->moves[i].node_id == c->node_id) continue;
        if (is_dropped(km, plan->moves[i].node_id)) continue;
        if ((e = bckm_km_emit_bundle(km, reg, plan->moves[i].node_id, NULL, epoch, NULL, out)) !=
            BCKM_OK)
            goto out;
    }
    /* (h) Movers into a set this BP may not key are no longer served here:
     * their KEK and handed-over seed die; they rejoin a BP that holds the
     * set (spec 10.4). */
    for (uint32_t i = 0; i < km->ndropped; i++) {
        bckm_keypool_del(&km->node_keks, km->dropped[i]);
        bckm_keypool_del(&km->seeds, km->dropped[i]);
    }
    e = BCKM_OK;
out:
    bckm_wipe(k, sizeof k);
    return e;
undo:
    /* The messages appended so far are dropped by bckm_km_commit's bckm_km_batch_end. */
    km->ndropped = 0;
    return e;
}

int bckm_km_commit(struct bckm_km *km, const struct bckm_sets *reg, uint32_t origin_bp,
                   const struct bckm_tx *c, const struct bckm_plan *plan, struct bckm_msgs *out) {
    struct bckm_km_batch b = bckm_km_batch_begin(out);
    return bckm_km_batch_end(km, out, b, commit_batch(km, reg, origin_bp, c, plan, out));
}
