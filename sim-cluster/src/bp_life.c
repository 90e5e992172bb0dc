/* A BP's life cycle: start, crash (it loses what the process held) and
 * restart (snapshot, ledger replay, key manager catch-up). */
#include "cluster_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* BP i's LMDB store: ledger_dir/bp-<i>. */
int bp_ledger_path(const cluster_t *c, uint32_t i, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/bp-%u", c->p.ledger_dir, i);
    return n < 0 || (size_t)n >= cap ? BCKM_ERR_ARG : BCKM_OK;
}

/* Reopens a crashed BP's store and reads its ledger back. A store that is
 * damaged, or holds less than the BP had committed before the crash, stops
 * the run: the design assumes durable storage, so this is not a fault it
 * tolerates. */
static int ledger_reopen(cluster_t *c, uint32_t i) {
    bp_t *me = &c->bp[i];
    char err[320];
    int e = bp_ledger_open(c, i, 0, err, sizeof err);
    if (e == BCKM_OK && bp_height(me) < me->stored_height) {
        snprintf(err, sizeof err,
                 "ledger store of BP %u: holds %" PRIu64 " blocks, %" PRIu64 " were committed", i,
                 bp_height(me), me->stored_height);
        bp_ledger_close(me);
        e = BCKM_ERR_CORRUPT;
    }
    if (e != BCKM_OK && c->res->outcome == BCKM_SIM_OK) {
        c->res->outcome = BCKM_SIM_SAFETY;
        snprintf(c->res->violation, sizeof c->res->violation, "BP %u restart: %.200s", i, err);
    }
    return e;
}

void bp_crash(cluster_t *c, uint32_t i, uint64_t now) {
    bp_t *me = &c->bp[i];
    if (!me->up) return;
    BCKM_ASSERT(me->live, "a BP that is up has its replica, app and mempool (bp_start)");
    me->up = 0;
    /* What waited for the CPU dies with the process: each waiting event is
     * what it would be at a down BP (a message dropped, a client refused). */
    while (me->held_len > 0) {
        held_t h = bp_unhold(me);
        bckm_sim_event e = { now, 0, h.kind, i, h.arg, h.ptr };
        bp_handle(c, &e);
    }
    c->res->crashes++;
    if (me->has_durable) bckm_pbft_durable_free(&me->durable);
    /* Without memory for the copy the BP restarts with no durable state
     * (a fresh replica); the run stops after this event anyway. */
    me->has_durable = bckm_pbft_durable_copy(&me->durable, &me->rep.d) == BCKM_OK;
    if (!me->has_durable) cluster_nomem(c);
    me->fetches_before += me->rep.fetches;
    c->res->view_changes += me->rep.view_changes;
    bckm_pbft_free(&me->rep);
    me->app.ops->destroy(me->app.self);
    me->app.self = NULL;
    bckm_sim_mempool_free(&me->mp);
    for (int k = 0; k < 4; k++) bp_snap_free(&me->pending[k]);
    /* With a store the process loses its memory: what comes back at the
     * restart is what the store holds. */
    if (c->p.ledger == BCKM_SIM_LEDGER_LMDB) {
        me->stored_height = bp_height(me);
        bp_ledger_close(me);
    }
    me->live = 0;
}

void bp_restart(cluster_t *c, uint32_t i, uint64_t now) {
    bp_t *me = &c->bp[i];
    if (me->up) return;
    c->res->restarts++;
    bp_start(c, i, now, 1);
}

/*
 * Brings BP i up: restores its stable snapshot, replays its ledger above it
 * and lets its key manager catch up, then starts its replica. At a restart
 * that work is charged to the BP's CPU (measured: the CPU time it took;
 * model: a snapshot restore, and per replayed block and tx the same costs
 * as executing it), so the BP is busy for that long before it handles
 * anything else. The model charges the same for both ledger backends: the
 * memory ledger stands for the disk.
 */
void bp_start(cluster_t *c, uint32_t i, uint64_t now, int restart) {
    bp_t *me = &c->bp[i];
    BCKM_ASSERT(!me->up && !me->live, "only a BP that is down, or not yet started, starts");
    int measured = c->p.cost == BCKM_SIM_COST_MEASURED;
    uint64_t saved_cost = c->cost, saved_excl = c->excl_ns, saved_add = c->add_ns,
             saved_t0 = c->t0_ns;
    c->cost = 0;
    c->excl_ns = 0;
    c->add_ns = 0;
    c->t0_ns = measured ? cpu_now_ns() : 0;
    int down = me->ledger == NULL && ledger_reopen(c, i) != BCKM_OK;
    if (!down) {
        me->app = c->wl->new_app(c, i);
        if (me->app.self == NULL) {
            cluster_nomem(c);
            down = 1;
        }
    }
    if (down) {
        /* The BP stays down; the run stops (ledger_reopen, cluster_nomem). */
        c->cost = saved_cost;
        c->excl_ns = saved_excl;
        c->add_ns = saved_add;
        c->t0_ns = saved_t0;
        return;
    }
    uint64_t from = 0;
    uint8_t state[32] = { 0 }; /* the genesis state */
    if (me->stable.buf != NULL) {
        c->cost += COST_SNAPSHOT;
        if (me->app.ops->restore(me->app.self, me->stable.buf, me->stable.len) == BCKM_OK) {
            from = me->stable.seq;
            memcpy(state, me->stable.state, 32);
        } else if (c->res->outcome == BCKM_SIM_OK) {
            /* The durable snapshot was written by this BP: failing to read
             * it back is corruption, not a fault the design tolerates. */
            c->res->outcome = BCKM_SIM_SAFETY;
            snprintf(c->res->violation, sizeof c->res->violation,
                     "BP %u: snapshot does not restore", i);
        }
    }
    c->res->bp_restored_from[i] = from;
    /* Replay the durable ledger above the snapshot; each block's header
     * carries the state before it, which the replay must reproduce. */
    for (uint64_t h = from + 1; h <= bp_height(me); h++) {
        bckm_sim_block *b = NULL;
        int re = bp_ledger_read(me, h, &b, NULL, NULL);
        if (re != BCKM_OK) {
            if (re == BCKM_ERR_NOMEM)
                cluster_nomem(c);
            else if (c->res->outcome == BCKM_SIM_OK) {
                c->res->outcome = BCKM_SIM_SAFETY;
                snprintf(c->res->violation, sizeof c->res->violation,
                         "BP %u: ledger height %" PRIu64 " unreadable at restart: %s", i, h,
                         bckm_strerror(re));
            }
            break;
        }
        if (memcmp(state, b->h.state_hash, 32) != 0 && c->res->outcome == BCKM_SIM_OK) {
            c->res->outcome = BCKM_SIM_SAFETY;
            snprintf(c->res->violation, sizeof c->res->violation,
                     "BP %u: replay after restart diverges before height %" PRIu64, i, h);
        }
        me->app.ops->begin_block(me->app.self, h);
        uint32_t off = 0;
        const uint8_t *tx;
        size_t len;
        while (bckm_sim_block_next_tx(b, &off, &tx, &len) == 1) {
            (void)me->app.ops->deliver_tx(me->app.self, tx, len);
            c->cost += COST_DELIVER;
        }
        me->app.ops->commit(me->app.self, state);
        c->cost += COST_BLOCK;
        bckm_sim_block_free(b);
    }
    memcpy(me->state, state, 32);
    /* The key manager comes back from the state stored with the ledger's
     * tip, then catches up with the replayed chain. */
    if (restart) bp_ledger_restore_state(c, i);
    c->wl->executed(c, i);
    uint64_t cost = restart ? bp_elapsed_us(c) : 0;
    c->cost = saved_cost;
    c->excl_ns = saved_excl;
    c->add_ns = saved_add;
    c->t0_ns = saved_t0;
    bckm_sim_mempool_init(&me->mp, c->p.mempool_cap, 4096);
    bckm_pbft_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n = c->n;
    cfg.id = i;
    memcpy(cfg.sk, c->sk[i], 64);
    memcpy(cfg.pk, c->pk, sizeof c->pk);
    cfg.vc_timeout_us = c->p.profile->vc_timeout_us;
    cfg.retransmit_us = c->p.profile->retransmit_us;
    cfg.fetch_delay_us = c->p.profile->fetch_delay_us;
    cfg.checkpoint_interval = c->p.checkpoint_interval;
    cfg.verify = bp_port_verify;
    cfg.validate = bp_port_validate;
    cfg.ctx = c;
    uint64_t h = bp_height(me);
    /* The replica starts on the ledger's tip: its digest and certificate. */
    bckm_sim_block *top = NULL;
    struct bckm_cert *top_cert = h > 0 ? malloc(sizeof *top_cert) : NULL;
    uint8_t top_digest[32];
    if (h > 0 &&
        (top_cert == NULL || bp_ledger_read(me, h, &top, top_cert, top_digest) != BCKM_OK)) {
        /* Read a moment ago by the replay: only memory can fail here. */
        free(top_cert);
        top_cert = NULL;
        cluster_nomem(c);
    }
    c->cur = i;
    int e = bckm_pbft_init(&me->rep, &cfg, h, top ? top_digest : NULL, top ? top_cert : NULL,
                           me->state, me->has_durable ? &me->durable : NULL, now);
    bckm_sim_block_free(top);
    free(top_cert);
    BCKM_ASSERT(e == BCKM_OK, "the replica's configuration is built here from checked parameters "
                              "(bckm_pbft_init refuses only bad arguments)");
    bckm_wipe(cfg.sk, sizeof cfg.sk);
    me->live = 1;
    me->up = 1;
    me->busy_until = now + cost;
    c->res->bp_cpu_us += cost;
    c->res->restart_cpu_us += cost;
    me->last_commit_us = h > 0 ? now : 0;
}
