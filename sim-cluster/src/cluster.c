#include "sim/cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bckm/common.h"
#include "bckm/map.h"
#include "sim/checker.h"
#include "sim/evq.h"
#include "sim/keynet.h"
#include "sim/kvapp.h"
#include "sim/ledger.h"
#include "sim/mempool.h"
#include "sim/pbft.h"
#include "sim/rng.h"

/* ---- model costs (virtual microseconds charged to a BP's CPU) ----------- */
#define COST_EVENT 2u       /* any handler: dispatch and bookkeeping */
#define COST_VERIFY 45u     /* one Ed25519 verification */
#define COST_SEND 8u        /* one message out (signing amortised, encoding) */
#define COST_CHECKTX 12u    /* CheckTx of one tx (decode, tag check, lookup) */
#define COST_CLIENT 30u     /* building and signing a client tx */
#define COST_BLOCK 20u      /* begin/commit of a block, ledger append */
#define COST_DELIVER 8u     /* one deliver_tx */
#define COST_SNAPSHOT 50u   /* a checkpoint snapshot */
/* the key-management app */
#define COST_KM_PREPARE 40u /* Layer 1: key manager prepares a join or leave */
#define COST_KM_COMMIT 60u  /* Layer 1: key manager's work for one committed change */
#define COST_SEAL 25u       /* envelope: sequence number, Ed25519 signature, encoding */

enum { NET_PBFT = 1, NET_TX = 2 };

typedef struct {
    int kind;
    uint32_t from, to;
    bckm_pbft_msg *pbft;
    uint8_t *tx;
    size_t len;
} net_msg;

enum {
    EV_NET = 1, EV_TICK, EV_CLIENT, EV_FAULT, EV_RESTART, EV_HEAL, EV_DEADLINE,
    EV_PLAN_START, EV_PLAN_END, EV_PHASE_END, EV_WAKE
};

typedef struct {
    uint64_t seq;
    uint8_t *buf;
    size_t len;
} snap_t;

/* An event that reached a busy BP and waits for its CPU. */
typedef struct {
    int kind;
    uint64_t arg;
    void *ptr;
} held_t;

typedef struct {
    int up;
    int byz;
    int live;                  /* replica and app exist */
    bckm_pbft_replica rep;
    bckm_sim_app app;
    bckm_sim_mempool mp;
    bckm_sim_ledger ledger;
    uint64_t stored_height;    /* lmdb: ledger height when the store was closed at a crash */
    bckm_pbft_durable durable;
    int has_durable;
    snap_t stable;             /* durable snapshot at the last stable checkpoint */
    snap_t pending[4];         /* snapshots of checkpoints not yet stable (volatile) */
    uint64_t busy_until;
    /* Events that arrived while the CPU was busy, in arrival order (a ring),
     * and whether an EV_WAKE is scheduled to serve the first of them. */
    held_t *held;
    size_t held_head, held_len, held_cap;
    int wake_pending;
    uint64_t last_commit_us;
    uint64_t last_regossip_us;
    int isolated;
    int side;
    uint64_t fetches_before;   /* fetch counts of replicas lost in crashes */
} bp_t;

typedef struct {
    uint32_t attempt;
    uint32_t bp;
    int fresh;
    uint8_t tx[BCKM_SIM_REQ_TX_MAX];
    size_t tx_len;
    uint32_t origin;           /* BP whose key manager prepared the tx (key app) */
    uint8_t op;                /* key app: join, leave or evict */
    uint64_t exec_mask;        /* BPs at which the current tx executed successfully */
    uint64_t arrive_us, admit_us;
    uint64_t commit_us;       /* first successful execution of its tx at any BP */
    uint64_t gen;              /* which deadline is current */
    int first_decided, first_accepted, counted_missed;
    int done, accepted_ever;
    uint64_t t_k_prep, t_k_commit, t_e, t_a;
    int commit_seen;           /* the origin's key manager handled the tx */
} req_t;

typedef struct {
    uint64_t view, seq;
    uint8_t a[32], b[32];
    bckm_pbft_msg *ppb;
    bckm_pbft_msg *votes_b[BCKM_SIM_MAX_BPS][2];
} equiv_t;

typedef struct {
    uint32_t from, to;
    net_msg *m;
} out_t;

struct cluster;

/*
 * The workload: what the cluster replicates and how clients make requests.
 * The consensus engine only sees the app (sim/app.h); these hooks are the
 * request path around it.
 */
typedef struct {
    const char *name;
    size_t tx_len;             /* a junk tx of this size (the invalid proposer) */
    int (*init)(struct cluster *c);
    bckm_sim_app (*new_app)(struct cluster *c);
    /* A fresh tx for request r at BP bp: fills q->tx, q->tx_len, q->origin. */
    int (*make_tx)(struct cluster *c, uint32_t bp, uint32_t r);
    /* After BP bp executed a block (or was restored): follow the chain. */
    void (*executed)(struct cluster *c, uint32_t bp);
    /* A tx of ours was rejected for good: release what it held. */
    void (*rejected)(struct cluster *c, const uint8_t *tx, size_t len);
    void (*finish)(struct cluster *c);
    void (*fini)(struct cluster *c);
} workload_ops;

typedef struct cluster {
    bckm_sim_params p;
    bckm_sim_result *res;
    uint32_t n, f;
    bp_t *bp;
    uint8_t pk[BCKM_SIM_MAX_BPS][32];
    uint8_t sk[BCKM_SIM_MAX_BPS][64];
    uint8_t client_key[32];
    bckm_sim_evq q;
    bckm_sim_rng net_rng, fault_rng, client_rng, adv_rng;
    bckm_sim_checker ck;
    crypto_generichash_state trace;
    int faults_on, partition_on;
    uint64_t fault_end;
    req_t *req;
    uint64_t done;
    bckm_u64set sig_memo;
    out_t *out;
    size_t nout, out_cap;
    uint64_t cost;
    uint32_t cur;
    equiv_t *eq;
    size_t neq, eq_cap;
    uint8_t honest[BCKM_SIM_MAX_BPS];
    int stop;
    uint64_t *samples[4];
    const workload_ops *wl;
    struct bckm_map txmap;      /* tx id -> request */
    uint64_t t0_ns, excl_ns;    /* measured mode: start of the handler, time not the BP's */
    /* measured mode: thread CPU time at the end of the last handler (or of
     * the last heavy work outside handlers), where the next handler starts
     * counting: one clock read per handler rather than two (reading the
     * thread's CPU clock is a system call, a sixth of a measured run). */
    uint64_t cpu_mark, cpu_last;
    uint64_t add_ns;            /* measured mode: work charged but not redone (memoised) */
    uint64_t verify_cal_ns;     /* measured mode: CPU time of one Ed25519 verification here */
    struct keynet *kn;
    /* Key-layer Byzantine BPs (KEYNET_BYZ_EVICT): the leave/evict each
     * forged last, proposed in its blocks; at most BYZ_EVICTS per BP. */
    bckm_sim_rng keyadv_rng;
    uint8_t byz_env[BCKM_SIM_MAX_BPS][BCKM_ENVELOPE_BYTES];
    uint32_t byz_env_n[BCKM_SIM_MAX_BPS];
    /* Latest arrival scheduled on each link: links are FIFO (as TCP is)
     * unless the reorder fault holds a message back. */
    uint64_t link_last[BCKM_SIM_MAX_BPS][BCKM_SIM_MAX_BPS];
} cluster_t;

static uint64_t cpu_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The CPU time of one Ed25519 verification on this machine: the median of
 * 15 timed runs of 8 (what a memoised verification is charged). */
static uint64_t verify_cost_ns(void) {
    uint8_t pk[32], sk[64], sig[64], msg[96] = { 0 };
    uint64_t t[15];
    crypto_sign_keypair(pk, sk);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
    for (int r = 0; r < 15; r++) {
        uint64_t t0 = cpu_now_ns();
        for (int k = 0; k < 8; k++)
            if (crypto_sign_verify_detached(sig, msg, sizeof msg, pk) != 0) abort();
        t[r] = (cpu_now_ns() - t0) / 8;
    }
    for (int i = 1; i < 15; i++)
        for (int j = i; j > 0 && t[j - 1] > t[j]; j--) { uint64_t x = t[j]; t[j] = t[j - 1]; t[j - 1] = x; }
    bckm_wipe(sk, sizeof sk);
    return t[7];
}

/* CPU time the current handler has used so far, in virtual microseconds. */
static uint64_t elapsed_us(cluster_t *c) {
    if (c->p.cost != BCKM_SIM_COST_MEASURED) return c->cost;
    c->add_ns += keynet_take_charge_ns(c->kn);
    c->cpu_last = cpu_now_ns();
    uint64_t ns = c->cpu_last - c->t0_ns;
    ns = (ns > c->excl_ns ? ns - c->excl_ns : 0) + c->add_ns;
    return (ns + 999) / 1000;
}

static void trace_u64s(cluster_t *c, uint64_t a, uint64_t b, uint64_t d, uint64_t e) {
    uint8_t buf[32];
    bckm_put_u64(buf, a);
    bckm_put_u64(buf + 8, b);
    bckm_put_u64(buf + 16, d);
    bckm_put_u64(buf + 24, e);
    crypto_generichash_update(&c->trace, buf, sizeof buf);
}

/* ---- ports given to the replicas ---------------------------------------- */

static int port_verify(void *ctx, const uint8_t pk[32], const uint8_t *m, size_t mlen,
                       const uint8_t sig[64]) {
    cluster_t *c = ctx;
    c->cost += COST_VERIFY;
    /* Verification is a pure function, so a result is memoised across BPs
     * (every PBFT message is verified by each of the p - 1 others, which
     * made it most of the simulator's own time). Each BP is still charged
     * for it: the model's fixed cost, or in the measured mode the CPU time
     * of a verification measured at the start of the run (timing each one
     * would cost a system call). Only valid signatures are memoised, so a
     * forged one is verified, and refused, every time. */
    uint64_t k = bckm_sim_accepted_key(pk, m, mlen, sig);
    if (bckm_u64set_has(&c->sig_memo, k)) {
        c->add_ns += c->verify_cal_ns;
        return 1;
    }
    if (crypto_sign_verify_detached(sig, m, mlen, pk) != 0) return 0;
    (void)bckm_u64set_add(&c->sig_memo, k);
    return 1;
}

static int port_validate(void *ctx, const bckm_sim_block *b) {
    cluster_t *c = ctx;
    bp_t *me = &c->bp[c->cur];
    if (b->ntx > c->p.block_max_txs) return 1;
    uint32_t off = 0;
    const uint8_t *tx;
    size_t len;
    int rc;
    while ((rc = bckm_sim_block_next_tx(b, &off, &tx, &len)) == 1) {
        c->cost += COST_CHECKTX;
        if (me->app.ops->verify_tx(me->app.self, tx, len) != BCKM_SIM_TX_OK) return 1;
    }
    return rc < 0;
}

/* ---- network ------------------------------------------------------------ */

static void net_free(net_msg *m) {
    if (m == NULL) return;
    bckm_pbft_msg_unref(m->pbft);
    free(m->tx);
    free(m);
}

static void queue_out(cluster_t *c, uint32_t from, uint32_t to, net_msg *m) {
    if (c->nout == c->out_cap) {
        size_t ncap = c->out_cap ? c->out_cap * 2 : 64;
        out_t *o = realloc(c->out, ncap * sizeof *o);
        if (o == NULL) abort();
        c->out = o;
        c->out_cap = ncap;
    }
    m->from = from;
    m->to = to;
    c->out[c->nout++] = (out_t){ from, to, m };
    c->cost += COST_SEND;
}

static void send_pbft_raw(cluster_t *c, uint32_t from, uint32_t to, bckm_pbft_msg *pm) {
    net_msg *m = calloc(1, sizeof *m);
    if (m == NULL) abort();
    m->kind = NET_PBFT;
    m->pbft = pm; /* takes the reference */
    queue_out(c, from, to, m);
}

static int separated(const cluster_t *c, uint32_t a, uint32_t b) {
    if (c->bp[a].isolated || c->bp[b].isolated) return 1;
    return c->partition_on && c->bp[a].side != c->bp[b].side;
}

/* Sends what the last handler produced, leaving at `depart`. */
static void flush_out(cluster_t *c, uint64_t depart) {
    const bckm_sim_profile *pr = c->p.profile;
    for (size_t i = 0; i < c->nout; i++) {
        net_msg *m = c->out[i].m;
        uint32_t from = c->out[i].from, to = c->out[i].to;
        c->res->messages++;
        if (from == to || separated(c, from, to) ||
            (c->faults_on && bckm_sim_rng_chance(&c->net_rng, c->p.faults.loss.num, c->p.faults.loss.den))) {
            c->res->dropped++;
            net_free(m);
            continue;
        }
        int copies = 1;
        if (c->faults_on && bckm_sim_rng_chance(&c->net_rng, c->p.faults.dup.num, c->p.faults.dup.den))
            copies = 2;
        for (int k = 0; k < copies; k++) {
            net_msg *mm = m;
            if (k == 1) {
                mm = calloc(1, sizeof *mm);
                if (mm == NULL) abort();
                *mm = *m;
                mm->pbft = bckm_pbft_msg_ref(m->pbft);
                if (m->tx) {
                    mm->tx = malloc(m->len);
                    if (mm->tx == NULL) abort();
                    memcpy(mm->tx, m->tx, m->len);
                }
            }
            uint64_t at = depart + pr->one_way_us + bckm_sim_rng_below(&c->net_rng, pr->jitter_us + 1);
            if (c->faults_on &&
                bckm_sim_rng_chance(&c->net_rng, c->p.faults.reorder.num, c->p.faults.reorder.den)) {
                at += bckm_sim_rng_below(&c->net_rng, pr->reorder_max_us + 1);
            } else {
                /* Jitter alone never lets a message overtake an earlier one
                 * on the same link (a BP's transactions then reach the others
                 * in the order of their sequence numbers). */
                if (at < c->link_last[from][to]) at = c->link_last[from][to];
                c->link_last[from][to] = at;
            }
            if (bckm_sim_evq_push(&c->q, at, EV_NET, to, 0, mm) != BCKM_OK) abort();
        }
    }
    c->nout = 0;
}

/* ---- adversary ------------------------------------------------------------ */

static int honest_group(const cluster_t *c, uint32_t j) {
    /* Honest BPs alternate between the two sides of an equivocation. */
    uint32_t k = 0;
    for (uint32_t i = 0; i < j; i++)
        if (!c->bp[i].byz) k++;
    return c->bp[j].byz ? 0 : (int)(k % 2);
}

static equiv_t *equiv_find(cluster_t *c, uint64_t view, uint64_t seq) {
    for (size_t i = 0; i < c->neq; i++)
        if (c->eq[i].view == view && c->eq[i].seq == seq) return &c->eq[i];
    return NULL;
}

static equiv_t *equiv_start(cluster_t *c, const bckm_pbft_msg *pp) {
    if (c->neq == c->eq_cap) {
        size_t ncap = c->eq_cap ? c->eq_cap * 2 : 16;
        equiv_t *e = realloc(c->eq, ncap * sizeof *e);
        if (e == NULL) abort();
        c->eq = e;
        c->eq_cap = ncap;
    }
    equiv_t *e = &c->eq[c->neq++];
    memset(e, 0, sizeof *e);
    e->view = pp->view;
    e->seq = pp->seq;
    memcpy(e->a, pp->digest, 32);
    /* The twin block differs only in a field every replica hashes. */
    bckm_pbft_msg *b = bckm_pbft_msg_new(BCKM_PBFT_PREPREPARE, pp->from);
    b->view = pp->view;
    b->seq = pp->seq;
    b->block = bckm_sim_block_dup(pp->block);
    if (b->block == NULL) abort();
    b->block->proposer ^= 0x80000000u;
    bckm_sim_block_digest(b->block, b->digest);
    bckm_pbft_msg_sign(b, c->sk[pp->from]);
    memcpy(e->b, b->digest, 32);
    e->ppb = b;
    return e;
}

static void send_from_byz(cluster_t *c, uint32_t from, uint32_t to, bckm_pbft_msg *m) {
    int kind = c->p.byz_kind[from];
    if (kind == BCKM_BYZ_SILENT) {
        bckm_pbft_msg_unref(m);
        return;
    }
    if (kind == BCKM_BYZ_FORGE && m->type >= BCKM_PBFT_PREPARE && m->type <= BCKM_PBFT_CHECKPOINT &&
        bckm_sim_rng_chance(&c->adv_rng, 1, 2)) {
        /* Claim to be another BP, or alter what was signed. */
        bckm_pbft_msg *x = bckm_pbft_msg_new(m->type, m->from);
        x->view = m->view;
        x->seq = m->seq;
        memcpy(x->digest, m->digest, 32);
        memcpy(x->sig, m->sig, BCKM_SIM_SIG_BYTES);
        if (bckm_sim_rng_chance(&c->adv_rng, 1, 2))
            x->from = (uint32_t)((from + 1 + bckm_sim_rng_below(&c->adv_rng, c->n - 1)) % c->n);
        else
            x->digest[bckm_sim_rng_below(&c->adv_rng, 32)] ^= 1;
        x->hint = m->hint + bckm_sim_rng_below(&c->adv_rng, 4);
        send_pbft_raw(c, from, to, x);
    }
    if (kind == BCKM_BYZ_FORGE && m->type == BCKM_PBFT_BLOCKS && m->nblocks > 0 &&
        bckm_sim_rng_chance(&c->adv_rng, 1, 2)) {
        /* State transfer from a liar: a certificate signature is altered,
         * which the fetching replica must notice. */
        m->certs[0]->sig[0][bckm_sim_rng_below(&c->adv_rng, 64)] ^= 0x10;
    }
    if (kind == BCKM_BYZ_EQUIVOCATE && !c->bp[to].byz && honest_group(c, to) == 1) {
        equiv_t *e = NULL;
        if (m->type == BCKM_PBFT_PREPREPARE && m->from == from && m->block != NULL) {
            e = equiv_find(c, m->view, m->seq);
            if (e == NULL) e = equiv_start(c, m);
            if (memcmp(e->a, m->digest, 32) == 0) {
                bckm_pbft_msg_unref(m);
                send_pbft_raw(c, from, to, bckm_pbft_msg_ref(e->ppb));
                return;
            }
        } else if ((m->type == BCKM_PBFT_PREPARE || m->type == BCKM_PBFT_COMMIT) &&
                   (e = equiv_find(c, m->view, m->seq)) != NULL && memcmp(e->a, m->digest, 32) == 0) {
            int t = m->type == BCKM_PBFT_COMMIT;
            if (e->votes_b[from][t] == NULL) {
                bckm_pbft_msg *x = bckm_pbft_msg_new(m->type, from);
                x->view = m->view;
                x->seq = m->seq;
                memcpy(x->digest, e->b, 32);
                bckm_pbft_msg_sign(x, c->sk[from]);
                e->votes_b[from][t] = x;
            }
            e->votes_b[from][t]->hint = m->hint;
            bckm_pbft_msg_unref(m);
            send_pbft_raw(c, from, to, bckm_pbft_msg_ref(e->votes_b[from][t]));
            return;
        }
    }
    send_pbft_raw(c, from, to, m);
}

static void send_pbft(cluster_t *c, uint32_t from, uint32_t to, bckm_pbft_msg *m) {
    if (c->bp[from].byz) send_from_byz(c, from, to, m);
    else send_pbft_raw(c, from, to, m);
}

/* ---- execution and clients ---------------------------------------------- */

static void req_retry_fresh(cluster_t *c, uint32_t r, uint32_t bp, uint64_t when) {
    req_t *q = &c->req[r];
    if (q->done || q->attempt >= 250) return;
    q->attempt++;
    q->fresh = 1;
    q->gen++;
    c->res->retries++;
    if (bckm_sim_evq_push(&c->q, when, EV_CLIENT, bp, r, NULL) != BCKM_OK) abort();
}

static void req_done(cluster_t *c, uint32_t r, uint32_t bp, uint64_t height, uint64_t now) {
    req_t *q = &c->req[r];
    if (q->done) return;
    q->done = 1;
    c->done++;
    q->t_a = now > q->admit_us ? now - q->admit_us : 0;
    if (c->p.mode == BCKM_SIM_COMMIT && c->honest[bp] && height > 0)
        bckm_sim_checker_reply(&c->ck, bp, q->tx, q->tx_len, height);
}

static void snap_free(snap_t *s) {
    free(s->buf);
    memset(s, 0, sizeof *s);
}

static void execute(cluster_t *c, uint32_t i, bckm_sim_block *b, bckm_sim_cert *cert, uint64_t now) {
    bp_t *me = &c->bp[i];
    bckm_sim_app *app = &me->app;
    uint8_t *results = calloc(b->ntx ? b->ntx : 1, 1);
    if (results == NULL) abort();
    app->ops->begin_block(app->self, b->height);
    uint32_t off = 0, k = 0;
    const uint8_t *tx;
    size_t len;
    while (bckm_sim_block_next_tx(b, &off, &tx, &len) == 1) {
        int rc = app->ops->deliver_tx(app->self, tx, len);
        results[k++] = (uint8_t)(rc < 0 ? 255 : (rc > 254 ? 254 : rc));
        c->cost += COST_DELIVER;
    }
    uint8_t state[32], digest[32];
    app->ops->commit(app->self, state);
    bckm_sim_block_digest(b, digest);
    c->cost += COST_BLOCK;
    uint64_t height = b->height;
    int le = bckm_sim_ledger_append(&me->ledger, b, cert, digest, state, results, now);
    free(cert);
    if (le != BCKM_OK) {
        /* The store refused the entry (disk full, I/O error): the run
         * cannot go on with a BP that lost a committed block. */
        if (c->res->outcome == BCKM_SIM_OK) {
            c->res->outcome = BCKM_SIM_SAFETY;
            snprintf(c->res->violation, sizeof c->res->violation, "BP %u: ledger store refused height %" PRIu64 ": %s",
                     i, height, bckm_strerror(le));
        }
        return;
    }
    me->last_commit_us = now;
    trace_u64s(c, 0xC0 + i, b->height, bckm_get_u64(digest), bckm_get_u64(state));
    bckm_sim_mempool_update(&me->mp, app, b);
    /* The key managers follow what this BP committed. */
    c->wl->executed(c, i);
    /* Replies to the clients waiting at this BP. */
    off = 0;
    k = 0;
    while (bckm_sim_block_next_tx(b, &off, &tx, &len) == 1) {
        uint64_t id = app->ops->tx_id(app->self, tx, len);
        uint32_t r;
        if (bckm_map_get(&c->txmap, id, &r) && r < c->p.requests) {
            req_t *q = &c->req[r];
            if (len == q->tx_len && memcmp(q->tx, tx, len) == 0) {
                int mine = results[k] == BCKM_SIM_TX_OK;
                if (mine) {
                    q->exec_mask |= 1ull << i;
                    if (now > c->res->last_commit_us) c->res->last_commit_us = now;
                    if (q->commit_us == 0) q->commit_us = now;
                }
                if (!q->done && q->bp == i) {
                    if (mine) req_done(c, r, i, b->height, now);
                    else if (!(q->exec_mask >> i & 1)) {
                        /* Rejected on the agreed chain: it can never commit. */
                        c->res->exec_rejected++;
                        c->wl->rejected(c, q->tx, q->tx_len);
                        req_retry_fresh(c, r, i, now + c->p.profile->tick_us);
                    }
                }
            }
        }
        k++;
    }
    if (c->p.checkpoint_interval && b->height % c->p.checkpoint_interval == 0) {
        snap_t *s = &me->pending[(b->height / c->p.checkpoint_interval) % 4];
        snap_free(s);
        if (app->ops->snapshot(app->self, &s->buf, &s->len) == BCKM_OK) s->seq = b->height;
        c->cost += COST_SNAPSHOT;
    }
    bckm_pbft_executed(&me->rep, b->height, state);
}

static void fetch_reply(cluster_t *c, uint32_t i, uint32_t to, uint64_t from_h) {
    bp_t *me = &c->bp[i];
    bckm_pbft_msg *m = bckm_pbft_msg_new(BCKM_PBFT_BLOCKS, i);
    for (uint64_t h = from_h; h <= bckm_sim_ledger_height(&me->ledger) && m->nblocks < BCKM_PBFT_FETCH_MAX; h++) {
        const bckm_sim_entry *e = bckm_sim_ledger_get(&me->ledger, h);
        m->blocks[m->nblocks] = bckm_sim_block_dup(e->block);
        m->certs[m->nblocks] = malloc(sizeof(bckm_sim_cert));
        if (m->blocks[m->nblocks] == NULL || m->certs[m->nblocks] == NULL) abort();
        *m->certs[m->nblocks] = e->cert;
        m->nblocks++;
    }
    m->hint = bckm_sim_ledger_height(&me->ledger);
    send_pbft(c, i, to, m);
}

static void drain(cluster_t *c, uint32_t i, uint64_t now) {
    bp_t *me = &c->bp[i];
    bckm_pbft_action a;
    while (bckm_pbft_pop(&me->rep, &a)) {
        switch (a.kind) {
        case BCKM_PBFT_ACT_SEND:
            send_pbft(c, i, a.to, a.msg);
            break;
        case BCKM_PBFT_ACT_BROADCAST:
            for (uint32_t j = 0; j < c->n; j++)
                if (j != i) send_pbft(c, i, j, bckm_pbft_msg_ref(a.msg));
            bckm_pbft_msg_unref(a.msg);
            break;
        case BCKM_PBFT_ACT_COMMIT:
            execute(c, i, a.block, a.cert, now);
            break;
        case BCKM_PBFT_ACT_FETCH_REPLY:
            fetch_reply(c, i, a.to, a.seq);
            break;
        case BCKM_PBFT_ACT_STABLE: {
            snap_t *s = &me->pending[(a.seq / (c->p.checkpoint_interval ? c->p.checkpoint_interval : 1)) % 4];
            if (s->seq == a.seq && s->buf != NULL) {
                /* The stable checkpoint's snapshot becomes the durable one;
                 * the older one (and the log below it) is dropped. */
                snap_free(&me->stable);
                me->stable = *s;
                memset(s, 0, sizeof *s);
            }
            break;
        }
        default:
            break;
        }
    }
}

#define BYZ_EVICTS 8u

/* A key-layer Byzantine BP with KEYNET_BYZ_EVICT, now and then, signs a
 * leave or evict of a node another BP serves and hands it to every honest
 * BP's CheckTx (gossip); it also puts it in the blocks it proposes, so the
 * contract's execution check is tried as well (maybe_propose). */
static void byz_evict(cluster_t *c, uint32_t i, uint64_t now) {
    if (c->p.app != BCKM_SIM_APP_KEYS || !(c->p.byz_keys[i] & KEYNET_BYZ_EVICT) ||
        c->byz_env_n[i] >= BYZ_EVICTS || !bckm_sim_rng_chance(&c->keyadv_rng, 1, 8))
        return;
    if (keynet_byz_evict(c->kn, &c->bp[i].app, i + 1, c->byz_env[i]) != BCKM_OK) return;
    c->byz_env_n[i]++;
    /* A BP's own request: it may propose it like any other. */
    bckm_sim_checker_submitted(&c->ck, c->byz_env[i], BCKM_ENVELOPE_BYTES);
    for (uint32_t j = 0; j < c->n; j++)
        if (j != i && c->honest[j] && c->bp[j].up && c->bp[j].live)
            (void)bckm_sim_mempool_add(&c->bp[j].mp, &c->bp[j].app, c->byz_env[i], BCKM_ENVELOPE_BYTES, now);
}

static void maybe_propose(cluster_t *c, uint32_t i, uint64_t now) {
    bp_t *me = &c->bp[i];
    int kind = c->p.byz_kind[i];
    if (me->up && me->live) byz_evict(c, i, now);
    if (!me->up || kind == BCKM_BYZ_SILENT || me->mp.len == 0) return;
    uint64_t h;
    uint8_t prev[32];
    if (!bckm_pbft_can_propose(&me->rep, &h, prev)) return;
    /* A censor's blocks are empty, so "full" never applies to them: it
     * proposes at the block interval (spamming faster gains it nothing). */
    if ((me->mp.len < c->p.block_max_txs || kind == BCKM_BYZ_CENSOR) &&
        now - me->last_commit_us < c->p.profile->block_interval_us)
        return;
    bckm_sim_block b = { h, { 0 }, i, 0, 0, NULL };
    memcpy(b.prev, prev, 32);
    if (kind == BCKM_BYZ_INVALID) {
        /* A tx nobody submitted: its client tag cannot verify. */
        uint8_t junk[BCKM_SIM_REQ_TX_MAX];
        for (size_t k = 0; k < c->wl->tx_len; k++) junk[k] = (uint8_t)bckm_sim_rng_next(&c->adv_rng);
        bckm_put_u32(junk + 8, 0);
        (void)bckm_sim_block_add_tx(&b, junk, c->wl->tx_len);
        (void)bckm_sim_mempool_reap(&me->mp, c->p.block_max_txs - 1, &b);
    } else if (c->byz_env_n[i] > 0 && c->p.block_max_txs > 1) {
        /* Its forged leave/evict first, past its own CheckTx. */
        (void)bckm_sim_block_add_tx(&b, c->byz_env[i], BCKM_ENVELOPE_BYTES);
        if (kind != BCKM_BYZ_CENSOR) (void)bckm_sim_mempool_reap(&me->mp, c->p.block_max_txs - 1, &b);
    } else if (kind != BCKM_BYZ_CENSOR) {
        (void)bckm_sim_mempool_reap(&me->mp, c->p.block_max_txs, &b);
    }
    (void)bckm_pbft_propose(&me->rep, &b, now);
    free(b.data);
    drain(c, i, now);
}

static void gossip_tx(cluster_t *c, uint32_t i, const uint8_t *tx, size_t len) {
    if (c->p.byz_kind[i] == BCKM_BYZ_SILENT) return;
    for (uint32_t j = 0; j < c->n; j++) {
        if (j == i) continue;
        net_msg *m = calloc(1, sizeof *m);
        if (m == NULL) abort();
        m->kind = NET_TX;
        m->tx = malloc(len);
        if (m->tx == NULL) abort();
        memcpy(m->tx, tx, len);
        m->len = len;
        queue_out(c, i, j, m);
    }
}

static void schedule_deadline(cluster_t *c, uint32_t r, uint64_t now) {
    req_t *q = &c->req[r];
    q->gen++;
    /* arg = generation << 32 | request: only the latest deadline counts. */
    if (bckm_sim_evq_push(&c->q, now + c->p.profile->deadline_us, EV_DEADLINE, q->bp,
                          (q->gen << 32) | r, NULL) != BCKM_OK)
        abort();
}

static void on_client(cluster_t *c, uint32_t bp, uint32_t r, uint64_t now) {
    req_t *q = &c->req[r];
    bp_t *me = &c->bp[bp];
    q->bp = bp;
    if (c->res->first_arrival_us == 0 || now < c->res->first_arrival_us) c->res->first_arrival_us = now;
    if (c->p.byz_kind[bp] == BCKM_BYZ_SILENT) {
        /* Swallowed: the client only learns at its deadline. */
        if (q->arrive_us == 0) q->arrive_us = now;
        schedule_deadline(c, r, now);
        return;
    }
    if (q->arrive_us == 0) q->arrive_us = now;
    if (q->fresh) {
        if (c->wl->make_tx(c, bp, r) != BCKM_OK) {
            /* The BP could not build a request (its key manager is out of
             * room or of members to remove): the client tries later. */
            c->res->keynet_failures++;
            req_retry_fresh(c, r, (bp + 1) % c->n, now + c->p.profile->tick_us * 2);
            return;
        }
        q->exec_mask = 0;
        q->commit_seen = 0;
        q->t_k_commit = 0;
        if (bckm_map_put(&c->txmap, me->app.ops->tx_id(me->app.self, q->tx, q->tx_len), r) != BCKM_OK) abort();
        bckm_sim_checker_submitted(&c->ck, q->tx, q->tx_len);
        q->fresh = 0;
    }
    c->cost += COST_CHECKTX;
    int rc = bckm_sim_mempool_add(&me->mp, &me->app, q->tx, q->tx_len, now);
    int accepted = rc == BCKM_SIM_TX_OK || rc == BCKM_MP_SEEN;
    if (!q->first_decided) {
        q->first_decided = 1;
        q->first_accepted = rc == BCKM_SIM_TX_OK;
        if (q->first_accepted) c->res->sync_accepted++;
    }
    if (!accepted && ((c->p.app == BCKM_SIM_APP_KV && rc == BCKM_KV_REJ_DUPLICATE) || (q->exec_mask >> bp & 1))) {
        /* Already executed: the earlier submission committed. */
        req_done(c, r, bp, 0, now);
        return;
    }
    if (accepted) {
        if (!q->accepted_ever) {
            q->accepted_ever = 1;
            q->admit_us = now + elapsed_us(c);
            /* T_e: from arrival to admission, less the Layer 1 part. */
            uint64_t e = q->admit_us - q->arrive_us;
            q->t_e = e > q->t_k_prep ? e - q->t_k_prep : 0;
        }
        /* A client coming back with a pooled tx means it is not getting
         * through: gossip it again. */
        gossip_tx(c, bp, q->tx, q->tx_len);
        schedule_deadline(c, r, now);
        maybe_propose(c, bp, now);
    } else if (rc == BCKM_MP_FULL) {
        /* Not the tx's fault: the same tx, later, at the next BP. */
        c->res->check_rejected++;
        c->res->retries++;
        q->gen++;
        uint64_t wait = c->p.profile->deadline_us / 8;
        if (bckm_sim_evq_push(&c->q, now + wait, EV_CLIENT, (bp + 1) % c->n, r, NULL) != BCKM_OK) abort();
    } else if (c->p.app == BCKM_SIM_APP_KEYS && q->origin != bp && q->origin < c->n) {
        /* Only the BP that prepared it knows a refusal is final (another
         * BP may just lag behind the state it was prepared against): the
         * client takes it back there. */
        c->res->check_rejected++;
        c->res->retries++;
        q->gen++;
        if (bckm_sim_evq_push(&c->q, now + c->p.profile->tick_us * 2, EV_CLIENT, q->origin, r, NULL) != BCKM_OK)
            abort();
    } else {
        /* Final for this client: it takes a fresh request. But the refused
         * envelope may still sit in other BPs' mempools (gossiped while it
         * was valid here) and commit on the chain before whatever made it
         * invalid in this BP's check state; so the key manager keeps its
         * pending join (the joiner's KEK and code) rather than abandoning
         * it, or such a joiner would be on the chain with no keys. Only a
         * rejection on the agreed chain abandons it (execute). */
        c->res->check_rejected++;
        req_retry_fresh(c, r, bp, now + c->p.profile->tick_us * 2);
    }
}

/* ---- workloads ------------------------------------------------------------ */

static void fail(cluster_t *c, const char *msg, uint32_t bp, int e) {
    if (c->res->outcome != BCKM_SIM_OK) return;
    c->res->outcome = BCKM_SIM_SAFETY;
    snprintf(c->res->violation, sizeof c->res->violation, "%s (BP %u: %s)", msg, bp, bckm_strerror(e));
}

/* The test key-value store: a client reads the key's version at the BP it
 * talks to, then writes (sim/kvapp.h). */
static int kv_init(cluster_t *c) { (void)c; return BCKM_OK; }
static bckm_sim_app kv_new_app(cluster_t *c) { return bckm_kv_new(c->p.keys, c->client_key); }

static int kv_make_tx(cluster_t *c, uint32_t bp, uint32_t r) {
    req_t *q = &c->req[r];
    uint32_t key = (uint32_t)bckm_sim_rng_below(&c->client_rng, c->p.keys);
    uint64_t id = ((uint64_t)(r + 1) << 8) | (q->attempt & 0xFF);
    bckm_kv_make_tx(q->tx, c->client_key, id, key, bckm_kv_version(&c->bp[bp].app, key),
                    bckm_sim_rng_next(&c->client_rng));
    q->tx_len = BCKM_KV_TX_BYTES;
    q->origin = UINT32_MAX;
    c->cost += COST_CLIENT;
    return BCKM_OK;
}

static void kv_executed(cluster_t *c, uint32_t bp) { (void)c; (void)bp; }
static void kv_rejected(cluster_t *c, const uint8_t *tx, size_t len) { (void)c; (void)tx; (void)len; }
static void kv_finish(cluster_t *c) { (void)c; }
static void kv_fini(cluster_t *c) { (void)c; }

static const workload_ops kv_workload = {
    "kv", BCKM_KV_TX_BYTES, kv_init, kv_new_app, kv_make_tx, kv_executed, kv_rejected, kv_finish, kv_fini
};

/* The key-management contract (sim/keynet.h). Cluster BP i is keynet BP
 * i + 1 (BP IDs start at 1 in node IDs). */
static int keys_init(cluster_t *c) {
    struct keynet_params kp;
    memset(&kp, 0, sizeof kp);
    kp.bps = c->n;
    kp.nodes = c->p.nodes;
    kp.policy = c->p.policy == BCKM_POLICY_GLOBAL ? BCKM_POLICY_GLOBAL : BCKM_POLICY_OWNED;
    kp.seed = bckm_sim_seed_derive(c->p.seed, "keynet");
    kp.devices = c->p.devices;
    /* Fresh retries of joins take new IDs: leave room for them. */
    kp.max_nodes = c->p.nodes + 2 * c->p.requests + 64;
    kp.verify_charge_ns = c->verify_cal_ns;
    for (uint32_t i = 0; i < c->n; i++) kp.byz_keys[i + 1] = c->p.byz_keys[i] & KEYNET_BYZ_ALL;
    kp.trust_byz = c->p.byz_keys_trust;
    return keynet_new(&c->kn, &kp);
}

static bckm_sim_app keys_new_app(cluster_t *c) { return keynet_app(c->kn); }

static uint64_t took_us(const cluster_t *c, uint64_t t0, uint64_t model) {
    return c->p.cost == BCKM_SIM_COST_MEASURED ? (cpu_now_ns() - t0 + 999) / 1000 : model;
}

static int keys_make_tx(cluster_t *c, uint32_t bp, uint32_t r) {
    req_t *q = &c->req[r];
    bp_t *me = &c->bp[bp];
    int measured = c->p.cost == BCKM_SIM_COST_MEASURED;
    uint32_t roll = (uint32_t)bckm_sim_rng_below(&c->client_rng, 100);
    uint8_t op = roll < c->p.join_pct ? BCKM_OP_JOIN
               : roll < c->p.join_pct + c->p.leave_pct ? BCKM_OP_LEAVE : BCKM_OP_EVICT;
    struct bckm_envelope env;
    /* Layer 1 (T_k): the key manager prepares against the BP's committed
     * state. A leave or evict with no member to remove at this BP is a join. */
    uint64_t t0 = measured ? cpu_now_ns() : 0;
    int e = keynet_prepare(c->kn, &me->app, bp + 1, op, &env);
    if (e == BCKM_ERR_UNKNOWN && op != BCKM_OP_JOIN) {
        op = BCKM_OP_JOIN;
        e = keynet_prepare(c->kn, &me->app, bp + 1, op, &env);
    }
    uint64_t prep = took_us(c, t0, COST_KM_PREPARE);
    c->cost += COST_KM_PREPARE;
    if (e != BCKM_OK) return e;
    /* Transaction generation (part of T_e): sequence number and signature. */
    e = keynet_seal(c->kn, bp + 1, &env, q->tx);
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
    struct keynet_byz_stats st;
    keynet_byz_stats(c->kn, &st);
    c->res->byz_forged = st.forged;
    c->res->byz_forged_refused = st.forged_refused;
    c->res->byz_replayed = st.replayed;
    c->res->byz_replays_refused = st.replays_refused;
    c->res->byz_resyncs = st.resyncs;
    c->res->byz_evicts = st.evicts;
    c->res->byz_evicts_refused_check = st.evicts_refused_check;
    c->res->byz_evicts_refused_exec = st.evicts_refused_exec;
    c->res->byz_accepted = st.forged_accepted + st.replays_accepted + st.evicts_executed;
    if ((st.forged_accepted || st.replays_accepted || st.evicts_executed) && c->res->outcome == BCKM_SIM_OK) {
        c->res->outcome = BCKM_SIM_SAFETY;
        snprintf(c->res->violation, sizeof c->res->violation, "%s", st.first);
    }
}

static void keys_executed(cluster_t *c, uint32_t i) {
    bp_t *me = &c->bp[i];
    int measured = c->p.cost == BCKM_SIM_COST_MEASURED;
    /* Each step's work runs from the end of the previous step's release (its
     * bookkeeping below, a decode and a lookup, counts with the next). */
    uint64_t mark = measured ? cpu_now_ns() : 0;
    for (;;) {
        uint8_t raw[BCKM_ENVELOPE_BYTES];
        int stepped = 0;
        int e = keynet_follow(c->kn, i + 1, &me->app, &stepped, raw);
        if (e != BCKM_OK) {
            c->res->keynet_failures++;
            fail(c, "key manager cannot follow the committed chain", i, e);
            return;
        }
        if (!stepped) { keys_byz_check(c); return; }
        uint64_t t1 = measured ? cpu_now_ns() : 0;
        uint64_t work = measured ? (t1 - mark + 999) / 1000 : COST_KM_COMMIT;
        c->cost += COST_KM_COMMIT;
        /* Devices apply their messages on their own CPUs, not the BP's. */
        if (c->p.withhold_rekeys != i + 1) keynet_release(c->kn, i + 1);
        if (measured) {
            mark = cpu_now_ns();
            c->excl_ns += mark - t1;
        }
        /* The commit work for a request at the BP that prepared it is the
         * rest of that request's Layer 1 time. */
        struct bckm_envelope env;
        uint32_t r;
        if (bckm_envelope_decode(raw, sizeof raw, &env) != BCKM_OK || env.bp != i + 1) continue;
        if (!bckm_map_get(&c->txmap, me->app.ops->tx_id(me->app.self, raw, sizeof raw), &r) || r >= c->p.requests)
            continue;
        req_t *q = &c->req[r];
        if (q->tx_len == sizeof raw && memcmp(q->tx, raw, sizeof raw) == 0 && !q->commit_seen) {
            q->commit_seen = 1;
            q->t_k_commit = work;
        }
    }
}

static void keys_rejected(cluster_t *c, const uint8_t *tx, size_t len) {
    struct bckm_envelope env;
    if (len != BCKM_ENVELOPE_BYTES || bckm_envelope_decode(tx, len, &env) != BCKM_OK) return;
    keynet_abandon(c->kn, env.bp, tx);
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
    struct keynet_stats st;
    keynet_stats(c->kn, &st);
    keynet_keys_digest(c->kn, c->res->keys_hash);
    keys_byz_check(c);
    c->res->devices = st.devices;
    c->res->rekey_messages = st.messages;
    c->res->rekey_bytes = st.message_bytes;
    if (ref == UINT32_MAX || c->res->outcome != BCKM_SIM_OK) return;
    const bckm_sim_app *app = &c->bp[ref].app;
    c->res->members = bckm_sets_nodes(keynet_registry(app));
    uint32_t bad = keynet_check_devices_of(c->kn, app, 256, mask);
    c->res->device_violations = bad;
    if (bad != 0) {
        c->res->outcome = BCKM_SIM_SAFETY;
        snprintf(c->res->violation, sizeof c->res->violation,
                 "devices: %u violations (epoch, key count or pairwise keys disagree)", bad);
    }
}

static void keys_fini(cluster_t *c) {
    keynet_free(c->kn);
    c->kn = NULL;
}

static const workload_ops keys_workload = {
    "keys", BCKM_ENVELOPE_BYTES, keys_init, keys_new_app, keys_make_tx, keys_executed, keys_rejected,
    keys_finish, keys_fini
};

/* ---- crash and restart -------------------------------------------------- */

static void bp_start(cluster_t *c, uint32_t i, uint64_t now, int restart);

/* BP i's LMDB store: ledger_dir/bp-<i>. */
static int ledger_path(const cluster_t *c, uint32_t i, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/bp-%u", c->p.ledger_dir, i);
    return n < 0 || (size_t)n >= cap ? BCKM_ERR_ARG : BCKM_OK;
}

/* Reopens a crashed BP's store and reads its ledger back. A store that is
 * damaged, or holds less than the BP had committed before the crash, stops
 * the run: the design assumes durable storage, so this is not a fault it
 * tolerates. */
static int ledger_reopen(cluster_t *c, uint32_t i) {
    bp_t *me = &c->bp[i];
    char path[4096], err[320];
    int e = ledger_path(c, i, path, sizeof path);
    if (e == BCKM_OK) e = bckm_sim_ledger_open(&me->ledger, path, c->n, 0, err, sizeof err);
    else snprintf(err, sizeof err, "ledger directory name too long");
    if (e == BCKM_OK && bckm_sim_ledger_height(&me->ledger) < me->stored_height) {
        snprintf(err, sizeof err, "ledger store %.120s: holds %" PRIu64 " entries, %" PRIu64 " were committed",
                 path, bckm_sim_ledger_height(&me->ledger), me->stored_height);
        bckm_sim_ledger_free(&me->ledger);
        e = BCKM_ERR_CORRUPT;
    }
    if (e != BCKM_OK && c->res->outcome == BCKM_SIM_OK) {
        c->res->outcome = BCKM_SIM_SAFETY;
        snprintf(c->res->violation, sizeof c->res->violation, "BP %u restart: %.200s", i, err);
    }
    return e;
}

static void bp_handle(cluster_t *c, const bckm_sim_event *ev);
static held_t unhold(bp_t *me);

static void bp_crash(cluster_t *c, uint32_t i, uint64_t now) {
    bp_t *me = &c->bp[i];
    if (!me->up) return;
    me->up = 0;
    /* What waited for the CPU dies with the process: each waiting event is
     * what it would be at a down BP (a message dropped, a client refused). */
    while (me->held_len > 0) {
        held_t h = unhold(me);
        bckm_sim_event e = { now, 0, h.kind, i, h.arg, h.ptr };
        bp_handle(c, &e);
    }
    c->res->crashes++;
    if (me->has_durable) bckm_pbft_durable_free(&me->durable);
    if (bckm_pbft_durable_copy(&me->durable, &me->rep.d) != BCKM_OK) abort();
    me->has_durable = 1;
    me->fetches_before += me->rep.fetches;
    c->res->view_changes += me->rep.view_changes;
    bckm_pbft_free(&me->rep);
    me->app.ops->destroy(me->app.self);
    me->app.self = NULL;
    bckm_sim_mempool_free(&me->mp);
    for (int k = 0; k < 4; k++) snap_free(&me->pending[k]);
    /* With a store the process loses its memory: what comes back at the
     * restart is what the store holds. */
    if (c->p.ledger == BCKM_SIM_LEDGER_LMDB) {
        me->stored_height = bckm_sim_ledger_height(&me->ledger);
        bckm_sim_ledger_close(&me->ledger);
    }
    me->live = 0;
}

static void bp_restart(cluster_t *c, uint32_t i, uint64_t now) {
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
static void bp_start(cluster_t *c, uint32_t i, uint64_t now, int restart) {
    bp_t *me = &c->bp[i];
    int measured = c->p.cost == BCKM_SIM_COST_MEASURED;
    uint64_t saved_cost = c->cost, saved_excl = c->excl_ns, saved_add = c->add_ns, saved_t0 = c->t0_ns;
    c->cost = 0;
    c->excl_ns = 0;
    c->add_ns = 0;
    c->t0_ns = measured ? cpu_now_ns() : 0;
    if (c->p.ledger == BCKM_SIM_LEDGER_LMDB && me->ledger.store == NULL && ledger_reopen(c, i) != BCKM_OK) {
        c->cost = saved_cost;
        c->excl_ns = saved_excl;
        c->add_ns = saved_add;
        c->t0_ns = saved_t0;
        return;
    }
    me->app = c->wl->new_app(c);
    if (me->app.self == NULL) abort();
    uint64_t from = 0;
    if (me->stable.buf != NULL) {
        c->cost += COST_SNAPSHOT;
        if (me->app.ops->restore(me->app.self, me->stable.buf, me->stable.len) == BCKM_OK)
            from = me->stable.seq;
        else if (c->res->outcome == BCKM_SIM_OK) {
            /* The durable snapshot was written by this BP: failing to read
             * it back is corruption, not a fault the design tolerates. */
            c->res->outcome = BCKM_SIM_SAFETY;
            snprintf(c->res->violation, sizeof c->res->violation, "BP %u: snapshot does not restore", i);
        }
    }
    c->res->bp_restored_from[i] = from;
    /* Replay the durable ledger above the snapshot; every state hash must
     * come out as recorded. */
    for (uint64_t h = from + 1; h <= bckm_sim_ledger_height(&me->ledger); h++) {
        const bckm_sim_entry *e = bckm_sim_ledger_get(&me->ledger, h);
        me->app.ops->begin_block(me->app.self, h);
        uint32_t off = 0;
        const uint8_t *tx;
        size_t len;
        while (bckm_sim_block_next_tx(e->block, &off, &tx, &len) == 1) {
            (void)me->app.ops->deliver_tx(me->app.self, tx, len);
            c->cost += COST_DELIVER;
        }
        uint8_t st[32];
        me->app.ops->commit(me->app.self, st);
        c->cost += COST_BLOCK;
        if (memcmp(st, e->state_hash, 32) != 0 && c->res->outcome == BCKM_SIM_OK) {
            c->res->outcome = BCKM_SIM_SAFETY;
            snprintf(c->res->violation, sizeof c->res->violation,
                     "BP %u: replay after restart diverges at height %" PRIu64, i, h);
        }
    }
    /* The key manager (which survived the crash) catches up with the
     * replayed chain. */
    c->wl->executed(c, i);
    uint64_t cost = restart ? elapsed_us(c) : 0;
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
    cfg.verify = port_verify;
    cfg.validate = port_validate;
    cfg.ctx = c;
    uint64_t h = bckm_sim_ledger_height(&me->ledger);
    const bckm_sim_entry *top = bckm_sim_ledger_get(&me->ledger, h);
    c->cur = i;
    if (bckm_pbft_init(&me->rep, &cfg, h, top ? top->digest : NULL, top ? &top->cert : NULL,
                       me->has_durable ? &me->durable : NULL, now) != BCKM_OK)
        abort();
    bckm_wipe(cfg.sk, sizeof cfg.sk);
    me->live = 1;
    me->up = 1;
    me->busy_until = now + cost;
    c->res->bp_cpu_us += cost;
    c->res->restart_cpu_us += cost;
    me->last_commit_us = top ? now : 0;
}

/* ---- the loop ------------------------------------------------------------ */

static int bp_event(int kind) { return kind == EV_NET || kind == EV_TICK || kind == EV_CLIENT; }

/* One event on BP i's CPU, which is free (or the BP is down). */
static void bp_handle(cluster_t *c, const bckm_sim_event *ev) {
    uint64_t now = ev->time_us;
    uint32_t i = ev->target;
    {
        bp_t *me = &c->bp[i];
        if (!me->up) {
            if (ev->kind == EV_NET) net_free(ev->ptr);
            if (ev->kind == EV_TICK &&
                bckm_sim_evq_push(&c->q, now + c->p.profile->tick_us, EV_TICK, i, 0, NULL) != BCKM_OK)
                abort();
            if (ev->kind == EV_CLIENT) {
                /* Connection refused: the client tries the next BP at once. */
                uint32_t nb = (i + 1) % c->n;
                if (bckm_sim_evq_push(&c->q, now + c->p.profile->one_way_us * 2, EV_CLIENT, nb, ev->arg, NULL) != BCKM_OK)
                    abort();
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
                drain(c, i, now);
            } else {
                c->cost += COST_CHECKTX;
                (void)bckm_sim_mempool_add(&me->mp, &me->app, m->tx, m->len, now);
            }
            net_free(m);
            maybe_propose(c, i, now);
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
            drain(c, i, now);
            maybe_propose(c, i, now);
            c->cost = 1;
            if (bckm_sim_evq_push(&c->q, now + c->p.profile->tick_us, EV_TICK, i, 0, NULL) != BCKM_OK) abort();
            break;
        }
        case EV_CLIENT:
            on_client(c, i, (uint32_t)ev->arg, now);
            break;
        default:
            break;
        }
        uint64_t cost = elapsed_us(c);
        c->cpu_mark = c->cpu_last;
        me->busy_until = now + cost;
        c->res->bp_cpu_us += cost;
        flush_out(c, now + cost);
    }
}

static void schedule_wake(cluster_t *c, uint32_t i, uint64_t now) {
    bp_t *me = &c->bp[i];
    if (me->wake_pending) return;
    uint64_t at = me->busy_until > now ? me->busy_until : now;
    if (bckm_sim_evq_push(&c->q, at, EV_WAKE, i, 0, NULL) != BCKM_OK) abort();
    me->wake_pending = 1;
}

/* An event for a busy BP waits in that BP's own FIFO queue, and a single
 * EV_WAKE at the end of the busy period serves the first of them. (Putting
 * every waiting event back into the global queue at busy_until, as a busy
 * BP's whole backlog would be, costs a pop and a push per waiting event per
 * handled event: quadratic in the backlog of a saturated BP.) */
static void hold(cluster_t *c, uint32_t i, const bckm_sim_event *ev, uint64_t now) {
    bp_t *me = &c->bp[i];
    if (me->held_len == me->held_cap) {
        size_t ncap = me->held_cap ? me->held_cap * 2 : 64;
        held_t *h = malloc(ncap * sizeof *h);
        if (h == NULL) abort();
        for (size_t k = 0; k < me->held_len; k++) h[k] = me->held[(me->held_head + k) % me->held_cap];
        free(me->held);
        me->held = h;
        me->held_cap = ncap;
        me->held_head = 0;
    }
    me->held[(me->held_head + me->held_len) % me->held_cap] = (held_t){ ev->kind, ev->arg, ev->ptr };
    me->held_len++;
    schedule_wake(c, i, now);
}

static held_t unhold(bp_t *me) {
    held_t h = me->held[me->held_head];
    me->held_head = (me->held_head + 1) % me->held_cap;
    me->held_len--;
    return h;
}

/* BP i's CPU became free: run the first waiting event. A BP that went down
 * meanwhile gets each waiting event the way a down BP gets any event. */
static void wake(cluster_t *c, uint32_t i, uint64_t now) {
    bp_t *me = &c->bp[i];
    me->wake_pending = 0;
    while (me->held_len > 0) {
        if (me->up && me->busy_until > now) {
            schedule_wake(c, i, now);
            return;
        }
        int was_up = me->up;
        held_t h = unhold(me);
        bckm_sim_event e = { now, 0, h.kind, i, h.arg, h.ptr };
        bp_handle(c, &e);
        if (was_up) {
            if (me->held_len > 0) schedule_wake(c, i, now);
            return;
        }
    }
}

static void handle(cluster_t *c, const bckm_sim_event *ev) {
    uint64_t now = ev->time_us;
    uint32_t i = ev->target;
    trace_u64s(c, now, (uint64_t)ev->kind, i, ev->arg);
    if (ev->kind == EV_WAKE) {
        wake(c, i, now);
        return;
    }
    if (bp_event(ev->kind)) {
        bp_t *me = &c->bp[i];
        /* The BP's CPU is busy, or others wait before this event. */
        if (me->up && (me->busy_until > now || me->held_len > 0)) hold(c, i, ev, now);
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

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void timing_of(uint64_t *v, size_t n, bckm_sim_timing *t) {
    memset(t, 0, sizeof *t);
    if (n == 0) return;
    qsort(v, n, sizeof *v, cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)v[i];
    t->mean_us = sum / (double)n;
    t->p50_us = v[(n - 1) / 2];
    t->p99_us = v[(n * 99 + 99) / 100 - 1 < n ? (n * 99 + 99) / 100 - 1 : n - 1];
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

void bckm_sim_params_default(bckm_sim_params *p) {
    memset(p, 0, sizeof *p);
    p->bps = 4;
    p->seed = 1;
    p->profile = bckm_sim_profile_find("lan");
    p->faults.byz_count = -1;
    p->requests = 50;
    p->request_gap_us = 2000;
    p->mode = BCKM_SIM_COMMIT;
    p->cost = BCKM_SIM_COST_MODEL;
    p->mempool_cap = 256;
    p->block_max_txs = 16;
    p->checkpoint_interval = 4;
    p->keys = 16;
    p->fault_us = 0;
    p->liveness_us = 20000000;
    p->app = BCKM_SIM_APP_KV;
    p->nodes = 0;
    p->policy = BCKM_POLICY_OWNED;
    p->devices = BCKM_SIM_DEVICES_ALL;
    p->join_pct = 50;
    p->leave_pct = 25;
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
        int e = ledger_path(c, i, path, sizeof path);
        if (e != BCKM_OK) {
            snprintf(c->res->violation, sizeof c->res->violation, "ledger directory name too long");
            return e;
        }
        e = bckm_sim_ledger_open(&c->bp[i].ledger, path, c->n, 1, c->res->violation, sizeof c->res->violation);
        if (e != BCKM_OK) return e;
    }
    return BCKM_OK;
}

/* The committed transactions at the first honest BP, in order (see
 * bckm_sim_result.tx_hash): the same for every block format. */
static void tx_digest(const cluster_t *c, uint8_t out[32]) {
    crypto_generichash_state h;
    crypto_generichash_init(&h, (const uint8_t *)"bckm-sim-txs", 12, 32);
    for (uint32_t i = 0; i < c->n; i++) {
        if (!c->honest[i]) continue;
        const bckm_sim_ledger *l = &c->bp[i].ledger;
        for (uint64_t ht = 1; ht <= bckm_sim_ledger_height(l); ht++) {
            const bckm_sim_block *b = bckm_sim_ledger_get(l, ht)->block;
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
        }
        break;
    }
    crypto_generichash_final(&h, out, 32);
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
    c->wl = c->p.app == BCKM_SIM_APP_KEYS ? &keys_workload : &kv_workload;
    if (c->p.cost == BCKM_SIM_COST_MEASURED) c->verify_cal_ns = verify_cost_ns();
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
    bckm_sim_app ref = c->wl->new_app(c);
    if (ref.self == NULL || bckm_sim_checker_init(&c->ck, c->n, (const uint8_t (*)[32])c->pk, ref) != BCKM_OK)
        abort();
    /* Every certificate signature is one a replica verified through
     * port_verify: the checker finds it in that record instead of checking
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
    timing_of(c->samples[0], ns, &res->t_k);
    timing_of(c->samples[1], ns, &res->t_e);
    timing_of(c->samples[2], ns, &res->t_a);
    timing_of(c->samples[3], ns, &res->t_r);
    /* When nine in ten requests had executed: a throughput window that a
     * few retried stragglers do not stretch. */
    size_t nc = 0;
    for (uint32_t r = 0; r < c->p.requests; r++)
        if (c->req[r].commit_us) c->samples[0][nc++] = c->req[r].commit_us;
    if (nc > 0) {
        qsort(c->samples[0], nc, sizeof(uint64_t), cmp_u64);
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
    tx_digest(c, res->tx_hash);
    crypto_generichash_final(&c->trace, res->trace_hash, 32);
    /* teardown */
    while (bckm_sim_evq_pop(&c->q, &ev))
        if (ev.kind == EV_NET) net_free(ev.ptr);
    for (size_t i = 0; i < c->nout; i++) net_free(c->out[i].m);
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
            held_t h = unhold(me);
            if (h.kind == EV_NET) net_free(h.ptr);
        }
        free(me->held);
        if (me->has_durable) bckm_pbft_durable_free(&me->durable);
        snap_free(&me->stable);
        for (int k = 0; k < 4; k++) snap_free(&me->pending[k]);
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

void bckm_sim_swarm_params(uint64_t seed, uint32_t bps, int byzantine, bckm_sim_params *p) {
    bckm_sim_params_default(p);
    bckm_sim_rng r;
    bckm_sim_rng_seed(&r, bckm_sim_seed_derive(seed, "swarm"));
    static const uint32_t sizes[] = { 4, 4, 5, 7 };
    p->seed = seed;
    p->bps = bps ? bps : sizes[bckm_sim_rng_below(&r, 4)];
    uint32_t f = bckm_pbft_f(p->bps);
    uint32_t k = byzantine >= 0 ? (uint32_t)byzantine
               : byzantine == BCKM_SIM_SWARM_F ? f : (uint32_t)bckm_sim_rng_below(&r, f + 1);
    if (k > p->bps) k = p->bps;
    static const bckm_sim_ratio loss[] = { { 0, 1 }, { 1, 200 }, { 1, 50 }, { 1, 20 } };
    static const bckm_sim_ratio dup[] = { { 0, 1 }, { 1, 100 }, { 1, 20 } };
    static const bckm_sim_ratio reorder[] = { { 0, 1 }, { 1, 20 }, { 1, 5 } };
    static const bckm_sim_ratio part[] = { { 0, 1 }, { 1, 500 }, { 1, 200 } };
    static const bckm_sim_ratio crash[] = { { 0, 1 }, { 1, 1000 }, { 1, 300 } };
    p->faults.loss = loss[bckm_sim_rng_below(&r, 4)];
    p->faults.dup = dup[bckm_sim_rng_below(&r, 3)];
    p->faults.reorder = reorder[bckm_sim_rng_below(&r, 3)];
    p->faults.partition = part[bckm_sim_rng_below(&r, 3)];
    p->faults.crash = crash[bckm_sim_rng_below(&r, 3)];
    p->requests = 20 + (uint32_t)bckm_sim_rng_below(&r, 30);
    p->request_gap_us = 500 + bckm_sim_rng_below(&r, 3000);
    p->keys = 4 + (uint32_t)bckm_sim_rng_below(&r, 28);
    p->block_max_txs = 4 + (uint32_t)bckm_sim_rng_below(&r, 28);
    p->mempool_cap = 16 + (uint32_t)bckm_sim_rng_below(&r, 240);
    p->checkpoint_interval = 2 + (uint32_t)bckm_sim_rng_below(&r, 7);
    p->fault_us = 50000 + bckm_sim_rng_below(&r, 250000);
    p->mode = (int)bckm_sim_rng_below(&r, 3);
    /* Mostly lan (cheap in events); wan and tendermint for their timers. */
    uint64_t prof = bckm_sim_rng_below(&r, 8);
    p->profile = bckm_sim_profile_find(prof == 6 ? "wan" : prof == 7 ? "tendermint" : "lan");
    p->request_gap_us += p->profile->one_way_us;
    p->fault_us = p->fault_us * (p->profile->vc_timeout_us / 50000);
    p->liveness_us = 400 * p->profile->vc_timeout_us;
    if (k > f) {
        /* More than f Byzantine BPs: they all equivocate together and hold
         * the first views' primaries, the attack PBFT cannot survive. */
        for (uint32_t i = 0; i < k; i++) p->byz_kind[i] = BCKM_BYZ_EQUIVOCATE;
        p->faults.byz_kind = BCKM_BYZ_EQUIVOCATE;
    } else {
        uint32_t ids[BCKM_SIM_MAX_BPS];
        for (uint32_t i = 0; i < p->bps; i++) ids[i] = i;
        for (uint32_t i = p->bps - 1; i > 0; i--) {
            uint32_t j = (uint32_t)bckm_sim_rng_below(&r, i + 1);
            uint32_t t = ids[i]; ids[i] = ids[j]; ids[j] = t;
        }
        for (uint32_t i = 0; i < k; i++) p->byz_kind[ids[i]] = 1 + (int)bckm_sim_rng_below(&r, 5);
        p->faults.byz_kind = k ? BCKM_BYZ_MIXED : BCKM_BYZ_HONEST;
    }
    p->faults.byz_count = (int)k;
}

void bckm_sim_swarm_params_app(uint64_t seed, uint32_t bps, int byzantine, int app, bckm_sim_params *p) {
    bckm_sim_swarm_params(seed, bps, byzantine, p);
    if (app != BCKM_SIM_APP_KEYS) return;
    /* Its own stream, so the kv swarm's draws stay as they were. */
    bckm_sim_rng r;
    bckm_sim_rng_seed(&r, bckm_sim_seed_derive(seed, "swarm-keys"));
    p->app = BCKM_SIM_APP_KEYS;
    p->nodes = 8 + (uint32_t)bckm_sim_rng_below(&r, 120);
    p->policy = bckm_sim_rng_chance(&r, 1, 2) ? BCKM_POLICY_GLOBAL : BCKM_POLICY_OWNED;
    p->devices = bckm_sim_rng_chance(&r, 1, 4) ? BCKM_SIM_DEVICES_ALL : 4 + (uint32_t)bckm_sim_rng_below(&r, 28);
    p->join_pct = 30 + (uint32_t)bckm_sim_rng_below(&r, 50);
    p->leave_pct = (100 - p->join_pct) / 2;
}

void bckm_sim_swarm_byz_keys(uint64_t seed, bckm_sim_params *p) {
    if (p->app != BCKM_SIM_APP_KEYS) return;
    bckm_sim_rng r;
    bckm_sim_rng_seed(&r, bckm_sim_seed_derive(seed, "swarm-byz-keys"));
    uint32_t f = bckm_pbft_f(p->bps), k = 0;
    for (uint32_t i = 0; i < p->bps; i++) k += p->byz_kind[i] != BCKM_BYZ_HONEST;
    if (f == 0 || k > f) return;
    if (k == 0) {
        /* None drawn at the consensus layer: one BP is Byzantine at the key
         * layer only (it runs PBFT honestly). */
        uint32_t i = (uint32_t)bckm_sim_rng_below(&r, p->bps);
        p->byz_keys[i] = (uint8_t)(1 + bckm_sim_rng_below(&r, KEYNET_BYZ_ALL));
        return;
    }
    for (uint32_t i = 0; i < p->bps; i++)
        if (p->byz_kind[i] != BCKM_BYZ_HONEST) p->byz_keys[i] = (uint8_t)(1 + bckm_sim_rng_below(&r, KEYNET_BYZ_ALL));
}

static void hex32(const uint8_t *b, char *out) {
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static const char *mode_name(int m) {
    return m == BCKM_SIM_ASYNC ? "async" : m == BCKM_SIM_SYNC ? "sync" : "commit";
}

void bckm_sim_result_json(const bckm_sim_params *p, const bckm_sim_result *r, char *buf, size_t cap) {
    char th[65], txh[65], kh[65];
    hex32(r->trace_hash, th);
    hex32(r->tx_hash, txh);
    hex32(r->keys_hash, kh);
    char safety[300], liveness[300];
    /* The violation text holds no quotes or backslashes (it is ours). */
    snprintf(safety, sizeof safety, "%s", r->outcome == BCKM_SIM_SAFETY ? r->violation : "ok");
    snprintf(liveness, sizeof liveness, "%s", r->outcome == BCKM_SIM_LIVENESS ? r->violation : "ok");
    const bckm_sim_timing *t[4] = { &r->t_k, &r->t_e, &r->t_a, &r->t_r };
    const char *tn[4] = { "t_k", "t_e", "t_a", "t_r" };
    size_t o = 0;
#define OUT(...) do { int w_ = snprintf(buf + o, o < cap ? cap - o : 0, __VA_ARGS__); \
    if (w_ > 0) o += (size_t)w_; } while (0)
    OUT("{\"bps\":%u,\"nodes\":%u,\"requests\":%" PRIu64 ",\"mode\":\"%s\",\"profile\":\"%s\","
        "\"cost\":\"%s\",\"byzantine\":%u,\"committed\":%" PRIu64 ",\"sync_accepted\":%" PRIu64
        ",\"sync_missed_first_try\":%" PRIu64 ",\"error_rate\":%.6f,\"lost\":%" PRIu64
        ",\"exec_rejected\":%" PRIu64 ",\"check_rejected\":%" PRIu64 ",\"retries\":%" PRIu64,
        p->bps, p->app == BCKM_SIM_APP_KEYS ? p->nodes : 0, r->requests, mode_name(p->mode), p->profile->name,
        p->cost == BCKM_SIM_COST_MODEL ? "model" : "measured", r->byzantine, r->committed,
        r->sync_accepted, r->sync_missed_first_try, r->error_rate, r->lost, r->exec_rejected,
        r->check_rejected, r->retries);
    for (int k = 0; k < 4; k++)
        OUT(",\"%s\":{\"mean_us\":%.1f,\"p50_us\":%" PRIu64 ",\"p99_us\":%" PRIu64 "}", tn[k],
            t[k]->mean_us, t[k]->p50_us, t[k]->p99_us);
    OUT(",\"height\":%" PRIu64 ",\"view_changes\":%" PRIu64 ",\"fetches\":%" PRIu64
        ",\"restarts\":%" PRIu64 ",\"messages\":%" PRIu64 ",\"dropped\":%" PRIu64
        ",\"end_us\":%" PRIu64 ",\"first_arrival_us\":%" PRIu64 ",\"last_commit_us\":%" PRIu64
        ",\"commit90_us\":%" PRIu64
        ",\"bp_cpu_us\":%" PRIu64 ",\"safety\":\"%s\",\"liveness\":\"%s\",\"seed\":%" PRIu64
        ",\"trace_hash\":\"%s\",\"tx_hash\":\"%s\"}",
        r->max_height, r->view_changes, r->fetches, r->restarts, r->messages, r->dropped, r->end_us,
        r->first_arrival_us, r->last_commit_us, r->commit90_us, r->bp_cpu_us,
        safety, liveness, p->seed, th, txh);
    if (p->app == BCKM_SIM_APP_KEYS) {
        o = o > 0 && o <= cap ? o - 1 : o; /* reopen the object */
        OUT(",\"app\":\"keys\",\"policy\":\"%s\",\"members\":%" PRIu64 ",\"joins\":%" PRIu64
            ",\"leaves\":%" PRIu64 ",\"evicts\":%" PRIu64 ",\"devices\":%" PRIu64
            ",\"device_violations\":%" PRIu64 ",\"rekey_messages\":%" PRIu64 ",\"rekey_bytes\":%" PRIu64
            ",\"keys_hash\":\"%s\"}",
            p->policy == BCKM_POLICY_GLOBAL ? "global" : "owned", r->members, r->joins, r->leaves,
            r->evicts, r->devices, r->device_violations, r->rekey_messages, r->rekey_bytes, kh);
    }
#undef OUT
}
