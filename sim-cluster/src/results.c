/* A run's results: timings, the committed transactions' digest, JSON. */
#include "cluster_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int results_cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void results_timing(uint64_t *v, size_t n, bckm_sim_timing *t) {
    memset(t, 0, sizeof *t);
    if (n == 0) return;
    qsort(v, n, sizeof *v, results_cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)v[i];
    t->mean_us = sum / (double)n;
    t->p50_us = v[(n - 1) / 2];
    t->p99_us = v[(n * 99 + 99) / 100 - 1 < n ? (n * 99 + 99) / 100 - 1 : n - 1];
}

/* The committed transactions at the first honest BP, in order (see
 * bckm_sim_result.tx_hash): the same for every block format. */
static void results_tx_digest(const cluster_t *c, uint8_t out[32]) {
    crypto_generichash_state h;
    crypto_generichash_init(&h, (const uint8_t *)"bckm-sim-txs", 12, 32);
    for (uint32_t i = 0; i < c->n; i++) {
        if (!c->honest[i]) continue;
        const bp_t *me = &c->bp[i];
        for (uint64_t ht = 1; ht <= bp_height(me); ht++) {
            bckm_sim_block *b = NULL;
            /* A ledger that cannot be read back ends the digest there (the
             * run reports it elsewhere); the digest then differs. */
            if (bp_ledger_read(me, ht, &b, NULL, NULL) != BCKM_OK) break;
            uint8_t w[8];
            bckm_put_u64(w, ht);
            crypto_generichash_update(&h, w, 8);
            uint32_t off = 0;
            const uint8_t *tx;
            size_t len;
            while (bckm_sim_block_next_tx(b, &off, &tx, &len) == 1) {
                bckm_put_u32(w, (uint32_t)len);
                crypto_generichash_update(&h, w, 4);
                crypto_generichash_update(&h, tx, len);
            }
            bckm_sim_block_free(b);
        }
        break;
    }
    crypto_generichash_final(&h, out, 32);
}

/* The result of a finished run: which requests committed, their timings,
 * the heights, the committed transactions' digest and the trace hash. */
int results_collect(cluster_t *c) {
    bckm_sim_result *res = c->res;
    /* Requests whose tx was admitted but never finished are lost; there
     * must be none after the liveness phase. */
    size_t ns = 0;
    for (int k = 0; k < 4; k++)
        c->samples[k] = calloc(c->p.requests ? c->p.requests : 1, sizeof(uint64_t));
    if (c->samples[0] == NULL || c->samples[1] == NULL || c->samples[2] == NULL ||
        c->samples[3] == NULL) {
        for (int k = 0; k < 4; k++) free(c->samples[k]);
        return BCKM_ERR_NOMEM;
    }
    for (uint32_t r = 0; r < c->p.requests; r++) {
        req_t *q = &c->req[r];
        if (q->done) {
            res->committed++;
            uint64_t tk = q->t_k_prep + q->t_k_commit;
            c->samples[0][ns] = tk;
            c->samples[1][ns] = q->t_e;
            c->samples[2][ns] = q->t_a;
            c->samples[3][ns] = c->p.mode == BCKM_SIM_COMMIT ? tk + q->t_e + q->t_a
                                : c->p.mode == BCKM_SIM_SYNC ? tk + q->t_e
                                                             : tk;
            ns++;
            if (c->p.app == BCKM_SIM_APP_KEYS) {
                if (q->op == BCKM_OP_JOIN)
                    res->joins++;
                else if (q->op == BCKM_OP_LEAVE)
                    res->leaves++;
                else
                    res->evicts++;
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
        res->commit90_us =
            c->samples[0][(nc * 9 + 9) / 10 - 1 < nc ? (nc * 9 + 9) / 10 - 1 : nc - 1];
    }
    for (int k = 0; k < 4; k++) free(c->samples[k]);
    res->error_rate =
        res->sync_accepted ? (double)res->sync_missed_first_try / (double)res->sync_accepted : 0.0;
    res->min_height = UINT64_MAX;
    for (uint32_t i = 0; i < c->n; i++) {
        bp_t *me = &c->bp[i];
        uint64_t h = bp_height(me);
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
    return BCKM_OK;
}

static void hex32(const uint8_t *b, char *out) {
    for (size_t i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static const char *mode_name(int m) {
    return m == BCKM_SIM_ASYNC ? "async" : m == BCKM_SIM_SYNC ? "sync" : "commit";
}

void bckm_sim_result_json(const bckm_sim_params *p, const bckm_sim_result *r, char *buf,
                          size_t cap) {
    char th[65], txh[65], kh[65];
    hex32(r->trace_hash, th);
    hex32(r->tx_hash, txh);
    hex32(r->keys_hash, kh);
    char safety[300], liveness[300];
    /* The violation text holds no quotes or backslashes (it is ours). */
    snprintf(safety, sizeof safety, "%s", r->outcome == BCKM_SIM_SAFETY ? r->violation : "ok");
    snprintf(liveness, sizeof liveness, "%s",
             r->outcome == BCKM_SIM_LIVENESS ? r->violation : "ok");
    const bckm_sim_timing *t[4] = { &r->t_k, &r->t_e, &r->t_a, &r->t_r };
    const char *tn[4] = { "t_k", "t_e", "t_a", "t_r" };
    size_t o = 0;

#define OUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(buf + o, o < cap ? cap - o : 0, __VA_ARGS__);                            \
        if (w_ > 0) o += (size_t)w_;                                                               \
    } while (0)
    OUT("{\"bps\":%u,\"nodes\":%u,\"requests\":%" PRIu64 ",\"mode\":\"%s\",\"profile\":\"%s\","
        "\"cost\":\"%s\",\"byzantine\":%u,\"committed\":%" PRIu64 ",\"sync_accepted\":%" PRIu64
        ",\"sync_missed_first_try\":%" PRIu64 ",\"error_rate\":%.6f,\"lost\":%" PRIu64
        ",\"exec_rejected\":%" PRIu64 ",\"check_rejected\":%" PRIu64 ",\"retries\":%" PRIu64,
        p->bps, p->app == BCKM_SIM_APP_KEYS ? p->nodes : 0, r->requests, mode_name(p->mode),
        p->profile->name, p->cost == BCKM_SIM_COST_MODEL ? "model" : "measured", r->byzantine,
        r->committed, r->sync_accepted, r->sync_missed_first_try, r->error_rate, r->lost,
        r->exec_rejected, r->check_rejected, r->retries);
    for (int k = 0; k < 4; k++)
        OUT(",\"%s\":{\"mean_us\":%.1f,\"p50_us\":%" PRIu64 ",\"p99_us\":%" PRIu64 "}", tn[k],
            t[k]->mean_us, t[k]->p50_us, t[k]->p99_us);
    OUT(",\"height\":%" PRIu64 ",\"view_changes\":%" PRIu64 ",\"fetches\":%" PRIu64
        ",\"restarts\":%" PRIu64 ",\"messages\":%" PRIu64 ",\"dropped\":%" PRIu64
        ",\"end_us\":%" PRIu64 ",\"first_arrival_us\":%" PRIu64 ",\"last_commit_us\":%" PRIu64
        ",\"commit90_us\":%" PRIu64 ",\"bp_cpu_us\":%" PRIu64
        ",\"safety\":\"%s\",\"liveness\":\"%s\",\"seed\":%" PRIu64
        ",\"trace_hash\":\"%s\",\"tx_hash\":\"%s\"}",
        r->max_height, r->view_changes, r->fetches, r->restarts, r->messages, r->dropped, r->end_us,
        r->first_arrival_us, r->last_commit_us, r->commit90_us, r->bp_cpu_us, safety, liveness,
        p->seed, th, txh);
    if (p->app == BCKM_SIM_APP_KEYS) {
        o = o > 0 && o <= cap ? o - 1 : o; /* reopen the object */
        OUT(",\"app\":\"keys\",\"policy\":\"%s\",\"members\":%" PRIu64 ",\"joins\":%" PRIu64
            ",\"leaves\":%" PRIu64 ",\"evicts\":%" PRIu64 ",\"devices\":%" PRIu64
            ",\"device_violations\":%" PRIu64 ",\"rekey_messages\":%" PRIu64
            ",\"rekey_bytes\":%" PRIu64 ",\"keys_hash\":\"%s\"}",
            p->policy == BCKM_POLICY_GLOBAL ? "global" : "owned", r->members, r->joins, r->leaves,
            r->evicts, r->devices, r->device_violations, r->rekey_messages, r->rekey_bytes, kh);
    }
#undef OUT
}
