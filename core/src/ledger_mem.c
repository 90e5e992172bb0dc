/*
 * In-memory ledger backend, for the simulator. Blocks and certificates are
 * kept as the encoded bytes (so catch-up serves exactly what LMDB would);
 * transactions sit in one array in commit order; the node and code indexes
 * are open-addressing hash tables from key to the list of array indices,
 * which are appended in commit order and so stay sorted.
 *
 * A put reserves every allocation it needs before it changes anything
 * visible, so running out of memory leaves the ledger as it was.
 */
#include "ledger_internal.h"

#include <stdlib.h>
#include <string.h>

#define KEY_MAX 32u

struct posting {
    uint8_t used;
    uint8_t key[KEY_MAX];
    size_t *idx; /* indices into mem.entries, increasing */
    size_t n, cap;
    size_t pending; /* reserved by a put in progress */
};

struct table {
    struct posting *slots;
    size_t cap; /* power of two, or 0 */
    size_t count;
    size_t klen;
};

struct blob {
    uint8_t *block, *cert, *status;
    size_t block_len, cert_len, n_status;
};

struct mem {
    struct blob *blobs; /* blobs[h-1] is height h */
    size_t n_blobs, cap_blobs;
    struct bckm_ledger_entry *entries; /* every transaction, commit order */
    size_t n_entries, cap_entries;
    struct table by_node, by_code;
    uint8_t *state; /* the latest application state, or NULL */
    size_t state_len;
    uint64_t state_height;
};

static size_t key_hash(const uint8_t *key, size_t klen) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: keys are not attacker-chosen in bulk here */
    for (size_t i = 0; i < klen; i++) {
        h ^= key[i];
        h *= 0x100000001b3ull;
    }
    return (size_t)(h ^ (h >> 29));
}

static struct posting *table_find(struct table *t, const uint8_t *key) {
    if (t->cap == 0) return NULL;
    size_t i = key_hash(key, t->klen) & (t->cap - 1u);
    /* Load stays under 70%, so an empty slot ends every probe. */
    while (t->slots[i].used) {
        if (memcmp(t->slots[i].key, key, t->klen) == 0) return &t->slots[i];
        i = (i + 1u) & (t->cap - 1u);
    }
    return NULL;
}

static int table_grow(struct table *t) {
    size_t ncap = t->cap == 0 ? 64u : t->cap * 2u;
    struct posting *ns = calloc(ncap, sizeof *ns);
    if (ns == NULL) return BCKM_ERR_NOMEM;
    for (size_t j = 0; j < t->cap; j++) {
        if (!t->slots[j].used) continue;
        size_t i = key_hash(t->slots[j].key, t->klen) & (ncap - 1u);
        while (ns[i].used) i = (i + 1u) & (ncap - 1u);
        ns[i] = t->slots[j];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return BCKM_OK;
}

/* gcc -fanalyzer (GCC 12) reports the grown table as leaked: a false
 * positive, table_grow stores it in *t. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
/* The posting of key, created empty when missing. An empty posting is
 * invisible to queries, so creating one is not a visible change. */
static struct posting *table_get_or_add(struct table *t, const uint8_t *key) {
    struct posting *p = table_find(t, key);
    if (p != NULL) return p;
    if ((t->count + 1u) * 10u > t->cap * 7u && table_grow(t) != BCKM_OK) return NULL;
    size_t i = key_hash(key, t->klen) & (t->cap - 1u);
    while (t->slots[i].used) i = (i + 1u) & (t->cap - 1u);
    p = &t->slots[i];
    p->used = 1;
    memcpy(p->key, key, t->klen);
    t->count++;
    return p;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static void table_free(struct table *t) {
    for (size_t j = 0; j < t->cap; j++) free(t->slots[j].idx);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static int reserve(void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return BCKM_OK;
    size_t ncap = *cap < 4u ? 4u : *cap;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2u / elem) return BCKM_ERR_NOMEM;
        ncap *= 2u;
    }
    void *p = realloc(*arr, ncap * elem);
    if (p == NULL) return BCKM_ERR_NOMEM;
    *arr = p;
    *cap = ncap;
    return BCKM_OK;
}

static int posting_reserve(struct posting *p) {
    void *a = p->idx;
    int ret = reserve(&a, &p->cap, p->n + p->pending, sizeof *p->idx);
    p->idx = a;
    return ret;
}

static void node_key(uint32_t node_id, uint8_t key[4]) { bckm_put_u32(key, node_id); }

/* Undo the reservations counted for transactions 0..upto-1. */
static void clear_pending(struct mem *m, const struct ledger_put *p, uint32_t upto) {
    for (uint32_t k = 0; k < upto; k++) {
        uint8_t key[4];
        struct posting *q;
        node_key(p->envs[k].tx.node_id, key);
        if ((q = table_find(&m->by_node, key)) != NULL) q->pending = 0;
        if ((q = table_find(&m->by_code, p->envs[k].tx.code_hash)) != NULL) q->pending = 0;
    }
}

/* gcc -fanalyzer (GCC 12) reports the table_find results of the commit
 * loop as possibly NULL: false positives, the reservation loop created
 * both postings of every transaction and tables never shrink. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-null-dereference"
#endif
static int mem_put(bckm_ledger *l, const struct ledger_put *p) {
    struct mem *m = l->impl;
    uint8_t *bcopy = NULL, *ccopy = NULL, *scopy = NULL, *stcopy = NULL;
    int ret = BCKM_OK;
    uint32_t k = 0;
    void *a;

    a = m->blobs;
    ret = reserve(&a, &m->cap_blobs, m->n_blobs + 1u, sizeof *m->blobs);
    m->blobs = a;
    if (ret != BCKM_OK) goto fail;
    a = m->entries;
    ret = reserve(&a, &m->cap_entries, m->n_entries + p->n, sizeof *m->entries);
    m->entries = a;
    if (ret != BCKM_OK) goto fail;
    bcopy = malloc(p->block_len);
    ccopy = malloc(p->cert_len);
    scopy = malloc(p->n_txs ? p->n_txs : 1u);
    if (p->state != NULL && (stcopy = malloc(p->state_len)) == NULL) {
        ret = BCKM_ERR_NOMEM;
        goto fail;
    }
    if (stcopy != NULL) memcpy(stcopy, p->state, p->state_len);
    if (bcopy == NULL || ccopy == NULL || scopy == NULL) {
        ret = BCKM_ERR_NOMEM;
        goto fail;
    }
    memcpy(bcopy, p->block, p->block_len);
    memcpy(ccopy, p->cert, p->cert_len);
    if (p->n_txs > 0) memcpy(scopy, p->status, p->n_txs);
    for (k = 0; k < p->n; k++) {
        uint8_t key[4];
        struct posting *q;
        node_key(p->envs[k].tx.node_id, key);
        q = table_get_or_add(&m->by_node, key);
        if (q == NULL) {
            ret = BCKM_ERR_NOMEM;
            goto fail_k;
        }
        q->pending++;
        if ((ret = posting_reserve(q)) != BCKM_OK) {
            k++;
            goto fail_k;
        }
        q = table_get_or_add(&m->by_code, p->envs[k].tx.code_hash);
        if (q == NULL) {
            ret = BCKM_ERR_NOMEM;
            k++;
            goto fail_k;
        }
        q->pending++;
        if ((ret = posting_reserve(q)) != BCKM_OK) {
            k++;
            goto fail_k;
        }
    }

    /* Nothing below can fail. */
    m->blobs[m->n_blobs].block = bcopy;
    m->blobs[m->n_blobs].block_len = p->block_len;
    m->blobs[m->n_blobs].cert = ccopy;
    m->blobs[m->n_blobs].cert_len = p->cert_len;
    m->blobs[m->n_blobs].status = scopy;
    m->blobs[m->n_blobs].n_status = p->n_txs;
    m->n_blobs++;
    if (stcopy != NULL) {
        if (m->state != NULL) bckm_wipe(m->state, m->state_len);
        free(m->state);
        m->state = stcopy;
        m->state_len = p->state_len;
        m->state_height = p->height;
    }
    for (k = 0; k < p->n; k++) {
        uint8_t key[4];
        struct bckm_ledger_entry *e = &m->entries[m->n_entries];
        struct posting *q;
        e->pos.height = p->height;
        e->pos.index = k;
        e->status = p->status[k];
        e->env = p->envs[k];
        node_key(p->envs[k].tx.node_id, key);
        q = table_find(&m->by_node, key);
        q->idx[q->n++] = m->n_entries;
        q->pending = 0;
        q = table_find(&m->by_code, p->envs[k].tx.code_hash);
        q->idx[q->n++] = m->n_entries;
        q->pending = 0;
        m->n_entries++;
    }
    return BCKM_OK;

fail_k:
    clear_pending(m, p, k);
fail:
    free(bcopy);
    free(ccopy);
    free(scopy);
    free(stcopy);
    return ret;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static int mem_get(bckm_ledger *l, int which, uint64_t height, uint8_t *out, size_t cap,
                   size_t *len) {
    struct mem *m = l->impl;
    const struct blob *b;
    const uint8_t *src;
    size_t n;

    if (height == 0 || height > m->n_blobs) return BCKM_ERR_ARG;
    b = &m->blobs[height - 1u];
    src = which == 0 ? b->block : which == 1 ? b->cert : b->status;
    n = which == 0 ? b->block_len : which == 1 ? b->cert_len : b->n_status;
    *len = n;
    if (n > cap) return BCKM_ERR_NOMEM;
    if (n > 0) memcpy(out, src, n);
    return BCKM_OK;
}

/* First i in [0, n) with pos(i) > after; n when none. pos(i) increases. */
static size_t first_after_entries(const struct mem *m, struct bckm_ledger_pos after) {
    size_t lo = 0, hi = m->n_entries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2u;
        if (bckm_ledger_pos_cmp(m->entries[mid].pos, after) <= 0)
            lo = mid + 1u;
        else
            hi = mid;
    }
    return lo;
}

static size_t first_after_posting(const struct mem *m, const struct posting *q,
                                  struct bckm_ledger_pos after) {
    size_t lo = 0, hi = q->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2u;
        if (bckm_ledger_pos_cmp(m->entries[q->idx[mid]].pos, after) <= 0)
            lo = mid + 1u;
        else
            hi = mid;
    }
    return lo;
}

static int mem_query(bckm_ledger *l, enum ledger_query qk, const uint8_t *key,
                     struct bckm_ledger_pos after, struct bckm_ledger_entry *out, size_t cap,
                     size_t *n) {
    struct mem *m = l->impl;
    size_t got = 0;

    if (qk == LEDGER_Q_ALL) {
        for (size_t i = first_after_entries(m, after); i < m->n_entries && got < cap; i++)
            out[got++] = m->entries[i];
    } else {
        const struct posting *q = table_find(qk == LEDGER_Q_NODE ? &m->by_node : &m->by_code, key);
        if (q != NULL)
            for (size_t i = first_after_posting(m, q, after); i < q->n && got < cap; i++)
                out[got++] = m->entries[q->idx[i]];
    }
    *n = got;
    return BCKM_OK;
}

static int mem_get_state(bckm_ledger *l, uint64_t *height, uint8_t *out, size_t cap, size_t *len) {
    struct mem *m = l->impl;
    if (m->state == NULL) return BCKM_ERR_UNKNOWN;
    *height = m->state_height;
    *len = m->state_len;
    if (m->state_len > cap) return BCKM_ERR_NOMEM;
    memcpy(out, m->state, m->state_len);
    return BCKM_OK;
}

/* gcc -fanalyzer (GCC 12) reports the copy as leaked: a false positive, it
 * is stored in m->state and freed by the next put or by mem_close. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
static int mem_put_state(bckm_ledger *l, uint64_t height, const uint8_t *state, size_t len) {
    struct mem *m = l->impl;
    uint8_t *copy = malloc(len);
    if (copy == NULL) return BCKM_ERR_NOMEM;
    memcpy(copy, state, len);
    if (m->state != NULL) bckm_wipe(m->state, m->state_len);
    free(m->state);
    m->state = copy;
    m->state_len = len;
    m->state_height = height;
    return BCKM_OK;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static void mem_close(bckm_ledger *l) {
    struct mem *m = l->impl;
    if (m == NULL) return;
    for (size_t i = 0; i < m->n_blobs; i++) {
        free(m->blobs[i].block);
        free(m->blobs[i].cert);
        free(m->blobs[i].status);
    }
    free(m->blobs);
    free(m->entries);
    table_free(&m->by_node);
    table_free(&m->by_code);
    if (m->state != NULL) bckm_wipe(m->state, m->state_len);
    free(m->state);
    free(m);
    l->impl = NULL;
}

static const struct ledger_ops mem_ops = { mem_put,       mem_get,       mem_query,
                                           mem_get_state, mem_put_state, mem_close };

int bckm_ledger_open_memory(const struct bckm_ledger_config *cfg, bckm_ledger **out) {
    bckm_ledger *l = NULL;
    struct mem *m;
    int ret;

    if (out == NULL) return BCKM_ERR_ARG;
    ret = bckm_ledger_handle_new(cfg, &l);
    if (ret != BCKM_OK) return ret;
    m = calloc(1, sizeof *m);
    if (m == NULL) {
        bckm_ledger_handle_free(l);
        return BCKM_ERR_NOMEM;
    }
    m->by_node.klen = 4;
    m->by_code.klen = BCKM_HASH_BYTES;
    l->impl = m;
    l->ops = &mem_ops;
    *out = l;
    return BCKM_OK;
}
