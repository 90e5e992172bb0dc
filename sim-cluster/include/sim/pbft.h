/*
 * A PBFT replica as a pure state machine: every input is a call (a message,
 * a tick with the current virtual time, a proposal, an execution result) and
 * every effect is an action the host pops afterwards (send, broadcast, commit
 * a block, answer a fetch). It reads no clock, does no I/O and knows nothing
 * of the simulator; signature checks and block validation come in through
 * ports in the config so the host can memoise or swap them.
 *
 * Protocol summary (spec/cluster.md has the full text):
 *  - n replicas, f = floor((n-1)/3), quorum q = floor((n+f)/2)+1 (= 2f+1
 *    when n = 3f+1, larger otherwise, see bckm_pbft_quorum); primary of view v is
 *    v mod n; the sequence number of a block is its height.
 *  - normal case: PRE-PREPARE(v,s,D,block) from the primary; each replica
 *    that accepts it (height s = its committed height + 1, prev digest =
 *    its last block, the header's state hash = the state its host reported
 *    after executing height s-1, application says every tx verifies) broadcasts
 *    PREPARE(v,s,D); q matching PREPAREs (the primary's included) = prepared,
 *    then COMMIT(v,s,D); q matching COMMITs = committed, and those q COMMIT
 *    signatures (each over core's commit message of (s, v, D)) are the
 *    block's core commit certificate (struct bckm_cert).
 *  - one block in flight: a replica votes only on height c+1, but buffers
 *    messages for heights up to c+window so a replica a little behind loses
 *    nothing.
 *  - checkpoints every `checkpoint_interval` blocks: CHECKPOINT(s, state
 *    hash); q matching make it stable, the log below is dropped and the host
 *    keeps that state snapshot (restart and state transfer start there).
 *  - view change on primary timeout (no commit while work is pending, or
 *    requests starve): VIEW-CHANGE(v', c, cert of block c, prepared cert
 *    for c+1). The new primary waits for q of them and sends NEW-VIEW with
 *    them; with s = the highest certified c among them, the block prepared
 *    at s+1 in the highest view (if any) is re-proposed at s+1.
 *  - every retransmit period a replica also broadcasts STATUS (its committed
 *    height, unsigned: only a hint of whom to ask for blocks).
 *  - state transfer: a replica that learns that f+1 peers are ahead asks one
 *    for blocks (FETCH); BLOCKS carries blocks with their certificates,
 *    which the replica checks before committing them.
 */
#ifndef BCKM_SIM_PBFT_H
#define BCKM_SIM_PBFT_H

#include <stddef.h>
#include <stdint.h>

#include "sim/block.h"

enum {
    BCKM_PBFT_PREPREPARE = 1,
    BCKM_PBFT_PREPARE = 2,
    BCKM_PBFT_COMMIT = 3,
    BCKM_PBFT_CHECKPOINT = 4,
    BCKM_PBFT_VIEWCHANGE = 5,
    BCKM_PBFT_NEWVIEW = 6,
    BCKM_PBFT_FETCH = 7,
    BCKM_PBFT_BLOCKS = 8,
    BCKM_PBFT_STATUS = 9 /* unsigned heartbeat: the sender's committed height */
};

#define BCKM_PBFT_WINDOW 4u     /* heights c+1 .. c+WINDOW are buffered */
#define BCKM_PBFT_FETCH_MAX 16u /* blocks per BLOCKS reply */

typedef struct {
    uint32_t from;
    uint8_t sig[BCKM_SIM_SIG_BYTES];
} bckm_pbft_vote;

/* q PREPARE signatures for (view, seq, digest) plus the block itself. */
typedef struct {
    uint64_t view, seq;
    uint8_t digest[32];
    bckm_sim_block *block;
    uint32_t count;
    bckm_pbft_vote votes[BCKM_SIM_MAX_BPS];
} bckm_pbft_prepared;

typedef struct bckm_pbft_msg bckm_pbft_msg;

/* Messages are immutable once sent and shared by reference count. */
struct bckm_pbft_msg {
    int refs;
    uint8_t type;
    uint32_t from;
    uint64_t view;
    uint64_t seq;
    uint8_t digest[32];
    uint8_t sig[BCKM_SIM_SIG_BYTES];
    uint64_t hint; /* sender's committed height: a hint, unsigned */
    /* PRE-PREPARE */
    bckm_sim_block *block;
    /* VIEW-CHANGE: seq = committed height c, digest = hash of this body */
    uint8_t last_digest[32];
    struct bckm_cert *last_cert;  /* certificate of block c (NULL when c = 0) */
    bckm_pbft_prepared *prepared; /* prepared certificate for c+1, or NULL */
    /* NEW-VIEW */
    uint32_t nvc;
    bckm_pbft_msg *vcs[BCKM_SIM_MAX_BPS];
    bckm_pbft_msg *pp; /* re-proposal, or NULL */
    /* BLOCKS (unsigned: every block carries its certificate) */
    uint32_t nblocks;
    bckm_sim_block *blocks[BCKM_PBFT_FETCH_MAX];
    struct bckm_cert *certs[BCKM_PBFT_FETCH_MAX];
};

bckm_pbft_msg *bckm_pbft_msg_new(uint8_t type, uint32_t from);
bckm_pbft_msg *bckm_pbft_msg_ref(bckm_pbft_msg *m);
void bckm_pbft_msg_unref(bckm_pbft_msg *m);
/* Hash of a VIEW-CHANGE body (what its signature covers through digest). */
void bckm_pbft_vc_digest(const bckm_pbft_msg *m, uint8_t out[32]);
/* Hash of a NEW-VIEW body. */
void bckm_pbft_nv_digest(const bckm_pbft_msg *m, uint8_t out[32]);
/* Signs m in place with sk (digest, view, seq already set). */
void bckm_pbft_msg_sign(bckm_pbft_msg *m, const uint8_t sk[64]);

typedef struct {
    uint32_t n, id;
    uint8_t sk[64]; /* this replica's Ed25519 key */
    uint8_t pk[BCKM_SIM_MAX_BPS][BCKM_SIM_PK_BYTES];
    uint64_t vc_timeout_us;  /* no commit while work is pending -> view change */
    uint64_t retransmit_us;  /* period of re-sending the current round */
    uint64_t fetch_delay_us; /* how long to wait before fetching missing blocks */
    uint32_t checkpoint_interval;
    /* Ports. verify: 1 if sig is pk's signature of m. validate: 0 if every
     * tx of the block passes the application's stateless check. */
    int (*verify)(void *ctx, const uint8_t pk[32], const uint8_t *m, size_t mlen,
                  const uint8_t sig[64]);
    int (*validate)(void *ctx, const bckm_sim_block *b);
    void *ctx;
} bckm_pbft_config;

/* What must survive a crash (written before any message leaves). */
typedef struct {
    uint64_t view;
    int in_vc;
    uint64_t vote_view, vote_seq; /* last PREPARE this replica sent */
    uint8_t vote_digest[32];
    bckm_pbft_prepared prepared; /* highest prepared certificate (block owned) */
    int has_prepared;
} bckm_pbft_durable;

enum {
    BCKM_PBFT_ACT_SEND = 1,    /* msg to `to` */
    BCKM_PBFT_ACT_BROADCAST,   /* msg to every other replica */
    BCKM_PBFT_ACT_COMMIT,      /* execute block (owned by the host now), cert */
    BCKM_PBFT_ACT_FETCH_REPLY, /* send `to` blocks from height seq (host reads its ledger) */
    BCKM_PBFT_ACT_STABLE       /* checkpoint at seq is stable: keep that snapshot */
};

typedef struct {
    int kind;
    uint32_t to;
    uint64_t seq;
    bckm_pbft_msg *msg;     /* a reference the host must drop */
    bckm_sim_block *block;  /* COMMIT: owned by the host */
    struct bckm_cert *cert; /* COMMIT: owned by the host */
} bckm_pbft_action;

typedef struct {
    int have_pp;
    int checked, valid;
    bckm_sim_block *block;
    uint8_t digest[32];
    bckm_pbft_msg *pp; /* the primary's signed PRE-PREPARE */
    uint8_t phave[BCKM_SIM_MAX_BPS], chave[BCKM_SIM_MAX_BPS];
    uint8_t pdig[BCKM_SIM_MAX_BPS][32], cdig[BCKM_SIM_MAX_BPS][32];
    uint8_t psig[BCKM_SIM_MAX_BPS][BCKM_SIM_SIG_BYTES], csig[BCKM_SIM_MAX_BPS][BCKM_SIM_SIG_BYTES];
    int sent_prepare, sent_commit, prepared;
} bckm_pbft_slot;

typedef struct {
    bckm_pbft_config cfg;
    uint32_t f, q;
    bckm_pbft_durable d;
    uint64_t committed; /* height c */
    uint64_t executed;  /* the host executed heights up to this (bckm_pbft_executed) */
    uint8_t state[32];  /* the state the host reported after `executed` */
    uint8_t last_digest[32];
    struct bckm_cert last_cert;
    bckm_pbft_slot slot[BCKM_PBFT_WINDOW];
    /* view change */
    bckm_pbft_msg *vcs[BCKM_SIM_MAX_BPS]; /* latest valid VIEW-CHANGE per replica */
    bckm_pbft_msg *nv;                    /* NEW-VIEW of the current view (primary re-sends it) */
    bckm_pbft_msg *nv_pp;                 /* its re-proposal, adopted once in the window */
    uint64_t nv_smax;                     /* proposals wait until committed >= this */
    uint32_t vc_attempts;
    uint64_t vc_start_us, view_start_us, last_progress_us, waiting_since_us;
    int waiting;
    /* checkpoints */
    uint64_t ckpt_seq[BCKM_SIM_MAX_BPS];
    uint8_t ckpt_hash[BCKM_SIM_MAX_BPS][32];
    uint64_t stable_seq;
    /* state transfer */
    uint64_t hint[BCKM_SIM_MAX_BPS];
    uint64_t last_fetch_us, last_retransmit_us;
    uint32_t fetch_rr;
    uint64_t now_us;
    /* outbox */
    bckm_pbft_action *out;
    size_t out_len, out_head, out_cap;
    /* statistics */
    uint64_t view_changes, fetches, rejected_msgs;
} bckm_pbft_replica;

/* Starts a replica at committed height c with its last block's digest and
 * certificate (from the ledger), the application state after c (NULL: the
 * genesis state, all zero), and the durable part saved before a crash
 * (NULL for a fresh start). Returns a bckm_err. */
int bckm_pbft_init(bckm_pbft_replica *r, const bckm_pbft_config *cfg, uint64_t committed,
                   const uint8_t last_digest[32], const struct bckm_cert *last_cert,
                   const uint8_t state[32], const bckm_pbft_durable *durable, uint64_t now_us);
void bckm_pbft_free(bckm_pbft_replica *r);
/* A deep copy of the durable state (what a crash keeps). */
int bckm_pbft_durable_copy(bckm_pbft_durable *dst, const bckm_pbft_durable *src);
void bckm_pbft_durable_free(bckm_pbft_durable *d);

static inline uint32_t bckm_pbft_f(uint32_t n) { return n ? (n - 1) / 3 : 0; }
/* Quorum: any two quorums intersect in at least f+1 replicas, so in a
 * correct one. 2f+1 when n = 3f+1; for n = 5 it is 4, not 2f+1 = 3 (with 3,
 * two quorums of 5 could share a single, Byzantine, replica). */
static inline uint32_t bckm_pbft_quorum(uint32_t n) { return (n + bckm_pbft_f(n)) / 2 + 1; }
static inline uint32_t bckm_pbft_primary(uint64_t view, uint32_t n) { return (uint32_t)(view % n); }

/* Inputs. */
void bckm_pbft_on_message(bckm_pbft_replica *r, const bckm_pbft_msg *m, uint64_t now_us);
/* has_pending: the host has txs waiting; starved: its oldest waited too long. */
void bckm_pbft_on_tick(bckm_pbft_replica *r, uint64_t now_us, int has_pending, int starved);
/* 1 when this replica is the primary and may propose height *height now. */
int bckm_pbft_can_propose(const bckm_pbft_replica *r, uint64_t *height, uint8_t prev[32]);
/* Proposes a block (copied) built by the host after can_propose said yes. */
int bckm_pbft_propose(bckm_pbft_replica *r, const bckm_sim_block *b, uint64_t now_us);
/* The host executed block seq; state_hash is the application state after it.
 * The replica votes on block seq+1 only after this (its header must carry
 * that state). */
void bckm_pbft_executed(bckm_pbft_replica *r, uint64_t seq, const uint8_t state_hash[32]);

/* Pops the next action; 0 when there is none. */
int bckm_pbft_pop(bckm_pbft_replica *r, bckm_pbft_action *a);

/* Checks a commit certificate for (height, digest) against the config's keys:
 * q valid COMMIT signatures from distinct replicas. 1 if valid. */
int bckm_pbft_cert_valid(const bckm_pbft_replica *r, uint64_t height, const uint8_t digest[32],
                         const struct bckm_cert *cert);

#endif
