/* The kv workload: the test key-value store (sim/kvapp.h). */
#include "cluster_internal.h"

#include "sim/kvapp.h"

/* The test key-value store: a client reads the key's version at the BP it
 * talks to, then writes (sim/kvapp.h). */
static int kv_init(cluster_t *c) {
    (void)c;
    return BCKM_OK;
}

static bckm_sim_app kv_new_app(cluster_t *c, uint32_t bp) {
    (void)bp;
    return bckm_kv_new(c->p.keys, c->client_key);
}

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

static void kv_executed(cluster_t *c, uint32_t bp) {
    (void)c;
    (void)bp;
}

static void kv_rejected(cluster_t *c, const uint8_t *tx, size_t len) {
    (void)c;
    (void)tx;
    (void)len;
}

static void kv_finish(cluster_t *c) { (void)c; }

static void kv_fini(cluster_t *c) { (void)c; }

/* CheckTx at a BP that already executed the tx id: the client's earlier
 * submission committed. */
static int kv_already_executed(int rc) { return rc == BCKM_KV_REJ_DUPLICATE; }

const workload_ops workload_kv = {
    .name = "kv",
    .tx_len = BCKM_KV_TX_BYTES,
    .init = kv_init,
    .new_app = kv_new_app,
    .make_tx = kv_make_tx,
    .executed = kv_executed,
    .rejected = kv_rejected,
    .already_executed = kv_already_executed,
    .finish = kv_finish,
    .fini = kv_fini,
};
