/*
 * A plan: what applying one change did to the registry (bckm/plan.h). The
 * registry fills it (sets_registry.c); the key manager reads it.
 */
#include "bckm/plan.h"
#include "plan_internal.h"

#include <stdlib.h>
#include <string.h>

void bckm_plan_init(struct bckm_plan *p) { memset(p, 0, sizeof *p); }

void bckm_plan_free(struct bckm_plan *p) {
    free(p->retired);
    free(p->changed);
    free(p->moves);
    bckm_plan_init(p);
}

static int contains(const uint32_t *a, uint32_t n, uint32_t v) {
    for (uint32_t i = 0; i < n; i++)
        if (a[i] == v) return 1;
    return 0;
}

int bckm_plan_changed(const struct bckm_plan *p, uint32_t set_id) {
    return contains(p->changed, p->changed_count, set_id);
}

int bckm_plan_retired(const struct bckm_plan *p, uint32_t set_id) {
    return contains(p->retired, p->retired_count, set_id);
}

int bckm_plan_reserve(struct bckm_plan *p, uint32_t sets, uint32_t moves) {
    if (sets > p->cap_sets_) {
        uint32_t *r = realloc(p->retired, (size_t)sets * sizeof *r);
        if (r == NULL) return BCKM_ERR_NOMEM;
        p->retired = r;
        uint32_t *c = realloc(p->changed, (size_t)sets * sizeof *c);
        if (c == NULL) return BCKM_ERR_NOMEM;
        p->changed = c;
        p->cap_sets_ = sets;
    }
    if (moves > p->cap_moves_) {
        struct bckm_move *m = realloc(p->moves, (size_t)moves * sizeof *m);
        if (m == NULL) return BCKM_ERR_NOMEM;
        p->moves = m;
        p->cap_moves_ = moves;
    }
    return BCKM_OK;
}

void bckm_plan_add_changed(struct bckm_plan *p, uint32_t id) {
    if (!contains(p->changed, p->changed_count, id)) p->changed[p->changed_count++] = id;
}

void bckm_plan_drop_changed(struct bckm_plan *p, uint32_t id) {
    for (uint32_t i = 0; i < p->changed_count; i++) {
        if (p->changed[i] != id) continue;
        p->changed[i] = p->changed[--p->changed_count];
        return;
    }
}
