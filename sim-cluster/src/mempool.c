#include "sim/mempool.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "bckm/common.h"

uint64_t bckm_sim_tx_hash(const uint8_t *tx, size_t len) {
    uint8_t h[8];
    crypto_generichash(h, sizeof h, tx, len, NULL, 0);
    return bckm_get_u64(h);
}

void bckm_sim_mempool_init(bckm_sim_mempool *m, size_t capacity, size_t cache_cap) {
    memset(m, 0, sizeof *m);
    m->capacity = capacity;
    m->cache_cap = cache_cap ? cache_cap : 1;
    bckm_u64set_init(&m->cache_cur);
    bckm_u64set_init(&m->cache_old);
}

void bckm_sim_mempool_free(bckm_sim_mempool *m) {
    for (size_t i = 0; i < m->len; i++) free(m->e[i].tx);
    free(m->e);
    bckm_u64set_free(&m->cache_cur);
    bckm_u64set_free(&m->cache_old);
    memset(m, 0, sizeof *m);
}

static int seen(const bckm_sim_mempool *m, uint64_t h) {
    return bckm_u64set_has(&m->cache_cur, h) || bckm_u64set_has(&m->cache_old, h);
}

static void remember(bckm_sim_mempool *m, uint64_t h) {
    if (bckm_u64set_len(&m->cache_cur) >= m->cache_cap) {
        /* Rotate generations: the cache never holds more than 2 x cache_cap. */
        bckm_u64set_free(&m->cache_old);
        m->cache_old = m->cache_cur;
        bckm_u64set_init(&m->cache_cur);
    }
    (void)bckm_u64set_add(&m->cache_cur, h);
}

int bckm_sim_mempool_add(bckm_sim_mempool *m, const bckm_sim_app *app, const uint8_t *tx,
                         size_t len, uint64_t now_us) {
    uint64_t h = bckm_sim_tx_hash(tx, len);
    if (seen(m, h)) {
        /* Seen recently. Still pooled: nothing to do. Otherwise it left
         * (committed, or dropped by a recheck), so CheckTx gives the client
         * a real answer instead of a silent "seen". */
        for (size_t i = 0; i < m->len; i++)
            if (m->e[i].hash == h) return BCKM_ERR_EXISTS;
    }
    if (m->len >= m->capacity) return BCKM_ERR_STATE;
    int rc = app->ops->check_tx(app->self, tx, len);
    if (rc != BCKM_SIM_TX_OK) return rc;
    if (!seen(m, h)) remember(m, h);
    if (m->len == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        bckm_sim_mp_entry *n = realloc(m->e, ncap * sizeof *n);
        if (n == NULL) return BCKM_ERR_NOMEM;
        m->e = n;
        m->cap = ncap;
    }
    uint8_t *copy = malloc(len);
    if (copy == NULL) return BCKM_ERR_NOMEM;
    memcpy(copy, tx, len);
    m->e[m->len++] = (bckm_sim_mp_entry){ copy, len, h, now_us };
    // cppcheck-suppress memleak ; the entry above owns copy now
    return BCKM_SIM_TX_OK;
}

int bckm_sim_mempool_reap(const bckm_sim_mempool *m, uint32_t max, bckm_sim_block *b) {
    for (size_t i = 0; i < m->len && i < max; i++) {
        int rc = bckm_sim_block_add_tx(b, m->e[i].tx, m->e[i].len);
        if (rc != BCKM_OK) return rc;
    }
    return BCKM_OK;
}

void bckm_sim_mempool_update(bckm_sim_mempool *m, const bckm_sim_app *app,
                             const bckm_sim_block *b) {
    bckm_u64set in_block;
    bckm_u64set_init(&in_block);
    uint32_t off = 0;
    const uint8_t *tx;
    size_t len;
    while (bckm_sim_block_next_tx(b, &off, &tx, &len) == 1) {
        uint64_t h = bckm_sim_tx_hash(tx, len);
        (void)bckm_u64set_add(&in_block, h);
        /* A tx seen in a block must not re-enter through gossip. */
        if (!seen(m, h)) remember(m, h);
    }
    size_t w = 0;
    for (size_t i = 0; i < m->len; i++) {
        bckm_sim_mp_entry e = m->e[i];
        int keep = !bckm_u64set_has(&in_block, e.hash);
        if (keep && app->ops->check_tx(app->self, e.tx, e.len) != BCKM_SIM_TX_OK) {
            keep = 0;
            m->rechecked_out++;
        }
        if (keep)
            m->e[w++] = e;
        else
            free(e.tx);
    }
    m->len = w;
    bckm_u64set_free(&in_block);
}

uint64_t bckm_sim_mempool_oldest(const bckm_sim_mempool *m) {
    return m->len ? m->e[0].admit_us : UINT64_MAX;
}
