/* What a BP's PBFT replica asks for: executing committed blocks, proposing,
 * answering state transfer, checkpoints; and the ports it is given. */
#include "cluster_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bp_port_verify(void *ctx, const uint8_t pk[32], const uint8_t *m, size_t mlen,
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

int bp_port_validate(void *ctx, const bckm_sim_block *b) {
    cluster_t *c = ctx;
    bp_t *me = &c->bp[c->cur];
    if (b->h.n_txs > c->p.block_max_txs) return 1;
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

void bp_snap_free(snap_t *s) {
    free(s->buf);
    memset(s, 0, sizeof *s);
}

static void execute(cluster_t *c, uint32_t i, bckm_sim_block *b, struct bckm_cert *cert,
                    uint64_t now) {
    bp_t *me = &c->bp[i];
    BCKM_ASSERT(b->h.height == bp_height(me) + 1,
                "the replica hands over committed blocks in chain order, one height at a time");
    bckm_sim_app *app = &me->app;
    uint8_t *results = calloc(b->h.n_txs ? b->h.n_txs : 1, 1);
    if (results == NULL) {
        /* The committed block is dropped; the run stops after this event. */
        bckm_sim_block_free(b);
        free(cert);
        cluster_nomem(c);
        return;
    }
    app->ops->begin_block(app->self, b->h.height);
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
    memcpy(me->state, state, 32);
    int le = bckm_sim_block_digest(b, digest);
    c->cost += COST_BLOCK;
    uint64_t height = b->h.height;
    if (le == BCKM_OK) le = bp_ledger_append(c, i, b, cert, results);
    free(cert);
    if (le != BCKM_OK) {
        bckm_sim_block_free(b);
        free(results);
        /* The store refused the entry (disk full, I/O error): the run
         * cannot go on with a BP that lost a committed block. */
        if (c->res->outcome == BCKM_SIM_OK) {
            c->res->outcome = BCKM_SIM_SAFETY;
            snprintf(c->res->violation, sizeof c->res->violation,
                     "BP %u: ledger store refused height %" PRIu64 ": %s", i, height,
                     bckm_strerror(le));
        }
        return;
    }
    me->last_commit_us = now;
    trace_u64s(c, 0xC0 + i, b->h.height, bckm_get_u64(digest), bckm_get_u64(state));
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
                    if (mine)
                        clients_done(c, r, i, b->h.height, now);
                    else if (!(q->exec_mask >> i & 1)) {
                        /* Rejected on the agreed chain: it can never commit. */
                        c->res->exec_rejected++;
                        c->wl->rejected(c, q->tx, q->tx_len);
                        clients_retry_fresh(c, r, i, now + c->p.profile->tick_us);
                    }
                }
            }
        }
        k++;
    }
    if (c->p.checkpoint_interval && b->h.height % c->p.checkpoint_interval == 0) {
        snap_t *s = &me->pending[(b->h.height / c->p.checkpoint_interval) % 4];
        bp_snap_free(s);
        if (app->ops->snapshot(app->self, &s->buf, &s->len) == BCKM_OK) {
            s->seq = b->h.height;
            memcpy(s->state, state, 32);
        }
        c->cost += COST_SNAPSHOT;
    }
    /* The ledger keeps its own copy of the block and the results. */
    free(results);
    bckm_sim_block_free(b);
    bckm_pbft_executed(&me->rep, height, state);
}

static void fetch_reply(cluster_t *c, uint32_t i, uint32_t to, uint64_t from_h) {
    bp_t *me = &c->bp[i];
    bckm_pbft_msg *m = bckm_pbft_msg_new(BCKM_PBFT_BLOCKS, i);
    for (uint64_t h = from_h; h <= bp_height(me) && m->nblocks < BCKM_PBFT_FETCH_MAX; h++) {
        bckm_sim_block *blk = NULL;
        struct bckm_cert *cert = malloc(sizeof *cert);
        int e = cert == NULL ? BCKM_ERR_NOMEM : bp_ledger_read(me, h, &blk, cert, NULL);
        if (e != BCKM_OK) {
            /* The reply carries what could be read; out of memory stops the
             * run, and a ledger that cannot be read back is a broken BP. */
            free(cert);
            if (e == BCKM_ERR_NOMEM)
                cluster_nomem(c);
            else if (c->res->outcome == BCKM_SIM_OK) {
                c->res->outcome = BCKM_SIM_SAFETY;
                snprintf(c->res->violation, sizeof c->res->violation,
                         "BP %u: ledger height %" PRIu64 " unreadable: %s", i, h, bckm_strerror(e));
            }
            break;
        }
        m->blocks[m->nblocks] = blk;
        m->certs[m->nblocks] = cert;
        m->nblocks++;
    }
    m->hint = bp_height(me);
    adversary_send_pbft(c, i, to, m);
}

void bp_drain(cluster_t *c, uint32_t i, uint64_t now) {
    bp_t *me = &c->bp[i];
    bckm_pbft_action a;
    while (bckm_pbft_pop(&me->rep, &a)) {
        switch (a.kind) {
        case BCKM_PBFT_ACT_SEND: adversary_send_pbft(c, i, a.to, a.msg); break;
        case BCKM_PBFT_ACT_BROADCAST:
            for (uint32_t j = 0; j < c->n; j++)
                if (j != i) adversary_send_pbft(c, i, j, bckm_pbft_msg_ref(a.msg));
            bckm_pbft_msg_unref(a.msg);
            break;
        case BCKM_PBFT_ACT_COMMIT: execute(c, i, a.block, a.cert, now); break;
        case BCKM_PBFT_ACT_FETCH_REPLY: fetch_reply(c, i, a.to, a.seq); break;
        case BCKM_PBFT_ACT_STABLE: {
            snap_t *s =
                &me->pending[(a.seq / (c->p.checkpoint_interval ? c->p.checkpoint_interval : 1)) %
                             4];
            if (s->seq == a.seq && s->buf != NULL) {
                /* The stable checkpoint's snapshot becomes the durable one;
                 * the older one (and the log below it) is dropped. */
                bp_snap_free(&me->stable);
                me->stable = *s;
                memset(s, 0, sizeof *s);
            }
            break;
        }
        default: break;
        }
    }
}

void bp_maybe_propose(cluster_t *c, uint32_t i, uint64_t now) {
    bp_t *me = &c->bp[i];
    int kind = c->p.byz_kind[i];
    if (me->up && me->live && c->wl->adversary != NULL) c->wl->adversary(c, i, now);
    if (!me->up || kind == BCKM_BYZ_SILENT || me->mp.len == 0) return;
    uint64_t h;
    uint8_t prev[32];
    if (!bckm_pbft_can_propose(&me->rep, &h, prev)) return;
    /* A censor's blocks are empty, so "full" never applies to them: it
     * proposes at the block interval (spamming faster gains it nothing). */
    if ((me->mp.len < c->p.block_max_txs || kind == BCKM_BYZ_CENSOR) &&
        now - me->last_commit_us < c->p.profile->block_interval_us)
        return;
    bckm_sim_block b;
    bckm_sim_block_init(&b, h, prev, i, now, me->state);
    if (kind == BCKM_BYZ_INVALID) {
        /* A tx nobody submitted: its client tag cannot verify. */
        uint8_t junk[BCKM_SIM_REQ_TX_MAX];
        for (size_t k = 0; k < c->wl->tx_len; k++)
            junk[k] = (uint8_t)bckm_sim_rng_next(&c->adv_rng);
        bckm_put_u32(junk + 8, 0);
        (void)bckm_sim_block_add_tx(&b, junk, c->wl->tx_len);
        (void)bckm_sim_mempool_reap(&me->mp, c->p.block_max_txs - 1, &b);
    } else if (c->byz_env_n[i] > 0 && c->p.block_max_txs > 1) {
        /* Its forged leave/evict first, past its own CheckTx. */
        (void)bckm_sim_block_add_tx(&b, c->byz_env[i], BCKM_ENVELOPE_BYTES);
        if (kind != BCKM_BYZ_CENSOR)
            (void)bckm_sim_mempool_reap(&me->mp, c->p.block_max_txs - 1, &b);
    } else if (kind != BCKM_BYZ_CENSOR) {
        (void)bckm_sim_mempool_reap(&me->mp, c->p.block_max_txs, &b);
    }
    (void)bckm_pbft_propose(&me->rep, &b, now);
    free(b.body);
    bp_drain(c, i, now);
}
