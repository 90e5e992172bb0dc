/*
 * The key manager's state at rest (bckm/km_store.h): a canonical plaintext
 * written from and read into struct bckm_km, sealed with XChaCha20-Poly1305.
 * Layout (big-endian), spec/protocol.md section 12:
 *   "BKMS" | version u8 | bp u32 | policy u8 | reproducible u8 | next_node u32 | domain 32
 *   [reproducible: generator key 32 | counter u64]
 *   peers u16 n | n x (bp u32 | secret 32)                      increasing bp
 *   4 pools (node KEKs, set KEKs, pair keys, seeds): u32 n | n x (id u64 | key 32)   increasing id
 *   adopted u32 n | n x set u32                                 increasing
 *   pending u32 n | n x (node u32 | kek 32 | code 32)           increasing node
 *   log u32 n | n x (epoch u64 | tx 57 | created u32 | retired u32 n, n x u32 |
 *                    changed u32 n, n x u32 | moves u32 n, n x (node | from | to))  increasing epoch
 */
#include "bckm/km_store.h"
#include "km_internal.h"
#include "secret_array.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "BKMS"
#define AD_LABEL "bckm-km-state"
#define AD_BYTES (13u + 1u + 4u + 8u)
#define KDF_CTX "bckmkmst"
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define LOG_FIXED_BYTES (8u + BCKM_TX_BYTES + 4u + 4u + 4u + 4u)

/* ---- writing -------------------------------------------------------------- */

/* Counts when buf is NULL, writes otherwise (the same code sizes and fills). */
struct out {
    uint8_t *buf;
    size_t len;
};

static void put(struct out *o, const void *p, size_t n) {
    if (o->buf != NULL && n > 0) memcpy(o->buf + o->len, p, n);
    o->len += n;
}
static void put_u8(struct out *o, uint8_t v) { put(o, &v, 1); }
static void put_u16(struct out *o, uint16_t v) {
    uint8_t b[2];
    bckm_put_u16(b, v);
    put(o, b, 2);
}
static void put_u32(struct out *o, uint32_t v) {
    uint8_t b[4];
    bckm_put_u32(b, v);
    put(o, b, 4);
}
static void put_u64(struct out *o, uint64_t v) {
    uint8_t b[8];
    bckm_put_u64(b, v);
    put(o, b, 8);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The IDs of a map, sorted; *ids is new (NULL when empty). */
static int map_ids(const struct bckm_map *m, uint64_t **ids, uint32_t *n) {
    *ids = NULL;
    *n = 0;
    if (m->len == 0) return BCKM_OK;
    uint64_t *a = malloc((size_t)m->len * sizeof *a);
    if (a == NULL) return BCKM_ERR_NOMEM;
    uint32_t k = 0;
    for (uint32_t i = 0; i < m->cap && k < m->len; i++)
        if (m->keys[i] != 0) a[k++] = m->keys[i];
    qsort(a, k, sizeof *a, cmp_u64);
    *ids = a;
    *n = k;
    return BCKM_OK;
}

static int put_pool(struct out *o, const struct bckm_keypool *p) {
    uint64_t *ids;
    uint32_t n;
    int e = map_ids(&p->index, &ids, &n);
    if (e != BCKM_OK) return e;
    put_u32(o, n);
    for (uint32_t i = 0; i < n; i++) {
        put_u64(o, ids[i]);
        put(o, bckm_keypool_get(p, ids[i]), BCKM_KEY_BYTES);
    }
    free(ids);
    return BCKM_OK;
}

static int write_state(const struct bckm_km *km, struct out *o) {
    int e = BCKM_OK;
    put(o, MAGIC, 4);
    put_u8(o, BCKM_KM_STATE_VERSION);
    put_u32(o, km->bp);
    put_u8(o, (uint8_t)km->policy);
    put_u8(o, (uint8_t)(km->reproducible != 0));
    put_u32(o, km->next_node);
    put(o, km->domain, BCKM_KEY_BYTES);
    if (km->reproducible) {
        put(o, km->drbg.key, BCKM_KEY_BYTES);
        put_u64(o, km->drbg.counter);
    }
    uint16_t npeers = 0;
    for (uint32_t b = 1; b <= BCKM_MAX_BPS; b++)
        npeers = (uint16_t)(npeers + (km->has_peer[b] != 0));
    put_u16(o, npeers);
    for (uint32_t b = 1; b <= BCKM_MAX_BPS; b++) {
        if (!km->has_peer[b]) continue;
        put_u32(o, b);
        put(o, km->peer_secret[b], BCKM_KEY_BYTES);
    }
    const struct bckm_keypool *pools[4] = { &km->node_keks, &km->set_keks, &km->pair_keys,
                                            &km->seeds };
    for (int i = 0; i < 4 && e == BCKM_OK; i++) e = put_pool(o, pools[i]);
    if (e != BCKM_OK) return e;
    uint64_t *ids;
    uint32_t n;
    if ((e = map_ids(&km->adopted, &ids, &n)) != BCKM_OK) return e;
    put_u32(o, n);
    for (uint32_t i = 0; i < n; i++) put_u32(o, (uint32_t)ids[i]);
    free(ids);
    if ((e = map_ids(&km->pend_index, &ids, &n)) != BCKM_OK) return e;
    put_u32(o, n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t idx = 0;
        (void)bckm_map_get(&km->pend_index, ids[i], &idx);
        const struct bckm_km_pending *p = &km->pend[idx];
        put_u32(o, p->node_id);
        put(o, p->kek, BCKM_KEY_BYTES);
        put(o, p->code, BCKM_CODE_BYTES);
    }
    free(ids);
    /* The log in epoch order (its slots are epoch mod BCKM_KM_LOG_EPOCHS). */
    uint64_t epochs[BCKM_KM_LOG_EPOCHS] = { 0 };
    n = 0;
    for (uint32_t i = 0; i < BCKM_KM_LOG_EPOCHS; i++)
        if (km->log[i].epoch != 0) epochs[n++] = km->log[i].epoch;
    qsort(epochs, n, sizeof *epochs, cmp_u64);
    put_u32(o, n);
    for (uint32_t i = 0; i < n; i++) {
        const struct bckm_km_log_entry *l = &km->log[epochs[i] % BCKM_KM_LOG_EPOCHS];
        uint8_t tx[BCKM_TX_BYTES];
        if (bckm_tx_encode(&l->tx, tx) != BCKM_OK)
            return BCKM_ERR_STATE; /* logged only once applied */
        put_u64(o, l->epoch);
        put(o, tx, sizeof tx);
        put_u32(o, l->plan.created_set);
        put_u32(o, l->plan.retired_count);
        for (uint32_t k = 0; k < l->plan.retired_count; k++) put_u32(o, l->plan.retired[k]);
        put_u32(o, l->plan.changed_count);
        for (uint32_t k = 0; k < l->plan.changed_count; k++) put_u32(o, l->plan.changed[k]);
        put_u32(o, l->plan.move_count);
        for (uint32_t k = 0; k < l->plan.move_count; k++) {
            put_u32(o, l->plan.moves[k].node_id);
            put_u32(o, l->plan.moves[k].from_set);
            put_u32(o, l->plan.moves[k].to_set);
        }
    }
    return BCKM_OK;
}

/* The canonical plaintext in a new buffer (wipe it after use). */
static int plaintext(const struct bckm_km *km, uint8_t **out, size_t *len) {
    struct out o = { NULL, 0 };
    int e = write_state(km, &o);
    if (e != BCKM_OK) return e;
    uint8_t *buf = malloc(o.len);
    if (buf == NULL) return BCKM_ERR_NOMEM;
    size_t want = o.len;
    o.buf = buf;
    o.len = 0;
    e = write_state(km, &o);
    if (e != BCKM_OK || o.len != want) {
        bckm_wipe(buf, want);
        free(buf);
        return e != BCKM_OK ? e : BCKM_ERR_STATE;
    }
    *out = buf;
    *len = want;
    return BCKM_OK;
}

static void make_ad(uint32_t bp, uint64_t height, uint8_t ad[AD_BYTES]) {
    memcpy(ad, AD_LABEL, 13);
    ad[13] = BCKM_KM_STATE_VERSION;
    bckm_put_u32(ad + 14, bp);
    bckm_put_u64(ad + 18, height);
}

static int subkeys(const uint8_t storage_key[BCKM_KEY_BYTES], uint8_t nonce_key[32],
                   uint8_t aead_key[32]) {
    if (crypto_kdf_derive_from_key(nonce_key, 32, 1, KDF_CTX, storage_key) != 0 ||
        crypto_kdf_derive_from_key(aead_key, 32, 2, KDF_CTX, storage_key) != 0)
        return BCKM_ERR_CRYPTO;
    return BCKM_OK;
}

int bckm_km_state_seal(const struct bckm_km *km, uint64_t height,
                       const uint8_t storage_key[BCKM_KEY_BYTES], uint8_t **out, size_t *out_len) {
    uint8_t *pt = NULL, *blob = NULL, ad[AD_BYTES], nk[32], ak[32];
    size_t pt_len = 0;
    if (km == NULL || storage_key == NULL || out == NULL || out_len == NULL) return BCKM_ERR_ARG;
    int e = plaintext(km, &pt, &pt_len);
    if (e != BCKM_OK) return e;
    make_ad(km->bp, height, ad);
    e = subkeys(storage_key, nk, ak);
    if (e == BCKM_OK && (blob = malloc(NONCE_BYTES + pt_len + TAG_BYTES)) == NULL)
        e = BCKM_ERR_NOMEM;
    if (e == BCKM_OK) {
        /* Synthetic nonce: a keyed hash of what it seals. */
        crypto_generichash_state st;
        if (crypto_generichash_init(&st, nk, sizeof nk, NONCE_BYTES) != 0 ||
            crypto_generichash_update(&st, ad, sizeof ad) != 0 ||
            crypto_generichash_update(&st, pt, pt_len) != 0 ||
            crypto_generichash_final(&st, blob, NONCE_BYTES) != 0)
            e = BCKM_ERR_CRYPTO;
    }
    unsigned long long clen = 0;
    if (e == BCKM_OK &&
        crypto_aead_xchacha20poly1305_ietf_encrypt(blob + NONCE_BYTES, &clen, pt, pt_len, ad,
                                                   sizeof ad, NULL, blob, ak) != 0)
        e = BCKM_ERR_CRYPTO;
    bckm_wipe(pt, pt_len);
    free(pt);
    bckm_wipe(nk, sizeof nk);
    bckm_wipe(ak, sizeof ak);
    if (e != BCKM_OK) {
        free(blob);
        return e;
    }
    *out = blob;
    *out_len = NONCE_BYTES + (size_t)clen;
    return BCKM_OK;
}

void bckm_km_state_release(uint8_t *blob, size_t len) {
    if (blob == NULL) return;
    bckm_wipe(blob, len);
    free(blob);
}

int bckm_km_state_digest(const struct bckm_km *km, uint8_t out[BCKM_HASH_BYTES]) {
    uint8_t *pt = NULL;
    size_t len = 0;
    if (km == NULL || out == NULL) return BCKM_ERR_ARG;
    int e = plaintext(km, &pt, &len);
    if (e != BCKM_OK) return e;
    if (crypto_generichash(out, BCKM_HASH_BYTES, pt, len, NULL, 0) != 0) e = BCKM_ERR_CRYPTO;
    bckm_wipe(pt, len);
    free(pt);
    return e;
}

/* ---- reading -------------------------------------------------------------- */

/* Every read checks what remains first; any shortfall is a FORMAT error
 * (the plaintext authenticated, so only a non-canonical writer gets here). */
struct in {
    const uint8_t *p;
    size_t len, pos;
    int bad;
};

static const uint8_t *get(struct in *r, size_t n) {
    if (r->bad || r->len - r->pos < n) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}
static uint8_t get_u8(struct in *r) {
    const uint8_t *p = get(r, 1);
    return p ? p[0] : 0;
}
static uint16_t get_u16(struct in *r) {
    const uint8_t *p = get(r, 2);
    return p ? bckm_get_u16(p) : 0;
}
static uint32_t get_u32(struct in *r) {
    const uint8_t *p = get(r, 4);
    return p ? bckm_get_u32(p) : 0;
}
static uint64_t get_u64(struct in *r) {
    const uint8_t *p = get(r, 8);
    return p ? bckm_get_u64(p) : 0;
}
/* A count of entries of `each` bytes that fit in what remains. */
static uint32_t get_count(struct in *r, size_t each) {
    uint32_t n = get_u32(r);
    if (!r->bad && (size_t)n > (r->len - r->pos) / each) r->bad = 1;
    return r->bad ? 0 : n;
}

static int read_pool(struct in *r, struct bckm_keypool *p) {
    uint32_t n = get_count(r, 8u + BCKM_KEY_BYTES);
    uint64_t prev = 0;
    int e = bckm_keypool_reserve(p, n);
    for (uint32_t i = 0; i < n && e == BCKM_OK && !r->bad; i++) {
        uint64_t id = get_u64(r);
        const uint8_t *key = get(r, BCKM_KEY_BYTES);
        if (r->bad || id <= prev) return BCKM_ERR_FORMAT; /* increasing, and never 0 */
        prev = id;
        e = bckm_keypool_put(p, id, key);
    }
    return r->bad ? BCKM_ERR_FORMAT : e;
}

static int read_u32_list(struct in *r, uint32_t **out, uint32_t *n) {
    *n = get_count(r, 4);
    *out = NULL;
    if (r->bad) return BCKM_ERR_FORMAT;
    if (*n == 0) return BCKM_OK;
    uint32_t *a = malloc((size_t)*n * sizeof *a);
    if (a == NULL) return BCKM_ERR_NOMEM;
    for (uint32_t i = 0; i < *n; i++) a[i] = get_u32(r);
    *out = a;
    return BCKM_OK;
}

static int read_log(struct in *r, struct bckm_km *km) {
    uint32_t n = get_count(r, LOG_FIXED_BYTES);
    uint64_t prev = 0;
    int e = BCKM_OK;
    if (r->bad) return BCKM_ERR_FORMAT;
    if (n > BCKM_KM_LOG_EPOCHS) return BCKM_ERR_FORMAT;
    for (uint32_t i = 0; i < n && e == BCKM_OK; i++) {
        struct bckm_tx tx;
        struct bckm_plan plan;
        bckm_plan_init(&plan);
        uint64_t epoch = get_u64(r);
        const uint8_t *txb = get(r, BCKM_TX_BYTES);
        plan.created_set = get_u32(r);
        if (r->bad || epoch <= prev || km->log[epoch % BCKM_KM_LOG_EPOCHS].epoch != 0 ||
            bckm_tx_decode(txb, BCKM_TX_BYTES, &tx) != BCKM_OK)
            return BCKM_ERR_FORMAT;
        prev = epoch;
        plan.epoch = epoch;
        e = read_u32_list(r, &plan.retired, &plan.retired_count);
        if (e == BCKM_OK) e = read_u32_list(r, &plan.changed, &plan.changed_count);
        if (e == BCKM_OK) {
            plan.move_count = get_count(r, 12);
            if (r->bad) e = BCKM_ERR_FORMAT;
        }
        if (e == BCKM_OK && plan.move_count > 0) {
            plan.moves = malloc((size_t)plan.move_count * sizeof *plan.moves);
            if (plan.moves == NULL) e = BCKM_ERR_NOMEM;
            for (uint32_t k = 0; e == BCKM_OK && k < plan.move_count; k++) {
                plan.moves[k].node_id = get_u32(r);
                plan.moves[k].from_set = get_u32(r);
                plan.moves[k].to_set = get_u32(r);
            }
        }
        /* The log slot keeps its own copies. */
        if (e == BCKM_OK) e = bckm_km_log_change(km, &tx, &plan);
        bckm_plan_free(&plan);
    }
    return e;
}

static int read_pending(struct in *r, struct bckm_km *km) {
    uint32_t n = get_count(r, 4u + BCKM_KEY_BYTES + BCKM_CODE_BYTES), prev = 0;
    if (r->bad) return BCKM_ERR_FORMAT;
    if (n == 0) return BCKM_OK;
    km->pend = bckm_secret_resize(NULL, 0, 0, (size_t)n * sizeof *km->pend);
    if (km->pend == NULL) return BCKM_ERR_NOMEM;
    km->cap_pend = n;
    for (uint32_t i = 0; i < n; i++) {
        struct bckm_km_pending *p = &km->pend[i];
        p->node_id = get_u32(r);
        const uint8_t *kek = get(r, BCKM_KEY_BYTES), *code = get(r, BCKM_CODE_BYTES);
        if (r->bad || p->node_id <= prev || bckm_id_bp(p->node_id) != km->bp)
            return BCKM_ERR_FORMAT;
        prev = p->node_id;
        memcpy(p->kek, kek, BCKM_KEY_BYTES);
        memcpy(p->code, code, BCKM_CODE_BYTES);
        if (bckm_map_put(&km->pend_index, p->node_id, i) != BCKM_OK) return BCKM_ERR_NOMEM;
        km->npend = i + 1;
    }
    return BCKM_OK;
}

static int read_state(struct in *r, const struct bckm_km_config *cfg, struct bckm_km *km) {
    const uint8_t *magic = get(r, 4);
    uint8_t version = get_u8(r);
    uint32_t bp = get_u32(r);
    uint8_t policy = get_u8(r), repro = get_u8(r);
    uint32_t next_node = get_u32(r);
    const uint8_t *domain = get(r, BCKM_KEY_BYTES);
    if (r->bad || memcmp(magic, MAGIC, 4) != 0 || version != BCKM_KM_STATE_VERSION || repro > 1 ||
        next_node == 0)
        return BCKM_ERR_FORMAT;
    if (bp != cfg->bp_id || policy != (uint8_t)cfg->policy || repro != (cfg->drbg_seed != NULL))
        return BCKM_ERR_MISMATCH;
    memcpy(km->domain, domain, BCKM_KEY_BYTES);
    km->next_node = next_node;
    if (repro) {
        const uint8_t *k = get(r, BCKM_KEY_BYTES);
        uint64_t ctr = get_u64(r);
        if (r->bad) return BCKM_ERR_FORMAT;
        memcpy(km->drbg.key, k, BCKM_KEY_BYTES);
        km->drbg.counter = ctr;
    }
    uint16_t npeers = get_u16(r);
    uint32_t prev = 0;
    for (uint32_t i = 0; i < npeers; i++) {
        uint32_t other = get_u32(r);
        const uint8_t *sec = get(r, BCKM_KEY_BYTES);
        if (r->bad || other <= prev || bckm_km_set_peer_secret(km, other, sec) != BCKM_OK)
            return BCKM_ERR_FORMAT;
        prev = other;
    }
    struct bckm_keypool *pools[4] = { &km->node_keks, &km->set_keks, &km->pair_keys, &km->seeds };
    int e = BCKM_OK;
    for (int i = 0; i < 4 && e == BCKM_OK; i++) e = read_pool(r, pools[i]);
    if (e != BCKM_OK) return e;
    uint32_t nad = get_count(r, 4);
    prev = 0;
    for (uint32_t i = 0; i < nad && !r->bad; i++) {
        uint32_t set = get_u32(r);
        if (r->bad || set <= prev) return BCKM_ERR_FORMAT;
        prev = set;
        if (bckm_map_put(&km->adopted, set, 1) != BCKM_OK) return BCKM_ERR_NOMEM;
    }
    if (r->bad) return BCKM_ERR_FORMAT;
    if ((e = read_pending(r, km)) != BCKM_OK) return e;
    if ((e = read_log(r, km)) != BCKM_OK) return e;
    return r->bad || r->pos != r->len ? BCKM_ERR_FORMAT : BCKM_OK;
}

int bckm_km_state_open(const struct bckm_km_config *cfg, uint64_t height,
                       const uint8_t storage_key[BCKM_KEY_BYTES], const uint8_t *blob, size_t len,
                       struct bckm_km **out) {
    uint8_t ad[AD_BYTES], nk[32], ak[32];
    if (cfg == NULL || storage_key == NULL || blob == NULL || out == NULL) return BCKM_ERR_ARG;
    if (len < NONCE_BYTES + TAG_BYTES) return BCKM_ERR_AUTH;
    size_t pt_cap = len - NONCE_BYTES - TAG_BYTES;
    uint8_t *pt = malloc(pt_cap ? pt_cap : 1);
    if (pt == NULL) return BCKM_ERR_NOMEM;
    make_ad(cfg->bp_id, height, ad);
    int e = subkeys(storage_key, nk, ak);
    unsigned long long pt_len = 0;
    if (e == BCKM_OK &&
        crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &pt_len, NULL, blob + NONCE_BYTES,
                                                   len - NONCE_BYTES, ad, sizeof ad, blob, ak) != 0)
        e = BCKM_ERR_AUTH;
    bckm_wipe(nk, sizeof nk);
    bckm_wipe(ak, sizeof ak);
    struct bckm_km *km = NULL;
    if (e == BCKM_OK) e = bckm_km_new(&km, cfg);
    if (e == BCKM_OK) {
        struct in r = { pt, (size_t)pt_len, 0, 0 };
        e = read_state(&r, cfg, km);
    }
    bckm_wipe(pt, pt_cap);
    free(pt);
    if (e != BCKM_OK) {
        bckm_km_free(km);
        return e;
    }
    *out = km;
    return BCKM_OK;
}
