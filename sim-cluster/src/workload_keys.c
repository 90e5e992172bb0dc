/* The keys workload: the key-management contract, its key managers and
 * simulated devices (sim/keynet.h). */
#include "cluster_internal.h"

#include <stdio.h>
#include <stdint.h>
#include <string.h>

static void fail(cluster_t *c, const char *msg, uint32_t bp, int e) {
    if (c->res->outcome != BCKM_SIM_OK) return;
    c->res->outcome = BCKM_SIM_SAFETY;
    snprintf(c->res->violation, sizeof c->res->violation, "%s (BP %u: %s)", msg, bp,
             bckm_strerror(e));
}

/* The key-management contract (sim/keynet.h). Cluster BP i is keynet BP
 * i + 1 (BP IDs start at 1 in node IDs). */
static int keys_init(cluster_t *c) {
    struct bckm_keynet_params kp;
    memset(&kp, 0, sizeof kp);
    kp.bps = c->n;
    kp.nodes = c->p.nodes;
    kp.policy = c->p.policy == BCKM_POLICY_GLOBAL ? BCKM_POLICY_GLOBAL : BCKM_POLICY_OWNED;
    kp.seed = bckm_sim_seed_derive(c->p.seed, "keynet");
    kp.devices = c->p.devices;
    /* Fresh retries of joins take new IDs: leave room for them. */
    kp.max_nodes = c->p.nodes + 2 * c->p.requests + 64;
    kp.verify_charge_ns = c->verify_cal_ns;
    for (uint32_t i = 0; i < c->n; i++) kp.byz_keys[i + 1] = c->p.byz_keys[i] & BCKM_KEYNET_BYZ_ALL;
    kp.trust_byz = c->p.byz_keys_trust;
    kp.withhold_bp = c->p.withhold_rekeys;
    kp.clock_ns = c->p.cost == BCKM_SIM_COST_MEASURED ? cpu_now_ns : NULL;
    return bckm_keynet_new(&c->kn, &kp);
}

/* Cluster BP bp's replica drives keynet BP bp + 1's key manager; the
 * checker's reference drives none. */
static bckm_sim_app keys_new_app(cluster_t *c, uint32_t bp) {
    return bckm_keynet_app(c->kn, bp < c->n ? bp + 1 : 0);
}

static int keys_make_tx(cluster_t *c, uint32_t bp, uint32_t r) {
    req_t *q = &c->req[r];
    bp_t *me = &c->bp[bp];
    int measured = c->p.cost == BCKM_SIM_COST_MEASURED;
    uint32_t roll = (uint32_t)bckm_sim_rng_below(&c->client_rng, 100);
    uint8_t op = roll < c->p.join_pct                    ? BCKM_OP_JOIN
                 : roll < c->p.join_pct + c->p.leave_pct ? BCKM_OP_LEAVE
                                                         : BCKM_OP_EVICT;
    struct bckm_envelope env;
    /* Layer 1 (T_k): the key manager prepares against the BP's committed
     * state. A leave or evict with no member to remove at this BP is a join. */
    uint64_t t0 = measured ? cpu_now_ns() : 0;
    int e = bckm_keynet_prepare(c->kn, &me->app, bp + 1, op, &env);
    if (e == BCKM_ERR_UNKNOWN && op != BCKM_OP_JOIN) {
        op = BCKM_OP_JOIN;
        e = bckm_keynet_prepare(c->kn, &me->app, bp + 1, op, &env);
    }
    uint64_t prep = cpu_took_us(c, t0, COST_KM_PREPARE);
    c->cost += COST_KM_PREPARE;
    /* Write-ahead: what the prepare drew (node ID, code, refresh key) is
     * durable before the change leaves the BP. */
    bp_ledger_save_state(c, bp);
    if (e != BCKM_OK) return e;
    /* Transaction generation (part of T_e): sequence number and signature. */
    e = bckm_keynet_seal(c->kn, bp + 1, &env, q->tx);
    c->cost += COST_SEAL;
    if (e != BCKM_OK) return e;
    q->tx_len = BCKM_ENVELOPE_BYTES;
    q->origin = bp;
    q->op = op;
    q->t_k_prep = prep;
    return BCKM_OK;
}

/* The key-layer adversary's score so far: any forged or replayed message an
 * honest BP's device accepted, or any leave/evict executed for a node by a
 * BP that does not serve it, fails the run. */
static void keys_byz_check(cluster_t *c) {
    struct bckm_keynet_byz_stats st;
    bckm_keynet_byz_stats(c->kn, &st);
    c->res->byz_forged = st.forged;
    c->res->byz_forged_refused = st.forged_refused;
    c->res->byz_replayed = st.replayed;
    c->res->byz_replays_refused = st.replays_refused;
    c->res->byz_resyncs = st.resyncs;
    c->res->byz_evicts = st.evicts;
    c->res->byz_evicts_refused_check = st.evicts_refused_check;
    c->res->byz_evicts_refused_exec = st.evicts_refused_exec;
    c->res->byz_accepted = st.forged_accepted + st.replays_accepted + st.evicts_executed;
    if ((st.forged_accepted || st.replays_accepted || st.evicts_executed) &&
        c->res->outcome == BCKM_SIM_OK) {
        c->res->outcome = BCKM_SIM_SAFETY;
        snprintf(c->res->violation, sizeof c->res->violation, "%s", st.first);
    }
}

/* BP i's key manager committed, while its replica executed them, the
 * changes the replica executed (the contract ran once for both); its
 * devices applied their messages on their own CPUs, not the BP's. */
static void keys_executed(cluster_t *c, uint32_t i) {
    bp_t *me = &c->bp[i];
    int measured = c->p.cost == BCKM_SIM_COST_MEASURED;
    if (measured) c->excl_ns += bckm_keynet_take_device_ns(c->kn);
    for (;;) {
        uint8_t raw[BCKM_ENVELOPE_BYTES];
        int stepped = 0;
        uint64_t ns = 0;
        int e = bckm_keynet_follow(c->kn, i + 1, &stepped, raw, &ns);
        if (e != BCKM_OK) {
            c->res->keynet_failures++;
            fail(c, "key manager cannot follow the committed chain", i, e);
            return;
        }
        if (!stepped) {
            keys_byz_check(c);
            return;
        }
        uint64_t work = measured ? (ns + 999) / 1000 : COST_KM_COMMIT;
        c->cost += COST_KM_COMMIT;
        /* The commit work for a request at the BP that prepared it is the
         * rest of that request's Layer 1 time. */
        struct bckm_envelope env;
        uint32_t r;
        if (bckm_envelope_decode(raw, sizeof raw, &env) != BCKM_OK || env.bp != i + 1) continue;
        if (!bckm_map_get(&c->txmap, me->app.ops->tx_id(me->app.self, raw, sizeof raw), &r) ||
            r >= c->p.requests)
            continue;
        req_t *q = &c->req[r];
        if (q->tx_len == sizeof raw && memcmp(q->tx, raw, sizeof raw) == 0 && !q->commit_seen) {
            q->commit_seen = 1;
            q->t_k_commit = work;
        }
    }
}

static int keys_durable_state(cluster_t *c, uint32_t i, uint64_t height, uint8_t **out,
                              size_t *len) {
    uint8_t key[32];
    bp_storage_key(c, i, key);
    int e = bckm_keynet_km_seal(c->kn, i + 1, height, key, out, len);
    bckm_wipe(key, sizeof key);
    return e;
}

static int keys_restore_state(cluster_t *c, uint32_t i, uint64_t height, const uint8_t *blob,
                              size_t len) {
    uint8_t key[32];
    bp_storage_key(c, i, key);
    int e = bckm_keynet_km_restore(c->kn, i + 1, height, key, blob, len);
    bckm_wipe(key, sizeof key);
    return e;
}

static void keys_rejected(cluster_t *c, const uint8_t *tx, size_t len) {
    struct bckm_envelope env;
    if (len != BCKM_ENVELOPE_BYTES || bckm_envelope_decode(tx, len, &env) != BCKM_OK) return;
    bckm_keynet_abandon(c->kn, env.bp, tx);
    if (env.bp >= 1 && env.bp <= c->n) bp_ledger_save_state(c, env.bp - 1);
}

/* After the run settled: every honest BP's key manager is up to date and
 * every simulated device it serves is at the current epoch, holds the right
 * number of keys and agrees with its peers. */
static void keys_finish(cluster_t *c) {
    uint8_t mask[256] = { 0 };
    uint32_t ref = UINT32_MAX;
    for (uint32_t i = 0; i < c->n; i++) {
        if (!c->honest[i] || !c->bp[i].live) continue;
        keys_executed(c, i);
        mask[i + 1] = 1;
        if (ref == UINT32_MAX) ref = i;
    }
    struct bckm_keynet_stats st;
    bckm_keynet_stats(c->kn, &st);
    bckm_keynet_keys_digest(c->kn, c->res->keys_hash);
    keys_byz_check(c);
    c->res->devices = st.devices;
    c->res->rekey_messages = st.messages;
    c->res->rekey_bytes = st.message_bytes;
    if (ref == UINT32_MAX || c->res->outcome != BCKM_SIM_OK) return;
    const bckm_sim_app *app = &c->bp[ref].app;
    c->res->members = bckm_sets_nodes(bckm_keynet_registry(app));
    uint32_t bad = bckm_keynet_check_devices_of(c->kn, app, 256, mask);
    c->res->device_violations = bad;
    if (bad != 0) {
        c->res->outcome = BCKM_SIM_SAFETY;
        snprintf(c->res->violation, sizeof c->res->violation,
                 "devices: %u violations (epoch, key count or pairwise keys disagree)", bad);
    }
}

#define BYZ_EVICTS 8u

/* A key-layer Byzantine BP with BCKM_KEYNET_BYZ_EVICT, now and then, signs a
 * leave or evict of a node another BP serves and hands it to every honest
 * BP's CheckTx (gossip); it also puts it in the blocks it proposes, so the
 * contract's execution check is tried as well (bp_maybe_propose). */
static void keys_adversary(cluster_t *c, uint32_t i, uint64_t now) {
    if (!(c->p.byz_keys[i] & BCKM_KEYNET_BYZ_EVICT) || c->byz_env_n[i] >= BYZ_EVICTS ||
        !bckm_sim_rng_chance(&c->keyadv_rng, 1, 8))
        return;
    int e = bckm_keynet_byz_evict(c->kn, &c->bp[i].app, i + 1, c->byz_env[i]);
    bp_ledger_save_state(c, i);
    if (e != BCKM_OK) return;
    c->byz_env_n[i]++;
    /* A BP's own request: it may propose it like any other. */
    bckm_sim_checker_submitted(&c->ck, c->byz_env[i], BCKM_ENVELOPE_BYTES);
    for (uint32_t j = 0; j < c->n; j++)
        if (j != i && c->honest[j] && c->bp[j].up && c->bp[j].live)
            if (bckm_sim_mempool_add(&c->bp[j].mp, &c->bp[j].app, c->byz_env[i],
                                     BCKM_ENVELOPE_BYTES, now) == BCKM_ERR_NOMEM)
                cluster_nomem(c);
}

/* Measured mode: CPU time the key managers charged for work they did not
 * redo (memoised verifications). */
static uint64_t keys_charged_ns(cluster_t *c) { return bckm_keynet_take_charge_ns(c->kn); }

static void keys_fini(cluster_t *c) {
    bckm_keynet_free(c->kn);
    c->kn = NULL;
}

const workload_ops workload_keys = {
    .name = "keys",
    .tx_len = BCKM_ENVELOPE_BYTES,
    .envelopes = 1,
    .durable_state = keys_durable_state,
    .restore_state = keys_restore_state,
    .init = keys_init,
    .new_app = keys_new_app,
    .make_tx = keys_make_tx,
    .executed = keys_executed,
    .rejected = keys_rejected,
    /* No already_executed: the contract refuses a re-executed envelope like
     * any invalid one; only the BP that prepared it can tell (the client goes
     * back there, on_client). */
    .adversary = keys_adversary,
    .charged_ns = keys_charged_ns,
    .finish = keys_finish,
    .fini = keys_fini,
};
