/*
 * The bodies of rekey messages: a node's bundle (its whole key state) and
 * the update of one set for one change, with the refresh material of
 * spec 5 derived from the change's refresh key.
 */
#include "km_internal.h"
#include "bckm/kdf.h"
#include "bckm/map.h"
#include "bckm/msg.h"

#include <stdlib.h>
#include <string.h>

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Pairwise node key of u and v in set S: the seed of whoever entered S first
 * derives it. pos_* are positions in S's insertion order. */
/* A node's pair seed: handed over by the node (adopted), else derived. */
static void seed_of(const struct bckm_km *km, uint32_t node, uint8_t out[BCKM_KEY_BYTES]) {
    const uint8_t *s = bckm_keypool_get(&km->seeds, node);
    if (s != NULL)
        memcpy(out, s, BCKM_KEY_BYTES);
    else
        bckm_kdf_pair_seed(km->domain, node, out);
}

void bckm_km_node_pair(const struct bckm_km *km, uint32_t u, uint32_t pos_u, uint32_t v,
                       uint32_t pos_v, uint8_t out[BCKM_KEY_BYTES]) {
    uint8_t seed[BCKM_KEY_BYTES];
    uint32_t first = pos_u < pos_v ? u : v, second = pos_u < pos_v ? v : u;
    seed_of(km, first, seed);
    bckm_kdf_pair_node(seed, first, second, out);
    bckm_wipe(seed, sizeof seed);
}

int bckm_km_emit_bundle(struct bckm_km *km, const struct bckm_sets *reg, uint32_t u,
                        const uint8_t *code, uint64_t epoch, const uint8_t *challenge,
                        struct bckm_msgs *out) {
    uint32_t set, attach, count = 0;
    int e = bckm_sets_node(reg, u, &set, &attach);
    if (e != BCKM_OK) return e;
    const uint8_t *kek = bckm_keypool_get(&km->node_keks, u),
                  *kset = bckm_keypool_get(&km->set_keks, set);
    if (kek == NULL || kset == NULL) return BCKM_ERR_STATE;
    const uint32_t *mem = bckm_sets_members(reg, set, &count);
    uint32_t m = bckm_sets_count(reg);
    const struct bckm_set_info *tab = bckm_sets_table(reg);
    e = bckm_km_reserve_scratch(km, 110 + 4 + ((size_t)m + count) * BCKM_MSG_KEYED_ENTRY_BYTES);
    if (e != BCKM_OK) return e;
    struct bckm_writer w;
    uint8_t seed[BCKM_KEY_BYTES], k[BCKM_KEY_BYTES], zero[BCKM_CODE_BYTES] = { 0 };
    bckm_writer_init(&w, km->scratch, km->scratch_cap);
    bckm_writer_u32(&w, u);
    bckm_writer_u32(&w, set);
    bckm_writer_u8(&w, code != NULL);
    bckm_writer_bytes(&w, code != NULL ? code : zero, BCKM_CODE_BYTES);
    seed_of(km, u, seed);
    bckm_writer_bytes(&w, seed, BCKM_KEY_BYTES);
    bckm_writer_bytes(&w, kset, BCKM_KEY_BYTES);
    if (m - 1 > BCKM_MSG_MAX_LIST || count - 1 > BCKM_MSG_MAX_LIST) {
        e = BCKM_ERR_NOMEM;
        goto out;
    } /* code in scratch */
    uint32_t held = 0;
    for (uint32_t i = 0; i < m; i++)
        if (tab[i].id != set &&
            bckm_keypool_get(&km->pair_keys, bckm_pair_id(set, tab[i].id)) != NULL)
            held++;
    /* Every pair is held except, after an adoption, pairs with sets a third
     * BP created later (spec 10.4): those are left out, not invented. */
    if (held != m - 1 && !bckm_map_get(&km->adopted, set, NULL)) {
        e = BCKM_ERR_STATE;
        goto out;
    }
    bckm_writer_u16(&w, (uint16_t)held);
    for (uint32_t i = 0; i < m; i++) { /* the table is sorted by ID */
        if (tab[i].id == set) continue;
        const uint8_t *pk = bckm_keypool_get(&km->pair_keys, bckm_pair_id(set, tab[i].id));
        if (pk == NULL) continue;
        bckm_writer_u32(&w, tab[i].id);
        bckm_writer_bytes(&w, pk, BCKM_KEY_BYTES);
    }
    /* Pairwise node keys sorted by peer ID. */
    uint32_t pos_u = 0;
    for (uint32_t i = 0; i < count; i++)
        if (mem[i] == u) pos_u = i;
    if ((e = bckm_km_reserve_ids(km, (size_t)(count ? count : 1) * 2)) != BCKM_OK) goto out;
    uint32_t *ids = km->ids, np = 0;
    for (uint32_t i = 0; i < count; i++)
        if (mem[i] != u) {
            ids[(size_t)2 * np] = mem[i];
            ids[(size_t)2 * np + 1] = i;
            np++;
        }
    qsort(ids, np, 2 * sizeof *ids, cmp_u32);
    bckm_writer_u16(&w, (uint16_t)np);
    for (uint32_t i = 0; i < np; i++) {
        bckm_km_node_pair(km, u, pos_u, ids[(size_t)2 * i], ids[(size_t)2 * i + 1], k);
        bckm_writer_u32(&w, ids[(size_t)2 * i]);
        bckm_writer_bytes(&w, k, BCKM_KEY_BYTES);
    }
    e = w.err ? w.err
              : bckm_km_emit(km, out, BCKM_MSG_BUNDLE, BCKM_KEK_NODE, u, epoch, challenge, kek,
                             km->scratch, w.len);
out:
    bckm_wipe(seed, sizeof seed);
    bckm_wipe(k, sizeof k);
    bckm_wipe(km->scratch, w.len);
    return e;
}

/* ---- refresh material (spec 5) ------------------------------------------------------------ */

/* r_X,T of a change whose refresh key is r: r_X = KDF(r; X, epoch), then
 * one way to T. */
static void pair_refresh(const uint8_t r[BCKM_REFRESH_BYTES], uint32_t x, uint32_t t,
                         uint64_t epoch, uint8_t out[BCKM_REFRESH_BYTES]) {
    uint8_t rx[BCKM_REFRESH_BYTES];
    bckm_kdf_set_refresh(r, x, epoch, rx);
    bckm_kdf_pair_refresh(rx, t, out);
    bckm_wipe(rx, sizeof rx);
}

/* K_ab moved to the plan's epoch, exactly as every member of a or b does:
 * one update per changed side, with that side's pair refresh. */
void bckm_km_pair_advance(const uint8_t r[BCKM_REFRESH_BYTES], const struct bckm_plan *plan,
                          uint32_t a, uint32_t b, uint8_t key[BCKM_KEY_BYTES]) {
    uint8_t rab[BCKM_REFRESH_BYTES], rba[BCKM_REFRESH_BYTES];
    int ca = bckm_plan_changed(plan, a), cb = bckm_plan_changed(plan, b);
    if (ca) pair_refresh(r, a, b, plan->epoch, rab);
    if (cb) pair_refresh(r, b, a, plan->epoch, rba);
    bckm_kdf_setpair_advance(key, a, ca ? rab : NULL, b, cb ? rba : NULL, plan->epoch, key);
    bckm_wipe(rab, sizeof rab);
    bckm_wipe(rba, sizeof rba);
}

/* K_S moved to the epoch with r_S. */
void bckm_km_set_advance(const uint8_t r[BCKM_REFRESH_BYTES], uint32_t set, uint64_t epoch,
                         uint8_t key[BCKM_KEY_BYTES]) {
    uint8_t rs[BCKM_REFRESH_BYTES];
    bckm_kdf_set_refresh(r, set, epoch, rs);
    bckm_kdf_set_update(key, rs, set, epoch, key);
    bckm_wipe(rs, sizeof rs);
}

/* Room for one update body of this plan (bckm_km_write_update). */
size_t bckm_km_update_bytes(const struct bckm_plan *plan) {
    return 128 + 4 * ((size_t)plan->changed_count + plan->retired_count + plan->move_count + 2) +
           (size_t)BCKM_MSG_REFRESH_ENTRY_BYTES * plan->changed_count;
}

/* The update body for the members of set T (or of the departed's set).
 * What it carries of the change's refresh key r (spec 5): r_T when T
 * changed, and r_X,T for each other changed set X; never r itself. */
int bckm_km_write_update(struct bckm_km *km, const struct bckm_sets *reg, const struct bckm_tx *c,
                         const struct bckm_plan *plan, uint32_t t, uint32_t departed,
                         struct bckm_writer *w) {
    uint32_t *tmp = malloc(
        ((size_t)plan->changed_count + plan->retired_count + plan->move_count + 2) * sizeof *tmp);
    uint8_t k[BCKM_KEY_BYTES];
    if (tmp == NULL) return BCKM_ERR_NOMEM;
    uint8_t rt[BCKM_REFRESH_BYTES] = { 0 };
    int own = bckm_plan_changed(plan, t);
    bckm_writer_u8(w, c->op);
    bckm_writer_u32(w, c->node_id);
    if (own) bckm_kdf_set_refresh(c->refresh, t, plan->epoch, rt);
    bckm_writer_u8(w, (uint8_t)own);
    bckm_writer_bytes(w, rt, BCKM_REFRESH_BYTES);
    /* changed */
    if (plan->changed_count > 0)
        memcpy(tmp, plan->changed, (size_t)plan->changed_count * sizeof *tmp);
    qsort(tmp, plan->changed_count, sizeof *tmp, cmp_u32);
    bckm_writer_u16(w, (uint16_t)plan->changed_count);
    for (uint32_t i = 0; i < plan->changed_count; i++) bckm_writer_u32(w, tmp[i]);
    /* retired */
    if (plan->retired_count > 0)
        memcpy(tmp, plan->retired, (size_t)plan->retired_count * sizeof *tmp);
    qsort(tmp, plan->retired_count, sizeof *tmp, cmp_u32);
    bckm_writer_u16(w, (uint16_t)plan->retired_count);
    for (uint32_t i = 0; i < plan->retired_count; i++) bckm_writer_u32(w, tmp[i]);
    /* joined: the joiner and the movers now in T */
    uint32_t nj = 0;
    if (c->op == BCKM_OP_JOIN && c->set_id == t) tmp[nj++] = c->node_id;
    for (uint32_t i = 0; i < plan->move_count; i++)
        if (plan->moves[i].to_set == t) tmp[nj++] = plan->moves[i].node_id;
    qsort(tmp, nj, sizeof *tmp, cmp_u32);
    bckm_writer_u16(w, (uint16_t)nj);
    for (uint32_t i = 0; i < nj; i++) bckm_writer_u32(w, tmp[i]);
    /* left */
    if (departed == t) {
        bckm_writer_u16(w, 1);
        bckm_writer_u32(w, c->node_id);
    } else
        bckm_writer_u16(w, 0);
    /* the new set's pairwise key with T, already at this epoch */
    const uint8_t *d = plan->created_set != 0 && plan->created_set != t
                           ? bckm_km_pair_domain(km, plan->created_set, t)
                           : NULL;
    if (d != NULL) {
        bckm_kdf_setpair_init(d, plan->created_set, t, k);
        bckm_km_pair_advance(c->refresh, plan, plan->created_set, t, k);
        bckm_writer_u16(w, 1);
        bckm_writer_u32(w, plan->created_set);
        bckm_writer_bytes(w, k, BCKM_KEY_BYTES);
        bckm_wipe(k, sizeof k);
    } else {
        bckm_writer_u16(w, 0);
    }
    /* pair refreshes r_X,T, sorted by X */
    if (plan->changed_count > 0)
        memcpy(tmp, plan->changed, (size_t)plan->changed_count * sizeof *tmp);
    qsort(tmp, plan->changed_count, sizeof *tmp, cmp_u32);
    bckm_writer_u16(w, (uint16_t)(plan->changed_count - (uint32_t)own));
    for (uint32_t i = 0; i < plan->changed_count; i++) {
        if (tmp[i] == t) continue;
        pair_refresh(c->refresh, tmp[i], t, plan->epoch, rt);
        bckm_writer_u32(w, tmp[i]);
        bckm_writer_bytes(w, rt, BCKM_REFRESH_BYTES);
    }
    bckm_wipe(rt, sizeof rt);
    free(tmp);
    (void)reg;
    return w->err;
}
