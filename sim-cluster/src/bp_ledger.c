/* A BP's chain: core's ledger (bckm/ledger.h, memory or LMDB) holding core's
 * blocks and certificates, and the conversions from the simulator's
 * in-memory block (sim/block.h). The key application's ledger reads every
 * transaction as an envelope and indexes it; the kv test store's is opaque. */
#include "cluster_internal.h"

#include "bckm/km_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bp_ledger_open(cluster_t *c, uint32_t i, int fresh, char *err, size_t errcap) {
    bp_t *me = &c->bp[i];
    struct bckm_ledger_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.bp_pk = (const uint8_t(*)[BCKM_SIGN_PK_BYTES])c->pk;
    cfg.n_bps = c->n;
    cfg.f = bckm_pbft_f(c->n); /* the ledger's floor, 2f+1; the replica checks its quorum q */
    cfg.flags = c->wl->envelopes ? 0u : BCKM_LEDGER_OPAQUE;
    int e;
    if (c->p.ledger != BCKM_SIM_LEDGER_LMDB) {
        e = bckm_ledger_open_memory(&cfg, &me->ledger);
        if (e != BCKM_OK) snprintf(err, errcap, "ledger: %s", bckm_strerror(e));
        return e;
    }
    char path[4096];
    if (bp_ledger_path(c, i, path, sizeof path) != BCKM_OK) {
        snprintf(err, errcap, "ledger directory name too long");
        return BCKM_ERR_ARG;
    }
    /* The simulator wrote this store itself moments ago, in this process:
     * no probe in a child process (bckm_ledger_open_lmdb) at each restart. */
    cfg.flags |= BCKM_LEDGER_TRUST_FILE;
    e = bckm_ledger_open_lmdb(path, &cfg, &me->ledger);
    if (e != BCKM_OK) {
        snprintf(err, errcap, "ledger store %.200s: %s", path, bckm_strerror(e));
        me->ledger = NULL;
        return e;
    }
    if (fresh && bckm_ledger_height(me->ledger) != 0) {
        snprintf(err, errcap,
                 "ledger store %.200s is not empty (a run never continues another run's chain)",
                 path);
        bp_ledger_close(me);
        return BCKM_ERR_STATE;
    }
    return BCKM_OK;
}

void bp_ledger_close(bp_t *me) {
    bckm_ledger_close(me->ledger);
    me->ledger = NULL;
}

uint64_t bp_height(const bp_t *me) { return bckm_ledger_height(me->ledger); }

void bp_storage_key(const cluster_t *c, uint32_t i, uint8_t key[32]) {
    /* From the BP's own secret: a key no other BP can derive. */
    crypto_generichash(key, 32, c->sk[i], 32, (const uint8_t *)"bckm-sim-storage", 16);
}

int bp_ledger_append(cluster_t *c, uint32_t i, const bckm_sim_block *b,
                     const struct bckm_cert *cert, const uint8_t *results) {
    bp_t *me = &c->bp[i];
    uint8_t *blk = NULL, *st = NULL, cbuf[BCKM_CERT_MAX_BYTES];
    size_t blen = 0, clen = 0, slen = 0;
    int e = bckm_sim_block_encode(b, &blk, &blen);
    if (e == BCKM_OK) e = bckm_cert_encode(cert, cbuf, sizeof cbuf, &clen);
    if (e == BCKM_OK && c->wl->durable_state != NULL) {
        /* The application-side state after this block, in the same write. */
        e = c->wl->durable_state(c, i, b->h.height, &st, &slen);
        if (e == BCKM_OK)
            e = bckm_ledger_append_state(me->ledger, blk, blen, cbuf, clen, results, st, slen);
        bckm_km_state_release(st, slen);
    } else if (e == BCKM_OK) {
        e = bckm_ledger_append(me->ledger, blk, blen, cbuf, clen, results);
    }
    free(blk);
    return e;
}

void bp_ledger_save_state(cluster_t *c, uint32_t i) {
    bp_t *me = &c->bp[i];
    if (c->wl->durable_state == NULL || me->ledger == NULL) return;
    uint8_t *st = NULL;
    size_t slen = 0;
    int e = c->wl->durable_state(c, i, bp_height(me), &st, &slen);
    if (e == BCKM_OK) e = bckm_ledger_put_state(me->ledger, st, slen);
    bckm_km_state_release(st, slen);
    if (e == BCKM_ERR_NOMEM)
        cluster_nomem(c);
    else if (e != BCKM_OK && c->res->outcome == BCKM_SIM_OK) {
        c->res->outcome = BCKM_SIM_SAFETY;
        snprintf(c->res->violation, sizeof c->res->violation,
                 "BP %u: its key state could not be saved: %s", i, bckm_strerror(e));
    }
}

void bp_ledger_restore_state(cluster_t *c, uint32_t i) {
    bp_t *me = &c->bp[i];
    uint64_t h = bp_height(me), sh = 0;
    if (c->wl->restore_state == NULL) return;
    size_t len = 0;
    int e = bckm_ledger_get_state(me->ledger, &sh, NULL, 0, &len);
    /* Nothing saved yet: only before the first block and the first prepare. */
    if (e == BCKM_ERR_UNKNOWN && h == 0) return;
    uint8_t *buf = NULL;
    if (e == BCKM_ERR_NOMEM) {
        buf = malloc(len);
        e = buf == NULL ? BCKM_ERR_NOMEM : bckm_ledger_get_state(me->ledger, &sh, buf, len, &len);
    }
    if (e == BCKM_OK && sh != h) e = BCKM_ERR_MISMATCH;
    if (e == BCKM_OK) e = c->wl->restore_state(c, i, h, buf, len);
    bckm_km_state_release(buf, len);
    if (e == BCKM_ERR_NOMEM)
        cluster_nomem(c);
    else if (e != BCKM_OK && c->res->outcome == BCKM_SIM_OK) {
        c->res->outcome = BCKM_SIM_SAFETY;
        snprintf(c->res->violation, sizeof c->res->violation,
                 "BP %u restart: its stored key state (height %llu of %llu) does not restore: %s",
                 i, (unsigned long long)sh, (unsigned long long)h, bckm_strerror(e));
    }
}

int bp_ledger_read(const bp_t *me, uint64_t h, bckm_sim_block **b, struct bckm_cert *cert,
                   uint8_t digest[32]) {
    size_t len = 0;
    /* The size first, then the bytes. */
    int e = bckm_ledger_get_block(me->ledger, h, NULL, 0, &len);
    if (e != BCKM_ERR_NOMEM && e != BCKM_OK) return e;
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL) return BCKM_ERR_NOMEM;
    e = bckm_ledger_get_block(me->ledger, h, buf, len, &len);
    if (e == BCKM_OK) e = bckm_sim_block_decode(buf, len, b);
    free(buf);
    if (e != BCKM_OK) return e;
    if (digest != NULL && (e = bckm_sim_block_digest(*b, digest)) != BCKM_OK) {
        bckm_sim_block_free(*b);
        *b = NULL;
        return e;
    }
    if (cert != NULL) {
        uint8_t cbuf[BCKM_CERT_MAX_BYTES];
        size_t clen = 0;
        e = bckm_ledger_get_cert(me->ledger, h, cbuf, sizeof cbuf, &clen);
        if (e == BCKM_OK) e = bckm_cert_decode(cbuf, clen, cert);
        if (e != BCKM_OK) {
            bckm_sim_block_free(*b);
            *b = NULL;
        }
    }
    return e;
}
