/* The faulty phase at the cluster's level: seeded partitions and crashes
 * (EV_FAULT, once per tick while faults are on), their healing and
 * restarts, the scheduled plans of directed tests, and the end of the
 * phase, when every BP comes back and the network stops losing messages. */
#include "cluster_internal.h"

void faults_handle(cluster_t *c, const bckm_sim_event *ev) {
    uint64_t now = ev->time_us;
    uint32_t i = ev->target;
    switch (ev->kind) {
    case EV_FAULT: {
        if (!c->faults_on) break;
        const bckm_sim_faults *f = &c->p.faults;
        uint64_t vt = c->p.profile->vc_timeout_us;
        if (!c->partition_on &&
            bckm_sim_rng_chance(&c->fault_rng, f->partition.num, f->partition.den)) {
            uint32_t ones = 0;
            for (uint32_t k = 0; k < c->n; k++) {
                c->bp[k].side = (int)bckm_sim_rng_below(&c->fault_rng, 2);
                ones += (uint32_t)c->bp[k].side;
            }
            if (ones == 0 || ones == c->n) {
                uint32_t k = (uint32_t)bckm_sim_rng_below(&c->fault_rng, c->n);
                c->bp[k].side ^= 1;
            }
            c->partition_on = 1;
            c->res->partitions++;
            uint64_t d = bckm_sim_rng_range(&c->fault_rng, vt, 8 * vt);
            cluster_push(c, now + d, EV_HEAL, 0, 0);
        }
        if (bckm_sim_rng_chance(&c->fault_rng, f->crash.num, f->crash.den)) {
            uint32_t down = 0;
            for (uint32_t k = 0; k < c->n; k++) down += !c->bp[k].up;
            uint32_t k = (uint32_t)bckm_sim_rng_below(&c->fault_rng, c->n);
            if (down < (c->f ? c->f : 1) && c->bp[k].up) {
                bp_crash(c, k, now);
                uint64_t d = bckm_sim_rng_range(&c->fault_rng, vt, 8 * vt);
                cluster_push(c, now + d, EV_RESTART, k, 0);
            }
        }
        if (now + c->p.profile->tick_us < c->fault_end)
            cluster_push(c, now + c->p.profile->tick_us, EV_FAULT, 0, 0);
        break;
    }
    case EV_HEAL: c->partition_on = 0; break;
    case EV_RESTART: bp_restart(c, i, now); break;
    case EV_PLAN_START: {
        const bckm_sim_plan *pl = &c->p.plan[ev->arg];
        if (pl->kind == BCKM_SIM_PLAN_CRASH)
            bp_crash(c, pl->bp, now);
        else
            c->bp[pl->bp].isolated = 1;
        break;
    }
    case EV_PLAN_END: {
        const bckm_sim_plan *pl = &c->p.plan[ev->arg];
        if (pl->kind == BCKM_SIM_PLAN_CRASH)
            bp_restart(c, pl->bp, now);
        else
            c->bp[pl->bp].isolated = 0;
        break;
    }
    case EV_PHASE_END:
        c->faults_on = 0;
        c->partition_on = 0;
        for (uint32_t k = 0; k < c->n; k++) bp_restart(c, k, now);
        break;
    default: BCKM_UNREACHABLE("loop.c's handle sends only the faulty phase's events here");
    }
}
