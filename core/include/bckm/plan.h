/*
 * A plan: what applying one change did to the registry of sets
 * (bckm_sets_apply), in the order it happened: the epoch it opens, the set
 * it created, the sets it retired or changed, and Reorder's moves. The key
 * manager rekeys from it (bckm_km_commit).
 */
#ifndef BCKM_PLAN_H
#define BCKM_PLAN_H

#include "bckm/common.h"

#include <stdint.h>

/* A member move made by Reorder. */
struct bckm_move {
    uint32_t node_id;
    uint32_t from_set;
    uint32_t to_set;
};

/* What applying one change did to the registry, in the order it happened.
 * The arrays are owned by the plan: bckm_plan_init before first use,
 * bckm_plan_free when done; bckm_sets_apply refills them. */
struct bckm_plan {
    uint64_t epoch;         /* the key epoch this change opens (1, 2, ...) */
    uint32_t created_set;   /* set opened by a join, or 0 */
    uint32_t retired_count; /* sets removed (emptied or dissolved) */
    uint32_t *retired;
    uint32_t changed_count; /* live sets whose membership changed */
    uint32_t *changed;
    uint32_t move_count;
    struct bckm_move *moves;
    uint32_t cap_sets_, cap_moves_;
};

void bckm_plan_init(struct bckm_plan *p);
void bckm_plan_free(struct bckm_plan *p);
/* 1 when set_id is in p->changed / p->retired. */
int bckm_plan_changed(const struct bckm_plan *p, uint32_t set_id);
int bckm_plan_retired(const struct bckm_plan *p, uint32_t set_id);

#endif
