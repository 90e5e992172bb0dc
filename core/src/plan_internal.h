/*
 * How the registry fills a plan; private to core/src (plan.c, sets_registry.c).
 */
#ifndef BCKM_PLAN_INTERNAL_H
#define BCKM_PLAN_INTERNAL_H

#include "bckm/plan.h"

/* Room for `sets` retired and changed IDs and `moves` moves; contents kept. */
int bckm_plan_reserve(struct bckm_plan *p, uint32_t sets, uint32_t moves);
/* Adds id to the changed list unless it is there (room reserved). */
void bckm_plan_add_changed(struct bckm_plan *p, uint32_t id);
void bckm_plan_drop_changed(struct bckm_plan *p, uint32_t id);

#endif
