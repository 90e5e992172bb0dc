/*
 * Harness: PBFT messages fed to one replica (sim-cluster/src/pbft.c).
 *
 * The replica under test is replica 1 of n = 4 (f = 1, quorum 3) or of n = 5
 * (f = 1, quorum 4, bckm_pbft_quorum). There is
 * no wire format between replicas (messages are shared structs), so the
 * input is a script of operations that build messages field by field, as a
 * Byzantine peer could, and deliver them, interleaved with clock ticks:
 *   byte 0: bit 0 = mode (0: safety, 1: open), bit 1 = five replicas; then
 *   operations
 *   op % 8: 0 tick | 1 PRE-PREPARE | 2 PREPARE | 3 COMMIT | 4 CHECKPOINT |
 *           5 VIEW-CHANGE | 6 NEW-VIEW (from earlier VIEW-CHANGEs, the
 *           replica's own included) | 7 FETCH, BLOCKS or STATUS
 * Fields come from the input: sender (any ID, out of range too), view,
 * sequence, which digest (the last block built, the replica's last digest,
 * raw bytes), certificates with chosen signers, and the first signature byte
 * (0xFF marks a signature that fails).
 *
 * Signatures: the replica's own are real Ed25519 (its messages are echoed
 * back inside NEW-VIEW messages); the verify port accepts a forged one only
 * from the Byzantine replica 3 (safety mode) or from every other replica
 * (open mode).
 * Oracles:
 *   - safety mode (only f = 1 replica can sign): the replica never commits,
 *     never makes a checkpoint stable and never enters a view beyond 0;
 *   - both modes: the committed height and the view never go back, every
 *     COMMIT action is for the next height, extends the previous block and
 *     carries a certificate that bckm_pbft_cert_valid accepts; no memory
 *     error or leak across the whole script (ASan build).
 */
#include "support/fuzz.h"

#include <sodium.h>

#include "bckm/common.h"
#include "sim/pbft.h"

#define FUZZ_PB_MAX_N 5u
#define FUZZ_PB_ME 1u
#define FUZZ_PB_BYZ 3u
#define FUZZ_PB_POOL 16
#define FUZZ_PB_MAX_OPS 64

static uint8_t fuzz_pb_pk[FUZZ_PB_MAX_N][32];
static uint8_t fuzz_pb_sk[FUZZ_PB_MAX_N][64];
static uint32_t fuzz_pb_n; /* 4 or 5 replicas, f = 1 either way */
static int fuzz_pb_open;   /* open mode: all peers forgeable */
static bckm_pbft_replica fuzz_pb_r;
static bckm_pbft_msg *fuzz_pb_pool[FUZZ_PB_POOL]; /* recent messages, both ways */
static int fuzz_pb_pool_next;
static bckm_sim_block *fuzz_pb_last_block; /* last block built, for digests */

static int fuzz_pb_verify(void *ctx, const uint8_t pk[32], const uint8_t *m, size_t mlen,
                          const uint8_t sig[64]) {
    (void)ctx;
    if (memcmp(pk, fuzz_pb_pk[FUZZ_PB_ME], 32) == 0)
        return crypto_sign_verify_detached(sig, m, mlen, pk) == 0;
    int forgeable = memcmp(pk, fuzz_pb_pk[FUZZ_PB_BYZ], 32) == 0;
    if (fuzz_pb_open) forgeable = 1;
    return forgeable && sig[0] != 0xFF;
}

/* The application's stateless check: a tx starting 0xEE is invalid. */
static int fuzz_pb_validate(void *ctx, const bckm_sim_block *b) {
    (void)ctx;
    uint32_t off = 0;
    const uint8_t *tx;
    size_t len;
    int rc;
    while ((rc = bckm_sim_block_next_tx(b, &off, &tx, &len)) == 1)
        if (tx[0] == 0xEE) return 1;
    return rc == 0 ? 0 : 1;
}

static void fuzz_pb_setup(void) {
    static int ready;
    if (ready) return;
    FUZZ_CHECK(bckm_init() == BCKM_OK);
    for (uint32_t i = 0; i < FUZZ_PB_MAX_N; i++) {
        uint8_t seed[crypto_sign_SEEDBYTES];
        memset(seed, (int)(0x61 + i), sizeof seed);
        FUZZ_CHECK(crypto_sign_seed_keypair(fuzz_pb_pk[i], fuzz_pb_sk[i], seed) == 0);
    }
    ready = 1;
}

static void fuzz_pb_pool_add(bckm_pbft_msg *m) {
    bckm_pbft_msg_unref(fuzz_pb_pool[fuzz_pb_pool_next]);
    fuzz_pb_pool[fuzz_pb_pool_next] = m;
    fuzz_pb_pool_next = (fuzz_pb_pool_next + 1) % FUZZ_PB_POOL;
}

/* The most recent pooled message of a type, skipping `skip` of them. */
static bckm_pbft_msg *fuzz_pb_pool_find(uint8_t type, uint32_t skip) {
    for (int k = 1; k <= FUZZ_PB_POOL; k++) {
        bckm_pbft_msg *m = fuzz_pb_pool[(fuzz_pb_pool_next - k + FUZZ_PB_POOL) % FUZZ_PB_POOL];
        if (m != NULL && m->type == type) {
            if (skip == 0) return m;
            skip--;
        }
    }
    return NULL;
}

typedef struct {
    const uint8_t *p;
    size_t n;
} fuzz_pb_in;

static uint32_t fuzz_pb_u8(fuzz_pb_in *in) { return fuzz_take_u8(&in->p, &in->n, 0); }

static void fuzz_pb_digest(fuzz_pb_in *in, uint8_t out[32]) {
    uint32_t sel = fuzz_pb_u8(in) % 3u;
    if (sel == 0 && fuzz_pb_last_block != NULL) {
        bckm_sim_block_digest(fuzz_pb_last_block, out);
    } else if (sel == 1) {
        memcpy(out, fuzz_pb_r.last_digest, 32);
    } else {
        memset(out, 0, 32);
        for (int i = 0; i < 32 && in->n > 0; i++) out[i] = (uint8_t)fuzz_pb_u8(in);
    }
}

static bckm_sim_block *fuzz_pb_block(fuzz_pb_in *in, uint64_t height, const uint8_t prev[32],
                                     uint32_t proposer) {
    bckm_sim_block *b = calloc(1, sizeof *b);
    FUZZ_CHECK(b != NULL);
    /* On the replica's state, or (sometimes) on another one. */
    bckm_sim_block_init(b, height, prev, proposer, 0, fuzz_pb_r.state);
    if (fuzz_pb_u8(in) == 0x5A) b->h.state_hash[0] ^= 1;
    uint32_t ntx = fuzz_pb_u8(in) % 4u;
    for (uint32_t t = 0; t < ntx; t++) {
        uint8_t tx[16];
        size_t len = 1 + fuzz_pb_u8(in) % sizeof tx;
        for (size_t i = 0; i < len; i++) tx[i] = (uint8_t)fuzz_pb_u8(in);
        FUZZ_CHECK(bckm_sim_block_add_tx(b, tx, len) == BCKM_OK);
    }
    if (fuzz_pb_u8(in) == 0xB5) b->h.n_txs += 1; /* a count that disagrees with the data */
    bckm_sim_block_free(fuzz_pb_last_block);
    fuzz_pb_last_block = bckm_sim_block_dup(b);
    FUZZ_CHECK(fuzz_pb_last_block != NULL);
    return b;
}

static struct bckm_cert *fuzz_pb_cert(fuzz_pb_in *in) {
    struct bckm_cert *c = calloc(1, sizeof *c);
    FUZZ_CHECK(c != NULL);
    c->version = BCKM_CERT_VERSION;
    c->view = fuzz_pb_u8(in);
    c->count = fuzz_pb_u8(in) % 6u;
    for (uint32_t i = 0; i < c->count; i++) {
        c->sigs[i].bp = fuzz_pb_u8(in) % (fuzz_pb_n + 2u);
        c->sigs[i].sig[0] = (uint8_t)fuzz_pb_u8(in);
    }
    return c;
}

/* One message from the script; NULL for a tick. */
static bckm_pbft_msg *fuzz_pb_message(fuzz_pb_in *in, uint32_t kind) {
    static const uint8_t types[8] = { 0,
                                      BCKM_PBFT_PREPREPARE,
                                      BCKM_PBFT_PREPARE,
                                      BCKM_PBFT_COMMIT,
                                      BCKM_PBFT_CHECKPOINT,
                                      BCKM_PBFT_VIEWCHANGE,
                                      BCKM_PBFT_NEWVIEW,
                                      BCKM_PBFT_FETCH };
    uint32_t from = fuzz_pb_u8(in) % (fuzz_pb_n + 1u);
    uint8_t type = types[kind];
    if (kind == 7) {
        uint32_t sub = fuzz_pb_u8(in) % 3u;
        type = sub == 0 ? BCKM_PBFT_FETCH : sub == 1 ? BCKM_PBFT_BLOCKS : BCKM_PBFT_STATUS;
    }
    bckm_pbft_msg *m = bckm_pbft_msg_new(type, from);
    m->view = fuzz_pb_u8(in) % 8u;
    m->seq = fuzz_pb_u8(in) % 8u;
    m->hint = fuzz_pb_u8(in) % 8u;
    switch (type) {
    case BCKM_PBFT_PREPREPARE: {
        uint8_t prev[32];
        memcpy(prev, fuzz_pb_r.last_digest, 32);
        if (fuzz_pb_u8(in) & 1u) prev[0] ^= 1;
        m->block = fuzz_pb_block(in, m->seq, prev, from);
        bckm_sim_block_digest(m->block, m->digest);
        if (fuzz_pb_u8(in) == 0x5D) m->digest[0] ^= 1;
        break;
    }
    case BCKM_PBFT_VIEWCHANGE:
        memcpy(m->last_digest, fuzz_pb_r.last_digest, 32);
        if (m->seq > 0) m->last_cert = fuzz_pb_cert(in);
        if (fuzz_pb_u8(in) & 1u) {
            bckm_pbft_prepared *p = calloc(1, sizeof *p);
            FUZZ_CHECK(p != NULL);
            p->view = fuzz_pb_u8(in) % 8u;
            p->seq = m->seq + 1;
            p->block = fuzz_pb_block(in, p->seq, m->last_digest, from);
            bckm_sim_block_digest(p->block, p->digest);
            p->count = fuzz_pb_u8(in) % 5u;
            for (uint32_t i = 0; i < p->count; i++) {
                p->votes[i].from = fuzz_pb_u8(in) % (fuzz_pb_n + 1u);
                p->votes[i].sig[0] = (uint8_t)fuzz_pb_u8(in);
            }
            m->prepared = p;
        }
        bckm_pbft_vc_digest(m, m->digest);
        break;
    case BCKM_PBFT_NEWVIEW: {
        m->nvc = fuzz_pb_u8(in) % 5u;
        uint32_t got = 0;
        for (uint32_t i = 0; i < m->nvc; i++) {
            bckm_pbft_msg *vc = fuzz_pb_pool_find(BCKM_PBFT_VIEWCHANGE, fuzz_pb_u8(in) % 4u);
            if (vc != NULL) m->vcs[got++] = bckm_pbft_msg_ref(vc);
        }
        m->nvc = got;
        if (fuzz_pb_u8(in) & 1u)
            m->pp = bckm_pbft_msg_ref(fuzz_pb_pool_find(BCKM_PBFT_PREPREPARE, 0));
        bckm_pbft_nv_digest(m, m->digest);
        break;
    }
    case BCKM_PBFT_BLOCKS: {
        uint32_t nb = fuzz_pb_u8(in) % 3u;
        uint8_t prev[32];
        memcpy(prev, fuzz_pb_r.last_digest, 32);
        for (uint32_t i = 0; i < nb; i++) {
            m->blocks[i] = fuzz_pb_block(in, fuzz_pb_r.committed + 1 + i, prev, from);
            bckm_sim_block_digest(m->blocks[i], prev);
            m->certs[i] = fuzz_pb_cert(in);
        }
        m->nblocks = nb;
        break;
    }
    default: fuzz_pb_digest(in, m->digest); break;
    }
    m->sig[0] = (uint8_t)fuzz_pb_u8(in);
    return m;
}

/* Takes every action the replica produced and checks the commits. */
static void fuzz_pb_drain(uint64_t *committed) {
    bckm_pbft_action a;
    while (bckm_pbft_pop(&fuzz_pb_r, &a)) {
        switch (a.kind) {
        case BCKM_PBFT_ACT_SEND:
        case BCKM_PBFT_ACT_BROADCAST:
            FUZZ_CHECK(a.msg != NULL && a.msg->from == FUZZ_PB_ME);
            fuzz_pb_pool_add(a.msg); /* the pool takes the reference */
            break;
        case BCKM_PBFT_ACT_COMMIT: {
            /* With a single forging peer nothing can reach a quorum. */
            FUZZ_CHECK(fuzz_pb_open);
            FUZZ_CHECK(a.block != NULL && a.cert != NULL);
            FUZZ_CHECK(a.block->h.height == *committed + 1);
            uint8_t d[32];
            bckm_sim_block_digest(a.block, d);
            FUZZ_CHECK(bckm_pbft_cert_valid(&fuzz_pb_r, a.block->h.height, d, a.cert));
            *committed = a.block->h.height;
            bckm_pbft_executed(&fuzz_pb_r, a.block->h.height, d);
            bckm_sim_block_free(a.block);
            free(a.cert);
            bckm_pbft_msg_unref(a.msg);
            break;
        }
        case BCKM_PBFT_ACT_STABLE:
            FUZZ_CHECK(fuzz_pb_open);
            bckm_pbft_msg_unref(a.msg);
            break;
        default:
            bckm_pbft_msg_unref(a.msg);
            bckm_sim_block_free(a.block);
            free(a.cert);
            break;
        }
    }
}

static int fuzz_pbft(const uint8_t *data, size_t size) {
    fuzz_pb_setup();
    fuzz_pb_in in = { data, size };
    uint32_t mode = fuzz_pb_u8(&in);
    fuzz_pb_open = (int)(mode & 1u);
    fuzz_pb_n = (mode & 2u) ? 5u : 4u;

    bckm_pbft_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n = fuzz_pb_n;
    cfg.id = FUZZ_PB_ME;
    memcpy(cfg.sk, fuzz_pb_sk[FUZZ_PB_ME], sizeof cfg.sk);
    for (uint32_t i = 0; i < fuzz_pb_n; i++) memcpy(cfg.pk[i], fuzz_pb_pk[i], 32);
    cfg.vc_timeout_us = 1000000;
    cfg.retransmit_us = 200000;
    cfg.fetch_delay_us = 100000;
    cfg.checkpoint_interval = 2;
    cfg.verify = fuzz_pb_verify;
    cfg.validate = fuzz_pb_validate;
    uint8_t genesis[32] = { 0 };
    FUZZ_CHECK(bckm_pbft_init(&fuzz_pb_r, &cfg, 0, genesis, NULL, NULL, NULL, 0) == BCKM_OK);

    uint64_t now = 0, committed = 0, view = fuzz_pb_r.d.view;
    for (int op = 0; op < FUZZ_PB_MAX_OPS && in.n > 0; op++) {
        uint32_t code = fuzz_pb_u8(&in);
        uint32_t kind = code % 8u;
        if (kind == 0) {
            now += (uint64_t)(fuzz_pb_u8(&in) + 1u) * 10000u;
            bckm_pbft_on_tick(&fuzz_pb_r, now, (code & 0x10u) != 0, (code & 0x20u) != 0);
        } else {
            bckm_pbft_msg *m = fuzz_pb_message(&in, kind);
            now += 1000;
            bckm_pbft_on_message(&fuzz_pb_r, m, now);
            fuzz_pb_pool_add(m);
        }
        fuzz_pb_drain(&committed);
        FUZZ_CHECK(fuzz_pb_r.committed == committed);
        FUZZ_CHECK(fuzz_pb_r.d.view >= view);
        view = fuzz_pb_r.d.view;
        /* Entering a view needs a NEW-VIEW built from a quorum of
         * VIEW-CHANGEs: out of reach with one forging peer. */
        if (!fuzz_pb_open) FUZZ_CHECK(fuzz_pb_r.d.view == 0 || fuzz_pb_r.d.in_vc);
    }

    if (getenv("FUZZ_TRACE") != NULL)
        fprintf(stderr, "pbft: %s mode, committed %llu, view %llu%s, rejected %llu\n",
                fuzz_pb_open ? "open" : "safety", (unsigned long long)committed,
                (unsigned long long)fuzz_pb_r.d.view, fuzz_pb_r.d.in_vc ? " (changing)" : "",
                (unsigned long long)fuzz_pb_r.rejected_msgs);
    bckm_pbft_free(&fuzz_pb_r);
    for (int i = 0; i < FUZZ_PB_POOL; i++) {
        bckm_pbft_msg_unref(fuzz_pb_pool[i]);
        fuzz_pb_pool[i] = NULL;
    }
    fuzz_pb_pool_next = 0;
    bckm_sim_block_free(fuzz_pb_last_block);
    fuzz_pb_last_block = NULL;
    return 0;
}

FUZZ_ENTRY(fuzz_pbft)
