/*
 * The cluster's private types, shared by its files (not part of the API; see
 * sim/cluster.h for that). Who calls whom, top to bottom; no file calls one
 * above it:
 *
 *   loop.c        bckm_sim_run: setup, the event loop, collect, teardown
 *   faults.c      the faulty phase: seeded partitions and crashes, plans, its end
 *   results.c     timings, the committed-tx digest, JSON
 *   bp_life.c     a BP's start, crash and restart
 *   bp.c          a BP's CPU: one event at a time, the others wait in its queue
 *   bp_replica.c  what the PBFT replica asks for: execution, proposals,
 *                 state transfer; the ports it is given
 *   clients.c     the clients' requests: retries, deadlines, replies
 *   adversary.c   the Byzantine BPs' messages
 *   simnet.c      the simulated network: loss, duplication, reordering, partitions
 *   workload_kv.c, workload_keys.c   the applications, the only files that
 *                 know one (results.c prints the key app's counters); the
 *                 files above reach them through c->wl (workload_ops)
 *   cpu.c         the CPU meter: model costs or measured CPU time
 *   params.c      the defaults, the swarm's draws and their one-line
 *                 description (called by main and the tests)
 * The inline helpers below (trace_u64s, cluster_nomem, cluster_push) are
 * for all of them.
 */
#ifndef BCKM_SIM_CLUSTER_INTERNAL_H
#define BCKM_SIM_CLUSTER_INTERNAL_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "bckm/assert.h"
#include "bckm/common.h"
#include "bckm/map.h"
#include "sim/checker.h"
#include "sim/cluster.h"
#include "sim/evq.h"
#include "sim/keynet.h"
#include "bckm/ledger.h"
#include "sim/block.h"
#include "sim/mempool.h"
#include "sim/pbft.h"
#include "sim/rng.h"

/* ---- model costs (virtual microseconds charged to a BP's CPU) ----------- */
#define COST_EVENT 2u     /* any handler: dispatch and bookkeeping */
#define COST_VERIFY 45u   /* one Ed25519 verification */
#define COST_SEND 8u      /* one message out (signing amortised, encoding) */
#define COST_CHECKTX 12u  /* CheckTx of one tx (decode, tag check, lookup) */
#define COST_CLIENT 30u   /* building and signing a client tx */
#define COST_BLOCK 20u    /* begin/commit of a block, ledger append */
#define COST_DELIVER 8u   /* one deliver_tx */
#define COST_SNAPSHOT 50u /* a checkpoint snapshot */
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
    EV_NET = 1,
    EV_TICK,
    EV_CLIENT,
    EV_FAULT,
    EV_RESTART,
    EV_HEAL,
    EV_DEADLINE,
    EV_PLAN_START,
    EV_PLAN_END,
    EV_PHASE_END,
    EV_WAKE
};

typedef struct {
    uint64_t seq;
    uint8_t *buf;
    size_t len;
    uint8_t state[32]; /* the application's state hash at seq */
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
    int live; /* replica and app exist */
    bckm_pbft_replica rep;
    bckm_sim_app app;
    bckm_sim_mempool mp;
    bckm_ledger *ledger;    /* core's ledger (bckm/ledger.h): memory or LMDB */
    uint64_t stored_height; /* lmdb: ledger height when the store was closed at a crash */
    uint8_t state[32];      /* the application's state after the last executed block */
    bckm_pbft_durable durable;
    int has_durable;
    snap_t stable;     /* durable snapshot at the last stable checkpoint */
    snap_t pending[4]; /* snapshots of checkpoints not yet stable (volatile) */
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
    uint64_t fetches_before; /* fetch counts of replicas lost in crashes */
} bp_t;

typedef struct {
    uint32_t attempt;
    uint32_t bp;
    int fresh;
    uint8_t tx[BCKM_SIM_REQ_TX_MAX];
    size_t tx_len;
    uint32_t origin;    /* BP that prepared the tx, whose CheckTx refusal alone is final;
                                * UINT32_MAX when any BP's is (kv) */
    uint8_t op;         /* key app: join, leave or evict */
    uint64_t exec_mask; /* BPs at which the current tx executed successfully */
    uint64_t arrive_us, admit_us;
    uint64_t commit_us; /* first successful execution of its tx at any BP */
    uint64_t gen;       /* which deadline is current */
    int first_decided, first_accepted, counted_missed;
    int done, accepted_ever;
    uint64_t t_k_prep, t_k_commit, t_e, t_a;
    int commit_seen; /* the origin's key manager handled the tx */
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
    size_t tx_len; /* a junk tx of this size (the invalid proposer) */
    int envelopes; /* every committed tx is an envelope: the ledger indexes them */
    int (*init)(struct cluster *c);
    /* The app of cluster BP bp (UINT32_MAX: the checker's reference). */
    bckm_sim_app (*new_app)(struct cluster *c, uint32_t bp);
    /* A fresh tx for request r at BP bp: fills q->tx, q->tx_len, q->origin. */
    int (*make_tx)(struct cluster *c, uint32_t bp, uint32_t r);
    /* After BP bp executed a block (or was restored): follow the chain. */
    void (*executed)(struct cluster *c, uint32_t bp);
    /* A tx of ours was rejected for good: release what it held. */
    void (*rejected)(struct cluster *c, const uint8_t *tx, size_t len);
    /* The last three hooks are optional (NULL: the application has none).
     * CheckTx's rejection code rc says the tx already executed. */
    int (*already_executed)(int rc);
    /* A Byzantine BP's action at the application's layer, before it may
     * propose (the keys workload's forged evictions). */
    void (*adversary)(struct cluster *c, uint32_t bp, uint64_t now);
    /* Measured mode: CPU time the app charged but did not spend (memoised). */
    uint64_t (*charged_ns)(struct cluster *c);
    /* BP bp's durable application-side state after the block at height, to
     * be stored with that block (the keys workload: its sealed key
     * manager), and a restart's reload of it from the ledger. */
    int (*durable_state)(struct cluster *c, uint32_t bp, uint64_t height, uint8_t **out,
                         size_t *len);
    int (*restore_state)(struct cluster *c, uint32_t bp, uint64_t height, const uint8_t *blob,
                         size_t len);
    /* End-of-run checks (after liveness), then freeing what init made. */
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
    uint64_t heal_at; /* faults and plans are over: liveness counts from here */
    int err;          /* BCKM_OK, or why the run stopped (see cluster_nomem) */
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
    struct bckm_map txmap;   /* tx id -> request */
    uint64_t t0_ns, excl_ns; /* measured mode: start of the handler, time not the BP's */
    /* measured mode: thread CPU time at the end of the last handler (or of
     * the last heavy work outside handlers), where the next handler starts
     * counting: one clock read per handler rather than two (reading the
     * thread's CPU clock is a system call, a sixth of a measured run). */
    uint64_t cpu_mark, cpu_last;
    uint64_t add_ns;        /* measured mode: work charged but not redone (memoised) */
    uint64_t verify_cal_ns; /* measured mode: CPU time of one Ed25519 verification here */
    struct bckm_keynet *kn;
    /* Key-layer Byzantine BPs (BCKM_KEYNET_BYZ_EVICT): the leave/evict each
     * forged last, proposed in its blocks; at most BYZ_EVICTS per BP. */
    bckm_sim_rng keyadv_rng;
    uint8_t byz_env[BCKM_SIM_MAX_BPS][BCKM_ENVELOPE_BYTES];
    uint32_t byz_env_n[BCKM_SIM_MAX_BPS];
    /* Latest arrival scheduled on each link: links are FIFO (as TCP is)
     * unless the reorder fault holds a message back. */
    uint64_t link_last[BCKM_SIM_MAX_BPS][BCKM_SIM_MAX_BPS];
} cluster_t;

/* The trace hash: every event and every execution, in order (trace_hash). */
static inline void trace_u64s(cluster_t *c, uint64_t a, uint64_t b, uint64_t d, uint64_t e) {
    uint8_t buf[32];
    bckm_put_u64(buf, a);
    bckm_put_u64(buf + 8, b);
    bckm_put_u64(buf + 16, d);
    bckm_put_u64(buf + 24, e);
    crypto_generichash_update(&c->trace, buf, sizeof buf);
}

/* An allocation failed where the code cannot return an error (an event
 * handler, a send): what needed it is dropped, the run stops after the
 * current event, nothing is checked or collected after it, and
 * bckm_sim_run returns BCKM_ERR_NOMEM. */
static inline void cluster_nomem(cluster_t *c) {
    if (c->err == BCKM_OK) c->err = BCKM_ERR_NOMEM;
}

/* Queues an event that carries no payload (see cluster_nomem). */
static inline void cluster_push(cluster_t *c, uint64_t at, int kind, uint32_t target,
                                uint64_t arg) {
    if (bckm_sim_evq_push(&c->q, at, kind, target, arg, NULL) != BCKM_OK) cluster_nomem(c);
}

/* cpu.c */
uint64_t cpu_now_ns(void);
uint64_t cpu_verify_cost_ns(void);
/* The current handler's CPU time so far, in virtual microseconds (without
 * the app's charged work: see bp_elapsed_us). */
uint64_t cpu_elapsed_us(cluster_t *c);
uint64_t cpu_took_us(const cluster_t *c, uint64_t t0, uint64_t model);

/* simnet.c */
void simnet_free(net_msg *m);
void simnet_queue(cluster_t *c, uint32_t from, uint32_t to, net_msg *m);
void simnet_send_pbft(cluster_t *c, uint32_t from, uint32_t to, bckm_pbft_msg *pm);
void simnet_flush(cluster_t *c, uint64_t depart);

/* adversary.c */
void adversary_send_pbft(cluster_t *c, uint32_t from, uint32_t to, bckm_pbft_msg *m);

/* clients.c */
void clients_retry_fresh(cluster_t *c, uint32_t r, uint32_t bp, uint64_t when);
void clients_done(cluster_t *c, uint32_t r, uint32_t bp, uint64_t height, uint64_t now);
void clients_schedule_deadline(cluster_t *c, uint32_t r, uint64_t now);
void clients_deadline(cluster_t *c, uint64_t arg, uint64_t now);

/* workload_kv.c, workload_keys.c */
extern const workload_ops workload_kv;
extern const workload_ops workload_keys;

/* bp_replica.c */
int bp_port_verify(void *ctx, const uint8_t pk[32], const uint8_t *m, size_t mlen,
                   const uint8_t sig[64]);
int bp_port_validate(void *ctx, const bckm_sim_block *b);
void bp_snap_free(snap_t *s);
void bp_drain(cluster_t *c, uint32_t i, uint64_t now);
void bp_maybe_propose(cluster_t *c, uint32_t i, uint64_t now);

/* bp.c */
void bp_handle(cluster_t *c, const bckm_sim_event *ev);
uint64_t bp_elapsed_us(cluster_t *c);
void bp_hold(cluster_t *c, uint32_t i, const bckm_sim_event *ev, uint64_t now);
held_t bp_unhold(bp_t *me);
void bp_wake(cluster_t *c, uint32_t i, uint64_t now);

/* bp_life.c */
int bp_ledger_path(const cluster_t *c, uint32_t i, char *out, size_t cap);

/* bp_ledger.c: a BP's chain in core's ledger. */
/* Opens BP i's ledger: in memory, or its LMDB store (which must be empty
 * when fresh). err gets why on failure. */
int bp_ledger_open(cluster_t *c, uint32_t i, int fresh, char *err, size_t errcap);
void bp_ledger_close(bp_t *me);
uint64_t bp_height(const bp_t *me);
/* BP i's storage key (what its durable application state is sealed under). */
void bp_storage_key(const cluster_t *c, uint32_t i, uint8_t key[32]);
/* A restart: the application-side state stored with the ledger's tip is
 * loaded back (workload restore_state); a safety violation when it is
 * missing, of another height or does not open. */
void bp_ledger_restore_state(cluster_t *c, uint32_t i);
/* Write-ahead: BP i's application-side state saved now, as the state at its
 * ledger height (after a prepare, before the prepared change leaves). */
void bp_ledger_save_state(cluster_t *c, uint32_t i);
/* Appends block b with its certificate and one result byte per tx. */
int bp_ledger_append(cluster_t *c, uint32_t i, const bckm_sim_block *b,
                     const struct bckm_cert *cert, const uint8_t *results);
/* The block at height h (new, the caller frees it) and, when cert is not
 * NULL, its certificate; the block's digest in digest when not NULL. */
int bp_ledger_read(const bp_t *me, uint64_t h, bckm_sim_block **b, struct bckm_cert *cert,
                   uint8_t digest[32]);
void bp_crash(cluster_t *c, uint32_t i, uint64_t now);
void bp_restart(cluster_t *c, uint32_t i, uint64_t now);
void bp_start(cluster_t *c, uint32_t i, uint64_t now, int restart);

/* faults.c */
void faults_handle(cluster_t *c, const bckm_sim_event *ev);

/* results.c */
/* After the loop: fills c->res (BCKM_ERR_NOMEM if it cannot). */
int results_collect(cluster_t *c);

#endif
