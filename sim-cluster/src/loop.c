/* bckm_sim_run: the event loop over a virtual clock and the cluster-wide
 * events (seeded faults, scheduled plans, the end of the faulty phase). */
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
        if (me->up && (me->busy_until > now || me->held_len > 0)) bp_hold(c, i, ev, now);
        else bp_handle(c, ev);
        return;
    }
    switch (ev->kind) {
    case EV_FAULT: {
        if (!c->faults_on) break;
        const bckm_sim_faults *f = &c->p.faults;
        uint64_t vt = c->p.profile->vc_timeout_us;
        if (!c->partition_on && bckm_sim_rng_chance(&c->fault_rng, f->partition.num, f->partition.den)) {
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
            if (bckm_sim_evq_push(&c->q, now + d, EV_HEAL, 0, 0, NULL) != BCKM_OK) abort();
        }
        if (bckm_sim_rng_chance(&c->fault_rng, f->crash.num, f->crash.den)) {
            uint32_t down = 0;
            for (uint32_t k = 0; k < c->n; k++) down += !c->bp[k].up;
            uint32_t k = (uint32_t)bckm_sim_rng_below(&c->fault_rng, c->n);
            if (down < (c->f ? c->f : 1) && c->bp[k].up) {
                bp_crash(c, k, now);
                uint64_t d = bckm_sim_rng_range(&c->fault_rng, vt, 8 * vt);
                if (bckm_sim_evq_push(&c->q, now + d, EV_RESTART, k, 0, NULL) != BCKM_OK) abort();
            }
        }
        if (now + c->p.profile->tick_us < c->fault_end &&
            bckm_sim_evq_push(&c->q, now + c->p.profile->tick_us, EV_FAULT, 0, 0, NULL) != BCKM_OK)
            abort();
        break;
    }
    case EV_HEAL:
        c->partition_on = 0;
        break;
    case EV_RESTART:
        bp_restart(c, i, now);
        break;
    case EV_PLAN_START: {
        const bckm_sim_plan *pl = &c->p.plan[ev->arg];
        if (pl->kind == BCKM_SIM_PLAN_CRASH) bp_crash(c, pl->bp, now);
        else c->bp[pl->bp].isolated = 1;
        break;
    }
    case EV_PLAN_END: {
        const bckm_sim_plan *pl = &c->p.plan[ev->arg];
        if (pl->kind == BCKM_SIM_PLAN_CRASH) bp_restart(c, pl->bp, now);
        else c->bp[pl->bp].isolated = 0;
        break;
    }
    case EV_PHASE_END:
        c->faults_on = 0;
        c->partition_on = 0;
        for (uint32_t k = 0; k < c->n; k++) bp_restart(c, k, now);
        break;
    case EV_DEADLINE: {
        uint32_t r = (uint32_t)(ev->arg & 0xFFFFFFFFu);
        req_t *q = &c->req[r];
        if (q->done || (ev->arg >> 32) != q->gen) break;
        if (q->first_accepted && !q->counted_missed) {
            q->counted_missed = 1;
            c->res->sync_missed_first_try++;
        }
        /* Retry path: the same tx to the next BP; a duplicate check there
         * tells the client if it had committed after all. */
        uint32_t nb = (q->bp + 1) % c->n;
        q->gen++;
        if (bckm_sim_evq_push(&c->q, now, EV_CLIENT, nb, r, NULL) != BCKM_OK) abort();
        c->res->retries++;
        break;
    }
    default:
        break;
    }
}

/* All work is done and every honest BP that is up holds the same height. */
static int settled(const cluster_t *c) {
    if (c->done < c->p.requests) return 0;
    uint64_t h = UINT64_MAX;
    for (uint32_t i = 0; i < c->n; i++) {
        if (!c->honest[i]) continue;
        if (!c->bp[i].up) return 0;
        uint64_t hi = bckm_sim_ledger_height(&c->bp[i].ledger);
        if (h == UINT64_MAX) h = hi;
        else if (hi != h) return 0;
    }
    return 1;
}

/* Every BP's ledger, empty; with lmdb each opens its store, which must hold
 * no entry (a run never continues another run's chain). */
static int ledgers_open(cluster_t *c) {
    for (uint32_t i = 0; i < c->n; i++) bckm_sim_ledger_init(&c->bp[i].ledger);
    if (c->p.ledger != BCKM_SIM_LEDGER_LMDB) return BCKM_OK;
    if (mkdir(c->p.ledger_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(c->res->violation, sizeof c->res->violation, "ledger directory %s: %s", c->p.ledger_dir,
                 strerror(errno));
        return BCKM_ERR_IO;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        char path[4096];
        int e = bp_ledger_path(c, i, path, sizeof path);
        if (e != BCKM_OK) {
            snprintf(c->res->violation, sizeof c->res->violation, "ledger directory name too long");
            return e;
        }
        e = bckm_sim_ledger_open(&c->bp[i].ledger, path, c->n, 1, c->res->violation, sizeof c->res->violation);
        if (e != BCKM_OK) return e;
    }
    return BCKM_OK;
}

int bckm_sim_run(const bckm_sim_params *params, bckm_sim_result *res) {
    if (params == NULL || res == NULL || params->bps == 0 || params->bps > BCKM_SIM_MAX_BPS ||
        params->profile == NULL || params->block_max_txs == 0 || params->mempool_cap == 0 ||
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
        (params->ledger != BCKM_SIM_LEDGER_LMDB || params->ledger_dir == NULL || params->ledger_dir[0] == '\0'))
        return BCKM_ERR_ARG;
    if (sodium_init() < 0) return BCKM_ERR_CRYPTO;
    memset(res, 0, sizeof *res);
    cluster_t *c = calloc(1, sizeof *c);
    if (c == NULL) return BCKM_ERR_NOMEM;
    c->p = *params;
    c->res = res;
    c->n = params->bps;
    c->f = bckm_pbft_f(c->n);
    c->bp = calloc(c->n, sizeof *c->bp);
    c->req = calloc(params->requests ? params->requests : 1, sizeof *c->req);
    if (c->bp == NULL || c->req == NULL) { free(c->bp); free(c->req); free(c); return BCKM_ERR_NOMEM; }
    uint64_t seed = params->seed;
    bckm_sim_rng_seed(&c->net_rng, bckm_sim_seed_derive(seed, "network"));
    bckm_sim_rng_seed(&c->fault_rng, bckm_sim_seed_derive(seed, "faults"));
    bckm_sim_rng_seed(&c->client_rng, bckm_sim_seed_derive(seed, "clients"));
    bckm_sim_rng_seed(&c->adv_rng, bckm_sim_seed_derive(seed, "adversary"));
    bckm_sim_rng keys_rng;
    bckm_sim_rng_seed(&keys_rng, bckm_sim_seed_derive(seed, "keys"));
    for (uint32_t i = 0; i < c->n; i++) {
        uint8_t s[32];
        for (int k = 0; k < 4; k++) bckm_put_u64(s + 8 * k, bckm_sim_rng_next(&keys_rng));
        crypto_sign_seed_keypair(c->pk[i], c->sk[i], s);
        bckm_wipe(s, sizeof s);
    }
    for (int k = 0; k < 4; k++) bckm_put_u64(c->client_key + 8 * k, bckm_sim_rng_next(&keys_rng));
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
            uint32_t t = ids[i]; ids[i] = ids[j]; ids[j] = t;
        }
        for (uint32_t i = 0; i < k; i++) {
            int kind = params->faults.byz_kind;
            if (kind == BCKM_BYZ_MIXED) kind = 1 + (int)bckm_sim_rng_below(&br, 5);
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
    bckm_sim_rng_seed(&c->keyadv_rng, bckm_sim_seed_derive(seed, "key-adversary"));
    bckm_sim_evq_init(&c->q);
    bckm_u64set_init(&c->sig_memo);
    crypto_generichash_init(&c->trace, (const uint8_t *)"bckm-sim-trace", 14, 32);
    bckm_map_init(&c->txmap);
    c->wl = c->p.app == BCKM_SIM_APP_KEYS ? &workload_keys : &workload_kv;
    if (c->p.cost == BCKM_SIM_COST_MEASURED) c->verify_cal_ns = cpu_verify_cost_ns();
    int we = ledgers_open(c);
    if (we == BCKM_OK) {
        we = c->wl->init(c);
    }
    if (we != BCKM_OK) {
        for (uint32_t i = 0; i < c->n; i++) bckm_sim_ledger_free(&c->bp[i].ledger);
        bckm_map_free(&c->txmap);
        bckm_u64set_free(&c->sig_memo);
        bckm_sim_evq_free(&c->q);
        free(c->bp); free(c->req); free(c);
        return we;
    }
    bckm_sim_app ref = c->wl->new_app(c, UINT32_MAX);
    if (ref.self == NULL || bckm_sim_checker_init(&c->ck, c->n, (const uint8_t (*)[32])c->pk, ref) != BCKM_OK)
        abort();
    /* Every certificate signature is one a replica verified through
     * bp_port_verify: the checker finds it in that record instead of checking
     * it a second time (it still rebuilds each statement itself). */
    bckm_sim_checker_accepted(&c->ck, &c->sig_memo);
    for (uint32_t i = 0; i < c->n; i++) {
        bp_start(c, i, 0, 0);
        /* stagger the ticks so BPs do not all fire at the same instant */
        uint64_t off = bckm_sim_rng_below(&c->net_rng, c->p.profile->tick_us);
        if (bckm_sim_evq_push(&c->q, off, EV_TICK, i, 0, NULL) != BCKM_OK) abort();
    }
    for (uint32_t r = 0; r < c->p.requests; r++) {
        c->req[r].fresh = 1;
        uint64_t at = (uint64_t)r * c->p.request_gap_us +
                      bckm_sim_rng_below(&c->client_rng, c->p.request_gap_us + 1);
        uint32_t bp = (uint32_t)bckm_sim_rng_below(&c->client_rng, c->n);
        if (bckm_sim_evq_push(&c->q, at, EV_CLIENT, bp, r, NULL) != BCKM_OK) abort();
    }
    c->fault_end = c->p.fault_us;
    c->faults_on = c->p.fault_us > 0;
    if (c->faults_on && bckm_sim_evq_push(&c->q, 0, EV_FAULT, 0, 0, NULL) != BCKM_OK) abort();
    if (bckm_sim_evq_push(&c->q, c->fault_end, EV_PHASE_END, 0, 0, NULL) != BCKM_OK) abort();
    uint64_t last_plan = 0;
    for (uint32_t k = 0; k < c->p.plan_len; k++) {
        const bckm_sim_plan *pl = &c->p.plan[k];
        if (pl->bp >= c->n || pl->end_us < pl->start_us) abort();
        if (bckm_sim_evq_push(&c->q, pl->start_us, EV_PLAN_START, pl->bp, k, NULL) != BCKM_OK) abort();
        if (bckm_sim_evq_push(&c->q, pl->end_us, EV_PLAN_END, pl->bp, k, NULL) != BCKM_OK) abort();
        if (pl->end_us > last_plan) last_plan = pl->end_us;
    }
    uint64_t heal_at = c->fault_end > last_plan ? c->fault_end : last_plan;
    uint64_t deadline = heal_at + c->p.liveness_us;
    const bckm_sim_ledger *ledgers[BCKM_SIM_MAX_BPS];
    for (uint32_t i = 0; i < c->n; i++) ledgers[i] = &c->bp[i].ledger;
    bckm_sim_event ev;
    int measured_run = c->p.cost == BCKM_SIM_COST_MEASURED;
    if (measured_run) c->cpu_mark = cpu_now_ns();
    while (bckm_sim_evq_pop(&c->q, &ev)) {
        res->events++;
        if (ev.time_us > deadline) {
            res->outcome = BCKM_SIM_LIVENESS;
            snprintf(res->violation, sizeof res->violation,
                     "liveness: %" PRIu64 " of %u requests unfinished %" PRIu64 " us after faults healed",
                     (uint64_t)c->p.requests - c->done, c->p.requests, c->p.liveness_us);
            break;
        }
        handle(c, &ev);
        if (res->outcome != BCKM_SIM_OK) break;
        uint64_t checked = c->ck.blocks_checked + c->ck.replies_checked;
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
    if (res->outcome == BCKM_SIM_OK) c->wl->finish(c);
    if (getenv("BCKM_SIM_DEBUG") != NULL) {
        for (uint32_t r = 0; r < c->p.requests; r++) {
            req_t *q = &c->req[r];
            if (!q->done)
                fprintf(stderr, "req %u: bp %u attempt %u fresh %d accepted_ever %d gen %" PRIu64 "\n",
                        r, q->bp, q->attempt, q->fresh, q->accepted_ever, q->gen);
        }
        for (uint32_t i = 0; i < c->n; i++)
            fprintf(stderr, "bp %u: up %d byz %d height %" PRIu64 " view %" PRIu64 " in_vc %d mp %zu fetches %" PRIu64 " rejected %" PRIu64 " kind %d hint %" PRIu64 "\n", i,
                    c->bp[i].up, c->bp[i].byz, bckm_sim_ledger_height(&c->bp[i].ledger),
                    c->bp[i].live ? c->bp[i].rep.d.view : 0, c->bp[i].live ? c->bp[i].rep.d.in_vc : 0,
                    c->bp[i].live ? c->bp[i].mp.len : 0, c->bp[i].rep.fetches, c->bp[i].rep.rejected_msgs, c->p.byz_kind[i], c->bp[i].rep.hint[3]);
    }
    /* Requests whose tx was admitted but never finished are lost; there
     * must be none after the liveness phase. */
    size_t ns = 0;
    for (int k = 0; k < 4; k++) c->samples[k] = calloc(c->p.requests ? c->p.requests : 1, sizeof(uint64_t));
    for (uint32_t r = 0; r < c->p.requests; r++) {
        req_t *q = &c->req[r];
        if (q->done) {
            res->committed++;
            uint64_t tk = q->t_k_prep + q->t_k_commit;
            c->samples[0][ns] = tk;
            c->samples[1][ns] = q->t_e;
            c->samples[2][ns] = q->t_a;
            c->samples[3][ns] = c->p.mode == BCKM_SIM_COMMIT ? tk + q->t_e + q->t_a
                              : c->p.mode == BCKM_SIM_SYNC ? tk + q->t_e : tk;
            ns++;
            if (c->p.app == BCKM_SIM_APP_KEYS) {
                if (q->op == BCKM_OP_JOIN) res->joins++;
                else if (q->op == BCKM_OP_LEAVE) res->leaves++;
                else res->evicts++;
            }
        } else {
            res->lost++;
        }
    }
    res->requests = c->p.requests;
    results_timing(c->samples[0], ns, &res->t_k);
    results_timing(c->samples[1], ns, &res->t_e);
    results_timing(c->samples[2], ns, &res->t_a);
    results_timing(c->samples[3], ns, &res->t_r);
    /* When nine in ten requests had executed: a throughput window that a
     * few retried stragglers do not stretch. */
    size_t nc = 0;
    for (uint32_t r = 0; r < c->p.requests; r++)
        if (c->req[r].commit_us) c->samples[0][nc++] = c->req[r].commit_us;
    if (nc > 0) {
        qsort(c->samples[0], nc, sizeof(uint64_t), results_cmp_u64);
        res->commit90_us = c->samples[0][(nc * 9 + 9) / 10 - 1 < nc ? (nc * 9 + 9) / 10 - 1 : nc - 1];
    }
    for (int k = 0; k < 4; k++) free(c->samples[k]);
    res->error_rate = res->sync_accepted ? (double)res->sync_missed_first_try / (double)res->sync_accepted : 0.0;
    res->min_height = UINT64_MAX;
    for (uint32_t i = 0; i < c->n; i++) {
        bp_t *me = &c->bp[i];
        uint64_t h = bckm_sim_ledger_height(&me->ledger);
        res->bp_height[i] = h;
        res->bp_fetches[i] = me->fetches_before + (me->live ? me->rep.fetches : 0);
        res->fetches += res->bp_fetches[i];
        if (me->live) res->view_changes += me->rep.view_changes;
        if (c->honest[i]) {
            if (h < res->min_height) res->min_height = h;
            if (h > res->max_height) res->max_height = h;
        }
    }
    if (res->min_height == UINT64_MAX) res->min_height = 0;
    results_tx_digest(c, res->tx_hash);
    crypto_generichash_final(&c->trace, res->trace_hash, 32);
    /* teardown */
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
    for (uint32_t i = 0; i < c->n; i++) {
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
        bckm_sim_ledger_free(&me->ledger);
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
    return BCKM_OK;
}
