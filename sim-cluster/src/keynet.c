/* The key-management contract as a replicated app, the request path and
 * the key managers' steps; the key-layer adversary is keynet_byz.c. */
#include "keynet_internal.h"

#include "bckm/assert.h"
#include "bckm/kdf.h"
#include "bckm/km_store.h"

#include <stdlib.h>
#include <string.h>

/* ---- the application ------------------------------------------------------- */

struct kapp {
    struct bckm_keynet *kn;
    /* The BP whose key manager takes its changes from this replica's
     * executions (0: none, a reference replica). */
    uint32_t bp;
    struct bckm_state *st;
    /* The check state (ABCI's "check state"): the committed state plus every
     * tx check_tx accepted since the last commit, in admission order. It is
     * what the mempool admits against and what the BP prepares requests
     * against, so two requests prepared at one BP between two blocks do not
     * both claim the same Assignment answer. NULL when stale: rebuilt from
     * `st` at the next check, and the mempool's recheck after a block then
     * re-admits what it still holds, in order. */
    struct bckm_state *check;
    /* The envelopes applied to `check` beyond `st`, in order. When a block
     * executes exactly a prefix of them, `check` is still `st` plus the rest
     * and is kept (a rebuild copies the whole state): the recheck's calls
     * for pend[recheck_next .. carry_end) then only confirm them. */
    uint8_t *pend;
    size_t pend_n, pend_cap, recheck_next, carry_end;
    size_t block_from;          /* log_n when the block being executed began */
    bckm_sim_sigcache verified; /* envelopes whose signature this replica checked */
    uint64_t height;
    uint8_t *log;          /* every envelope applied since genesis, in order */
    size_t log_n, log_cap; /* in envelopes */
};

/* Envelopes a replica remembers as verified: several full mempools' worth. */
#define KAPP_SIGCACHE 8192u

/* gcc -fanalyzer (GCC 12) reports the grown l->ids as leaked on the next
 * failing realloc: a false positive, the pointer is stored in *l. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
static int list_push(struct nodelist *l, uint32_t id) {
    if (l->n == l->cap) {
        uint32_t ncap = l->cap ? l->cap * 2 : 64;
        uint32_t *n = realloc(l->ids, (size_t)ncap * sizeof *n);
        if (n == NULL) return BCKM_ERR_NOMEM;
        l->ids = n;
        l->cap = ncap;
    }
    l->ids[l->n++] = id;
    return BCKM_OK;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static void list_remove(struct nodelist *l, uint32_t id) {
    for (uint32_t i = 0; i < l->n; i++)
        if (l->ids[i] == id) {
            l->ids[i] = l->ids[--l->n];
            return;
        }
}

static struct kapp *self_of(const bckm_sim_app *a) { return (struct kapp *)a->self; }

static void check_state_drop(struct kapp *a) {
    bckm_state_free(a->check);
    a->check = NULL;
    a->pend_n = a->recheck_next = a->carry_end = 0;
}

/* The check state, rebuilt from the committed state when stale; NULL when
 * memory runs out. */
static struct bckm_state *check_state(struct kapp *a) {
    if (a->check == NULL && bckm_state_clone(a->st, &a->check) != BCKM_OK) a->check = NULL;
    return a->check;
}

/* Records an envelope applied to the check state; on failure the check
 * state is dropped (rebuilt at the next check), never left unrecorded. */
static void pend_push(struct kapp *a, const uint8_t *tx) {
    if (a->pend_n == a->pend_cap) {
        size_t ncap = a->pend_cap ? a->pend_cap * 2 : 64;
        uint8_t *n = realloc(a->pend, ncap * BCKM_ENVELOPE_BYTES);
        if (n == NULL) {
            check_state_drop(a);
            return;
        }
        a->pend = n;
        a->pend_cap = ncap;
    }
    memcpy(a->pend + a->pend_n * BCKM_ENVELOPE_BYTES, tx, BCKM_ENVELOPE_BYTES);
    a->pend_n++;
}

/* Decodes and verifies the signature once per replica (sim/sigcache.h). */
static int decode_verified(struct kapp *a, const uint8_t *tx, size_t len,
                           struct bckm_envelope *env) {
    int e = bckm_envelope_decode(tx, len, env);
    if (e != BCKM_OK || bckm_sim_sigcache_has(&a->verified, tx, len)) return e;
    struct bckm_keynet *kn = a->kn;
    if (bckm_sim_sigcache_has(&kn->shared_verified, tx, len)) {
        /* This replica's first look, another replica's work: same result
         * (a pure function of these bytes), charged as if redone. */
        kn->charged_ns += kn->p.verify_charge_ns;
    } else {
        e = bckm_contract_verify(a->st, env);
        if (e == BCKM_OK) bckm_sim_sigcache_add(&kn->shared_verified, tx, len);
    }
    if (e == BCKM_OK) bckm_sim_sigcache_add(&a->verified, tx, len);
    return e;
}

static int app_check(void *self, const uint8_t *tx, size_t len) {
    struct kapp *a = self;
    if (a->recheck_next < a->carry_end) {
        /* The recheck after a block, of envelopes the kept check state
         * already holds: same envelope, same state before it, same answer. */
        if (len == BCKM_ENVELOPE_BYTES &&
            memcmp(tx, a->pend + a->recheck_next * BCKM_ENVELOPE_BYTES, len) == 0) {
            a->recheck_next++;
            return BCKM_SIM_TX_OK;
        }
        check_state_drop(a); /* not the expected order: start afresh */
    }
    struct bckm_state *cs = check_state(a);
    struct bckm_envelope env;
    int e = cs == NULL ? BCKM_ERR_NOMEM : decode_verified(a, tx, len, &env);
    /* Applying checks the rules first and changes nothing when they fail. */
    if (e == BCKM_OK) e = bckm_contract_apply_verified(cs, &env, &a->kn->plan);
    if (e == BCKM_OK)
        pend_push(a, tx);
    else if (a->kn->nevict && bckm_u64set_has(&a->kn->forged_envs, keynet_env_id(tx, len)))
        a->kn->byz.evicts_refused_check++;
    return e == BCKM_OK ? BCKM_SIM_TX_OK : -e;
}

static int app_verify(void *self, const uint8_t *tx, size_t len) {
    struct bckm_envelope env;
    int e = decode_verified(self, tx, len, &env);
    return e == BCKM_OK ? BCKM_SIM_TX_OK : -e;
}

static void app_begin(void *self, uint64_t height) {
    struct kapp *a = self;
    (void)height;
    a->block_from = a->log_n;
}

static int log_append(struct kapp *a, const uint8_t *tx) {
    if (a->log_n == a->log_cap) {
        size_t ncap = a->log_cap ? a->log_cap * 2 : 256;
        uint8_t *n = realloc(a->log, ncap * BCKM_ENVELOPE_BYTES);
        if (n == NULL) return BCKM_ERR_NOMEM;
        a->log = n;
        a->log_cap = ncap;
    }
    memcpy(a->log + a->log_n * BCKM_ENVELOPE_BYTES, tx, BCKM_ENVELOPE_BYTES);
    a->log_n++;
    return BCKM_OK;
}

static void km_step(struct bckm_keynet *kn, uint32_t bp, const uint8_t *raw,
                    const struct bckm_envelope *env, const struct bckm_sets *reg, int foreign);

/* 1 when the change about to be applied as the replica's index-th is the
 * next one BP a->bp's key manager needs from it. */
static int drives(const struct kapp *a, size_t index) {
    const struct bckm_keynet *kn = a->kn;
    if (a->bp == 0 || kn->driver[a->bp] != a || kn->err[a->bp] != BCKM_OK) return 0;
    /* The driver executes the chain from genesis (directly or replaying a
     * snapshot), so the key manager can never have missed a change. */
    BCKM_ASSERT(index <= kn->followed[a->bp],
                "a driving replica reaches each change the key manager needs");
    return kn->followed[a->bp] == index;
}

/* Independent of the contract: a leave or evict executed on the chain must
 * come from the BP serving the node (spec 10.1); reg is the state before. */
static int foreign_removal(const struct bckm_sets *reg, const struct bckm_envelope *env) {
    uint32_t set, at;
    return (env->tx.op == BCKM_OP_LEAVE || env->tx.op == BCKM_OP_EVICT) &&
           bckm_sets_node(reg, env->tx.node_id, &set, &at) == BCKM_OK && at != env->bp;
}

static int app_deliver(void *self, const uint8_t *tx, size_t len) {
    struct kapp *a = self;
    struct bckm_envelope env;
    int e = decode_verified(a, tx, len, &env);
    int drive = e == BCKM_OK && drives(a, a->log_n);
    int foreign = drive && foreign_removal(bckm_state_registry(a->st), &env);
    /* The one execution of the contract: its plan, and the registry right
     * after it, are what the key manager commits from. */
    if (e == BCKM_OK) e = bckm_contract_apply_verified(a->st, &env, &a->kn->plan);
    if (e == BCKM_OK) e = log_append(a, tx);
    if (e == BCKM_OK && drive)
        km_step(a->kn, a->bp, tx, &env, bckm_state_registry(a->st), foreign);
    else if (e != BCKM_OK && a->kn->nevict &&
             bckm_u64set_has(&a->kn->forged_envs, keynet_env_id(tx, len)))
        a->kn->byz.evicts_refused_exec++;
    return e == BCKM_OK ? BCKM_SIM_TX_OK : -e;
}

static void app_commit(void *self, uint8_t hash[32]) {
    struct kapp *a = self;
    a->height++;
    /* The block executed log[block_from .. log_n): keep the check state when
     * that is a prefix of what it applied (the usual case at the BP whose
     * mempool order made the block), otherwise drop it. */
    size_t k = a->log_n - a->block_from;
    if (a->check != NULL && a->recheck_next == a->carry_end && k <= a->pend_n &&
        memcmp(a->log + a->block_from * BCKM_ENVELOPE_BYTES, a->pend, k * BCKM_ENVELOPE_BYTES) ==
            0) {
        memmove(a->pend, a->pend + k * BCKM_ENVELOPE_BYTES, (a->pend_n - k) * BCKM_ENVELOPE_BYTES);
        a->pend_n -= k;
        a->recheck_next = 0;
        a->carry_end = a->pend_n;
    } else {
        check_state_drop(a);
    }
    bckm_state_hash(a->st, hash);
}

static int replay(struct kapp *a, const uint8_t *envs, size_t n) {
    struct bckm_state *st;
    int e = bckm_state_clone(a->kn->genesis, &st);
    if (e != BCKM_OK) return e;
    for (size_t i = 0; i < n && e == BCKM_OK; i++) {
        struct bckm_envelope env;
        const uint8_t *raw = envs + i * BCKM_ENVELOPE_BYTES;
        e = bckm_envelope_decode(raw, BCKM_ENVELOPE_BYTES, &env);
        int drive = e == BCKM_OK && drives(a, i);
        int foreign = drive && foreign_removal(bckm_state_registry(st), &env);
        if (e == BCKM_OK) e = bckm_contract_apply(st, &env, &a->kn->plan);
        /* A change BP a->bp's key manager has not handled yet (it lagged
         * behind the snapshot): handled from this execution. */
        if (e == BCKM_OK && drive)
            km_step(a->kn, a->bp, raw, &env, bckm_state_registry(st), foreign);
    }
    if (e != BCKM_OK) {
        bckm_state_free(st);
        return e;
    }
    bckm_state_free(a->st);
    a->st = st;
    check_state_drop(a);
    return BCKM_OK;
}

/* Snapshot: height || count || the envelopes since genesis; restoring
 * replays them on the genesis state (deterministic, verified by the
 * contract again). */
static int app_snapshot(void *self, uint8_t **out, size_t *out_len) {
    struct kapp *a = self;
    size_t len = 16 + a->log_n * BCKM_ENVELOPE_BYTES;
    uint8_t *b = malloc(len);
    if (b == NULL) return BCKM_ERR_NOMEM;
    bckm_put_u64(b, a->height);
    bckm_put_u64(b + 8, a->log_n);
    memcpy(b + 16, a->log, a->log_n * BCKM_ENVELOPE_BYTES);
    *out = b;
    *out_len = len;
    return BCKM_OK;
}

static int app_restore(void *self, const uint8_t *buf, size_t len) {
    struct kapp *a = self;
    if (buf == NULL || len < 16) return BCKM_ERR_TRUNCATED;
    uint64_t h = bckm_get_u64(buf), n = bckm_get_u64(buf + 8);
    if (n > (len - 16) / BCKM_ENVELOPE_BYTES || len - 16 != n * BCKM_ENVELOPE_BYTES)
        return BCKM_ERR_FORMAT;
    int e = replay(a, buf + 16, (size_t)n);
    if (e != BCKM_OK) return e;
    a->log_n = 0;
    for (uint64_t i = 0; i < n && e == BCKM_OK; i++)
        e = log_append(a, buf + 16 + i * BCKM_ENVELOPE_BYTES);
    if (e == BCKM_OK) a->height = h;
    return e;
}

static uint64_t app_height(void *self) { return ((struct kapp *)self)->height; }

static uint64_t app_tx_id(void *self, const uint8_t *tx, size_t len) {
    uint8_t h[8];
    (void)self;
    crypto_generichash(h, sizeof h, tx, len, NULL, 0);
    return bckm_get_u64(h);
}

static void app_destroy(void *self) {
    struct kapp *a = self;
    if (a == NULL) return;
    if (a->bp != 0 && a->kn->driver[a->bp] == a) a->kn->driver[a->bp] = NULL;
    bckm_state_free(a->st);
    bckm_state_free(a->check);
    free(a->pend);
    bckm_sim_sigcache_free(&a->verified);
    free(a->log);
    free(a);
}

static const bckm_sim_app_ops kapp_ops = { app_check,  app_verify,   app_begin,   app_deliver,
                                           app_commit, app_snapshot, app_restore, app_height,
                                           app_tx_id,  app_destroy };

bckm_sim_app bckm_keynet_app(struct bckm_keynet *kn, uint32_t bp) {
    bckm_sim_app out = { &kapp_ops, NULL };
    if (kn == NULL || bp > kn->p.bps) return out;
    struct kapp *a = calloc(1, sizeof *a);
    if (a == NULL) return out;
    a->kn = kn;
    a->bp = bp;
    if (bckm_sim_sigcache_init(&a->verified, KAPP_SIGCACHE) != BCKM_OK) {
        free(a);
        return out;
    }
    if (bckm_state_clone(kn->genesis, &a->st) != BCKM_OK) {
        bckm_sim_sigcache_free(&a->verified);
        free(a);
        return out;
    }
    out.self = a;
    if (bp != 0) kn->driver[bp] = a;
    return out;
}

const struct bckm_sets *bckm_keynet_registry(const bckm_sim_app *app) {
    return bckm_state_registry(self_of(app)->st);
}

const struct bckm_sets *keynet_check_registry(const bckm_sim_app *app) {
    struct bckm_state *cs = check_state(self_of(app));
    return cs == NULL ? NULL : bckm_state_registry(cs);
}

/* ---- devices ---------------------------------------------------------------- */

static int sampled(struct bckm_keynet *kn) {
    if (kn->p.devices == UINT32_MAX) return 1;
    if (kn->p.devices == 0 || kn->p.nodes == 0) return 0;
    return keynet_rnd(kn, kn->p.nodes) < kn->p.devices;
}

static struct bckm_device *device_of(const struct bckm_keynet *kn, uint32_t node) {
    return bckm_fleet_device(&kn->fleet, node);
}

/* ---- genesis ------------------------------------------------------------------ */

/* Under the cluster's seed: BP signing keys are drawn from the stream. */
static void sign_seed(void *ctx, uint32_t bp, struct bckm_drbg *rng, uint8_t seed[32]) {
    (void)ctx;
    (void)bp;
    bckm_drbg_fill(rng, seed, 32);
}

static int genesis_apply(void *ctx, uint32_t bp, const struct bckm_tx *tx, struct bckm_plan *plan) {
    return bckm_contract_genesis((struct bckm_state *)ctx, bp, tx, plan);
}

int bckm_keynet_new(struct bckm_keynet **out, const struct bckm_keynet_params *p) {
    if (out == NULL || p == NULL || p->bps == 0 || p->bps > BCKM_MAX_BPS) return BCKM_ERR_ARG;
    struct bckm_keynet *kn = calloc(1, sizeof *kn);
    if (kn == NULL) return BCKM_ERR_NOMEM;
    kn->p = *p;
    uint8_t seed[32] = { 0 };
    bckm_put_u64(seed, p->seed);
    seed[8] = 'K';
    bckm_drbg_init(&kn->rng, seed);
    seed[8] = 'A';
    bckm_drbg_init(&kn->adv, seed);
    bckm_u64set_init(&kn->forged_envs);
    for (uint32_t b = 1; b <= p->bps; b++) {
        kn->nevict += (kn->p.byz_keys[b] & BCKM_KEYNET_BYZ_EVICT) != 0;
        kn->nforge += (kn->p.byz_keys[b] & BCKM_KEYNET_BYZ_FORGE) != 0;
        kn->nreplay += (kn->p.byz_keys[b] & BCKM_KEYNET_BYZ_REPLAY) != 0;
    }
    bckm_map_init(&kn->leaving);
    bckm_plan_init(&kn->plan);
    bckm_msgs_init(&kn->msgs);
    int e = bckm_sim_sigcache_init(&kn->shared_verified, KAPP_SIGCACHE * 4);
    struct bckm_fleet_config fc = {
        p->bps,   p->policy, p->max_nodes > p->nodes ? p->max_nodes : p->nodes + 1,
        &kn->rng, sign_seed, NULL
    };
    if (e == BCKM_OK) e = bckm_fleet_init(&kn->fleet, &fc);
    if (e == BCKM_OK) kn->have_fleet = 1;
    if (e == BCKM_OK) e = bckm_state_new(&kn->genesis, p->policy, &kn->fleet.bps);
    /* The genesis network: n nodes provisioned directly, spread over the
     * BPs, a seeded sample of them simulated. */
    for (uint32_t i = 0; i < p->nodes && e == BCKM_OK; i++) {
        uint32_t b = 1 + i % p->bps;
        uint8_t kek[BCKM_KEY_BYTES];
        struct bckm_tx tx;
        e = bckm_fleet_genesis_node(&kn->fleet, b, bckm_state_registry(kn->genesis), &kn->rng,
                                    genesis_apply, kn->genesis, &kn->plan, &tx, kek);
        if (e == BCKM_OK) e = list_push(&kn->live[b], tx.node_id);
        if (e == BCKM_OK && sampled(kn)) e = bckm_fleet_add(&kn->fleet, tx.node_id, kek);
        bckm_wipe(kek, sizeof kek);
    }
    /* One bundle per simulated device: a large genesis never holds every
     * BP's bundles at once. */
    if (e == BCKM_OK) e = bckm_fleet_provision(&kn->fleet, bckm_state_registry(kn->genesis), 1);
    if (e != BCKM_OK) {
        bckm_keynet_free(kn);
        return e;
    }
    *out = kn;
    return BCKM_OK;
}

void bckm_keynet_free(struct bckm_keynet *kn) {
    if (kn == NULL) return;
    for (uint32_t b = 0; b <= BCKM_MAX_BPS; b++) {
        free(kn->done[b].s);
        free(kn->live[b].ids);
    }
    if (kn->have_fleet) bckm_fleet_free(&kn->fleet);
    bckm_state_free(kn->genesis);
    bckm_map_free(&kn->leaving);
    bckm_sim_sigcache_free(&kn->shared_verified);
    for (uint32_t k = 0; k < 64; k++) {
        if (kn->rec[k].msg != NULL) bckm_wipe(kn->rec[k].msg, kn->rec[k].len);
        free(kn->rec[k].msg);
    }
    bckm_u64set_free(&kn->forged_envs);
    bckm_plan_free(&kn->plan);
    bckm_msgs_free(&kn->msgs);
    free(kn);
}

/* ---- the request path ------------------------------------------------------------ */

int bckm_keynet_prepare(struct bckm_keynet *kn, const bckm_sim_app *view, uint32_t bp, uint8_t op,
                        struct bckm_envelope *env) {
    if (kn == NULL || view == NULL || env == NULL || bp == 0 || bp > kn->p.bps) return BCKM_ERR_ARG;
    const struct bckm_sets *reg = keynet_check_registry(view);
    if (reg == NULL) return BCKM_ERR_NOMEM;
    memset(env, 0, sizeof *env);
    int e;
    if (op == BCKM_OP_JOIN) {
        uint8_t kek[32];
        bckm_drbg_fill(&kn->rng, kek, 32);
        e = bckm_km_prepare_join(kn->fleet.km[bp], reg, kek, &env->tx);
        if (e == BCKM_OK && device_of(kn, env->tx.node_id) == NULL && sampled(kn))
            e = bckm_fleet_add(&kn->fleet, env->tx.node_id, kek);
        bckm_wipe(kek, sizeof kek);
    } else {
        struct nodelist *l = &kn->live[bp];
        uint32_t pick = 0;
        e = BCKM_ERR_UNKNOWN;
        for (uint32_t tries = 0; tries < 16 && l->n > 0; tries++) {
            pick = l->ids[keynet_rnd(kn, l->n)];
            uint32_t set, at;
            if (!bckm_map_get(&kn->leaving, pick, NULL) &&
                bckm_sets_node(reg, pick, &set, &at) == BCKM_OK) {
                e = BCKM_OK;
                break;
            }
        }
        if (e == BCKM_OK) e = bckm_km_prepare_leave(kn->fleet.km[bp], reg, pick, op, &env->tx);
        if (e == BCKM_OK) e = bckm_map_put(&kn->leaving, pick, 1);
    }
    return e;
}

int bckm_keynet_seal(struct bckm_keynet *kn, uint32_t bp, struct bckm_envelope *env,
                     uint8_t env_out[BCKM_ENVELOPE_BYTES]) {
    if (kn == NULL || env == NULL || env_out == NULL || bp == 0 || bp > kn->p.bps)
        return BCKM_ERR_ARG;
    env->version = BCKM_ENVELOPE_VERSION;
    env->bp = bp;
    env->seq = ++kn->next_seq[bp];
    int e = bckm_envelope_sign(env, kn->fleet.sign_sk[bp]);
    if (e == BCKM_OK) e = bckm_envelope_encode(env, env_out);
    return e;
}

int bckm_keynet_request(struct bckm_keynet *kn, const bckm_sim_app *view, uint32_t bp, uint8_t op,
                        uint8_t env_out[BCKM_ENVELOPE_BYTES]) {
    struct bckm_envelope env;
    int e = bckm_keynet_prepare(kn, view, bp, op, &env);
    if (e == BCKM_OK) e = bckm_keynet_seal(kn, bp, &env, env_out);
    return e;
}

void bckm_keynet_abandon(struct bckm_keynet *kn, uint32_t bp,
                         const uint8_t env_bytes[BCKM_ENVELOPE_BYTES]) {
    struct bckm_envelope env;
    if (bckm_envelope_decode(env_bytes, BCKM_ENVELOPE_BYTES, &env) != BCKM_OK) return;
    if (env.tx.op == BCKM_OP_JOIN)
        bckm_km_abort(kn->fleet.km[bp], env.tx.node_id);
    else
        (void)bckm_map_del(&kn->leaving, env.tx.node_id);
}

static uint64_t clock_ns(const struct bckm_keynet *kn) {
    return kn->p.clock_ns != NULL ? kn->p.clock_ns() : 0;
}

/* gcc -fanalyzer (GCC 12) reports the grown q->s as leaked: a false positive,
 * the pointer is stored in *q. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
static int step_push(struct steps *q, const uint8_t *raw, uint64_t ns) {
    if (q->head > 0 && q->head == q->n) q->head = q->n = 0;
    if (q->n == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 16;
        struct step *n = realloc(q->s, ncap * sizeof *n);
        if (n == NULL) return BCKM_ERR_NOMEM;
        q->s = n;
        q->cap = ncap;
    }
    BCKM_ASSERT(q->n < q->cap && q->head <= q->n, "room was made above");
    memcpy(q->s[q->n].env, raw, BCKM_ENVELOPE_BYTES);
    q->s[q->n].ns = ns;
    q->n++;
    return BCKM_OK;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/*
 * BP bp's key manager handles the change env (raw: its bytes) that its
 * replica just executed: reg is the registry after that one execution and
 * kn->plan what it did. foreign: the change removes a node its BP does not
 * serve. Then bp's devices get the messages, unless withheld.
 */
static void km_step(struct bckm_keynet *kn, uint32_t bp, const uint8_t *raw,
                    const struct bckm_envelope *env, const struct bckm_sets *reg, int foreign) {
    BCKM_ASSERT(bp >= 1 && bp <= kn->p.bps && kn->err[bp] == BCKM_OK,
                "only a working key manager steps");
    if (foreign) {
        kn->byz.evicts_executed++;
        keynet_byz_note(kn, "a node was evicted by a BP that does not serve it", env->tx.node_id,
                        env->bp);
    }
    uint64_t t0 = clock_ns(kn);
    bckm_msgs_clear(&kn->msgs);
    int e = bckm_km_commit(kn->fleet.km[bp], reg, env->bp, &env->tx, &kn->plan, &kn->msgs);
    if (e == BCKM_OK && bckm_id_bp(env->tx.node_id) == bp) {
        /* Bookkeeping of who the serving BP may pick for a leave. */
        if (env->tx.op == BCKM_OP_JOIN)
            e = list_push(&kn->live[bp], env->tx.node_id);
        else {
            list_remove(&kn->live[bp], env->tx.node_id);
            (void)bckm_map_del(&kn->leaving, env->tx.node_id);
        }
    }
    if (e == BCKM_OK) {
        kn->followed[bp]++;
        e = step_push(&kn->done[bp], raw, clock_ns(kn) - t0);
    }
    if (e != BCKM_OK) {
        kn->err[bp] = e;
        bckm_msgs_clear(&kn->msgs);
        return;
    }
    /* Devices apply their messages on their own CPUs, not the BP's. */
    uint64_t t1 = clock_ns(kn);
    if (kn->p.withhold_bp != bp) keynet_byz_release(kn, bp, reg);
    bckm_msgs_clear(&kn->msgs);
    kn->device_ns += clock_ns(kn) - t1;
}

int bckm_keynet_follow(struct bckm_keynet *kn, uint32_t bp, int *stepped,
                       uint8_t env_out[BCKM_ENVELOPE_BYTES], uint64_t *ns_out) {
    if (kn == NULL || stepped == NULL || bp == 0 || bp > kn->p.bps) return BCKM_ERR_ARG;
    struct steps *q = &kn->done[bp];
    *stepped = 0;
    BCKM_ASSERT(q->head <= q->n, "the reader never passes the writer");
    if (q->head < q->n) {
        const struct step *st = &q->s[q->head++];
        *stepped = 1;
        if (env_out != NULL) memcpy(env_out, st->env, BCKM_ENVELOPE_BYTES);
        if (ns_out != NULL) *ns_out = st->ns;
        return BCKM_OK;
    }
    return kn->err[bp];
}

int bckm_keynet_committed(struct bckm_keynet *kn, uint32_t bp) {
    int stepped = 1, e = BCKM_OK;
    while (stepped && e == BCKM_OK) e = bckm_keynet_follow(kn, bp, &stepped, NULL, NULL);
    return e;
}

uint64_t bckm_keynet_take_device_ns(struct bckm_keynet *kn) {
    if (kn == NULL) return 0;
    uint64_t ns = kn->device_ns;
    kn->device_ns = 0;
    return ns;
}

uint64_t bckm_keynet_take_charge_ns(struct bckm_keynet *kn) {
    if (kn == NULL) return 0;
    uint64_t ns = kn->charged_ns;
    kn->charged_ns = 0;
    return ns;
}

uint32_t bckm_keynet_pending(const struct bckm_keynet *kn, uint32_t bp, const bckm_sim_app *app) {
    if (kn == NULL || app == NULL || bp == 0 || bp > kn->p.bps) return 0;
    size_t n = self_of(app)->log_n, untaken = kn->done[bp].n - kn->done[bp].head;
    return (uint32_t)(untaken + (n > kn->followed[bp] ? n - kn->followed[bp] : 0));
}

uint32_t bckm_keynet_check_devices(struct bckm_keynet *kn, const bckm_sim_app *app,
                                   uint32_t pairs) {
    return bckm_keynet_check_devices_of(kn, app, pairs, NULL);
}

uint32_t bckm_keynet_check_devices_of(struct bckm_keynet *kn, const bckm_sim_app *app,
                                      uint32_t pairs, const uint8_t *bps) {
    struct bckm_fleet_check ck;
    if (bckm_fleet_check(&kn->fleet, bckm_keynet_registry(app), &kn->rng, pairs, bps, &ck) !=
        BCKM_OK)
        return 1;
    return ck.bad_devices + ck.disagree + (uint32_t)(kn->device_errors + kn->fleet.errors);
}

void bckm_keynet_keys_digest(const struct bckm_keynet *kn, uint8_t out[32]) {
    bckm_fleet_keys_digest(&kn->fleet, out);
}

void bckm_keynet_stats(const struct bckm_keynet *kn, struct bckm_keynet_stats *st) {
    memset(st, 0, sizeof *st);
    st->messages = kn->fleet.messages;
    st->message_bytes = kn->fleet.message_bytes;
    st->device_errors = kn->device_errors + kn->fleet.errors;
    st->devices = kn->fleet.ndevs;
    for (uint32_t b = 1; b <= kn->p.bps; b++) st->km_bytes[b] = bckm_km_bytes(kn->fleet.km[b]);
}

int bckm_keynet_km_seal(const struct bckm_keynet *kn, uint32_t bp, uint64_t height,
                        const uint8_t key[32], uint8_t **out, size_t *len) {
    if (kn == NULL || bp == 0 || bp > kn->p.bps || kn->fleet.km[bp] == NULL) return BCKM_ERR_ARG;
    return bckm_km_state_seal(kn->fleet.km[bp], height, key, out, len);
}

int bckm_keynet_km_restore(struct bckm_keynet *kn, uint32_t bp, uint64_t height,
                           const uint8_t key[32], const uint8_t *blob, size_t len) {
    static const uint8_t any_seed[32];
    if (kn == NULL || bp == 0 || bp > kn->p.bps || kn->fleet.km[bp] == NULL) return BCKM_ERR_ARG;
    struct bckm_km_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.bp_id = bp;
    cfg.policy = kn->p.policy;
    cfg.drbg_seed =
        any_seed; /* the fleet's key managers are reproducible; the state carries the generator */
    memcpy(cfg.sign_sk, kn->fleet.sign_sk[bp], sizeof cfg.sign_sk);
    struct bckm_km *km = NULL;
    uint8_t d_old[32] = { 0 }, d_new[32] = { 0 };
    int e = bckm_km_state_open(&cfg, height, key, blob, len, &km);
    bckm_wipe(&cfg, sizeof cfg);
    if (e == BCKM_OK) e = bckm_km_state_digest(km, d_new);
    if (e == BCKM_OK) e = bckm_km_state_digest(kn->fleet.km[bp], d_old);
    if (e == BCKM_OK && memcmp(d_old, d_new, 32) != 0) e = BCKM_ERR_MISMATCH;
    if (e != BCKM_OK) {
        bckm_km_free(km);
        return e;
    }
    bckm_km_free(kn->fleet.km[bp]);
    kn->fleet.km[bp] = km;
    return BCKM_OK;
}
