/* bckm_sim_run: checks the parameters, sets the cluster up, runs the event
 * loop over a virtual clock (each event to its BP, its client or the faults),
 * collects the results and tears down. */
#include "cluster_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sim/kvapp.h"

static int bp_event(int kind) { return kind == EV_NET || kind == EV_TICK || kind == EV_CLIENT; }

static void handle(cluster_t *c, const bckm_sim_event *ev) {
    uint64_t now = ev->time_us;
    uint32_t i = ev->target;
    trace_u64s(c, now, (uint64_t)ev->kind, i, ev->arg);
    if (ev->kind == EV_WAKE) {
        bp_wake(c, i, now);
        return;
    }
    if (bp_event(ev->kind)) {
        bp_t *me = &c->bp[i];
        /* The BP's CPU is busy, or others wait before this event. */
        if (me->up && (me->busy_until > now || me->held_len > 0))
            bp_hold(c, i, ev, now);
        else
            bp_handle(c, ev);
        return;
    }
    if (ev->kind == EV_DEADLINE)
        clients_deadline(c, ev->arg, now);
    else
        faults_handle(c, ev);
}

/* All work is done and every honest BP that is up holds the same height. */
static int settled(const cluster_t *c) {
    if (c->done < c->p.requests) return 0;
    uint64_t h = UINT64_MAX;
    for (uint32_t i = 0; i < c->n; i++) {
        if (!c->honest[i]) continue;
        if (!c->bp[i].up) return 0;
        uint64_t hi = bp_height(&c->bp[i]);
        if (h == UINT64_MAX)
            h = hi;
        else if (hi != h)
            return 0;
    }
    return 1;
}

/* Every BP's ledger, empty; with lmdb each opens its store, which must hold
 * no entry (a run never continues another run's chain). */
static int ledgers_open(cluster_t *c) {
    if (c->p.ledger == BCKM_SIM_LEDGER_LMDB && mkdir(c->p.ledger_dir, 0700) != 0 &&
        errno != EEXIST) {
        snprintf(c->res->violation, sizeof c->res->violation, "ledger directory %s: %s",
                 c->p.ledger_dir, strerror(errno));
        return BCKM_ERR_IO;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        int e = bp_ledger_open(c, i, 1, c->res->violation, sizeof c->res->violation);
        if (e != BCKM_OK) return e;
    }
    return BCKM_OK;
}

/* What bckm_sim_run accepts; everything else is BCKM_ERR_ARG. */
static int params_check(const bckm_sim_params *params) {
    if (params->bps == 0 || params->bps > BCKM_SIM_MAX_BPS || params->profile == NULL ||
        params->block_max_txs == 0 || params->mempool_cap == 0 ||
        params->plan_len > BCKM_SIM_PLAN_MAX || params->requests > 0x00FFFFFFu)
        return BCKM_ERR_ARG;
    if (params->app == BCKM_SIM_APP_KV && (params->keys == 0 || params->keys > BCKM_KV_KEYS_MAX))
        return BCKM_ERR_ARG;
    if (params->app == BCKM_SIM_APP_KEYS &&
        (params->nodes > 50000000u || params->join_pct + params->leave_pct > 100 ||
         (params->policy != BCKM_POLICY_OWNED && params->policy != BCKM_POLICY_GLOBAL)))
        return BCKM_ERR_ARG;
    if (params->app != BCKM_SIM_APP_KV && params->app != BCKM_SIM_APP_KEYS) return BCKM_ERR_ARG;
    if (params->ledger != BCKM_SIM_LEDGER_MEM &&
        (params->ledger != BCKM_SIM_LEDGER_LMDB || params->ledger_dir == NULL ||
         params->ledger_dir[0] == '\0'))
        return BCKM_ERR_ARG;
    for (uint32_t k = 0; k < params->plan_len; k++) {
        const bckm_sim_plan *pl = &params->plan[k];
        if (pl->bp >= params->bps || pl->end_us < pl->start_us) return BCKM_ERR_ARG;
    }
    return BCKM_OK;
}

/* The streams every subsystem draws from, the BPs' signing keys and the
 * clients' key, all from the seed. */
static void draw_streams_and_keys(cluster_t *c) {
    uint64_t seed = c->p.seed;
    bckm_sim_rng_seed(&c->net_rng, bckm_sim_seed_derive(seed, "network"));
    bckm_sim_rng_seed(&c->fault_rng, bckm_sim_seed_derive(seed, "faults"));
    bckm_sim_rng_seed(&c->client_rng, bckm_sim_seed_derive(seed, "clients"));
    bckm_sim_rng_seed(&c->adv_rng, bckm_sim_seed_derive(seed, "adversary"));
    bckm_sim_rng keys_rng;
    bckm_sim_rng_seed(&keys_rng, bckm_sim_seed_derive(seed, "keys"));
    for (uint32_t i = 0; i < c->n; i++) {
        uint8_t s[32];
        for (size_t k = 0; k < 4; k++) bckm_put_u64(s + 8 * k, bckm_sim_rng_next(&keys_rng));
        crypto_sign_seed_keypair(c->pk[i], c->sk[i], s);
        bckm_wipe(s, sizeof s);
    }
    for (size_t k = 0; k < 4; k++)
        bckm_put_u64(c->client_key + 8 * k, bckm_sim_rng_next(&keys_rng));
    bckm_sim_rng_seed(&c->keyadv_rng, bckm_sim_seed_derive(seed, "key-adversary"));
}

/* Which BPs are Byzantine and how (c->p.byz_kind), which are held to the
 * invariants (c->honest). */
static void draw_byzantine(cluster_t *c) {
    const bckm_sim_params *params = &c->p;
    uint64_t seed = c->p.seed;
    bckm_sim_result *res = c->res;
    /* Byzantine BPs: explicit per-BP kinds win; otherwise byz_count (default
     * f) BPs drawn from the seed get the spec's kind. */
    int any = 0;
    for (uint32_t i = 0; i < c->n; i++) any |= params->byz_kind[i] != 0;
    if (!any && params->faults.byz_kind != BCKM_BYZ_HONEST) {
        bckm_sim_rng br;
        bckm_sim_rng_seed(&br, bckm_sim_seed_derive(seed, "byzantine"));
        uint32_t k = params->faults.byz_count < 0 ? c->f : (uint32_t)params->faults.byz_count;
        if (k > c->n) k = c->n;
        uint32_t ids[BCKM_SIM_MAX_BPS];
        for (uint32_t i = 0; i < c->n; i++) ids[i] = i;
        for (uint32_t i = c->n - 1; i > 0; i--) {
            uint32_t j = (uint32_t)bckm_sim_rng_below(&br, i + 1);
            // NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign): c->n >= 1 (checked above), ids[0..n-1] set
            uint32_t t = ids[i];
            ids[i] = ids[j];
            ids[j] = t;
        }
        for (uint32_t i = 0; i < k; i++) {
            int kind = params->faults.byz_kind;
            if (kind == BCKM_BYZ_MIXED) kind = 1 + (int)bckm_sim_rng_below(&br, 5);
            // cppcheck-suppress uninitvar ; i < k <= c->n and ids[0..n-1] are set
            c->p.byz_kind[ids[i]] = kind;
        }
    }
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->p.app != BCKM_SIM_APP_KEYS) c->p.byz_keys[i] = 0;
        c->bp[i].byz = c->p.byz_kind[i] != BCKM_BYZ_HONEST;
        /* A BP Byzantine at the key layer only still runs PBFT honestly, but
         * its ledger and devices are not held to the invariants. */
        c->honest[i] = !c->bp[i].byz && c->p.byz_keys[i] == 0;
        res->byzantine += (uint32_t)!c->honest[i];
    }
}

/* The cluster before its first event: keys and Byzantine BPs drawn from the
 * seed, ledgers open, the workload and the checker ready. Whatever this
 * leaves allocated on an error, teardown frees. */
static int setup(cluster_t *c, const bckm_sim_params *params, bckm_sim_result *res) {
    c->p = *params;
    c->res = res;
    c->n = params->bps;
    c->f = bckm_pbft_f(c->n);
    bckm_sim_evq_init(&c->q);
    bckm_u64set_init(&c->sig_memo);
    bckm_map_init(&c->txmap);
    c->wl = c->p.app == BCKM_SIM_APP_KEYS ? &workload_keys : &workload_kv;
    c->bp = calloc(c->n, sizeof *c->bp);
    c->req = calloc(params->requests ? params->requests : 1, sizeof *c->req);
    if (c->bp == NULL || c->req == NULL) return BCKM_ERR_NOMEM;
    draw_streams_and_keys(c);
    draw_byzantine(c);
    crypto_generichash_init(&c->trace, (const uint8_t *)"bckm-sim-trace", 14, 32);
    if (c->p.cost == BCKM_SIM_COST_MEASURED) c->verify_cal_ns = cpu_verify_cost_ns();
    int e = ledgers_open(c);
    if (e != BCKM_OK) return e;
    e = c->wl->init(c);
    if (e != BCKM_OK) return e;
    bckm_sim_app ref = c->wl->new_app(c, UINT32_MAX);
    if (ref.self == NULL) return BCKM_ERR_NOMEM;
    e = bckm_sim_checker_init(&c->ck, c->n, (const uint8_t(*)[32])c->pk, ref);
    if (e != BCKM_OK) {
        ref.ops->destroy(ref.self);
        return e;
    }
    /* Every certificate signature is one a replica verified through
     * bp_port_verify: the checker finds it in that record instead of checking
     * it a second time (it still rebuilds each statement itself). */
    bckm_sim_checker_accepted(&c->ck, &c->sig_memo);
    return BCKM_OK;
}

/* The first events: every BP starts, then its first tick; the clients'
 * arrivals; the faulty phase and its end; the scheduled plans. */
static void schedule_start(cluster_t *c) {
    for (uint32_t i = 0; i < c->n; i++) {
        bp_start(c, i, 0, 0);
        /* stagger the ticks so BPs do not all fire at the same instant */
        uint64_t off = bckm_sim_rng_below(&c->net_rng, c->p.profile->tick_us);
        cluster_push(c, off, EV_TICK, i, 0);
    }
    for (uint32_t r = 0; r < c->p.requests; r++) {
        c->req[r].fresh = 1;
        uint64_t at = (uint64_t)r * c->p.request_gap_us +
                      bckm_sim_rng_below(&c->client_rng, c->p.request_gap_us + 1);
        uint32_t bp = (uint32_t)bckm_sim_rng_below(&c->client_rng, c->n);
        cluster_push(c, at, EV_CLIENT, bp, r);
    }
    c->fault_end = c->p.fault_us;
    c->faults_on = c->p.fault_us > 0;
    if (c->faults_on) cluster_push(c, 0, EV_FAULT, 0, 0);
    cluster_push(c, c->fault_end, EV_PHASE_END, 0, 0);
    uint64_t last_plan = 0;
    for (uint32_t k = 0; k < c->p.plan_len; k++) {
        const bckm_sim_plan *pl = &c->p.plan[k];
        cluster_push(c, pl->start_us, EV_PLAN_START, pl->bp, k);
        cluster_push(c, pl->end_us, EV_PLAN_END, pl->bp, k);
        if (pl->end_us > last_plan) last_plan = pl->end_us;
    }
    c->heal_at = c->fault_end > last_plan ? c->fault_end : last_plan;
}

/* Events until the run settles, a check fails, or the liveness deadline
 * passes; then the application's end-of-run checks. */
static void run_loop(cluster_t *c) {
    bckm_sim_result *res = c->res;
    uint64_t heal_at = c->heal_at;
    uint64_t deadline = heal_at + c->p.liveness_us;
    /* A crashed BP's LMDB ledger is closed until it restarts (NULL). */
    bckm_ledger *ledgers[BCKM_SIM_MAX_BPS];
    bckm_sim_event ev;
    int measured_run = c->p.cost == BCKM_SIM_COST_MEASURED;
    if (measured_run) c->cpu_mark = cpu_now_ns();
    while (bckm_sim_evq_pop(&c->q, &ev)) {
        res->events++;
        if (ev.time_us > deadline) {
            res->outcome = BCKM_SIM_LIVENESS;
            snprintf(res->violation, sizeof res->violation,
                     "liveness: %" PRIu64 " of %u requests unfinished %" PRIu64
                     " us after faults healed",
                     (uint64_t)c->p.requests - c->done, c->p.requests, c->p.liveness_us);
            break;
        }
        handle(c, &ev);
        if (c->err != BCKM_OK || res->outcome != BCKM_SIM_OK) break;
        uint64_t checked = c->ck.blocks_checked + c->ck.replies_checked;
        for (uint32_t i = 0; i < c->n; i++) ledgers[i] = c->bp[i].ledger;
        if (bckm_sim_checker_step(&c->ck, ledgers, c->honest)) {
            res->outcome = BCKM_SIM_SAFETY;
            snprintf(res->violation, sizeof res->violation, "%s", c->ck.msg);
            break;
        }
        /* Work outside the BPs' handlers (the checker re-executing a block,
         * faults, restarts) is nobody's CPU: the next handler counts from
         * here. */
        if (measured_run && ((ev.kind != EV_WAKE && !bp_event(ev.kind)) ||
                             c->ck.blocks_checked + c->ck.replies_checked != checked))
            c->cpu_mark = cpu_now_ns();
        if (ev.time_us >= heal_at && !c->faults_on && settled(c)) break;
    }
    res->end_us = c->q.now_us;
    /* End-of-run checks of the application (after liveness): for the key
     * app, the devices. */
    if (c->err == BCKM_OK && res->outcome == BCKM_SIM_OK) c->wl->finish(c);
}

/* BCKM_SIM_DEBUG set: the unfinished requests and each BP's state. */
static void debug_dump(const cluster_t *c) {
    if (getenv("BCKM_SIM_DEBUG") == NULL) return;
    for (uint32_t r = 0; r < c->p.requests; r++) {
        const req_t *q = &c->req[r];
        if (!q->done)
            fprintf(stderr, "req %u: bp %u attempt %u fresh %d accepted_ever %d gen %" PRIu64 "\n",
                    r, q->bp, q->attempt, q->fresh, q->accepted_ever, q->gen);
    }
    for (uint32_t i = 0; i < c->n; i++)
        fprintf(stderr,
                "bp %u: up %d byz %d height %" PRIu64 " view %" PRIu64
                " in_vc %d mp %zu fetches %" PRIu64 " rejected %" PRIu64 " kind %d hint %" PRIu64
                "\n",
                i, c->bp[i].up, c->bp[i].byz, bp_height(&c->bp[i]),
                c->bp[i].live ? c->bp[i].rep.d.view : 0, c->bp[i].live ? c->bp[i].rep.d.in_vc : 0,
                c->bp[i].live ? c->bp[i].mp.len : 0, c->bp[i].rep.fetches,
                c->bp[i].rep.rejected_msgs, c->p.byz_kind[i], c->bp[i].rep.hint[3]);
}

/* Frees all a cluster holds, whatever setup got to (c->bp may be NULL). */
static void teardown(cluster_t *c) {
    bckm_sim_event ev;
    while (bckm_sim_evq_pop(&c->q, &ev))
        if (ev.kind == EV_NET) simnet_free(ev.ptr);
    for (size_t i = 0; i < c->nout; i++) simnet_free(c->out[i].m);
    free(c->out);
    for (size_t i = 0; i < c->neq; i++) {
        bckm_pbft_msg_unref(c->eq[i].ppb);
        for (uint32_t j = 0; j < BCKM_SIM_MAX_BPS; j++)
            for (int t = 0; t < 2; t++) bckm_pbft_msg_unref(c->eq[i].votes_b[j][t]);
    }
    free(c->eq);
    for (uint32_t i = 0; i < c->n && c->bp != NULL; i++) {
        bp_t *me = &c->bp[i];
        if (me->live) {
            bckm_pbft_free(&me->rep);
            me->app.ops->destroy(me->app.self);
            bckm_sim_mempool_free(&me->mp);
        }
        while (me->held_len > 0) {
            held_t h = bp_unhold(me);
            if (h.kind == EV_NET) simnet_free(h.ptr);
        }
        free(me->held);
        if (me->has_durable) bckm_pbft_durable_free(&me->durable);
        bp_snap_free(&me->stable);
        for (int k = 0; k < 4; k++) bp_snap_free(&me->pending[k]);
        bp_ledger_close(me);
    }
    bckm_sim_checker_free(&c->ck);
    c->wl->fini(c);
    bckm_map_free(&c->txmap);
    bckm_u64set_free(&c->sig_memo);
    bckm_sim_evq_free(&c->q);
    bckm_wipe(c->sk, sizeof c->sk);
    free(c->bp);
    free(c->req);
    free(c);
}

int bckm_sim_run(const bckm_sim_params *params, bckm_sim_result *res) {
    if (params == NULL || res == NULL) return BCKM_ERR_ARG;
    int e = params_check(params);
    if (e != BCKM_OK) return e;
    if (sodium_init() < 0) return BCKM_ERR_CRYPTO;
    memset(res, 0, sizeof *res);
    cluster_t *c = calloc(1, sizeof *c);
    if (c == NULL) return BCKM_ERR_NOMEM;
    e = setup(c, params, res);
    if (e == BCKM_OK) {
        schedule_start(c);
        if (c->err == BCKM_OK) run_loop(c);
        debug_dump(c);
        e = c->err != BCKM_OK ? c->err : results_collect(c);
    }
    teardown(c);
    return e;
}
