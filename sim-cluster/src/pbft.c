#include "sim/pbft.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bckm/common.h"

/* ---- messages ---------------------------------------------------------- */

bckm_pbft_msg *bckm_pbft_msg_new(uint8_t type, uint32_t from) {
    bckm_pbft_msg *m = calloc(1, sizeof *m);
    if (m == NULL) abort(); /* the simulator cannot continue coherently without memory */
    m->refs = 1;
    m->type = type;
    m->from = from;
    return m;
}

bckm_pbft_msg *bckm_pbft_msg_ref(bckm_pbft_msg *m) {
    if (m != NULL) m->refs++;
    return m;
}

static void prepared_free(bckm_pbft_prepared *p) {
    if (p == NULL) return;
    bckm_sim_block_free(p->block);
    p->block = NULL;
}

void bckm_pbft_msg_unref(bckm_pbft_msg *m) {
    if (m == NULL || --m->refs > 0) return;
    bckm_sim_block_free(m->block);
    free(m->last_cert);
    if (m->prepared) {
        prepared_free(m->prepared);
        free(m->prepared);
    }
    for (uint32_t i = 0; i < m->nvc; i++) bckm_pbft_msg_unref(m->vcs[i]);
    bckm_pbft_msg_unref(m->pp);
    for (uint32_t i = 0; i < m->nblocks; i++) {
        bckm_sim_block_free(m->blocks[i]);
        free(m->certs[i]);
    }
    free(m);
}

void bckm_pbft_vc_digest(const bckm_pbft_msg *m, uint8_t out[32]) {
    uint8_t buf[32 + 1 + 8 + 8 + 32 + 8];
    memset(buf, 0, sizeof buf);
    memcpy(buf, m->last_digest, 32);
    bckm_put_u64(buf + 41, m->last_cert ? m->last_cert->view : 0);
    if (m->prepared) {
        buf[32] = 1;
        bckm_put_u64(buf + 33, m->prepared->view);
        memcpy(buf + 49, m->prepared->digest, 32);
    }
    crypto_generichash(out, 32, buf, sizeof buf, (const uint8_t *)"bckm-sim-vc-v1", 14);
}

void bckm_pbft_nv_digest(const bckm_pbft_msg *m, uint8_t out[32]) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, (const uint8_t *)"bckm-sim-nv-v1", 14, 32);
    for (uint32_t i = 0; i < m->nvc; i++) {
        uint8_t b[4];
        bckm_put_u32(b, m->vcs[i]->from);
        crypto_generichash_update(&st, b, 4);
        crypto_generichash_update(&st, m->vcs[i]->sig, BCKM_SIM_SIG_BYTES);
    }
    if (m->pp) crypto_generichash_update(&st, m->pp->sig, BCKM_SIM_SIG_BYTES);
    crypto_generichash_final(&st, out, 32);
}

/* What a message's signature covers: core's commit message for a COMMIT
 * (so q of them are the block's core certificate), the PBFT signed bytes
 * otherwise. Returns the length written to out. */
static size_t signed_message(uint8_t out[BCKM_SIM_SIGNED_BYTES], uint8_t type, uint64_t view,
                             uint64_t seq, const uint8_t digest[32], uint32_t from) {
    _Static_assert(BCKM_COMMIT_MSG_BYTES <= BCKM_SIM_SIGNED_BYTES, "one buffer holds either");
    if (type == BCKM_PBFT_COMMIT) {
        bckm_commit_message(seq, view, digest, out);
        return BCKM_COMMIT_MSG_BYTES;
    }
    bckm_sim_signed_bytes(out, type, view, seq, digest, from);
    return BCKM_SIM_SIGNED_BYTES;
}

void bckm_pbft_msg_sign(bckm_pbft_msg *m, const uint8_t sk[64]) {
    uint8_t sb[BCKM_SIM_SIGNED_BYTES];
    size_t n = signed_message(sb, m->type, m->view, m->seq, m->digest, m->from);
    crypto_sign_detached(m->sig, NULL, sb, n, sk);
}

/* ---- helpers ----------------------------------------------------------- */

static void push(bckm_pbft_replica *r, bckm_pbft_action a) {
    if (r->out_len == r->out_cap) {
        /* compact first: popped actions sit at the front */
        if (r->out_head > 0) {
            memmove(r->out, r->out + r->out_head, (r->out_len - r->out_head) * sizeof *r->out);
            r->out_len -= r->out_head;
            r->out_head = 0;
        }
        if (r->out_len == r->out_cap) {
            size_t ncap = r->out_cap ? r->out_cap * 2 : 32;
            bckm_pbft_action *n = realloc(r->out, ncap * sizeof *n);
            if (n == NULL) abort();
            r->out = n;
            r->out_cap = ncap;
        }
    }
    r->out[r->out_len++] = a;
}

int bckm_pbft_pop(bckm_pbft_replica *r, bckm_pbft_action *a) {
    if (r->out_head == r->out_len) {
        r->out_head = r->out_len = 0;
        return 0;
    }
    *a = r->out[r->out_head++];
    return 1;
}

/* Sends (to = id of another replica) or broadcasts (to = UINT32_MAX); takes m. */
static void emit(bckm_pbft_replica *r, bckm_pbft_msg *m, uint32_t to) {
    m->hint = r->committed;
    bckm_pbft_action a = {
        to == UINT32_MAX ? BCKM_PBFT_ACT_BROADCAST : BCKM_PBFT_ACT_SEND, to, 0, m, NULL, NULL
    };
    push(r, a);
}

static int sig_ok(const bckm_pbft_replica *r, uint8_t type, uint64_t view, uint64_t seq,
                  const uint8_t digest[32], uint32_t from, const uint8_t sig[64]) {
    if (from >= r->cfg.n) return 0;
    uint8_t sb[BCKM_SIM_SIGNED_BYTES];
    size_t n = signed_message(sb, type, view, seq, digest, from);
    return r->cfg.verify(r->cfg.ctx, r->cfg.pk[from], sb, n, sig);
}

static int msg_sig_ok(const bckm_pbft_replica *r, const bckm_pbft_msg *m) {
    return sig_ok(r, m->type, m->view, m->seq, m->digest, m->from, m->sig);
}

int bckm_pbft_cert_valid(const bckm_pbft_replica *r, uint64_t height, const uint8_t digest[32],
                         const struct bckm_cert *cert) {
    /* A core certificate (version, height, hash, canonical signers) whose
     * signatures are q valid COMMITs of distinct replicas (BP ID = replica
     * ID + 1) in the certificate's view. */
    if (cert == NULL || cert->count > BCKM_SIM_MAX_BPS || cert->version != BCKM_CERT_VERSION ||
        cert->height != height || memcmp(cert->block_hash, digest, 32) != 0)
        return 0;
    uint8_t seen[BCKM_SIM_MAX_BPS] = { 0 };
    uint32_t good = 0;
    for (uint32_t i = 0; i < cert->count; i++) {
        if (cert->sigs[i].bp == 0 || cert->sigs[i].bp > r->cfg.n) continue;
        if (i > 0 && cert->sigs[i].bp <= cert->sigs[i - 1].bp) return 0; /* not canonical */
        uint32_t s = cert->sigs[i].bp - 1u;
        if (seen[s]) continue;
        if (!sig_ok(r, BCKM_PBFT_COMMIT, cert->view, height, digest, s, cert->sigs[i].sig))
            continue;
        seen[s] = 1;
        good++;
    }
    return good >= r->q;
}

static int prepared_valid(const bckm_pbft_replica *r, const bckm_pbft_prepared *p) {
    if (p->block == NULL || p->count > BCKM_SIM_MAX_BPS || p->block->h.height != p->seq) return 0;
    uint8_t d[32];
    if (bckm_sim_block_digest(p->block, d) != BCKM_OK || memcmp(d, p->digest, 32) != 0) return 0;
    uint8_t seen[BCKM_SIM_MAX_BPS] = { 0 };
    uint32_t good = 0;
    for (uint32_t i = 0; i < p->count; i++) {
        uint32_t s = p->votes[i].from;
        if (s >= r->cfg.n || seen[s]) continue;
        if (!sig_ok(r, BCKM_PBFT_PREPARE, p->view, p->seq, p->digest, s, p->votes[i].sig)) continue;
        seen[s] = 1;
        good++;
    }
    return good >= r->q;
}

static void prepared_copy(bckm_pbft_prepared *dst, const bckm_pbft_prepared *src) {
    *dst = *src;
    dst->block = bckm_sim_block_dup(src->block);
    if (dst->block == NULL) abort();
}

int bckm_pbft_durable_copy(bckm_pbft_durable *dst, const bckm_pbft_durable *src) {
    *dst = *src;
    if (src->has_prepared) {
        dst->prepared.block = bckm_sim_block_dup(src->prepared.block);
        if (dst->prepared.block == NULL) return BCKM_ERR_NOMEM;
    } else {
        dst->prepared.block = NULL;
    }
    return BCKM_OK;
}

void bckm_pbft_durable_free(bckm_pbft_durable *d) {
    if (d->has_prepared) prepared_free(&d->prepared);
    d->has_prepared = 0;
}

static void slot_clear(bckm_pbft_slot *s) {
    bckm_sim_block_free(s->block);
    bckm_pbft_msg_unref(s->pp);
    memset(s, 0, sizeof *s);
}

static void slots_clear(bckm_pbft_replica *r) {
    for (uint32_t i = 0; i < BCKM_PBFT_WINDOW; i++) slot_clear(&r->slot[i]);
}

/* After a commit: slot 0 is done, the others move down one height. */
static void slots_shift(bckm_pbft_replica *r) {
    slot_clear(&r->slot[0]);
    memmove(&r->slot[0], &r->slot[1], (BCKM_PBFT_WINDOW - 1) * sizeof r->slot[0]);
    memset(&r->slot[BCKM_PBFT_WINDOW - 1], 0, sizeof r->slot[0]);
}

static uint32_t primary_of(const bckm_pbft_replica *r, uint64_t view) {
    return bckm_pbft_primary(view, r->cfg.n);
}

/* ---- normal case ------------------------------------------------------- */

static void try_progress(bckm_pbft_replica *r);
static void adopt_nv_pp(bckm_pbft_replica *r);

/* gcc -fanalyzer (GCC 12) reports the vote and the certificate copy as
 * leaked: false positives, both go into r's action queue (push). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
static void send_vote(bckm_pbft_replica *r, uint8_t type, uint64_t seq, const uint8_t d[32],
                      bckm_pbft_slot *s) {
    bckm_pbft_msg *m = bckm_pbft_msg_new(type, r->cfg.id);
    m->view = r->d.view;
    m->seq = seq;
    memcpy(m->digest, d, 32);
    bckm_pbft_msg_sign(m, r->cfg.sk);
    uint32_t me = r->cfg.id;
    if (type == BCKM_PBFT_PREPARE) {
        s->phave[me] = 1;
        memcpy(s->pdig[me], d, 32);
        memcpy(s->psig[me], m->sig, BCKM_SIM_SIG_BYTES);
        s->sent_prepare = 1;
        r->d.vote_view = r->d.view;
        r->d.vote_seq = seq;
        memcpy(r->d.vote_digest, d, 32);
    } else {
        s->chave[me] = 1;
        memcpy(s->cdig[me], d, 32);
        memcpy(s->csig[me], m->sig, BCKM_SIM_SIG_BYTES);
        s->sent_commit = 1;
    }
    emit(r, m, UINT32_MAX);
}

static uint32_t count_votes(const bckm_pbft_replica *r, const uint8_t have[], uint8_t dig[][32],
                            const uint8_t d[32]) {
    uint32_t c = 0;
    for (uint32_t i = 0; i < r->cfg.n; i++)
        if (have[i] && memcmp(dig[i], d, 32) == 0) c++;
    return c;
}

static void commit_block(bckm_pbft_replica *r, bckm_sim_block *block, const uint8_t d[32],
                         const struct bckm_cert *cert) {
    struct bckm_cert *c = malloc(sizeof *c);
    if (c == NULL) abort();
    *c = *cert;
    r->committed = block->h.height;
    memcpy(r->last_digest, d, 32);
    r->last_cert = *cert;
    r->last_progress_us = r->now_us;
    r->vc_attempts = 0;
    if (r->d.has_prepared && r->d.prepared.seq <= r->committed) bckm_pbft_durable_free(&r->d);
    bckm_pbft_action a = { BCKM_PBFT_ACT_COMMIT, 0, block->h.height, NULL, block, c };
    push(r, a);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static void try_progress(bckm_pbft_replica *r) {
    for (;;) {
        bckm_pbft_slot *s = &r->slot[0];
        uint64_t seq = r->committed + 1;
        if (r->d.in_vc || !s->have_pp) return;
        /* The header's state hash is checked against the host's state
         * after c: wait until the host has executed c (bckm_pbft_executed
         * calls back here). */
        if (r->executed < r->committed) return;
        if (!s->checked) {
            s->checked = 1;
            const bckm_sim_block *b = s->block;
            /* The proposer field is informational: a block re-proposed after
             * a view change keeps the proposer that built it. */
            s->valid = b->h.height == seq && memcmp(b->h.prev_hash, r->last_digest, 32) == 0 &&
                       memcmp(b->h.state_hash, r->state, 32) == 0 &&
                       r->cfg.validate(r->cfg.ctx, b) == 0;
            /* Never vote for two blocks at one (view, height), even across a
             * restart: the durable vote says what this replica already said. */
            if (r->d.vote_view == r->d.view && r->d.vote_seq == seq &&
                memcmp(r->d.vote_digest, s->digest, 32) != 0)
                s->valid = 0;
            if (!s->valid) r->rejected_msgs++;
        }
        if (!s->valid) return;
        if (!s->sent_prepare) send_vote(r, BCKM_PBFT_PREPARE, seq, s->digest, s);
        if (!s->prepared && count_votes(r, s->phave, s->pdig, s->digest) >= r->q) {
            s->prepared = 1;
            /* Keep the prepared certificate: a view change must carry it. */
            bckm_pbft_durable_free(&r->d);
            bckm_pbft_prepared *p = &r->d.prepared;
            memset(p, 0, sizeof *p);
            p->view = r->d.view;
            p->seq = seq;
            memcpy(p->digest, s->digest, 32);
            p->block = bckm_sim_block_dup(s->block);
            if (p->block == NULL) abort();
            for (uint32_t i = 0; i < r->cfg.n && p->count < r->q; i++) {
                if (!s->phave[i] || memcmp(s->pdig[i], s->digest, 32) != 0) continue;
                p->votes[p->count].from = i;
                memcpy(p->votes[p->count].sig, s->psig[i], BCKM_SIM_SIG_BYTES);
                p->count++;
            }
            r->d.has_prepared = 1;
        }
        if (!s->prepared) return;
        if (!s->sent_commit) send_vote(r, BCKM_PBFT_COMMIT, seq, s->digest, s);
        if (count_votes(r, s->chave, s->cdig, s->digest) < r->q) return;
        struct bckm_cert cert;
        memset(&cert, 0, sizeof cert);
        cert.version = BCKM_CERT_VERSION;
        cert.height = seq;
        memcpy(cert.block_hash, s->digest, 32);
        cert.view = r->d.view;
        /* In replica order, so the signers are canonical (increasing BP IDs). */
        for (uint32_t i = 0; i < r->cfg.n && cert.count < r->q; i++) {
            if (!s->chave[i] || memcmp(s->cdig[i], s->digest, 32) != 0) continue;
            cert.sigs[cert.count].bp = i + 1u;
            memcpy(cert.sigs[cert.count].sig, s->csig[i], BCKM_SIM_SIG_BYTES);
            cert.count++;
        }
        bckm_sim_block *b = s->block;
        s->block = NULL;
        uint8_t d[32];
        memcpy(d, s->digest, 32);
        slots_shift(r);
        commit_block(r, b, d, &cert);
        adopt_nv_pp(r);
    }
}

static void accept_preprepare(bckm_pbft_replica *r, const bckm_pbft_msg *m) {
    if (m->block == NULL) return;
    if (m->seq <= r->committed || m->seq > r->committed + BCKM_PBFT_WINDOW) return;
    bckm_pbft_slot *s = &r->slot[m->seq - r->committed - 1];
    if (s->have_pp) return; /* the first PRE-PREPARE for (view, seq) wins */
    uint8_t d[32];
    if (bckm_sim_block_digest(m->block, d) != BCKM_OK || memcmp(d, m->digest, 32) != 0 ||
        m->block->h.height != m->seq)
        return;
    s->block = bckm_sim_block_dup(m->block);
    if (s->block == NULL) abort();
    memcpy(s->digest, d, 32);
    s->have_pp = 1;
    s->pp = bckm_pbft_msg_ref((bckm_pbft_msg *)m);
    /* The primary's PRE-PREPARE is not its PREPARE; it sends one as well. */
    if (m->seq == r->committed + 1) try_progress(r);
}

static void adopt_nv_pp(bckm_pbft_replica *r) {
    if (r->nv_pp == NULL || r->d.in_vc || r->nv_pp->view != r->d.view) return;
    if (r->nv_pp->seq <= r->committed) {
        bckm_pbft_msg_unref(r->nv_pp);
        r->nv_pp = NULL;
        return;
    }
    if (r->nv_pp->seq > r->committed + BCKM_PBFT_WINDOW) return;
    bckm_pbft_msg *pp = r->nv_pp;
    r->nv_pp = NULL;
    accept_preprepare(r, pp);
    bckm_pbft_msg_unref(pp);
}

/* A PREPARE or COMMIT that can change nothing here is dropped before its
 * signature is verified: its height is already committed, or its sender's
 * vote for that slot is already in, or (a PREPARE) the slot has its prepared
 * quorum. PBFT needs a quorum, not every vote, so at p = 3f + 1 up to f
 * votes of each round go unverified. Votes for later heights are still
 * verified: their hints tell a lagging replica to fetch. */
static int vote_useless(const bckm_pbft_replica *r, const bckm_pbft_msg *m) {
    if (m->type != BCKM_PBFT_PREPARE && m->type != BCKM_PBFT_COMMIT) return 0;
    if (m->from >= r->cfg.n) return 0;
    if (m->seq <= r->committed) return 1;
    if (m->view != r->d.view || r->d.in_vc || m->seq > r->committed + BCKM_PBFT_WINDOW) return 0;
    const bckm_pbft_slot *s = &r->slot[m->seq - r->committed - 1];
    if (m->type == BCKM_PBFT_PREPARE) return s->phave[m->from] || s->prepared;
    return s->chave[m->from];
}

static void on_vote(bckm_pbft_replica *r, const bckm_pbft_msg *m) {
    if (m->seq <= r->committed || m->seq > r->committed + BCKM_PBFT_WINDOW) return;
    bckm_pbft_slot *s = &r->slot[m->seq - r->committed - 1];
    if (m->type == BCKM_PBFT_PREPARE) {
        if (s->phave[m->from]) return;
        s->phave[m->from] = 1;
        memcpy(s->pdig[m->from], m->digest, 32);
        memcpy(s->psig[m->from], m->sig, BCKM_SIM_SIG_BYTES);
    } else {
        if (s->chave[m->from]) return;
        s->chave[m->from] = 1;
        memcpy(s->cdig[m->from], m->digest, 32);
        memcpy(s->csig[m->from], m->sig, BCKM_SIM_SIG_BYTES);
    }
    if (m->seq == r->committed + 1) try_progress(r);
}

/* ---- checkpoints ------------------------------------------------------- */

static void check_stable(bckm_pbft_replica *r, uint32_t who) {
    uint64_t s = r->ckpt_seq[who];
    if (s <= r->stable_seq) return;
    uint32_t match = 0;
    for (uint32_t i = 0; i < r->cfg.n; i++)
        if (r->ckpt_seq[i] == s && memcmp(r->ckpt_hash[i], r->ckpt_hash[who], 32) == 0) match++;
    /* Stability needs this replica's own matching checkpoint: it only keeps
     * a snapshot of a state it computed itself. */
    if (match < r->q || r->ckpt_seq[r->cfg.id] != s ||
        memcmp(r->ckpt_hash[r->cfg.id], r->ckpt_hash[who], 32) != 0)
        return;
    r->stable_seq = s;
    bckm_pbft_action a = { BCKM_PBFT_ACT_STABLE, 0, s, NULL, NULL, NULL };
    push(r, a);
}

void bckm_pbft_executed(bckm_pbft_replica *r, uint64_t seq, const uint8_t state_hash[32]) {
    if (seq > r->executed) {
        r->executed = seq;
        memcpy(r->state, state_hash, 32);
        if (seq == r->committed) try_progress(r);
    }
    if (r->cfg.checkpoint_interval == 0 || seq % r->cfg.checkpoint_interval != 0) return;
    bckm_pbft_msg *m = bckm_pbft_msg_new(BCKM_PBFT_CHECKPOINT, r->cfg.id);
    m->seq = seq;
    memcpy(m->digest, state_hash, 32);
    bckm_pbft_msg_sign(m, r->cfg.sk);
    r->ckpt_seq[r->cfg.id] = seq;
    memcpy(r->ckpt_hash[r->cfg.id], state_hash, 32);
    emit(r, m, UINT32_MAX);
    for (uint32_t i = 0; i < r->cfg.n; i++) check_stable(r, i);
}

static void on_checkpoint(bckm_pbft_replica *r, const bckm_pbft_msg *m) {
    if (m->seq <= r->ckpt_seq[m->from]) return;
    r->ckpt_seq[m->from] = m->seq;
    memcpy(r->ckpt_hash[m->from], m->digest, 32);
    check_stable(r, m->from);
}

/* ---- view change ------------------------------------------------------- */

static int vc_valid(const bckm_pbft_replica *r, const bckm_pbft_msg *m) {
    uint8_t d[32];
    bckm_pbft_vc_digest(m, d);
    if (memcmp(d, m->digest, 32) != 0) return 0;
    if (m->seq > 0 && !bckm_pbft_cert_valid(r, m->seq, m->last_digest, m->last_cert)) return 0;
    if (m->seq == 0 && m->last_cert != NULL) return 0;
    if (m->prepared) {
        if (m->prepared->seq != m->seq + 1 || m->prepared->view >= m->view) return 0;
        if (!prepared_valid(r, m->prepared)) return 0;
        if (memcmp(m->prepared->block->h.prev_hash, m->last_digest, 32) != 0) return 0;
    }
    return msg_sig_ok(r, m);
}

/* From q VIEW-CHANGEs: the highest certified height and the block to
 * re-propose after it (the one prepared in the highest view), if any. */
static const bckm_pbft_prepared *nv_choice(bckm_pbft_msg *const *vcs, uint32_t n, uint64_t *smax) {
    uint64_t s = 0;
    for (uint32_t i = 0; i < n; i++)
        if (vcs[i]->seq > s) s = vcs[i]->seq;
    const bckm_pbft_prepared *best = NULL;
    for (uint32_t i = 0; i < n; i++) {
        const bckm_pbft_prepared *p = vcs[i]->prepared;
        if (vcs[i]->seq != s || p == NULL) continue;
        if (best == NULL || p->view > best->view) best = p;
    }
    *smax = s;
    return best;
}

static void maybe_fetch(bckm_pbft_replica *r, int urgent);
static void maybe_new_view(bckm_pbft_replica *r);

static void start_view_change(bckm_pbft_replica *r, uint64_t view) {
    if (view <= r->d.view && (r->d.in_vc || view < r->d.view)) return;
    if (view == r->d.view && !r->d.in_vc) return;
    r->d.view = view;
    r->d.in_vc = 1;
    r->view_changes++;
    r->vc_start_us = r->now_us;
    r->vc_attempts++;
    slots_clear(r);
    bckm_pbft_msg_unref(r->nv);
    r->nv = NULL;
    bckm_pbft_msg_unref(r->nv_pp);
    r->nv_pp = NULL;
    bckm_pbft_msg *m = bckm_pbft_msg_new(BCKM_PBFT_VIEWCHANGE, r->cfg.id);
    m->view = view;
    m->seq = r->committed;
    memcpy(m->last_digest, r->last_digest, 32);
    if (r->committed > 0) {
        m->last_cert = malloc(sizeof *m->last_cert);
        if (m->last_cert == NULL) abort();
        *m->last_cert = r->last_cert;
    }
    if (r->d.has_prepared && r->d.prepared.seq == r->committed + 1) {
        m->prepared = malloc(sizeof *m->prepared);
        if (m->prepared == NULL) abort();
        prepared_copy(m->prepared, &r->d.prepared);
    }
    bckm_pbft_vc_digest(m, m->digest);
    bckm_pbft_msg_sign(m, r->cfg.sk);
    bckm_pbft_msg_unref(r->vcs[r->cfg.id]);
    r->vcs[r->cfg.id] = bckm_pbft_msg_ref(m);
    emit(r, m, UINT32_MAX);
    maybe_new_view(r);
}

static void enter_view(bckm_pbft_replica *r, bckm_pbft_msg *nv) {
    uint64_t smax;
    nv_choice(nv->vcs, nv->nvc, &smax);
    r->d.view = nv->view;
    r->d.in_vc = 0;
    slots_clear(r);
    r->view_start_us = r->now_us;
    r->last_progress_us = r->now_us;
    r->waiting_since_us = r->now_us;
    bckm_pbft_msg_unref(r->nv);
    r->nv = bckm_pbft_msg_ref(nv);
    bckm_pbft_msg_unref(r->nv_pp);
    r->nv_pp = bckm_pbft_msg_ref(nv->pp);
    r->nv_smax = smax;
    for (uint32_t i = 0; i < nv->nvc; i++)
        if (nv->vcs[i]->from != r->cfg.id && nv->vcs[i]->seq > r->hint[nv->vcs[i]->from])
            r->hint[nv->vcs[i]->from] = nv->vcs[i]->seq;
    adopt_nv_pp(r);
    if (smax > r->committed) maybe_fetch(r, 1);
}

static void maybe_new_view(bckm_pbft_replica *r) {
    uint64_t v = r->d.view;
    if (!r->d.in_vc || primary_of(r, v) != r->cfg.id) return;
    bckm_pbft_msg *set[BCKM_SIM_MAX_BPS];
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->cfg.n && k < r->q; i++)
        if (r->vcs[i] != NULL && r->vcs[i]->view == v) set[k++] = r->vcs[i];
    if (k < r->q) return;
    bckm_pbft_msg *nv = bckm_pbft_msg_new(BCKM_PBFT_NEWVIEW, r->cfg.id);
    nv->view = v;
    nv->nvc = k;
    for (uint32_t i = 0; i < k; i++) nv->vcs[i] = bckm_pbft_msg_ref(set[i]);
    uint64_t smax;
    const bckm_pbft_prepared *p = nv_choice(set, k, &smax);
    nv->seq = smax;
    if (p != NULL) {
        bckm_pbft_msg *pp = bckm_pbft_msg_new(BCKM_PBFT_PREPREPARE, r->cfg.id);
        pp->view = v;
        pp->seq = smax + 1;
        memcpy(pp->digest, p->digest, 32);
        pp->block = bckm_sim_block_dup(p->block);
        if (pp->block == NULL) abort();
        /* The proposer field is part of the block; the re-proposed block
         * keeps its original proposer, so accept either. */
        bckm_pbft_msg_sign(pp, r->cfg.sk);
        nv->pp = pp;
    }
    bckm_pbft_nv_digest(nv, nv->digest);
    bckm_pbft_msg_sign(nv, r->cfg.sk);
    /* Send the NEW-VIEW before the votes that entering the view produces. */
    emit(r, bckm_pbft_msg_ref(nv), UINT32_MAX);
    enter_view(r, nv);
    bckm_pbft_msg_unref(nv);
}

static int nv_valid(const bckm_pbft_replica *r, const bckm_pbft_msg *m) {
    if (m->from != primary_of(r, m->view) || m->nvc < r->q || m->nvc > r->cfg.n) return 0;
    uint8_t seen[BCKM_SIM_MAX_BPS] = { 0 };
    for (uint32_t i = 0; i < m->nvc; i++) {
        const bckm_pbft_msg *vc = m->vcs[i];
        if (vc == NULL || vc->type != BCKM_PBFT_VIEWCHANGE || vc->view != m->view ||
            vc->from >= r->cfg.n || seen[vc->from])
            return 0;
        seen[vc->from] = 1;
        if (!vc_valid(r, vc)) return 0;
    }
    uint64_t smax;
    const bckm_pbft_prepared *p = nv_choice((bckm_pbft_msg *const *)m->vcs, m->nvc, &smax);
    if (m->seq != smax) return 0;
    if (p == NULL) {
        if (m->pp != NULL) return 0;
    } else {
        const bckm_pbft_msg *pp = m->pp;
        if (pp == NULL || pp->type != BCKM_PBFT_PREPREPARE || pp->from != m->from ||
            pp->view != m->view || pp->seq != smax + 1 || memcmp(pp->digest, p->digest, 32) != 0 ||
            pp->block == NULL || !msg_sig_ok(r, pp))
            return 0;
        uint8_t d[32];
        if (bckm_sim_block_digest(pp->block, d) != BCKM_OK || memcmp(d, pp->digest, 32) != 0)
            return 0;
    }
    uint8_t d[32];
    bckm_pbft_nv_digest(m, d);
    if (memcmp(d, m->digest, 32) != 0) return 0;
    return msg_sig_ok(r, m);
}

static void on_viewchange(bckm_pbft_replica *r, const bckm_pbft_msg *m) {
    if (m->view < r->d.view || (m->view == r->d.view && !r->d.in_vc)) {
        /* A replica still asking for a view we are already in missed the
         * NEW-VIEW: the primary sends it again. */
        if (m->view == r->d.view && r->nv != NULL && primary_of(r, r->d.view) == r->cfg.id)
            emit(r, bckm_pbft_msg_ref(r->nv), m->from);
        return;
    }
    if (r->vcs[m->from] != NULL && r->vcs[m->from]->view >= m->view) return;
    if (!vc_valid(r, m)) {
        r->rejected_msgs++;
        return;
    }
    bckm_pbft_msg_unref(r->vcs[m->from]);
    r->vcs[m->from] = bckm_pbft_msg_ref((bckm_pbft_msg *)m);
    if (m->seq > r->hint[m->from]) r->hint[m->from] = m->seq;
    /* f+1 replicas want a later view: at least one is correct, so join the
     * smallest such view rather than wait for our own timer. */
    uint64_t cur = r->d.view;
    uint32_t above = 0;
    uint64_t smallest = UINT64_MAX;
    for (uint32_t i = 0; i < r->cfg.n; i++) {
        if (i == r->cfg.id || r->vcs[i] == NULL) continue;
        uint64_t v = r->vcs[i]->view;
        if (v > cur) {
            above++;
            if (v < smallest) smallest = v;
        }
    }
    if (above >= r->f + 1) start_view_change(r, smallest);
    maybe_new_view(r);
}

static void on_newview(bckm_pbft_replica *r, const bckm_pbft_msg *m) {
    if (m->view < r->d.view) return;
    if (m->view == r->d.view && !r->d.in_vc) {
        /* Already in this view: only its re-proposal may still be useful. */
        if (r->nv != NULL && memcmp(r->nv->digest, m->digest, 32) == 0 && m->pp != NULL &&
            r->nv_pp == NULL && m->pp->seq > r->committed) {
            r->nv_pp = bckm_pbft_msg_ref(m->pp);
            adopt_nv_pp(r);
        }
        return;
    }
    if (!nv_valid(r, m)) {
        r->rejected_msgs++;
        return;
    }
    enter_view(r, (bckm_pbft_msg *)m);
}

/* ---- state transfer ---------------------------------------------------- */

/* The highest height another replica claims. A lie costs at most one
 * useless FETCH per fetch delay (blocks come with certificates), while a
 * stricter rule (f+1 claims) would strand a replica whose only peer ahead is
 * the one correct replica that committed the last block. */
static uint64_t robust_hint(const bckm_pbft_replica *r) {
    uint64_t top = 0;
    for (uint32_t i = 0; i < r->cfg.n; i++)
        if (i != r->cfg.id && r->hint[i] > top) top = r->hint[i];
    return top;
}

static void maybe_fetch(bckm_pbft_replica *r, int urgent) {
    uint64_t h = robust_hint(r);
    if (h <= r->committed) return;
    if (!urgent && h == r->committed + 1 && r->now_us - r->last_progress_us < r->cfg.fetch_delay_us)
        return;
    if (r->last_fetch_us != 0 && r->now_us - r->last_fetch_us < r->cfg.fetch_delay_us) return;
    /* Ask each replica that claims to be ahead in turn, so a liar or a
     * silent one delays catching up by one fetch delay at most. */
    for (uint32_t k = 0; k < r->cfg.n; k++) {
        uint32_t i = (r->fetch_rr + k) % r->cfg.n;
        if (i == r->cfg.id || r->hint[i] <= r->committed) continue;
        bckm_pbft_msg *m = bckm_pbft_msg_new(BCKM_PBFT_FETCH, r->cfg.id);
        m->seq = r->committed + 1;
        emit(r, m, i);
        r->fetch_rr = i + 1;
        r->last_fetch_us = r->now_us;
        r->fetches++;
        return;
    }
}

static void on_blocks(bckm_pbft_replica *r, const bckm_pbft_msg *m) {
    for (uint32_t i = 0; i < m->nblocks && i < BCKM_PBFT_FETCH_MAX; i++) {
        const bckm_sim_block *b = m->blocks[i];
        if (b == NULL || m->certs[i] == NULL) return;
        if (b->h.height <= r->committed) continue;
        if (b->h.height != r->committed + 1 || memcmp(b->h.prev_hash, r->last_digest, 32) != 0)
            return;
        uint8_t d[32];
        if (bckm_sim_block_digest(b, d) != BCKM_OK ||
            !bckm_pbft_cert_valid(r, b->h.height, d, m->certs[i])) {
            r->rejected_msgs++;
            return;
        }
        bckm_sim_block *copy = bckm_sim_block_dup(b);
        if (copy == NULL) abort();
        slots_shift(r);
        commit_block(r, copy, d, m->certs[i]);
    }
    adopt_nv_pp(r);
    try_progress(r);
    r->last_fetch_us = 0; /* more may be missing: ask again at once if so */
    maybe_fetch(r, 1);
}

/* ---- entry points ------------------------------------------------------ */

int bckm_pbft_init(bckm_pbft_replica *r, const bckm_pbft_config *cfg, uint64_t committed,
                   const uint8_t last_digest[32], const struct bckm_cert *last_cert,
                   const uint8_t state[32], const bckm_pbft_durable *durable, uint64_t now_us) {
    if (r == NULL || cfg == NULL || cfg->n == 0 || cfg->n > BCKM_SIM_MAX_BPS || cfg->id >= cfg->n ||
        cfg->verify == NULL || cfg->validate == NULL)
        return BCKM_ERR_ARG;
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    r->f = bckm_pbft_f(cfg->n);
    r->q = bckm_pbft_quorum(cfg->n);
    r->committed = committed;
    r->executed = committed;
    if (state) memcpy(r->state, state, 32);
    if (last_digest) memcpy(r->last_digest, last_digest, 32);
    if (last_cert) r->last_cert = *last_cert;
    r->now_us = now_us;
    r->last_progress_us = r->view_start_us = r->waiting_since_us = now_us;
    r->stable_seq = 0;
    if (durable != NULL) {
        int rc = bckm_pbft_durable_copy(&r->d, durable);
        if (rc != BCKM_OK) return rc;
        if (r->d.has_prepared && r->d.prepared.seq <= committed) bckm_pbft_durable_free(&r->d);
        if (r->d.in_vc && r->d.view > 0) {
            /* It had asked for this view before the crash: ask again (the
             * view-change message itself was not durable). */
            uint64_t v = r->d.view;
            r->d.in_vc = 0;
            r->d.view = v - 1;
            start_view_change(r, v);
        }
    }
    return BCKM_OK;
}

void bckm_pbft_free(bckm_pbft_replica *r) {
    slots_clear(r);
    for (uint32_t i = 0; i < BCKM_SIM_MAX_BPS; i++) bckm_pbft_msg_unref(r->vcs[i]);
    bckm_pbft_msg_unref(r->nv);
    bckm_pbft_msg_unref(r->nv_pp);
    bckm_pbft_durable_free(&r->d);
    bckm_pbft_action a;
    while (bckm_pbft_pop(r, &a)) {
        bckm_pbft_msg_unref(a.msg);
        bckm_sim_block_free(a.block);
        free(a.cert);
    }
    free(r->out);
    bckm_wipe(r->cfg.sk, sizeof r->cfg.sk);
    memset(r, 0, sizeof *r);
}

void bckm_pbft_on_message(bckm_pbft_replica *r, const bckm_pbft_msg *m, uint64_t now_us) {
    r->now_us = now_us;
    if (m == NULL || m->from >= r->cfg.n || m->from == r->cfg.id) return;
    if (m->type == BCKM_PBFT_BLOCKS) {
        on_blocks(r, m);
        return;
    }
    if (m->type == BCKM_PBFT_STATUS) {
        if (m->hint > r->hint[m->from]) r->hint[m->from] = m->hint;
        maybe_fetch(r, 0);
        return;
    }
    if (m->type == BCKM_PBFT_FETCH) {
        if (m->seq >= 1 && m->seq <= r->committed) {
            bckm_pbft_action a = { BCKM_PBFT_ACT_FETCH_REPLY, m->from, m->seq, NULL, NULL, NULL };
            push(r, a);
        }
        return;
    }
    if (m->type < BCKM_PBFT_PREPREPARE || m->type > BCKM_PBFT_NEWVIEW) return;
    if (vote_useless(r, m)) return;
    /* VIEW-CHANGE and NEW-VIEW carry nested proofs and check their own
     * signature last; everything else is checked here first. */
    if (m->type != BCKM_PBFT_VIEWCHANGE && m->type != BCKM_PBFT_NEWVIEW && !msg_sig_ok(r, m)) {
        r->rejected_msgs++;
        return;
    }
    if (m->type != BCKM_PBFT_VIEWCHANGE && m->type != BCKM_PBFT_NEWVIEW &&
        m->hint > r->hint[m->from])
        r->hint[m->from] = m->hint;
    switch (m->type) {
    case BCKM_PBFT_PREPREPARE:
        if (m->view == r->d.view && !r->d.in_vc && m->from == primary_of(r, m->view))
            accept_preprepare(r, m);
        break;
    case BCKM_PBFT_PREPARE:
    case BCKM_PBFT_COMMIT:
        if (m->view == r->d.view && !r->d.in_vc) on_vote(r, m);
        break;
    case BCKM_PBFT_CHECKPOINT:
        if (m->seq > r->hint[m->from]) r->hint[m->from] = m->seq;
        on_checkpoint(r, m);
        break;
    case BCKM_PBFT_VIEWCHANGE: on_viewchange(r, m); break;
    case BCKM_PBFT_NEWVIEW: on_newview(r, m); break;
    default: break;
    }
    maybe_fetch(r, 0);
}

static void retransmit(bckm_pbft_replica *r) {
    emit(r, bckm_pbft_msg_new(BCKM_PBFT_STATUS, r->cfg.id), UINT32_MAX);
    if (r->d.in_vc) {
        if (r->vcs[r->cfg.id] != NULL) emit(r, bckm_pbft_msg_ref(r->vcs[r->cfg.id]), UINT32_MAX);
        return;
    }
    if (primary_of(r, r->d.view) == r->cfg.id && r->nv != NULL)
        emit(r, bckm_pbft_msg_ref(r->nv), UINT32_MAX);
    for (uint32_t i = 0; i < BCKM_PBFT_WINDOW; i++) {
        bckm_pbft_slot *s = &r->slot[i];
        if (s->have_pp && s->pp != NULL && s->pp->from == r->cfg.id)
            emit(r, bckm_pbft_msg_ref(s->pp), UINT32_MAX);
    }
    bckm_pbft_slot *s = &r->slot[0];
    uint32_t me = r->cfg.id;
    uint8_t types[2] = { BCKM_PBFT_PREPARE, BCKM_PBFT_COMMIT };
    for (int t = 0; t < 2; t++) {
        int sent = t == 0 ? s->sent_prepare : s->sent_commit;
        if (!sent) continue;
        bckm_pbft_msg *m = bckm_pbft_msg_new(types[t], me);
        m->view = r->d.view;
        m->seq = r->committed + 1;
        memcpy(m->digest, t == 0 ? s->pdig[me] : s->cdig[me], 32);
        memcpy(m->sig, t == 0 ? s->psig[me] : s->csig[me], BCKM_SIM_SIG_BYTES);
        emit(r, m, UINT32_MAX);
    }
}

void bckm_pbft_on_tick(bckm_pbft_replica *r, uint64_t now_us, int has_pending, int starved) {
    r->now_us = now_us;
    uint64_t timeout = r->cfg.vc_timeout_us;
    for (uint32_t i = 1; i < r->vc_attempts && i < 5; i++) timeout *= 2;
    if (r->d.in_vc) {
        /* As in PBFT, the timer towards view v+1 runs only once q replicas
         * asked for v (or later: asking for a later view gave up on this one
         * too). A replica cut off from the others waits instead of racing
         * alone through views it would have to be talked down from. */
        uint32_t asking = 0;
        for (uint32_t i = 0; i < r->cfg.n; i++)
            if (r->vcs[i] != NULL && r->vcs[i]->view >= r->d.view) asking++;
        if (asking < r->q) {
            r->vc_start_us = now_us;
        } else if (now_us - r->vc_start_us >= timeout) {
            start_view_change(r, r->d.view + 1);
        }
    } else {
        int waiting = has_pending || r->slot[0].have_pp;
        if (!waiting) {
            r->waiting = 0;
        } else if (!r->waiting) {
            r->waiting = 1;
            r->waiting_since_us = now_us;
        }
        uint64_t since =
            r->last_progress_us > r->waiting_since_us ? r->last_progress_us : r->waiting_since_us;
        // NOLINTNEXTLINE(bugprone-branch-clone): the same remedy for two causes
        if (r->waiting && now_us - since >= timeout) {
            start_view_change(r, r->d.view + 1);
        } else if (starved && now_us - r->view_start_us >= timeout) {
            /* Commits happen but old requests never get in: a censoring
             * primary looks exactly like this. */
            start_view_change(r, r->d.view + 1);
        }
    }
    if (now_us - r->last_retransmit_us >= r->cfg.retransmit_us) {
        r->last_retransmit_us = now_us;
        retransmit(r);
    }
    maybe_fetch(r, 0);
}

int bckm_pbft_can_propose(const bckm_pbft_replica *r, uint64_t *height, uint8_t prev[32]) {
    if (r->d.in_vc || primary_of(r, r->d.view) != r->cfg.id) return 0;
    if (r->slot[0].have_pp || r->nv_pp != NULL || r->committed < r->nv_smax) return 0;
    if (height) *height = r->committed + 1;
    if (prev) memcpy(prev, r->last_digest, 32);
    return 1;
}

int bckm_pbft_propose(bckm_pbft_replica *r, const bckm_sim_block *b, uint64_t now_us) {
    r->now_us = now_us;
    if (!bckm_pbft_can_propose(r, NULL, NULL)) return BCKM_ERR_STATE;
    if (b->h.height != r->committed + 1 || memcmp(b->h.prev_hash, r->last_digest, 32) != 0)
        return BCKM_ERR_ARG;
    bckm_pbft_msg *m = bckm_pbft_msg_new(BCKM_PBFT_PREPREPARE, r->cfg.id);
    m->view = r->d.view;
    m->seq = b->h.height;
    m->block = bckm_sim_block_dup(b);
    if (m->block == NULL) abort();
    if (bckm_sim_block_digest(b, m->digest) != BCKM_OK) {
        bckm_pbft_msg_unref(m);
        return BCKM_ERR_ARG;
    }
    bckm_pbft_msg_sign(m, r->cfg.sk);
    emit(r, bckm_pbft_msg_ref(m), UINT32_MAX);
    accept_preprepare(r, m);
    bckm_pbft_msg_unref(m);
    return BCKM_OK;
}
