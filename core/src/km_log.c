/*
 * The rekey log: the last BCKM_KM_LOG_EPOCHS committed changes with their
 * plans, kept so a sleeping node can be sent the epochs it missed and a
 * handed-over key state rolled forward (km_recovery.c).
 */
#include "km_internal.h"
#include <stdlib.h>
#include <string.h>

/* gcc -fanalyzer (GCC 12) reports the grown arrays as leaked when a later
 * realloc fails: a false positive, each is stored in the log slot at once
 * and freed with the key manager (bckm_km_free). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
/* Grows the log slot of the plan's epoch to hold it (contents kept), so
 * bckm_km_log_change cannot fail. cap_sets_ and cap_moves_ count the slot's room. */
int bckm_km_log_reserve(struct bckm_km *km, const struct bckm_plan *plan) {
    struct bckm_plan *p = &km->log[plan->epoch % BCKM_KM_LOG_EPOCHS].plan;
    uint32_t ns =
        plan->retired_count > plan->changed_count ? plan->retired_count : plan->changed_count;
    if (ns == 0) ns = 1;
    if (p->cap_sets_ < ns || p->retired == NULL || p->changed == NULL) {
        uint32_t *r = realloc(p->retired, (size_t)ns * sizeof *r);
        if (r == NULL) return BCKM_ERR_NOMEM;
        p->retired = r;
        uint32_t *ch = realloc(p->changed, (size_t)ns * sizeof *ch);
        if (ch == NULL) return BCKM_ERR_NOMEM;
        p->changed = ch;
        p->cap_sets_ = ns;
    }
    uint32_t nm = plan->move_count ? plan->move_count : 1;
    if (p->cap_moves_ < nm || p->moves == NULL) {
        struct bckm_move *mv = realloc(p->moves, (size_t)nm * sizeof *mv);
        if (mv == NULL) return BCKM_ERR_NOMEM;
        p->moves = mv;
        p->cap_moves_ = nm;
    }
    return BCKM_OK;
}

int bckm_km_log_change(struct bckm_km *km, const struct bckm_tx *c, const struct bckm_plan *plan) {
    struct bckm_km_log_entry *l = &km->log[plan->epoch % BCKM_KM_LOG_EPOCHS];
    struct bckm_plan *p = &l->plan;
    int e = bckm_km_log_reserve(km, plan); /* a no-op after commit's reservation */
    if (e != BCKM_OK) return e;
    l->epoch = 0;
    if (plan->retired_count > 0)
        memcpy(p->retired, plan->retired, (size_t)plan->retired_count * sizeof *p->retired);
    if (plan->changed_count > 0)
        memcpy(p->changed, plan->changed, (size_t)plan->changed_count * sizeof *p->changed);
    if (plan->move_count > 0)
        memcpy(p->moves, plan->moves, (size_t)plan->move_count * sizeof *p->moves);
    p->epoch = plan->epoch;
    p->created_set = plan->created_set;
    p->retired_count = plan->retired_count;
    p->changed_count = plan->changed_count;
    p->move_count = plan->move_count;
    l->tx = *c;
    l->epoch = plan->epoch;
    return BCKM_OK;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

const struct bckm_km_log_entry *bckm_km_log_get(const struct bckm_km *km, uint64_t epoch) {
    const struct bckm_km_log_entry *l = &km->log[epoch % BCKM_KM_LOG_EPOCHS];
    return l->epoch == epoch ? l : NULL;
}

int bckm_km_moved_in(const struct bckm_plan *p, uint32_t node) {
    for (uint32_t i = 0; i < p->move_count; i++)
        if (p->moves[i].node_id == node) return 1;
    return 0;
}

/* The set a leave or evict left behind, when it is still live (its
 * remaining members are rekeyed one by one under their node KEKs); 0 for
 * joins and when the departure emptied the set. */
uint32_t bckm_km_departed_set(const struct bckm_tx *c, const struct bckm_plan *p) {
    int leaving = c->op == BCKM_OP_LEAVE || c->op == BCKM_OP_EVICT;
    return leaving && !bckm_plan_retired(p, c->set_id) ? c->set_id : 0;
}
