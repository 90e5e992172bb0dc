/*
 * Recovery of a node that missed epochs (spec 10.4-10.5): the catch-up of
 * a sleeping node from the rekey log, its resync request, and the handover
 * of an orphan's key state to a BP that adopts its set.
 */
#include "km_internal.h"
#include "bckm/kdf.h"
#include "bckm/map.h"
#include "bckm/msg.h"
#include "bckm/resync.h"

#include <stdlib.h>
#include <string.h>

static int catch_up_batch(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id,
                          uint64_t last_epoch, const uint8_t *challenge, struct bckm_msgs *out) {
    uint32_t set, attach;
    if (km == NULL || reg == NULL || out == NULL) return BCKM_ERR_ARG;
    const uint8_t *kek = bckm_keypool_get(&km->node_keks, node_id);
    if (kek == NULL) return BCKM_ERR_UNKNOWN;
    int e = bckm_sets_node(reg, node_id, &set, &attach);
    if (e != BCKM_OK) return e;
    uint64_t cur = bckm_sets_epoch(reg);
    if (last_epoch > cur) return BCKM_ERR_ARG;
    if (last_epoch == cur) return BCKM_OK;
    int replay = cur - last_epoch <= BCKM_KM_LOG_EPOCHS;
    for (uint64_t ep = last_epoch + 1; replay && ep <= cur; ep++) {
        const struct bckm_km_log_entry *l = bckm_km_log_get(km, ep);
        /* Replay only what the requester provably held keys for: a join of
         * it after last_epoch means it claims an epoch before it existed. */
        if (l == NULL || bckm_km_moved_in(&l->plan, node_id) || l->plan.created_set == set ||
            (l->tx.op == BCKM_OP_JOIN && l->tx.node_id == node_id))
            replay = 0;
    }
    if (!replay) return bckm_km_emit_bundle(km, reg, node_id, NULL, cur, challenge, out);
    for (uint64_t ep = last_epoch + 1; ep <= cur; ep++) {
        const struct bckm_km_log_entry *l = bckm_km_log_get(km, ep);
        uint32_t departed = bckm_km_departed_set(&l->tx, &l->plan);
        e = bckm_km_reserve_scratch(km, bckm_km_update_bytes(&l->plan));
        if (e != BCKM_OK) return e;
        struct bckm_writer w;
        bckm_writer_init(&w, km->scratch, km->scratch_cap);
        e = bckm_km_write_update(km, reg, &l->tx, &l->plan, set, departed, &w);
        if (e == BCKM_OK)
            e = bckm_km_emit(km, out, BCKM_MSG_UPDATE, BCKM_KEK_NODE, node_id, ep, challenge, kek,
                             km->scratch, w.len);
        bckm_wipe(km->scratch, w.len);
        if (e != BCKM_OK) return e;
    }
    return BCKM_OK;
}

int bckm_km_catch_up(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id,
                     uint64_t last_epoch, const uint8_t challenge[16], struct bckm_msgs *out) {
    if (km == NULL) return BCKM_ERR_ARG;
    struct bckm_km_batch b = bckm_km_batch_begin(out);
    int e = catch_up_batch(km, reg, node_id, last_epoch, challenge, out);
    return bckm_km_batch_end(km, out, b, e);
}

int bckm_km_open_resync(const struct bckm_km *km, const uint8_t *req, size_t len, uint32_t *node,
                        uint64_t *last_epoch, uint8_t challenge[16]) {
    if (km == NULL || req == NULL || node == NULL || last_epoch == NULL || challenge == NULL)
        return BCKM_ERR_ARG;
    if (len != BCKM_RESYNC_REQUEST_BYTES) return BCKM_ERR_FORMAT;
    const uint8_t *kek = bckm_keypool_get(&km->node_keks, bckm_resync_request_node(req));
    if (kek == NULL) return BCKM_ERR_UNKNOWN;
    return bckm_resync_request_open(kek, req, node, last_epoch, challenge);
}

/* What a handover may be (spec 10.4), checked before anything is used: a
 * bundle-format body under the node KEK, without the code, from a node not
 * attached here, of a set this BP does not hold by right (its own sets, or
 * every set under `global`: those nodes rejoin by bckm_km_adopt_node), whose
 * pair-key list names neither the node's own set nor ID 0. */
static int handover_precheck(const struct bckm_km *km, uint32_t set, uint32_t node_id,
                             const struct bckm_msg_header *h, const struct bckm_bundle_view *v) {
    if (h->kek_type != BCKM_KEK_NODE || v->has_code) return BCKM_ERR_FORMAT;
    if (km->policy != BCKM_POLICY_OWNED || bckm_id_bp(set) == km->bp) return BCKM_ERR_PERM;
    if (bckm_keypool_get(&km->node_keks, node_id) != NULL) return BCKM_ERR_EXISTS;
    for (uint32_t i = 0; i < v->setkeys.n; i++) {
        uint32_t id = bckm_msg_list_id(&v->setkeys, i, BCKM_MSG_KEYED_ENTRY_BYTES);
        if (id == set || id == BCKM_ID_NONE) return BCKM_ERR_FORMAT;
    }
    return BCKM_OK;
}

static int import_handover_batch(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id,
                                 const uint8_t kek[BCKM_KEY_BYTES], const uint8_t *msg, size_t len,
                                 struct bckm_msgs *out) {
    uint32_t set, attach;
    struct bckm_msg_header h;
    struct bckm_bundle_view v;
    if (km == NULL || reg == NULL || kek == NULL || msg == NULL || out == NULL) return BCKM_ERR_ARG;
    int e = bckm_sets_node(reg, node_id, &set, &attach);
    if (e != BCKM_OK) return e;
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL) return BCKM_ERR_NOMEM;
    memcpy(buf, msg, len);
    e = bckm_msg_open(buf, len, kek, &h);
    if (e == BCKM_OK && (h.kind != BCKM_MSG_HANDOVER || h.recipient != node_id))
        e = BCKM_ERR_FORMAT;
    if (e == BCKM_OK) e = bckm_msg_parse_bundle(buf + BCKM_MSG_HEADER_BYTES, h.body_len, &v);
    if (e == BCKM_OK && (v.node_id != node_id || v.set_id != set)) e = BCKM_ERR_MISMATCH;
    uint64_t cur = bckm_sets_epoch(reg);
    if (e == BCKM_OK && (h.epoch > cur || cur - h.epoch > BCKM_KM_LOG_EPOCHS)) e = BCKM_ERR_STATE;
    if (e == BCKM_OK) e = handover_precheck(km, set, node_id, &h, &v);
    /* Roll the handed keys forward exactly as the device would. */
    uint32_t n = e == BCKM_OK ? v.setkeys.n : 0; /* v is only read once it parsed */
    struct {
        uint32_t id;
        uint8_t key[BCKM_KEY_BYTES];
        uint8_t live;
    } *pk = NULL;
    uint8_t ks[BCKM_KEY_BYTES];
    if (e == BCKM_OK) {
        pk = calloc(n + 1 + cur - h.epoch, sizeof *pk);
        if (pk == NULL) e = BCKM_ERR_NOMEM;
    }
    if (e == BCKM_OK) {
        memcpy(ks, v.set_kek, BCKM_KEY_BYTES);
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *ent = v.setkeys.p + (size_t)i * BCKM_MSG_KEYED_ENTRY_BYTES;
            pk[i].id = bckm_get_u32(ent);
            memcpy(pk[i].key, ent + 4, BCKM_KEY_BYTES);
            pk[i].live = 1;
        }
    }
    for (uint64_t ep = h.epoch + 1; e == BCKM_OK && ep <= cur; ep++) {
        const struct bckm_km_log_entry *l = bckm_km_log_get(km, ep);
        if (l == NULL || bckm_km_moved_in(&l->plan, node_id) || bckm_plan_retired(&l->plan, set)) {
            e = BCKM_ERR_STATE;
            break;
        }
        int own = bckm_plan_changed(&l->plan, set);
        for (uint32_t i = 0; i < n; i++) {
            if (!pk[i].live) continue;
            if (bckm_plan_retired(&l->plan, pk[i].id)) {
                pk[i].live = 0;
                continue;
            }
            if (own || bckm_plan_changed(&l->plan, pk[i].id))
                bckm_km_pair_advance(l->tx.refresh, &l->plan, set, pk[i].id, pk[i].key);
        }
        const uint8_t *d =
            l->plan.created_set != 0 ? bckm_km_pair_domain(km, l->plan.created_set, set) : NULL;
        if (d != NULL) {
            pk[n].id = l->plan.created_set;
            bckm_kdf_setpair_init(d, pk[n].id, set, pk[n].key);
            bckm_km_pair_advance(l->tx.refresh, &l->plan, pk[n].id, set, pk[n].key);
            pk[n].live = 1;
            n++;
        }
        if (own) bckm_km_set_advance(l->tx.refresh, set, ep, ks);
    }
    if (e == BCKM_OK) {
        /* Every handed pair key must name a set live now (retired ones were
         * dropped on the way). */
        uint32_t cnt;
        for (uint32_t i = 0; i < n && e == BCKM_OK; i++)
            if (pk[i].live && bckm_sets_members(reg, pk[i].id, &cnt) == NULL) e = BCKM_ERR_FORMAT;
    }
    if (e == BCKM_OK) {
        /* Adopt: from now on this BP holds the set's keys and rekeys it. A
         * key this BP already holds is never replaced by a handed value, and
         * pairs with its own sets come from its own secrets only. All or
         * nothing: whatever this call added is taken back on failure. */
        int new_set = !bckm_map_get(&km->adopted, set, NULL), new_setkek = 0, new_kek = 0,
            new_seed = 0;
        e = new_set ? bckm_map_put(&km->adopted, set, 1) : BCKM_OK;
        if (e == BCKM_OK && bckm_keypool_get(&km->set_keks, set) == NULL) {
            if ((e = bckm_keypool_put(&km->set_keks, set, ks)) == BCKM_OK) new_setkek = 1;
        }
        for (uint32_t i = 0; i < n && e == BCKM_OK; i++) {
            if (!pk[i].live || bckm_id_bp(pk[i].id) == km->bp) continue;
            if (bckm_keypool_get(&km->pair_keys, bckm_pair_id(set, pk[i].id)) != NULL) continue;
            if ((e = bckm_keypool_put(&km->pair_keys, bckm_pair_id(set, pk[i].id), pk[i].key)) ==
                BCKM_OK)
                pk[i].live = 2;
        }
        if (e == BCKM_OK && bckm_keypool_get(&km->seeds, node_id) == NULL) {
            if ((e = bckm_keypool_put(&km->seeds, node_id, v.seed)) == BCKM_OK) new_seed = 1;
        }
        if (e == BCKM_OK && (e = bckm_keypool_put(&km->node_keks, node_id, kek)) == BCKM_OK)
            new_kek = 1;
        if (e == BCKM_OK) e = catch_up_batch(km, reg, node_id, h.epoch, NULL, out);
        if (e != BCKM_OK) {
            for (uint32_t i = 0; i < n; i++)
                if (pk[i].live == 2) bckm_keypool_del(&km->pair_keys, bckm_pair_id(set, pk[i].id));
            if (new_kek) bckm_keypool_del(&km->node_keks, node_id);
            if (new_seed) bckm_keypool_del(&km->seeds, node_id);
            if (new_setkek) bckm_keypool_del(&km->set_keks, set);
            if (new_set) (void)bckm_map_del(&km->adopted, set);
            /* (the messages it appended: bckm_km_import_handover's bckm_km_batch_end) */
        }
    }
    if (pk != NULL) {
        bckm_wipe(pk, (n + 1) * sizeof *pk);
        free(pk);
    }
    bckm_wipe(ks, sizeof ks);
    bckm_wipe(buf, len);
    free(buf);
    return e;
}

int bckm_km_import_handover(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id,
                            const uint8_t kek[BCKM_KEY_BYTES], const uint8_t *msg, size_t len,
                            struct bckm_msgs *out) {
    struct bckm_km_batch b = bckm_km_batch_begin(out);
    return bckm_km_batch_end(km, out, b,
                             import_handover_batch(km, reg, node_id, kek, msg, len, out));
}
