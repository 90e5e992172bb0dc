#include "sim/kvapp.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bckm/assert.h"
#include "bckm/common.h"
#include "sim/u64set.h"

typedef struct {
    uint64_t version, value;
} kv_entry;

typedef struct {
    uint32_t keys;
    uint8_t client_key[32];
    kv_entry *kv;
    uint64_t height;
    uint64_t executed;   /* number of txs that executed successfully */
    uint8_t chain[32];   /* running hash of executed tx ids, in order */
    bckm_u64set done;    /* ids that executed: a replay is a DUPLICATE */
    uint64_t *done_list; /* the same ids in execution order (snapshots) */
    size_t done_cap;
} kv_app;

static void tag_of(uint8_t tag[16], const uint8_t key[32], const uint8_t *body) {
    crypto_generichash(tag, 16, body, 28, key, 32);
}

void bckm_kv_make_tx(uint8_t out[BCKM_KV_TX_BYTES], const uint8_t client_key[32], uint64_t id,
                     uint32_t key, uint64_t expected_version, uint64_t value) {
    bckm_put_u64(out, id);
    bckm_put_u32(out + 8, key);
    bckm_put_u64(out + 12, expected_version);
    bckm_put_u64(out + 20, value);
    tag_of(out + 28, client_key, out);
}

static int kv_verify(void *self, const uint8_t *tx, size_t len) {
    kv_app *a = self;
    if (tx == NULL || len != BCKM_KV_TX_BYTES) return BCKM_KV_REJ_FORMAT;
    if (bckm_get_u32(tx + 8) >= a->keys) return BCKM_KV_REJ_FORMAT;
    uint8_t tag[16];
    tag_of(tag, a->client_key, tx);
    if (!bckm_ct_equal(tag, tx + 28, 16)) return BCKM_KV_REJ_TAG;
    return BCKM_SIM_TX_OK;
}

static int kv_check(void *self, const uint8_t *tx, size_t len) {
    kv_app *a = self;
    int rc = kv_verify(self, tx, len);
    if (rc != BCKM_SIM_TX_OK) return rc;
    if (bckm_u64set_has(&a->done, bckm_get_u64(tx))) return BCKM_KV_REJ_DUPLICATE;
    if (a->kv[bckm_get_u32(tx + 8)].version != bckm_get_u64(tx + 12)) return BCKM_KV_REJ_CONFLICT;
    return BCKM_SIM_TX_OK;
}

static void kv_begin(void *self, uint64_t height) {
    kv_app *a = self;
    a->height = height;
}

static int record_done(kv_app *a, uint64_t id) {
    if (a->executed == a->done_cap) {
        size_t ncap = a->done_cap ? a->done_cap * 2 : 64;
        uint64_t *n = realloc(a->done_list, ncap * sizeof *n);
        if (n == NULL) return BCKM_ERR_NOMEM;
        a->done_list = n;
        a->done_cap = ncap;
    }
    if (bckm_u64set_add(&a->done, id) < 0) return BCKM_ERR_NOMEM;
    a->done_list[a->executed++] = id;
    uint8_t buf[40];
    memcpy(buf, a->chain, 32);
    bckm_put_u64(buf + 32, id);
    crypto_generichash(a->chain, 32, buf, sizeof buf, NULL, 0);
    return BCKM_OK;
}

static int kv_deliver(void *self, const uint8_t *tx, size_t len) {
    kv_app *a = self;
    int rc = kv_check(self, tx, len);
    if (rc != BCKM_SIM_TX_OK) return rc;
    kv_entry *e = &a->kv[bckm_get_u32(tx + 8)];
    /* deliver_tx has no code for "out of memory", and skipping the record
     * would let this replica diverge from the others in silence. */
    int recorded = record_done(a, bckm_get_u64(tx));
    BCKM_ASSERT(recorded == BCKM_OK,
                "out of memory recording an executed tx: stop rather than diverge");
    e->version++;
    e->value = bckm_get_u64(tx + 20);
    return BCKM_SIM_TX_OK;
}

static void kv_commit(void *self, uint8_t hash[32]) {
    kv_app *a = self;
    crypto_generichash_state st;
    uint8_t hdr[24];
    bckm_put_u64(hdr, a->height);
    bckm_put_u64(hdr + 8, a->executed);
    bckm_put_u64(hdr + 16, a->keys);
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)"bckm-sim-kv-state", 17);
    crypto_generichash_update(&st, hdr, sizeof hdr);
    crypto_generichash_update(&st, a->chain, 32);
    for (uint32_t i = 0; i < a->keys; i++) {
        uint8_t e[16];
        bckm_put_u64(e, a->kv[i].version);
        bckm_put_u64(e + 8, a->kv[i].value);
        crypto_generichash_update(&st, e, sizeof e);
    }
    crypto_generichash_final(&st, hash, 32);
}

/* Snapshot: height(8) keys(4) executed(8) chain(32) | keys x (version, value) |
 * executed x id, all big-endian. */
static int kv_snapshot(void *self, uint8_t **out, size_t *out_len) {
    kv_app *a = self;
    size_t len = 52 + (size_t)a->keys * 16 + (size_t)a->executed * 8;
    uint8_t *b = malloc(len);
    if (b == NULL) return BCKM_ERR_NOMEM;
    bckm_put_u64(b, a->height);
    bckm_put_u32(b + 8, a->keys);
    bckm_put_u64(b + 12, a->executed);
    memcpy(b + 20, a->chain, 32);
    uint8_t *p = b + 52;
    for (uint32_t i = 0; i < a->keys; i++, p += 16) {
        bckm_put_u64(p, a->kv[i].version);
        bckm_put_u64(p + 8, a->kv[i].value);
    }
    for (uint64_t i = 0; i < a->executed; i++, p += 8) bckm_put_u64(p, a->done_list[i]);
    *out = b;
    *out_len = len;
    return BCKM_OK;
}

static int kv_restore(void *self, const uint8_t *b, size_t len) {
    kv_app *a = self;
    if (b == NULL || len < 52) return BCKM_ERR_TRUNCATED;
    if (bckm_get_u32(b + 8) != a->keys) return BCKM_ERR_MISMATCH;
    uint64_t executed = bckm_get_u64(b + 12);
    size_t body = (size_t)a->keys * 16;
    if ((len - 52) < body || (len - 52 - body) / 8 != executed || (len - 52 - body) % 8 != 0)
        return BCKM_ERR_FORMAT;
    bckm_u64set_free(&a->done);
    bckm_u64set_init(&a->done);
    a->executed = 0;
    memset(a->chain, 0, 32);
    const uint8_t *p = b + 52;
    for (uint32_t i = 0; i < a->keys; i++, p += 16) {
        a->kv[i].version = bckm_get_u64(p);
        a->kv[i].value = bckm_get_u64(p + 8);
    }
    for (uint64_t i = 0; i < executed; i++, p += 8)
        if (record_done(a, bckm_get_u64(p)) != BCKM_OK) return BCKM_ERR_NOMEM;
    /* The chain is recomputed from the ids; it must equal the stored one, or
     * the snapshot was altered. */
    if (memcmp(a->chain, b + 20, 32) != 0) return BCKM_ERR_CORRUPT;
    a->height = bckm_get_u64(b);
    return BCKM_OK;
}

static uint64_t kv_height(void *self) { return ((kv_app *)self)->height; }

static uint64_t kv_tx_id(void *self, const uint8_t *tx, size_t len) {
    (void)self;
    return len >= 8 ? bckm_get_u64(tx) : 0;
}

static void kv_destroy(void *self) {
    kv_app *a = self;
    if (a == NULL) return;
    bckm_u64set_free(&a->done);
    free(a->done_list);
    free(a->kv);
    bckm_wipe(a->client_key, sizeof a->client_key);
    free(a);
}

static const bckm_sim_app_ops kv_ops = {
    kv_check,    kv_verify,  kv_begin,  kv_deliver, kv_commit,
    kv_snapshot, kv_restore, kv_height, kv_tx_id,   kv_destroy,
};

bckm_sim_app bckm_kv_new(uint32_t keys, const uint8_t client_key[32]) {
    bckm_sim_app app = { &kv_ops, NULL };
    if (keys == 0 || keys > BCKM_KV_KEYS_MAX || client_key == NULL) return app;
    kv_app *a = calloc(1, sizeof *a);
    if (a == NULL) return app;
    a->kv = calloc(keys, sizeof *a->kv);
    if (a->kv == NULL) {
        free(a);
        return app;
    }
    a->keys = keys;
    memcpy(a->client_key, client_key, 32);
    bckm_u64set_init(&a->done);
    app.self = a;
    return app;
}

uint64_t bckm_kv_version(const bckm_sim_app *app, uint32_t key) {
    const kv_app *a = app->self;
    return key < a->keys ? a->kv[key].version : 0;
}
