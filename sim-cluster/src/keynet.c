#include "sim/keynet.h"

#include "sim/fleet.h"

#include "bckm/assert.h"

#include "bckm/kdf.h"
#include "bckm/map.h"
#include "bckm/msg.h"
#include "bckm/rekey_auth.h"
#include "bckm/resync.h"
#include "sim/sigcache.h"
#include "sim/u64set.h"

#include <sodium.h>
#include <stdio.h>
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
    size_t block_from;     /* log_n when the block being executed began */
    bckm_sim_sigcache verified; /* envelopes whose signature this replica checked */
    uint64_t height;
    uint8_t *log;          /* every envelope applied since genesis, in order */
    size_t log_n, log_cap; /* in envelopes */
};

/* Envelopes a replica remembers as verified: several full mempools' worth. */
#define KAPP_SIGCACHE 8192u

struct step {
    uint8_t env[BCKM_ENVELOPE_BYTES];
    uint64_t ns;                      /* the key manager's CPU time, measured */
};

struct nodelist {
    uint32_t *ids;
    uint32_t n, cap;
};

struct bckm_keynet {
    struct bckm_keynet_params p;
    /* The BPs' key managers and keys, and the sampled device stores. */
    struct bckm_fleet fleet;
    int have_fleet;
    uint64_t next_seq[BCKM_MAX_BPS + 1];
    struct bckm_state *genesis;
    /* BP bp's key manager has handled the first followed[bp] changes of
     * the chain, each taken from the one execution of it by driver[bp] (its
     * newest replica): a replica restored by state transfer or replay hands
     * it exactly the changes it has not handled, in chain order. done[bp]
     * lists what it handled and the cluster has not yet taken; err[bp] is
     * its first failure (it then stops). */
    size_t followed[BCKM_MAX_BPS + 1];
    struct kapp *driver[BCKM_MAX_BPS + 1];
    struct steps { struct step *s; size_t head, n, cap; } done[BCKM_MAX_BPS + 1];
    int err[BCKM_MAX_BPS + 1];
    uint64_t device_ns;               /* CPU time of device work, measured */
    struct bckm_plan plan;
    struct bckm_msgs msgs;
    struct bckm_drbg rng;
    struct nodelist live[BCKM_MAX_BPS + 1]; /* current members served by each BP */
    struct bckm_map leaving;          /* node ID -> 1 while its leave is in flight */
    uint64_t device_errors;           /* besides the fleet's delivery refusals */
    /* Envelopes some replica verified: the simulator does the work once and
     * charges every other replica verify_charge_ns for it. */
    bckm_sim_sigcache shared_verified;
    uint64_t charged_ns;
    /* Key-layer Byzantine BPs: their own random stream (so an honest run's
     * draws are the same with or without them), the messages honest BPs
     * delivered (what a replayer recorded), the forged envelopes' IDs. */
    uint32_t nforge, nreplay, nevict;
    struct bckm_drbg adv;
    struct recorded { uint32_t node; uint64_t epoch; size_t len; uint8_t *msg; } rec[64];
    uint32_t rec_next;
    bckm_u64set forged_envs;
    struct bckm_keynet_byz_stats byz;
};

static uint32_t rnd(struct bckm_keynet *kn, uint32_t bound) {
    uint8_t b[4];
    bckm_drbg_fill(&kn->rng, b, 4);
    return bound ? bckm_get_u32(b) % bound : 0;
}

static uint32_t adv_rnd(struct bckm_keynet *kn, uint32_t bound) {
    uint8_t b[4];
    bckm_drbg_fill(&kn->adv, b, 4);
    return bound ? bckm_get_u32(b) % bound : 0;
}

static uint64_t env_id(const uint8_t *tx, size_t len) {
    uint8_t h[8];
    crypto_generichash(h, sizeof h, tx, len, NULL, 0);
    return bckm_get_u64(h);
}

static void byz_note(struct bckm_keynet *kn, const char *what, uint32_t node, uint32_t bp) {
    if (kn->byz.first[0] != '\0') return;
    snprintf(kn->byz.first, sizeof kn->byz.first, "%s (node %u, BP %u)", what, node, bp);
}

static int list_push(struct nodelist *l, uint32_t id) {
    if (l->n == l->cap) {
        uint32_t ncap = l->cap ? l->cap * 2 : 64;
        uint32_t *n = realloc(l->ids, (size_t)ncap * sizeof *n);
        if (n == NULL) return BCKM_ERR_NOMEM;
        l->ids = n; l->cap = ncap;
    }
    l->ids[l->n++] = id;
    return BCKM_OK;
}

static void list_remove(struct nodelist *l, uint32_t id) {
    for (uint32_t i = 0; i < l->n; i++)
        if (l->ids[i] == id) { l->ids[i] = l->ids[--l->n]; return; }
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
        if (n == NULL) { check_state_drop(a); return; }
        a->pend = n; a->pend_cap = ncap;
    }
    memcpy(a->pend + a->pend_n * BCKM_ENVELOPE_BYTES, tx, BCKM_ENVELOPE_BYTES);
    a->pend_n++;
}

/* Decodes and verifies the signature once per replica (sim/sigcache.h). */
static int decode_verified(struct kapp *a, const uint8_t *tx, size_t len, struct bckm_envelope *env) {
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
        check_state_drop(a);  /* not the expected order: start afresh */
    }
    struct bckm_state *cs = check_state(a);
    struct bckm_envelope env;
    int e = cs == NULL ? BCKM_ERR_NOMEM : decode_verified(a, tx, len, &env);
    /* Applying checks the rules first and changes nothing when they fail. */
    if (e == BCKM_OK) e = bckm_contract_apply_verified(cs, &env, &a->kn->plan);
    if (e == BCKM_OK) pend_push(a, tx);
    else if (a->kn->nevict && bckm_u64set_has(&a->kn->forged_envs, env_id(tx, len))) a->kn->byz.evicts_refused_check++;
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
        a->log = n; a->log_cap = ncap;
    }
    memcpy(a->log + a->log_n * BCKM_ENVELOPE_BYTES, tx, BCKM_ENVELOPE_BYTES);
    a->log_n++;
    return BCKM_OK;
}

static void km_step(struct bckm_keynet *kn, uint32_t bp, const uint8_t *raw, const struct bckm_envelope *env,
                    const struct bckm_sets *reg, int foreign);

/* 1 when the change about to be applied as the replica's index-th is the
 * next one BP a->bp's key manager needs from it. */
static int drives(const struct kapp *a, size_t index) {
    const struct bckm_keynet *kn = a->kn;
    return a->bp != 0 && kn->driver[a->bp] == a && kn->err[a->bp] == BCKM_OK && kn->followed[a->bp] == index;
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
    if (e == BCKM_OK && drive) km_step(a->kn, a->bp, tx, &env, bckm_state_registry(a->st), foreign);
    else if (e != BCKM_OK && a->kn->nevict && bckm_u64set_has(&a->kn->forged_envs, env_id(tx, len)))
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
        memcmp(a->log + a->block_from * BCKM_ENVELOPE_BYTES, a->pend, k * BCKM_ENVELOPE_BYTES) == 0) {
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
        if (e == BCKM_OK && drive) km_step(a->kn, a->bp, raw, &env, bckm_state_registry(st), foreign);
    }
    if (e != BCKM_OK) { bckm_state_free(st); return e; }
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
    if (n > (len - 16) / BCKM_ENVELOPE_BYTES || len - 16 != n * BCKM_ENVELOPE_BYTES) return BCKM_ERR_FORMAT;
    int e = replay(a, buf + 16, (size_t)n);
    if (e != BCKM_OK) return e;
    a->log_n = 0;
    for (uint64_t i = 0; i < n && e == BCKM_OK; i++) e = log_append(a, buf + 16 + i * BCKM_ENVELOPE_BYTES);
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

static const bckm_sim_app_ops kapp_ops = {
    app_check, app_verify, app_begin, app_deliver, app_commit,
    app_snapshot, app_restore, app_height, app_tx_id, app_destroy
};

bckm_sim_app bckm_keynet_app(struct bckm_keynet *kn, uint32_t bp) {
    bckm_sim_app out = { &kapp_ops, NULL };
    if (kn == NULL || bp > kn->p.bps) return out;
    struct kapp *a = calloc(1, sizeof *a);
    if (a == NULL) return out;
    a->kn = kn;
    a->bp = bp;
    if (bckm_sim_sigcache_init(&a->verified, KAPP_SIGCACHE) != BCKM_OK) { free(a); return out; }
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

/* The registry of the app's check state (committed plus admitted); NULL
 * when it cannot be built. */
static const struct bckm_sets *check_registry(const bckm_sim_app *app) {
    struct bckm_state *cs = check_state(self_of(app));
    return cs == NULL ? NULL : bckm_state_registry(cs);
}

/* ---- devices ---------------------------------------------------------------- */

static int sampled(struct bckm_keynet *kn) {
    if (kn->p.devices == UINT32_MAX) return 1;
    if (kn->p.devices == 0 || kn->p.nodes == 0) return 0;
    return rnd(kn, kn->p.nodes) < kn->p.devices;
}

static struct bckm_device *device_of(const struct bckm_keynet *kn, uint32_t node) {
    return bckm_fleet_device(&kn->fleet, node);
}

/* ---- key-layer Byzantine BPs ---------------------------------------------------- */

/* A random BP with behaviour `what`, other than `not`; 0 when none. */
static uint32_t pick_byz(struct bckm_keynet *kn, uint8_t what, uint32_t not) {
    uint32_t ids[BCKM_MAX_BPS], n = 0;
    for (uint32_t b = 1; b <= kn->p.bps; b++)
        if ((kn->p.byz_keys[b] & what) && b != not) ids[n++] = b;
    return n ? ids[adv_rnd(kn, n)] : 0;
}

/*
 * Hands an honest BP's device a message that BP did not produce for it at
 * this point (forged, or a replay of one it already applied) and counts
 * the outcome: any acceptance is a violation. signer: the Byzantine BP
 * whose key signed it (for the trust_byz test hook), 0 for a replay.
 */
static void attack_apply(struct bckm_keynet *kn, struct bckm_device *d, const uint8_t *msg, size_t len,
                         int replay, uint32_t signer) {
    uint8_t id = d->bp_id, pk[32];
    memcpy(pk, d->bp_pk, 32);
    if (kn->p.trust_byz && signer != 0) {
        d->bp_id = (uint8_t)signer;
        memcpy(d->bp_pk, kn->fleet.bps.pk[signer], 32);
    }
    int e = bckm_fleet_apply(&kn->fleet, d, msg, len);
    d->bp_id = id;
    memcpy(d->bp_pk, pk, 32);
    if (replay) {
        kn->byz.replayed++;
        if (e == BCKM_OK) {
            kn->byz.replays_accepted++;
            byz_note(kn, "an honest BP's device accepted a replayed rekey message", d->node_id, id);
        } else {
            kn->byz.replays_refused++;
        }
    } else {
        kn->byz.forged++;
        if (e == BCKM_OK) {
            kn->byz.forged_accepted++;
            byz_note(kn, "an honest BP's device accepted a forged rekey message", d->node_id, id);
        } else {
            kn->byz.forged_refused++;
        }
    }
}

/* Signs one sealed message (no trailer) as a one-message batch of BP b;
 * the complete message in *out (malloc'd). */
static int byz_sign(struct bckm_keynet *kn, uint32_t b, const uint8_t *sealed, size_t len, uint8_t **out,
                    size_t *out_len) {
    struct bckm_msgs m;
    bckm_msgs_init(&m);
    m.buf = malloc(len);
    m.refs = malloc(sizeof *m.refs);
    if (m.buf == NULL || m.refs == NULL) { bckm_msgs_free(&m); return BCKM_ERR_NOMEM; }
    memcpy(m.buf, sealed, len);
    m.len = m.cap = len;
    m.refs_cap = 1;
    m.n = 1;
    m.refs[0].kind = sealed[1];
    m.refs[0].kek_type = sealed[2];
    m.refs[0].recipient = bckm_get_u32(sealed + 4);
    m.refs[0].off = 0;
    m.refs[0].len = len;
    int e = bckm_rekey_batch_sign(&m, 0, b, kn->fleet.sign_sk[b]);
    if (e == BCKM_OK) {
        *out = malloc(m.refs[0].len);
        if (*out == NULL) e = BCKM_ERR_NOMEM;
        else { memcpy(*out, m.buf + m.refs[0].off, m.refs[0].len); *out_len = m.refs[0].len; }
    }
    bckm_msgs_free(&m);
    return e;
}

/*
 * The forger b builds, for device d of honest BP `bp`, a message of the
 * kind of `real` (the one bp is about to deliver to it) and hands it over
 * before the real one. One of:
 *  0  its own next-epoch message: real's body (opened with the set KEK b
 *     holds under global, else random bytes under a random key), under a
 *     set KEK with a refresh b chose, sealed with sender b, signed by b;
 *  1  the same with the header's sender rewritten to bp after signing;
 *  2  real with one byte of its trailer (index, path or signature) flipped;
 *  3  real with one byte of its ciphertext flipped, trailer kept;
 *  4  a bundle for the node at the next epoch, under a key b made up
 *     (it cannot know the node KEK), signed by b.
 */
static void forge_for(struct bckm_keynet *kn, struct bckm_device *d, uint32_t bp, const uint8_t *real, size_t len) {
    uint32_t b = pick_byz(kn, BCKM_KEYNET_BYZ_FORGE, bp);
    struct bckm_msg_header h;
    if (b == 0 || bckm_msg_header_decode(real, len, &h) != BCKM_OK) return;
    uint32_t v = adv_rnd(kn, 5);
    if (v == 2 || v == 3) {
        uint8_t *t = malloc(len);
        if (t == NULL) return;
        memcpy(t, real, len);
        size_t lo = v == 2 ? h.sealed_len : BCKM_MSG_HEADER_BYTES, hi = v == 2 ? len : h.sealed_len;
        t[lo + adv_rnd(kn, (uint32_t)(hi - lo))] ^= (uint8_t)(1u << adv_rnd(kn, 8));
        attack_apply(kn, d, t, len, 0, 0);
        free(t);
        return;
    }
    uint8_t key[32], body_fixed[107];
    const uint8_t *body = NULL;
    size_t body_len = 0;
    uint8_t *opened = NULL;
    bckm_drbg_fill(&kn->adv, key, 32);
    struct bckm_msg_header nh = h;
    nh.sender = (uint8_t)b;
    bckm_drbg_fill(&kn->adv, nh.nonce, sizeof nh.nonce);
    if (v == 4) {
        struct bckm_writer w;
        uint8_t rnd32[32];
        bckm_writer_init(&w, body_fixed, sizeof body_fixed);
        bckm_writer_u32(&w, d->node_id);
        bckm_writer_u32(&w, d->set_id);
        bckm_writer_u8(&w, 0);
        memset(rnd32, 0, 32);
        bckm_writer_bytes(&w, rnd32, 32);                         /* code (absent) */
        bckm_drbg_fill(&kn->adv, rnd32, 32); bckm_writer_bytes(&w, rnd32, 32); /* pair seed */
        bckm_drbg_fill(&kn->adv, rnd32, 32); bckm_writer_bytes(&w, rnd32, 32); /* set KEK */
        bckm_writer_u16(&w, 0);
        bckm_writer_u16(&w, 0);
        if (w.err) return;
        nh.kind = BCKM_MSG_BUNDLE;
        nh.kek_type = BCKM_KEK_NODE;
        nh.recipient = d->node_id;
        nh.epoch = d->epoch + 1;
        memset(nh.challenge, 0, sizeof nh.challenge);
        body = body_fixed;
        body_len = w.len;
    } else {
        opened = malloc(len);
        if (opened == NULL) return;
        memcpy(opened, real, len);
        struct bckm_msg_header oh;
        if (kn->p.policy == BCKM_POLICY_GLOBAL && h.kek_type == BCKM_KEK_SET &&
            bckm_msg_open(opened, h.sealed_len, d->set_kek, &oh) == BCKM_OK) {
            /* Under global b holds every set KEK: the device's copy is the
             * same value, the simulator reads it from there. */
            memcpy(key, d->set_kek, 32);
            uint8_t *bd = opened + BCKM_MSG_HEADER_BYTES;
            /* update: op 1 | subject 4 | has set refresh 1 | r_S 16 */
            if (h.kind == BCKM_MSG_UPDATE && h.body_len >= 22 && bd[5] == 1) bckm_drbg_fill(&kn->adv, bd + 6, 16);
        } else {
            bckm_drbg_fill(&kn->adv, opened + BCKM_MSG_HEADER_BYTES, h.body_len);
        }
        body = opened + BCKM_MSG_HEADER_BYTES;
        body_len = h.body_len;
    }
    size_t cap = BCKM_MSG_HEADER_BYTES + body_len + BCKM_MSG_TAG_BYTES, sl = 0, fl = 0;
    uint8_t *sealed = malloc(cap), *full = NULL;
    if (sealed != NULL && bckm_msg_seal(&nh, key, body, body_len, sealed, cap, &sl) == BCKM_OK &&
        byz_sign(kn, b, sealed, sl, &full, &fl) == BCKM_OK) {
        if (v == 1) full[3] = (uint8_t)bp;
        attack_apply(kn, d, full, fl, 0, v == 1 ? 0 : b);
    }
    bckm_wipe(key, sizeof key);
    if (opened != NULL) { bckm_wipe(opened, len); free(opened); }
    free(sealed);
    free(full);
}

/* Replays to d every recorded message for its node at an epoch it already
 * passed (at most two, newest first). */
static void replay_for(struct bckm_keynet *kn, struct bckm_device *d) {
    uint32_t done = 0;
    for (uint32_t k = 0; k < 64 && done < 2; k++) {
        struct recorded *r = &kn->rec[(kn->rec_next + 63 - k) % 64];
        if (r->msg == NULL || r->node != d->node_id || r->epoch > d->epoch) continue;
        attack_apply(kn, d, r->msg, r->len, 1, 0);
        done++;
    }
}

static void record(struct bckm_keynet *kn, uint32_t node, const uint8_t *msg, size_t len) {
    struct bckm_msg_header h;
    if (bckm_msg_header_decode(msg, len, &h) != BCKM_OK) return;
    struct recorded *r = &kn->rec[kn->rec_next];
    uint8_t *c = realloc(r->msg, len);
    if (c == NULL) return;
    memcpy(c, msg, len);
    r->msg = c; r->len = len; r->node = node; r->epoch = h.epoch;
    kn->rec_next = (kn->rec_next + 1) % 64;
}

/* Delivery to the simulated devices BP bp serves (a node is served by the
 * BP whose ID its node ID carries); who gets what is bckm_msgs_route's,
 * the copy-then-apply is the fleet's (sim/fleet.h). At an honest BP, the
 * key-layer Byzantine BPs get at the messages first: forgeries and replays
 * before the real ones, and one device (sleeper) misses them and resyncs
 * afterwards. At a forging BP, some of its own signed messages also go to
 * honest BPs' devices. */
struct delivery {
    struct bckm_keynet *kn;
    uint32_t bp;
    int attack;            /* bp is honest and some BP forges or replays */
    uint32_t budget;       /* forgeries and replays left in this batch */
    uint32_t sleeper;      /* node that misses this batch (0: none) */
    uint32_t stray;        /* a forging bp's messages left to send astray */
};

static struct bckm_device *honest_victim(struct bckm_keynet *kn, uint32_t not) {
    for (int tries = 0; tries < 8 && kn->fleet.ndevs > 0; tries++) {
        struct bckm_device *d = kn->fleet.devs[adv_rnd(kn, kn->fleet.ndevs)].dev;
        uint32_t b = bckm_id_bp(d->node_id);
        if (d->node_id != 0 && b != not && kn->p.byz_keys[b] == 0) return d;
    }
    return NULL;
}

/* The fleet's filter: sees every routed pair before the device does. fd is
 * the node's store when bp serves it. */
static int adversary_filter(void *ctx, uint32_t node, struct bckm_fleet_dev *fd, const uint8_t *msg, size_t len) {
    struct delivery *dl = ctx;
    struct bckm_keynet *kn = dl->kn;
    if (dl->stray > 0 && bckm_id_bp(node) == dl->bp && adv_rnd(kn, 4) == 0) {
        /* A forging BP's own message, signed by it, handed to a device of
         * another BP as is. */
        struct bckm_device *v = honest_victim(kn, dl->bp);
        if (v != NULL) { dl->stray--; attack_apply(kn, v, msg, len, 0, dl->bp); }
    }
    if (fd == NULL || node == dl->sleeper) return 0;
    struct bckm_device *d = fd->dev;
    if (dl->attack && dl->budget > 0 && d->node_id != 0 && adv_rnd(kn, 3) == 0) {
        dl->budget--;
        if (kn->nforge) forge_for(kn, d, dl->bp, msg, len);
        if (kn->nreplay) replay_for(kn, d);
    }
    if (dl->attack && kn->nreplay) record(kn, node, msg, len);
    return 1;
}

static void deliver_as(struct bckm_keynet *kn, struct delivery *dl, const struct bckm_sets *reg, struct bckm_msgs *m) {
    /* The fleet counts a routing failure with the refusals. */
    (void)bckm_fleet_deliver(&kn->fleet, dl->bp, reg, m, adversary_filter, dl);
}

/* One honest device of bp that is up to date with reg (before this batch)
 * and stays a member: it sleeps through the batch. 0 when none. */
static uint32_t pick_sleeper(struct bckm_keynet *kn, uint32_t bp, const struct bckm_sets *reg) {
    struct nodelist *l = &kn->live[bp];
    for (int tries = 0; tries < 4 && l->n > 0; tries++) {
        uint32_t u = l->ids[adv_rnd(kn, l->n)], set, at;
        struct bckm_device *d = device_of(kn, u);
        if (d != NULL && d->node_id == u && d->epoch + 1 == bckm_sets_epoch(reg) &&
            bckm_sets_node(reg, u, &set, &at) == BCKM_OK && at == bp && !bckm_map_get(&kn->leaving, u, NULL))
            return u;
    }
    return 0;
}

/* The sleeper wakes: it enters resync with a fresh challenge and sends its
 * resync request; a replayer first hands it the old messages it recorded;
 * then bp opens the request and answers with its catch-up. */
static void wake(struct bckm_keynet *kn, uint32_t bp, const struct bckm_sets *reg, uint32_t node) {
    struct bckm_device *d = device_of(kn, node);
    uint8_t ch[16], req[BCKM_RESYNC_REQUEST_BYTES], och[16];
    uint32_t on;
    uint64_t last;
    bckm_drbg_fill(&kn->adv, ch, sizeof ch);
    ch[0] |= 1;  /* never all zero */
    bckm_device_begin_resync(d, ch);
    kn->byz.resyncs++;
    replay_for(kn, d);
    struct bckm_msgs m;
    bckm_msgs_init(&m);
    int e = bckm_resync_request_make(d->kek, node, d->epoch, ch, req);
    if (e == BCKM_OK) e = bckm_km_open_resync(kn->fleet.km[bp], req, sizeof req, &on, &last, och);
    if (e == BCKM_OK) e = bckm_km_catch_up(kn->fleet.km[bp], reg, on, last, och, &m);
    if (e == BCKM_OK) {
        (void)bckm_fleet_deliver(&kn->fleet, bp, reg, &m, NULL, NULL);
    } else {
        kn->device_errors++;
    }
    bckm_msgs_free(&m);
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
    uint8_t seed[32] = {0};
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
    struct bckm_fleet_config fc = { p->bps, p->policy, p->max_nodes > p->nodes ? p->max_nodes : p->nodes + 1,
                                    &kn->rng, sign_seed, NULL };
    if (e == BCKM_OK) e = bckm_fleet_init(&kn->fleet, &fc);
    if (e == BCKM_OK) kn->have_fleet = 1;
    if (e == BCKM_OK) e = bckm_state_new(&kn->genesis, p->policy, &kn->fleet.bps);
    /* The genesis network: n nodes provisioned directly, spread over the
     * BPs, a seeded sample of them simulated. */
    for (uint32_t i = 0; i < p->nodes && e == BCKM_OK; i++) {
        uint32_t b = 1 + i % p->bps;
        uint8_t kek[BCKM_KEY_BYTES];
        struct bckm_tx tx;
        e = bckm_fleet_genesis_node(&kn->fleet, b, bckm_state_registry(kn->genesis), &kn->rng, genesis_apply,
                                    kn->genesis, &kn->plan, &tx, kek);
        if (e == BCKM_OK) e = list_push(&kn->live[b], tx.node_id);
        if (e == BCKM_OK && sampled(kn)) e = bckm_fleet_add(&kn->fleet, tx.node_id, kek);
        bckm_wipe(kek, sizeof kek);
    }
    /* One bundle per simulated device: a large genesis never holds every
     * BP's bundles at once. */
    if (e == BCKM_OK) e = bckm_fleet_provision(&kn->fleet, bckm_state_registry(kn->genesis), 1);
    if (e != BCKM_OK) { bckm_keynet_free(kn); return e; }
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
    const struct bckm_sets *reg = check_registry(view);
    if (reg == NULL) return BCKM_ERR_NOMEM;
    memset(env, 0, sizeof *env);
    int e;
    if (op == BCKM_OP_JOIN) {
        uint8_t kek[32];
        bckm_drbg_fill(&kn->rng, kek, 32);
        e = bckm_km_prepare_join(kn->fleet.km[bp], reg, kek, &env->tx);
        if (e == BCKM_OK && device_of(kn, env->tx.node_id) == NULL && sampled(kn)) e = bckm_fleet_add(&kn->fleet, env->tx.node_id, kek);
        bckm_wipe(kek, sizeof kek);
    } else {
        struct nodelist *l = &kn->live[bp];
        uint32_t pick = 0;
        e = BCKM_ERR_UNKNOWN;
        for (uint32_t tries = 0; tries < 16 && l->n > 0; tries++) {
            pick = l->ids[rnd(kn, l->n)];
            uint32_t set, at;
            if (!bckm_map_get(&kn->leaving, pick, NULL) && bckm_sets_node(reg, pick, &set, &at) == BCKM_OK) {
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
    if (kn == NULL || env == NULL || env_out == NULL || bp == 0 || bp > kn->p.bps) return BCKM_ERR_ARG;
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

void bckm_keynet_abandon(struct bckm_keynet *kn, uint32_t bp, const uint8_t env_bytes[BCKM_ENVELOPE_BYTES]) {
    struct bckm_envelope env;
    if (bckm_envelope_decode(env_bytes, BCKM_ENVELOPE_BYTES, &env) != BCKM_OK) return;
    if (env.tx.op == BCKM_OP_JOIN) bckm_km_abort(kn->fleet.km[bp], env.tx.node_id);
    else (void)bckm_map_del(&kn->leaving, env.tx.node_id);
}

static uint64_t clock_ns(const struct bckm_keynet *kn) { return kn->p.clock_ns != NULL ? kn->p.clock_ns() : 0; }

static int step_push(struct steps *q, const uint8_t *raw, uint64_t ns) {
    if (q->head > 0 && q->head == q->n) q->head = q->n = 0;
    if (q->n == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 16;
        struct step *n = realloc(q->s, ncap * sizeof *n);
        if (n == NULL) return BCKM_ERR_NOMEM;
        q->s = n;
        q->cap = ncap;
    }
    memcpy(q->s[q->n].env, raw, BCKM_ENVELOPE_BYTES);
    q->s[q->n].ns = ns;
    q->n++;
    return BCKM_OK;
}

/* BP bp's devices receive its key manager's messages for this change, reg
 * being the registry right after it. */
static void release(struct bckm_keynet *kn, uint32_t bp, const struct bckm_sets *reg) {
    struct delivery dl = { kn, bp, 0, 0, 0, 0 };
    if (kn->p.byz_keys[bp] == 0 && (kn->nforge || kn->nreplay)) {
        dl.attack = 1;
        dl.budget = 3;
        if (kn->nreplay && kn->msgs.n > 0 && adv_rnd(kn, 4) == 0) dl.sleeper = pick_sleeper(kn, bp, reg);
    } else if (kn->p.byz_keys[bp] & BCKM_KEYNET_BYZ_FORGE) {
        dl.stray = 2;
    }
    deliver_as(kn, &dl, reg, &kn->msgs);
    if (dl.sleeper != 0) wake(kn, bp, reg, dl.sleeper);
}

/*
 * BP bp's key manager handles the change env (raw: its bytes) that its
 * replica just executed: reg is the registry after that one execution and
 * kn->plan what it did. foreign: the change removes a node its BP does not
 * serve. Then bp's devices get the messages, unless withheld.
 */
static void km_step(struct bckm_keynet *kn, uint32_t bp, const uint8_t *raw, const struct bckm_envelope *env,
                    const struct bckm_sets *reg, int foreign) {
    BCKM_ASSERT(bp >= 1 && bp <= kn->p.bps && kn->err[bp] == BCKM_OK, "only a working key manager steps");
    if (foreign) {
        kn->byz.evicts_executed++;
        byz_note(kn, "a node was evicted by a BP that does not serve it", env->tx.node_id, env->bp);
    }
    uint64_t t0 = clock_ns(kn);
    bckm_msgs_clear(&kn->msgs);
    int e = bckm_km_commit(kn->fleet.km[bp], reg, env->bp, &env->tx, &kn->plan, &kn->msgs);
    if (e == BCKM_OK && bckm_id_bp(env->tx.node_id) == bp) {
        /* Bookkeeping of who the serving BP may pick for a leave. */
        if (env->tx.op == BCKM_OP_JOIN) e = list_push(&kn->live[bp], env->tx.node_id);
        else { list_remove(&kn->live[bp], env->tx.node_id); (void)bckm_map_del(&kn->leaving, env->tx.node_id); }
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
    if (kn->p.withhold_bp != bp) release(kn, bp, reg);
    bckm_msgs_clear(&kn->msgs);
    kn->device_ns += clock_ns(kn) - t1;
}

int bckm_keynet_follow(struct bckm_keynet *kn, uint32_t bp, int *stepped, uint8_t env_out[BCKM_ENVELOPE_BYTES],
                  uint64_t *ns_out) {
    if (kn == NULL || stepped == NULL || bp == 0 || bp > kn->p.bps) return BCKM_ERR_ARG;
    struct steps *q = &kn->done[bp];
    *stepped = 0;
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

int bckm_keynet_byz_evict(struct bckm_keynet *kn, const bckm_sim_app *view, uint32_t bp,
                     uint8_t env_out[BCKM_ENVELOPE_BYTES]) {
    if (kn == NULL || view == NULL || env_out == NULL || bp == 0 || bp > kn->p.bps ||
        !(kn->p.byz_keys[bp] & BCKM_KEYNET_BYZ_EVICT))
        return BCKM_ERR_ARG;
    const struct bckm_sets *reg = check_registry(view);
    if (reg == NULL) return BCKM_ERR_NOMEM;
    struct bckm_envelope env;
    memset(&env, 0, sizeof env);
    int e = BCKM_ERR_UNKNOWN;
    for (int tries = 0; tries < 8 && e != BCKM_OK; tries++) {
        uint32_t h = 1 + adv_rnd(kn, kn->p.bps), at;
        struct nodelist *l = &kn->live[h];
        if (h == bp || l->n == 0) continue;
        env.tx.node_id = l->ids[adv_rnd(kn, l->n)];
        if (bckm_sets_node(reg, env.tx.node_id, &env.tx.set_id, &at) == BCKM_OK && at != bp &&
            bckm_sets_code_hash(reg, env.tx.node_id, env.tx.code_hash) == BCKM_OK)
            e = BCKM_OK;
    }
    if (e != BCKM_OK) return e;
    /* Everything the contract can check is right but the originator. */
    env.tx.op = adv_rnd(kn, 2) ? BCKM_OP_EVICT : BCKM_OP_LEAVE;
    bckm_drbg_fill(&kn->adv, env.tx.refresh, sizeof env.tx.refresh);
    e = bckm_keynet_seal(kn, bp, &env, env_out);
    if (e == BCKM_OK && bckm_u64set_add(&kn->forged_envs, env_id(env_out, BCKM_ENVELOPE_BYTES)) < 0)
        e = BCKM_ERR_NOMEM;
    if (e == BCKM_OK) kn->byz.evicts++;
    return e;
}

void bckm_keynet_byz_stats(const struct bckm_keynet *kn, struct bckm_keynet_byz_stats *st) {
    *st = kn->byz;
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

uint32_t bckm_keynet_check_devices(struct bckm_keynet *kn, const bckm_sim_app *app, uint32_t pairs) {
    return bckm_keynet_check_devices_of(kn, app, pairs, NULL);
}

uint32_t bckm_keynet_check_devices_of(struct bckm_keynet *kn, const bckm_sim_app *app, uint32_t pairs,
                                 const uint8_t *bps) {
    struct bckm_fleet_check ck;
    if (bckm_fleet_check(&kn->fleet, bckm_keynet_registry(app), &kn->rng, pairs, bps, &ck) != BCKM_OK) return 1;
    return ck.bad_devices + ck.disagree + (uint32_t)(kn->device_errors + kn->fleet.errors);
}

void bckm_keynet_keys_digest(const struct bckm_keynet *kn, uint8_t out[32]) { bckm_fleet_keys_digest(&kn->fleet, out); }

void bckm_keynet_stats(const struct bckm_keynet *kn, struct bckm_keynet_stats *st) {
    memset(st, 0, sizeof *st);
    st->messages = kn->fleet.messages;
    st->message_bytes = kn->fleet.message_bytes;
    st->device_errors = kn->device_errors + kn->fleet.errors;
    st->devices = kn->fleet.ndevs;
    for (uint32_t b = 1; b <= kn->p.bps; b++) st->km_bytes[b] = bckm_km_bytes(kn->fleet.km[b]);
}
