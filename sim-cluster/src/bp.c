/* A BP's CPU: it handles one event at a time (a message, a tick, a client's
 * request); what arrives while it is busy waits in its own queue. */
#include "cluster_internal.h"

#include <stdlib.h>
#include <string.h>

/* The current handler's CPU time so far; in the measured mode with the work
 * the application charged but did not redo (memoised verifications). */
uint64_t bp_elapsed_us(cluster_t *c) {
    if (c->p.cost == BCKM_SIM_COST_MEASURED)
        if (c->wl->charged_ns != NULL) c->add_ns += c->wl->charged_ns(c);
    return cpu_elapsed_us(c);
}

static void gossip_tx(cluster_t *c, uint32_t i, const uint8_t *tx, size_t len) {
    if (c->p.byz_kind[i] == BCKM_BYZ_SILENT) return;
    for (uint32_t j = 0; j < c->n; j++) {
        if (j == i) continue;
        net_msg *m = calloc(1, sizeof *m);
        if (m != NULL) m->tx = malloc(len);
        if (m == NULL || m->tx == NULL) {
            free(m);
            cluster_nomem(c);
            return;
        }
        m->kind = NET_TX;
        memcpy(m->tx, tx, len);
        m->len = len;
        simnet_queue(c, i, j, m);
    }
}

static void on_client(cluster_t *c, uint32_t bp, uint32_t r, uint64_t now) {
    req_t *q = &c->req[r];
    bp_t *me = &c->bp[bp];
    q->bp = bp;
    if (c->res->first_arrival_us == 0 || now < c->res->first_arrival_us)
        c->res->first_arrival_us = now;
    if (c->p.byz_kind[bp] == BCKM_BYZ_SILENT) {
        /* Swallowed: the client only learns at its deadline. */
        if (q->arrive_us == 0) q->arrive_us = now;
        clients_schedule_deadline(c, r, now);
        return;
    }
    if (q->arrive_us == 0) q->arrive_us = now;
    if (q->fresh) {
        if (c->wl->make_tx(c, bp, r) != BCKM_OK) {
            /* The BP could not build a request (its key manager is out of
             * room or of members to remove): the client tries later. */
            c->res->keynet_failures++;
            clients_retry_fresh(c, r, (bp + 1) % c->n, now + c->p.profile->tick_us * 2);
            return;
        }
        q->exec_mask = 0;
        q->commit_seen = 0;
        q->t_k_commit = 0;
        if (bckm_map_put(&c->txmap, me->app.ops->tx_id(me->app.self, q->tx, q->tx_len), r) !=
            BCKM_OK) {
            cluster_nomem(c);
            return;
        }
        bckm_sim_checker_submitted(&c->ck, q->tx, q->tx_len);
        q->fresh = 0;
    }
    c->cost += COST_CHECKTX;
    int rc = bckm_sim_mempool_add(&me->mp, &me->app, q->tx, q->tx_len, now);
    if (rc == BCKM_ERR_NOMEM) {
        cluster_nomem(c);
        return;
    }
    int accepted = rc == BCKM_OK || rc == BCKM_ERR_EXISTS;
    if (!q->first_decided) {
        q->first_decided = 1;
        q->first_accepted = rc == BCKM_OK;
        if (q->first_accepted) c->res->sync_accepted++;
    }
    if (!accepted && ((rc > 0 && c->wl->already_executed != NULL && c->wl->already_executed(rc)) ||
                      (q->exec_mask >> bp & 1))) {
        /* Already executed: the earlier submission committed. */
        clients_done(c, r, bp, 0, now);
        return;
    }
    if (accepted) {
        if (!q->accepted_ever) {
            q->accepted_ever = 1;
            q->admit_us = now + bp_elapsed_us(c);
            /* T_e: from arrival to admission, less the Layer 1 part. */
            uint64_t e = q->admit_us - q->arrive_us;
            q->t_e = e > q->t_k_prep ? e - q->t_k_prep : 0;
        }
        /* A client coming back with a pooled tx means it is not getting
         * through: gossip it again. */
        gossip_tx(c, bp, q->tx, q->tx_len);
        clients_schedule_deadline(c, r, now);
        bp_maybe_propose(c, bp, now);
    } else if (rc == BCKM_ERR_STATE) {
        /* Not the tx's fault: the same tx, later, at the next BP. */
        c->res->check_rejected++;
        c->res->retries++;
        q->gen++;
        uint64_t wait = c->p.profile->deadline_us / 8;
        cluster_push(c, now + wait, EV_CLIENT, (bp + 1) % c->n, r);
    } else if (q->origin != bp && q->origin < c->n) {
        /* Only the BP that prepared it knows a refusal is final (another
         * BP may just lag behind the state it was prepared against): the
         * client takes it back there. */
        c->res->check_rejected++;
        c->res->retries++;
        q->gen++;
        cluster_push(c, now + c->p.profile->tick_us * 2, EV_CLIENT, q->origin, r);
    } else {
        /* Final for this client: it takes a fresh request. But the refused
         * envelope may still sit in other BPs' mempools (gossiped while it
         * was valid here) and commit on the chain before whatever made it
         * invalid in this BP's check state; so the key manager keeps its
         * pending join (the joiner's KEK and code) rather than abandoning
         * it, or such a joiner would be on the chain with no keys. Only a
         * rejection on the agreed chain abandons it (execute). */
        c->res->check_rejected++;
        clients_retry_fresh(c, r, bp, now + c->p.profile->tick_us * 2);
    }
}

/* One event on BP i's CPU, which is free (or the BP is down). */
void bp_handle(cluster_t *c, const bckm_sim_event *ev) {
    uint64_t now = ev->time_us;
    uint32_t i = ev->target;
    {
        bp_t *me = &c->bp[i];
        if (!me->up) {
            if (ev->kind == EV_NET) simnet_free(ev->ptr);
            if (ev->kind == EV_TICK) cluster_push(c, now + c->p.profile->tick_us, EV_TICK, i, 0);
            if (ev->kind == EV_CLIENT) {
                /* Connection refused: the client tries the next BP at once. */
                uint32_t nb = (i + 1) % c->n;
                cluster_push(c, now + c->p.profile->one_way_us * 2, EV_CLIENT, nb, ev->arg);
            }
            return;
        }
        c->cost = COST_EVENT;
        c->cur = i;
        c->excl_ns = 0;
        c->add_ns = 0;
        /* The event loop's own step since the last handler (a queue pop and
         * the trace hash, well under a microsecond) counts with this one. */
        c->t0_ns = c->p.cost == BCKM_SIM_COST_MEASURED ? c->cpu_mark : 0;
        switch (ev->kind) {
        case EV_NET: {
            net_msg *m = ev->ptr;
            if (m->kind == NET_PBFT) {
                bckm_pbft_on_message(&me->rep, m->pbft, now);
                bp_drain(c, i, now);
            } else {
                c->cost += COST_CHECKTX;
                if (bckm_sim_mempool_add(&me->mp, &me->app, m->tx, m->len, now) == BCKM_ERR_NOMEM)
                    cluster_nomem(c);
            }
            simnet_free(m);
            bp_maybe_propose(c, i, now);
            break;
        }
        case EV_TICK: {
            uint64_t oldest = bckm_sim_mempool_oldest(&me->mp);
            uint64_t starve = c->p.profile->vc_timeout_us * 4 + c->p.profile->block_interval_us * 2;
            int starved = oldest != UINT64_MAX && now - oldest > starve;
            /* Txs that wait long get gossiped again (a lost gossip would
             * otherwise leave a tx known to one BP only). */
            uint64_t vt = c->p.profile->vc_timeout_us;
            if (oldest != UINT64_MAX && now - oldest > vt && now - me->last_regossip_us > vt) {
                me->last_regossip_us = now;
                for (size_t k = 0; k < me->mp.len && k < 16; k++)
                    gossip_tx(c, i, me->mp.e[k].tx, me->mp.e[k].len);
            }
            bckm_pbft_on_tick(&me->rep, now, me->mp.len > 0, starved);
            bp_drain(c, i, now);
            bp_maybe_propose(c, i, now);
            c->cost = 1;
            cluster_push(c, now + c->p.profile->tick_us, EV_TICK, i, 0);
            break;
        }
        case EV_CLIENT: on_client(c, i, (uint32_t)ev->arg, now); break;
        default: BCKM_UNREACHABLE("only EV_NET, EV_TICK and EV_CLIENT are a BP's (bp_event)");
        }
        uint64_t cost = bp_elapsed_us(c);
        c->cpu_mark = c->cpu_last;
        me->busy_until = now + cost;
        c->res->bp_cpu_us += cost;
        simnet_flush(c, now + cost);
    }
}

static void schedule_wake(cluster_t *c, uint32_t i, uint64_t now) {
    bp_t *me = &c->bp[i];
    if (me->wake_pending) return;
    uint64_t at = me->busy_until > now ? me->busy_until : now;
    cluster_push(c, at, EV_WAKE, i, 0);
    me->wake_pending = 1;
}

/* An event for a busy BP waits in that BP's own FIFO queue, and a single
 * EV_WAKE at the end of the busy period serves the first of them. (Putting
 * every waiting event back into the global queue at busy_until, as a busy
 * BP's whole backlog would be, costs a pop and a push per waiting event per
 * handled event: quadratic in the backlog of a saturated BP.) */
void bp_hold(cluster_t *c, uint32_t i, const bckm_sim_event *ev, uint64_t now) {
    bp_t *me = &c->bp[i];
    BCKM_ASSERT(me->up, "a down BP gets each event at once (bp_handle): nothing waits for its CPU");
    if (me->held_len == me->held_cap) {
        size_t ncap = me->held_cap ? me->held_cap * 2 : 64;
        held_t *h = malloc(ncap * sizeof *h);
        if (h == NULL) {
            /* The event is lost with its payload; the run stops. */
            if (ev->kind == EV_NET) simnet_free(ev->ptr);
            cluster_nomem(c);
            return;
        }
        for (size_t k = 0; k < me->held_len; k++)
            h[k] = me->held[(me->held_head + k) % me->held_cap];
        free(me->held);
        me->held = h;
        me->held_cap = ncap;
        me->held_head = 0;
    }
    me->held[(me->held_head + me->held_len) % me->held_cap] =
        (held_t){ ev->kind, ev->arg, ev->ptr };
    me->held_len++;
    schedule_wake(c, i, now);
}

held_t bp_unhold(bp_t *me) {
    BCKM_ASSERT(me->held_len > 0 && me->held_cap > 0, "callers take only from a nonempty queue");
    held_t h = me->held[me->held_head];
    me->held_head = (me->held_head + 1) % me->held_cap;
    me->held_len--;
    return h;
}

/* BP i's CPU became free: run the first waiting event. A BP that went down
 * meanwhile gets each waiting event the way a down BP gets any event. */
void bp_wake(cluster_t *c, uint32_t i, uint64_t now) {
    bp_t *me = &c->bp[i];
    me->wake_pending = 0;
    while (me->held_len > 0) {
        if (me->up && me->busy_until > now) {
            schedule_wake(c, i, now);
            return;
        }
        int was_up = me->up;
        held_t h = bp_unhold(me);
        bckm_sim_event e = { now, 0, h.kind, i, h.arg, h.ptr };
        bp_handle(c, &e);
        if (was_up) {
            if (me->held_len > 0) schedule_wake(c, i, now);
            return;
        }
    }
}
