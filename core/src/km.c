#include "bckm/km.h"
#include "bckm/kdf.h"
#include "bckm/map.h"
#include "bckm/msg.h"
#include "bckm/rejoin.h"
#include "secret_array.h"
#include "bckm/resync.h"
#include "bckm/rekey_auth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* A pool of 32-byte keys indexed by a map, with a free list, so memory
 * follows the number of live keys. */
struct keypool {
    struct bckm_map index;            /* id -> slot */
    uint8_t (*keys)[BCKM_KEY_BYTES];
    uint32_t *free_slots;
    uint32_t used, cap, nfree;
};

struct pending {
    uint32_t node_id;
    uint8_t kek[BCKM_KEY_BYTES];
    uint8_t code[BCKM_CODE_BYTES];
};

/* One committed change, kept so missed epochs can be replayed. */
struct log_entry {
    uint64_t epoch;            /* 0: empty slot */
    struct bckm_tx tx;
    struct bckm_plan plan;     /* own copies of the arrays */
};

struct bckm_km {
    uint32_t bp;
    bckm_policy policy;
    uint8_t domain[BCKM_KEY_BYTES];
    uint8_t peer_secret[BCKM_MAX_BPS + 1][BCKM_KEY_BYTES];
    uint8_t has_peer[BCKM_MAX_BPS + 1];
    struct bckm_drbg drbg;     /* reproducible mode only (drbg_seed given) */
    int reproducible;
    uint8_t sign_sk[64];       /* Ed25519: signs every batch of rekey messages */
    uint8_t *sign_work;        /* batch-signing workspace a commit reserves (no failure after its changes) */
    size_t sign_work_cap;
    uint32_t next_node;
    struct keypool node_keks;  /* node ID -> K_u */
    struct keypool set_keks;   /* set ID -> K_S */
    struct keypool pair_keys;  /* (lo << 32 | hi) -> K_ST */
    struct pending *pend;
    uint32_t npend, cap_pend;
    struct bckm_map pend_index;  /* node ID -> index in pend */
    uint8_t *scratch;          /* message body under construction */
    size_t scratch_cap;
    struct bckm_map adopted;   /* sets adopted from a failed BP -> 1 */
    struct keypool seeds;      /* pair seeds handed over by adopted nodes */
    struct log_entry log[BCKM_KM_LOG_EPOCHS];
    uint32_t *ids;             /* bundle scratch: peer IDs and positions */
    size_t ids_cap;            /* in uint32_t */
    uint32_t *dropped;         /* nodes the last commit stopped serving */
    uint32_t ndropped, cap_dropped;
};

/* ---- key pool --------------------------------------------------------------- */

static void pool_init(struct keypool *p) { memset(p, 0, sizeof *p); bckm_map_init(&p->index); }

static void pool_free(struct keypool *p) {
    if (p->keys != NULL) bckm_wipe(p->keys, (size_t)p->cap * BCKM_KEY_BYTES);
    free(p->keys); free(p->free_slots);
    bckm_map_free(&p->index);
    pool_init(p);
}

static uint8_t *pool_get(const struct keypool *p, uint64_t id) {
    uint32_t slot;
    if (!bckm_map_get(&p->index, id, &slot)) return NULL;
    return p->keys[slot];
}

/* Room for `extra` new keys: pool_put of that many new IDs cannot fail. */
static int pool_reserve(struct keypool *p, uint32_t extra) {
    if (p->nfree + (p->cap - p->used) < extra) {
        uint32_t need = p->used - p->nfree + extra, ncap = p->cap ? p->cap : 64;
        while (ncap < need) { if (ncap > UINT32_MAX / 2) return BCKM_ERR_NOMEM; ncap *= 2; }
        uint32_t *nf = realloc(p->free_slots, (size_t)ncap * sizeof *nf);
        if (nf == NULL) return BCKM_ERR_NOMEM;
        p->free_slots = nf;
        size_t old = (size_t)p->cap * BCKM_KEY_BYTES;
        uint8_t (*nk)[BCKM_KEY_BYTES] = bckm_secret_resize(p->keys, old, old, (size_t)ncap * BCKM_KEY_BYTES);
        if (nk == NULL) return BCKM_ERR_NOMEM;
        p->keys = nk;
        p->cap = ncap;
    }
    return bckm_map_reserve(&p->index, extra);
}

static int pool_put(struct keypool *p, uint64_t id, const uint8_t key[BCKM_KEY_BYTES]) {
    uint8_t *k = pool_get(p, id);
    if (k != NULL) { memcpy(k, key, BCKM_KEY_BYTES); return BCKM_OK; }
    if (pool_reserve(p, 1) != BCKM_OK) return BCKM_ERR_NOMEM;
    uint32_t slot = p->nfree > 0 ? p->free_slots[--p->nfree] : p->used++;
    if (bckm_map_put(&p->index, id, slot) != BCKM_OK) {
        p->free_slots[p->nfree++] = slot;
        return BCKM_ERR_NOMEM;
    }
    memcpy(p->keys[slot], key, BCKM_KEY_BYTES);
    return BCKM_OK;
}

static void pool_del(struct keypool *p, uint64_t id) {
    uint32_t slot;
    if (!bckm_map_get(&p->index, id, &slot)) return;
    bckm_wipe(p->keys[slot], BCKM_KEY_BYTES);
    (void)bckm_map_del(&p->index, id);
    p->free_slots[p->nfree++] = slot;
}

static size_t pool_bytes(const struct keypool *p) {
    return bckm_map_bytes(&p->index) + (size_t)p->cap * (BCKM_KEY_BYTES + sizeof(uint32_t));
}

static uint64_t pair_id(uint32_t a, uint32_t b) {
    uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
    return ((uint64_t)lo << 32) | hi;
}

/* ---- messages ----------------------------------------------------------------- */

void bckm_msgs_init(struct bckm_msgs *m) { memset(m, 0, sizeof *m); }
void bckm_msgs_clear(struct bckm_msgs *m) { m->len = 0; m->n = 0; }
void bckm_msgs_free(struct bckm_msgs *m) { free(m->buf); free(m->refs); bckm_msgs_init(m); }

int bckm_msgs_route(const struct bckm_msgs *m, const struct bckm_sets *reg,
                    int (*deliver)(void *ctx, uint32_t node, const uint8_t *msg, size_t len), void *ctx) {
    if (m == NULL || reg == NULL || deliver == NULL) return BCKM_ERR_ARG;
    /* A node that gets a bundle in this batch gets its whole new state from
     * it; the batch's set messages (to its new set) are not for it. */
    struct bckm_map bundled;
    bckm_map_init(&bundled);
    int e = BCKM_OK;
    for (uint32_t i = 0; i < m->n && e == BCKM_OK; i++)
        if (m->refs[i].kind == BCKM_MSG_BUNDLE) e = bckm_map_put(&bundled, m->refs[i].recipient, 1);
    for (uint32_t i = 0; i < m->n && e == BCKM_OK; i++) {
        const struct bckm_msg_ref *r = &m->refs[i];
        uint32_t nrec = 1, one = r->recipient;
        const uint32_t *rec = &one;
        if (r->kek_type == BCKM_KEK_SET) rec = bckm_sets_members(reg, r->recipient, &nrec);
        for (uint32_t k = 0; k < nrec && e == BCKM_OK; k++) {
            if (r->kek_type == BCKM_KEK_SET && bckm_map_get(&bundled, rec[k], NULL)) continue;
            e = deliver(ctx, rec[k], m->buf + r->off, r->len);
        }
    }
    bckm_map_free(&bundled);
    return e;
}

/* Room for nrefs more messages of `bytes` bytes in all. */
static int msgs_reserve_many(struct bckm_msgs *m, uint32_t nrefs, size_t bytes) {
    if (m->refs_cap - m->n < nrefs) {
        uint32_t ncap = m->refs_cap ? m->refs_cap : 64;
        while (ncap - m->n < nrefs) { if (ncap > UINT32_MAX / 2) return BCKM_ERR_NOMEM; ncap *= 2; }
        struct bckm_msg_ref *r = realloc(m->refs, (size_t)ncap * sizeof *r);
        if (r == NULL) return BCKM_ERR_NOMEM;
        m->refs = r; m->refs_cap = ncap;
    }
    if (m->cap - m->len < bytes) {
        size_t ncap = m->cap ? m->cap : 4096;
        while (ncap - m->len < bytes) ncap *= 2;
        uint8_t *b = realloc(m->buf, ncap);
        if (b == NULL) return BCKM_ERR_NOMEM;
        m->buf = b; m->cap = ncap;
    }
    return BCKM_OK;
}

static int sign_work_reserve(struct bckm_km *km, size_t n) {
    if (km->sign_work_cap >= n) return BCKM_OK;
    uint8_t *b = malloc(n);
    if (b == NULL) return BCKM_ERR_NOMEM;
    free(km->sign_work);
    km->sign_work = b; km->sign_work_cap = n;
    return BCKM_OK;
}

static int ids_reserve(struct bckm_km *km, size_t n) {
    if (km->ids_cap >= n) return BCKM_OK;
    uint32_t *b = realloc(km->ids, n * sizeof *b);
    if (b == NULL) return BCKM_ERR_NOMEM;
    km->ids = b; km->ids_cap = n;
    return BCKM_OK;
}

static int msgs_reserve(struct bckm_msgs *m, size_t bytes) { return msgs_reserve_many(m, 1, bytes); }

static int scratch_reserve(struct bckm_km *km, size_t bytes) {
    if (km->scratch_cap >= bytes) return BCKM_OK;
    size_t ncap = km->scratch_cap ? km->scratch_cap : 4096;
    while (ncap < bytes) ncap *= 2;
    uint8_t *b = malloc(ncap);
    if (b == NULL) return BCKM_ERR_NOMEM;
    if (km->scratch != NULL) { bckm_wipe(km->scratch, km->scratch_cap); free(km->scratch); }
    km->scratch = b; km->scratch_cap = ncap;
    return BCKM_OK;
}

/* Every secret or nonce the key manager draws: the OS's randomness, or in
 * the simulator's reproducible mode the forward-secure generator. */
static void km_random(struct bckm_km *km, uint8_t *out, size_t len) {
    if (km->reproducible) bckm_drbg_fill(&km->drbg, out, len);
    else randombytes_buf(out, len);
}

/* challenge: the resync challenge a node-KEK message answers, or NULL
 * (all zero: a set-KEK message always, bckm_msg_seal refuses any other). */
static int emit(struct bckm_km *km, struct bckm_msgs *out, uint8_t kind, uint8_t kek_type, uint32_t recipient,
                uint64_t epoch, const uint8_t *challenge, const uint8_t kek[BCKM_KEY_BYTES], const uint8_t *body,
                size_t body_len) {
    size_t need = BCKM_MSG_HEADER_BYTES + body_len + BCKM_MSG_TAG_BYTES;
    int e = msgs_reserve(out, need);
    if (e != BCKM_OK) return e;
    struct bckm_msg_header h;
    memset(&h, 0, sizeof h);
    h.kind = kind; h.kek_type = kek_type; h.recipient = recipient; h.epoch = epoch;
    h.sender = (uint8_t)km->bp;
    if (challenge != NULL) memcpy(h.challenge, challenge, sizeof h.challenge);
    km_random(km, h.nonce, sizeof h.nonce);
    size_t len = 0;
    e = bckm_msg_seal(&h, kek, body, body_len, out->buf + out->len, out->cap - out->len, &len);
    if (e != BCKM_OK) return e;
    out->refs[out->n++] = (struct bckm_msg_ref){ kind, kek_type, recipient, out->len, len };
    out->len += len;
    return BCKM_OK;
}

/* Every public call that appends messages appends one signed batch: it
 * notes where its batch starts, and at the end signs it, or on error drops
 * it (so nothing unsigned ever leaves). */
struct batch {
    uint32_t n;
    size_t len;
};

static struct batch batch_begin(const struct bckm_msgs *out) {
    struct batch b = { 0, 0 };
    if (out != NULL) { b.n = out->n; b.len = out->len; }
    return b;
}

static int batch_end(struct bckm_km *km, struct bckm_msgs *out, struct batch b, int e) {
    if (out == NULL) return e;
    /* The reserved workspace when it and the room left in out are large
     * enough (a commit reserved both with its other allocations, so signing
     * cannot fail after the keys moved), else the signer's own allocations
     * (a call that did not reserve: catch-up, adoption, bundles). */
    if (e == BCKM_OK && out->n > b.n &&
        km->sign_work_cap >= bckm_rekey_batch_work_bytes(out->n - b.n, out->len - b.len) &&
        out->cap - out->len >= bckm_rekey_batch_trailer_bytes(out->n - b.n))
        e = bckm_rekey_batch_sign_in(out, b.n, km->bp, km->sign_sk, km->sign_work, km->sign_work_cap);
    else if (e == BCKM_OK)
        e = bckm_rekey_batch_sign(out, b.n, km->bp, km->sign_sk);
    if (e != BCKM_OK && out->len >= b.len && out->n >= b.n) {
        bckm_wipe(out->buf + b.len, out->len - b.len);
        out->len = b.len;
        out->n = b.n;
    }
    return e;
}

/* ---- policy --------------------------------------------------------------------- */

static int knows_set(const struct bckm_km *km, uint32_t set) {
    return km->policy == BCKM_POLICY_GLOBAL || bckm_id_bp(set) == km->bp || bckm_map_get(&km->adopted, set, NULL);
}

static int knows_pair(const struct bckm_km *km, uint32_t a, uint32_t b) {
    return knows_set(km, a) || knows_set(km, b);
}

/* The secret initial pairwise set keys of (a, b) derive from: this BP's
 * domain for two of its own sets (or under the global policy), else the
 * secret shared with the other owner. NULL when it is not known. */
static const uint8_t *pair_domain(const struct bckm_km *km, uint32_t a, uint32_t b) {
    if (km->policy == BCKM_POLICY_GLOBAL) return km->domain;
    uint32_t oa = bckm_id_bp(a), ob = bckm_id_bp(b);
    if (oa == km->bp && ob == km->bp) return km->domain;
    /* A set adopted from a failed BP keeps its owner's ID; its pairs with
     * this BP's sets derive from the secret this BP shares with that owner. */
    uint32_t other = oa == km->bp ? ob : oa;
    if ((oa != km->bp && ob != km->bp) || !km->has_peer[other]) return NULL;
    return km->peer_secret[other];
}

int bckm_km_bp_secret(const uint8_t my_sk[32], uint32_t me, const uint8_t their_pk[32], uint32_t them,
                      uint8_t out[BCKM_KEY_BYTES]) {
    uint8_t dh[crypto_scalarmult_BYTES], f[8];
    if (crypto_scalarmult(dh, my_sk, their_pk) != 0) return BCKM_ERR_CRYPTO;
    bckm_put_u32(f, me < them ? me : them);
    bckm_put_u32(f + 4, me < them ? them : me);
    int e = bckm_kdf_derive(dh, BCKM_KDF_BP_PAIR, f, sizeof f, out);
    bckm_wipe(dh, sizeof dh);
    return e;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

int bckm_km_new(struct bckm_km **out, const struct bckm_km_config *cfg) {
    if (out == NULL || cfg == NULL || cfg->bp_id == 0 || cfg->bp_id > BCKM_MAX_BPS) return BCKM_ERR_ARG;
    if (cfg->policy != BCKM_POLICY_OWNED && cfg->policy != BCKM_POLICY_GLOBAL) return BCKM_ERR_ARG;
    struct bckm_km *km = calloc(1, sizeof *km);
    if (km == NULL) return BCKM_ERR_NOMEM;
    km->bp = cfg->bp_id;
    km->policy = cfg->policy;
    memcpy(km->domain, cfg->domain, BCKM_KEY_BYTES);
    /* Real use (no seed): codes, refresh keys and nonces straight from the
     * OS, and no generator key at all. */
    km->reproducible = cfg->drbg_seed != NULL;
    if (km->reproducible) bckm_drbg_init(&km->drbg, cfg->drbg_seed);
    memcpy(km->sign_sk, cfg->sign_sk, sizeof km->sign_sk);
    km->next_node = 1;
    pool_init(&km->node_keks); pool_init(&km->set_keks); pool_init(&km->pair_keys);
    pool_init(&km->seeds);
    bckm_map_init(&km->adopted);
    bckm_map_init(&km->pend_index);
    *out = km;
    return BCKM_OK;
}

void bckm_km_free(struct bckm_km *km) {
    if (km == NULL) return;
    pool_free(&km->node_keks); pool_free(&km->set_keks); pool_free(&km->pair_keys);
    pool_free(&km->seeds);
    bckm_map_free(&km->adopted);
    bckm_map_free(&km->pend_index);
    for (uint32_t i = 0; i < BCKM_KM_LOG_EPOCHS; i++) bckm_plan_free(&km->log[i].plan);
    if (km->pend != NULL) bckm_wipe(km->pend, (size_t)km->cap_pend * sizeof *km->pend);
    free(km->pend);
    if (km->scratch != NULL) bckm_wipe(km->scratch, km->scratch_cap);
    free(km->scratch);
    free(km->ids);
    free(km->dropped);
    bckm_wipe(km->sign_sk, sizeof km->sign_sk);
    free(km->sign_work);
    bckm_wipe(km, sizeof *km);
    free(km);
}

int bckm_km_set_peer_secret(struct bckm_km *km, uint32_t other, const uint8_t secret[BCKM_KEY_BYTES]) {
    if (other == 0 || other > BCKM_MAX_BPS || other == km->bp) return BCKM_ERR_ARG;
    memcpy(km->peer_secret[other], secret, BCKM_KEY_BYTES);
    km->has_peer[other] = 1;
    return BCKM_OK;
}

/* ---- step 1 --------------------------------------------------------------------------- */

int bckm_km_prepare_join(struct bckm_km *km, const struct bckm_sets *reg, const uint8_t kek[BCKM_KEY_BYTES],
                         struct bckm_tx *out) {
    if (km == NULL || reg == NULL || kek == NULL || out == NULL) return BCKM_ERR_ARG;
    if (km->next_node > BCKM_ID_COUNTER_MAX) return BCKM_ERR_NOMEM;
    uint32_t owner = bckm_sets_owner_for(reg, km->bp), set;
    int fresh;
    if (bckm_sets_nodes(reg) == UINT32_MAX) return BCKM_ERR_NOMEM;
    int e = bckm_sets_assign(bckm_sets_table(reg), bckm_sets_count(reg), owner, bckm_sets_nodes(reg) + 1,
                             bckm_sets_next_counter(reg, owner), &set, &fresh);
    if (e != BCKM_OK) return e;
    if (km->npend == km->cap_pend) {
        uint32_t ncap = km->cap_pend ? km->cap_pend * 2 : 8;
        struct pending *np = bckm_secret_resize(km->pend, (size_t)km->cap_pend * sizeof *np,
                                                (size_t)km->npend * sizeof *np, (size_t)ncap * sizeof *np);
        if (np == NULL) return BCKM_ERR_NOMEM;
        km->pend = np; km->cap_pend = ncap;
    }
    uint32_t node = bckm_id_make(km->bp, km->next_node);
    if (bckm_map_put(&km->pend_index, node, km->npend) != BCKM_OK) return BCKM_ERR_NOMEM;
    km->next_node++;
    struct pending *p = &km->pend[km->npend++];
    p->node_id = node;
    memcpy(p->kek, kek, BCKM_KEY_BYTES);
    km_random(km, p->code, BCKM_CODE_BYTES);
    memset(out, 0, sizeof *out);
    out->op = BCKM_OP_JOIN;
    out->node_id = p->node_id;
    out->set_id = set;
    bckm_code_commit(p->code, out->code_hash);
    km_random(km, out->refresh, BCKM_REFRESH_BYTES);
    return BCKM_OK;
}

int bckm_km_prepare_leave(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id, uint8_t op,
                          struct bckm_tx *out) {
    if (km == NULL || reg == NULL || out == NULL) return BCKM_ERR_ARG;
    if (op != BCKM_OP_LEAVE && op != BCKM_OP_EVICT) return BCKM_ERR_ARG;
    uint32_t set, attach;
    int e = bckm_sets_node(reg, node_id, &set, &attach);
    if (e != BCKM_OK) return e;
    (void)attach;
    if (pool_get(&km->node_keks, node_id) == NULL) return BCKM_ERR_PERM; /* not served here */
    memset(out, 0, sizeof *out);
    out->op = op;
    out->node_id = node_id;
    out->set_id = set;
    e = bckm_sets_code_hash(reg, node_id, out->code_hash);
    if (e != BCKM_OK) return e;
    km_random(km, out->refresh, BCKM_REFRESH_BYTES);
    return BCKM_OK;
}

static struct pending *pending_find(struct bckm_km *km, uint32_t node_id) {
    uint32_t i;
    return bckm_map_get(&km->pend_index, node_id, &i) ? &km->pend[i] : NULL;
}

/* Gives memory back once most pending joins are gone (a genesis of n nodes
 * leaves n entries behind), so the BP stays O(current pending) there. A
 * failed allocation just keeps the larger arrays. */
static void pending_compact(struct bckm_km *km) {
    if (km->cap_pend <= 16 || (uint64_t)km->npend * 4 >= km->cap_pend) return;
    uint32_t ncap = km->cap_pend / 2;
    struct bckm_map idx;
    bckm_map_init(&idx);
    for (uint32_t i = 0; i < km->npend; i++) {
        if (bckm_map_put(&idx, km->pend[i].node_id, i) != BCKM_OK) { bckm_map_free(&idx); return; }
    }
    struct pending *np = bckm_secret_resize(km->pend, (size_t)km->cap_pend * sizeof *np,
                                            (size_t)km->npend * sizeof *np, (size_t)ncap * sizeof *np);
    if (np == NULL) { bckm_map_free(&idx); return; }
    km->pend = np;
    km->cap_pend = ncap;
    bckm_map_free(&km->pend_index);
    km->pend_index = idx;
}

static void pending_drop(struct bckm_km *km, struct pending *p) {
    uint32_t i = (uint32_t)(p - km->pend);
    (void)bckm_map_del(&km->pend_index, p->node_id);
    bckm_wipe(p, sizeof *p);
    km->npend--;
    if (i != km->npend) {
        km->pend[i] = km->pend[km->npend];
        /* The key exists, so the put only replaces a value and cannot fail. */
        int e = bckm_map_put(&km->pend_index, km->pend[i].node_id, i);
        (void)e;
    }
    bckm_wipe(&km->pend[km->npend], sizeof *p);
    pending_compact(km);
}

void bckm_km_abort(struct bckm_km *km, uint32_t node_id) {
    struct pending *p = pending_find(km, node_id);
    if (p != NULL) pending_drop(km, p);
}

/* ---- bundles ------------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Pairwise node key of u and v in set S: the seed of whoever entered S first
 * derives it. pos_* are positions in S's insertion order. */
/* A node's pair seed: handed over by the node (adopted), else derived. */
static void seed_of(const struct bckm_km *km, uint32_t node, uint8_t out[BCKM_KEY_BYTES]) {
    const uint8_t *s = pool_get(&km->seeds, node);
    if (s != NULL) memcpy(out, s, BCKM_KEY_BYTES);
    else bckm_kdf_pair_seed(km->domain, node, out);
}

static void node_pair(const struct bckm_km *km, uint32_t u, uint32_t pos_u, uint32_t v, uint32_t pos_v,
                      uint8_t out[BCKM_KEY_BYTES]) {
    uint8_t seed[BCKM_KEY_BYTES];
    uint32_t first = pos_u < pos_v ? u : v, second = pos_u < pos_v ? v : u;
    seed_of(km, first, seed);
    bckm_kdf_pair_node(seed, first, second, out);
    bckm_wipe(seed, sizeof seed);
}

static int emit_bundle(struct bckm_km *km, const struct bckm_sets *reg, uint32_t u, const uint8_t *code,
                       uint64_t epoch, const uint8_t *challenge, struct bckm_msgs *out) {
    uint32_t set, attach, count = 0;
    int e = bckm_sets_node(reg, u, &set, &attach);
    if (e != BCKM_OK) return e;
    const uint8_t *kek = pool_get(&km->node_keks, u), *kset = pool_get(&km->set_keks, set);
    if (kek == NULL || kset == NULL) return BCKM_ERR_STATE;
    const uint32_t *mem = bckm_sets_members(reg, set, &count);
    uint32_t m = bckm_sets_count(reg);
    const struct bckm_set_info *tab = bckm_sets_table(reg);
    e = scratch_reserve(km, 110 + 4 + ((size_t)m + count) * BCKM_MSG_KEYED_ENTRY_BYTES);
    if (e != BCKM_OK) return e;
    struct bckm_writer w;
    uint8_t seed[BCKM_KEY_BYTES], k[BCKM_KEY_BYTES], zero[BCKM_CODE_BYTES] = {0};
    bckm_writer_init(&w, km->scratch, km->scratch_cap);
    bckm_writer_u32(&w, u);
    bckm_writer_u32(&w, set);
    bckm_writer_u8(&w, code != NULL);
    bckm_writer_bytes(&w, code != NULL ? code : zero, BCKM_CODE_BYTES);
    seed_of(km, u, seed);
    bckm_writer_bytes(&w, seed, BCKM_KEY_BYTES);
    bckm_writer_bytes(&w, kset, BCKM_KEY_BYTES);
    if (m - 1 > BCKM_MSG_MAX_LIST || count - 1 > BCKM_MSG_MAX_LIST) { e = BCKM_ERR_NOMEM; goto out; } /* code in scratch */
    uint32_t held = 0;
    for (uint32_t i = 0; i < m; i++)
        if (tab[i].id != set && pool_get(&km->pair_keys, pair_id(set, tab[i].id)) != NULL) held++;
    /* Every pair is held except, after an adoption, pairs with sets a third
     * BP created later (spec 10.4): those are left out, not invented. */
    if (held != m - 1 && !bckm_map_get(&km->adopted, set, NULL)) { e = BCKM_ERR_STATE; goto out; }
    bckm_writer_u16(&w, (uint16_t)held);
    for (uint32_t i = 0; i < m; i++) {             /* the table is sorted by ID */
        if (tab[i].id == set) continue;
        const uint8_t *pk = pool_get(&km->pair_keys, pair_id(set, tab[i].id));
        if (pk == NULL) continue;
        bckm_writer_u32(&w, tab[i].id);
        bckm_writer_bytes(&w, pk, BCKM_KEY_BYTES);
    }
    /* Pairwise node keys sorted by peer ID. */
    uint32_t pos_u = 0;
    for (uint32_t i = 0; i < count; i++) if (mem[i] == u) pos_u = i;
    if ((e = ids_reserve(km, (size_t)(count ? count : 1) * 2)) != BCKM_OK) goto out;
    uint32_t *ids = km->ids, np = 0;
    for (uint32_t i = 0; i < count; i++) if (mem[i] != u) { ids[2 * np] = mem[i]; ids[2 * np + 1] = i; np++; }
    qsort(ids, np, 2 * sizeof *ids, cmp_u32);
    bckm_writer_u16(&w, (uint16_t)np);
    for (uint32_t i = 0; i < np; i++) {
        node_pair(km, u, pos_u, ids[2 * i], ids[2 * i + 1], k);
        bckm_writer_u32(&w, ids[2 * i]);
        bckm_writer_bytes(&w, k, BCKM_KEY_BYTES);
    }
    e = w.err ? w.err : emit(km, out, BCKM_MSG_BUNDLE, BCKM_KEK_NODE, u, epoch, challenge, kek, km->scratch, w.len);
out:
    bckm_wipe(seed, sizeof seed);
    bckm_wipe(k, sizeof k);
    bckm_wipe(km->scratch, w.len);
    return e;
}

/* ---- log ------------------------------------------------------------------------------- */

/* Grows the log slot of the plan's epoch to hold it (contents kept), so
 * log_change cannot fail. cap_sets_ and cap_moves_ count the slot's room. */
static int log_reserve(struct bckm_km *km, const struct bckm_plan *plan) {
    struct bckm_plan *p = &km->log[plan->epoch % BCKM_KM_LOG_EPOCHS].plan;
    uint32_t ns = plan->retired_count > plan->changed_count ? plan->retired_count : plan->changed_count;
    if (ns == 0) ns = 1;
    if (p->cap_sets_ < ns || p->retired == NULL || p->changed == NULL) {
        uint32_t *r = realloc(p->retired, (size_t)ns * sizeof *r);
        if (r == NULL) return BCKM_ERR_NOMEM;
        p->retired = r;
        uint32_t *ch = realloc(p->changed, (size_t)ns * sizeof *ch);
        if (ch == NULL) return BCKM_ERR_NOMEM;
        p->changed = ch;
        p->cap_sets_ = ns;
    }
    uint32_t nm = plan->move_count ? plan->move_count : 1;
    if (p->cap_moves_ < nm || p->moves == NULL) {
        struct bckm_move *mv = realloc(p->moves, (size_t)nm * sizeof *mv);
        if (mv == NULL) return BCKM_ERR_NOMEM;
        p->moves = mv;
        p->cap_moves_ = nm;
    }
    return BCKM_OK;
}

static int log_change(struct bckm_km *km, const struct bckm_tx *c, const struct bckm_plan *plan) {
    struct log_entry *l = &km->log[plan->epoch % BCKM_KM_LOG_EPOCHS];
    struct bckm_plan *p = &l->plan;
    int e = log_reserve(km, plan);   /* a no-op after commit's reservation */
    if (e != BCKM_OK) return e;
    l->epoch = 0;
    if (plan->retired_count > 0) memcpy(p->retired, plan->retired, (size_t)plan->retired_count * sizeof *p->retired);
    if (plan->changed_count > 0) memcpy(p->changed, plan->changed, (size_t)plan->changed_count * sizeof *p->changed);
    if (plan->move_count > 0) memcpy(p->moves, plan->moves, (size_t)plan->move_count * sizeof *p->moves);
    p->epoch = plan->epoch; p->created_set = plan->created_set;
    p->retired_count = plan->retired_count; p->changed_count = plan->changed_count; p->move_count = plan->move_count;
    l->tx = *c;
    l->epoch = plan->epoch;
    return BCKM_OK;
}

static const struct log_entry *log_get(const struct bckm_km *km, uint64_t epoch) {
    const struct log_entry *l = &km->log[epoch % BCKM_KM_LOG_EPOCHS];
    return l->epoch == epoch ? l : NULL;
}

static int moved_in(const struct bckm_plan *p, uint32_t node) {
    for (uint32_t i = 0; i < p->move_count; i++) if (p->moves[i].node_id == node) return 1;
    return 0;
}

/* The set a leave or evict left behind, when it is still live (its
 * remaining members are rekeyed one by one under their node KEKs); 0 for
 * joins and when the departure emptied the set. */
static uint32_t departed_set(const struct bckm_tx *c, const struct bckm_plan *p) {
    int leaving = c->op == BCKM_OP_LEAVE || c->op == BCKM_OP_EVICT;
    return leaving && !bckm_plan_retired(p, c->set_id) ? c->set_id : 0;
}

/* ---- step 3 ----------------------------------------------------------------------------- */

static int in_list(const uint32_t *a, uint32_t n, uint32_t v) {
    for (uint32_t i = 0; i < n; i++) if (a[i] == v) return 1;
    return 0;
}

/* ---- refresh material (spec 5) ------------------------------------------------------------ */

/* r_X,T of a change whose refresh key is r: r_X = KDF(r; X, epoch), then
 * one way to T. */
static void pair_refresh(const uint8_t r[BCKM_REFRESH_BYTES], uint32_t x, uint32_t t, uint64_t epoch,
                         uint8_t out[BCKM_REFRESH_BYTES]) {
    uint8_t rx[BCKM_REFRESH_BYTES];
    bckm_kdf_set_refresh(r, x, epoch, rx);
    bckm_kdf_pair_refresh(rx, t, out);
    bckm_wipe(rx, sizeof rx);
}

/* K_ab moved to the plan's epoch, exactly as every member of a or b does:
 * one update per changed side, with that side's pair refresh. */
static void pair_advance(const uint8_t r[BCKM_REFRESH_BYTES], const struct bckm_plan *plan, uint32_t a,
                         uint32_t b, uint8_t key[BCKM_KEY_BYTES]) {
    uint8_t rab[BCKM_REFRESH_BYTES], rba[BCKM_REFRESH_BYTES];
    int ca = bckm_plan_changed(plan, a), cb = bckm_plan_changed(plan, b);
    if (ca) pair_refresh(r, a, b, plan->epoch, rab);
    if (cb) pair_refresh(r, b, a, plan->epoch, rba);
    bckm_kdf_setpair_advance(key, a, ca ? rab : NULL, b, cb ? rba : NULL, plan->epoch, key);
    bckm_wipe(rab, sizeof rab);
    bckm_wipe(rba, sizeof rba);
}

/* K_S moved to the epoch with r_S. */
static void set_advance(const uint8_t r[BCKM_REFRESH_BYTES], uint32_t set, uint64_t epoch,
                        uint8_t key[BCKM_KEY_BYTES]) {
    uint8_t rs[BCKM_REFRESH_BYTES];
    bckm_kdf_set_refresh(r, set, epoch, rs);
    bckm_kdf_set_update(key, rs, set, epoch, key);
    bckm_wipe(rs, sizeof rs);
}

/* Room for one update body of this plan (write_update). */
static size_t update_bytes(const struct bckm_plan *plan) {
    return 128 + 4 * ((size_t)plan->changed_count + plan->retired_count + plan->move_count + 2)
           + (size_t)BCKM_MSG_REFRESH_ENTRY_BYTES * plan->changed_count;
}

/* The update body for the members of set T (or of the departed's set).
 * What it carries of the change's refresh key r (spec 5): r_T when T
 * changed, and r_X,T for each other changed set X; never r itself. */
static int write_update(struct bckm_km *km, const struct bckm_sets *reg, const struct bckm_tx *c,
                        const struct bckm_plan *plan, uint32_t t, uint32_t departed,
                        struct bckm_writer *w) {
    uint32_t *tmp = malloc(((size_t)plan->changed_count + plan->retired_count + plan->move_count + 2) * sizeof *tmp);
    uint8_t k[BCKM_KEY_BYTES];
    if (tmp == NULL) return BCKM_ERR_NOMEM;
    uint8_t rt[BCKM_REFRESH_BYTES] = {0};
    int own = bckm_plan_changed(plan, t);
    bckm_writer_u8(w, c->op);
    bckm_writer_u32(w, c->node_id);
    if (own) bckm_kdf_set_refresh(c->refresh, t, plan->epoch, rt);
    bckm_writer_u8(w, (uint8_t)own);
    bckm_writer_bytes(w, rt, BCKM_REFRESH_BYTES);
    /* changed */
    if (plan->changed_count > 0) memcpy(tmp, plan->changed, (size_t)plan->changed_count * sizeof *tmp);
    qsort(tmp, plan->changed_count, sizeof *tmp, cmp_u32);
    bckm_writer_u16(w, (uint16_t)plan->changed_count);
    for (uint32_t i = 0; i < plan->changed_count; i++) bckm_writer_u32(w, tmp[i]);
    /* retired */
    if (plan->retired_count > 0) memcpy(tmp, plan->retired, (size_t)plan->retired_count * sizeof *tmp);
    qsort(tmp, plan->retired_count, sizeof *tmp, cmp_u32);
    bckm_writer_u16(w, (uint16_t)plan->retired_count);
    for (uint32_t i = 0; i < plan->retired_count; i++) bckm_writer_u32(w, tmp[i]);
    /* joined: the joiner and the movers now in T */
    uint32_t nj = 0;
    if (c->op == BCKM_OP_JOIN && c->set_id == t) tmp[nj++] = c->node_id;
    for (uint32_t i = 0; i < plan->move_count; i++) if (plan->moves[i].to_set == t) tmp[nj++] = plan->moves[i].node_id;
    qsort(tmp, nj, sizeof *tmp, cmp_u32);
    bckm_writer_u16(w, (uint16_t)nj);
    for (uint32_t i = 0; i < nj; i++) bckm_writer_u32(w, tmp[i]);
    /* left */
    if (departed == t) { bckm_writer_u16(w, 1); bckm_writer_u32(w, c->node_id); }
    else bckm_writer_u16(w, 0);
    /* the new set's pairwise key with T, already at this epoch */
    const uint8_t *d = plan->created_set != 0 && plan->created_set != t ? pair_domain(km, plan->created_set, t) : NULL;
    if (d != NULL) {
        bckm_kdf_setpair_init(d, plan->created_set, t, k);
        pair_advance(c->refresh, plan, plan->created_set, t, k);
        bckm_writer_u16(w, 1);
        bckm_writer_u32(w, plan->created_set);
        bckm_writer_bytes(w, k, BCKM_KEY_BYTES);
        bckm_wipe(k, sizeof k);
    } else {
        bckm_writer_u16(w, 0);
    }
    /* pair refreshes r_X,T, sorted by X */
    if (plan->changed_count > 0) memcpy(tmp, plan->changed, (size_t)plan->changed_count * sizeof *tmp);
    qsort(tmp, plan->changed_count, sizeof *tmp, cmp_u32);
    bckm_writer_u16(w, (uint16_t)(plan->changed_count - (uint32_t)own));
    for (uint32_t i = 0; i < plan->changed_count; i++) {
        if (tmp[i] == t) continue;
        pair_refresh(c->refresh, tmp[i], t, plan->epoch, rt);
        bckm_writer_u32(w, tmp[i]);
        bckm_writer_bytes(w, rt, BCKM_REFRESH_BYTES);
    }
    bckm_wipe(rt, sizeof rt);
    free(tmp);
    (void)reg;
    return w->err;
}

static int is_dropped(const struct bckm_km *km, uint32_t u) {
    for (uint32_t i = 0; i < km->ndropped; i++) if (km->dropped[i] == u) return 1;
    return 0;
}

/*
 * Step 0 of a commit: every check and every allocation a commit can need,
 * before its first change, so that the commit either applies fully or
 * leaves the key manager as it was (spec 10.4, "all or nothing"). Decides
 * which movers this BP stops serving (a set it may not key, attack 6) and
 * records them in km->dropped.
 */
static int commit_prepare(struct bckm_km *km, const struct bckm_sets *reg, uint32_t origin_bp,
                          const struct bckm_tx *c, const struct bckm_plan *plan, struct bckm_msgs *out) {
    const struct bckm_set_info *tab = bckm_sets_table(reg);
    uint32_t m = bckm_sets_count(reg), maxsize = 1, nrefs = 0, ndrop = 0;
    uint32_t departed = departed_set(c, plan);
    size_t upd = BCKM_MSG_HEADER_BYTES + BCKM_MSG_TAG_BYTES + update_bytes(plan), bytes = 0;
    for (uint32_t i = 0; i < m; i++) if (tab[i].size > maxsize) maxsize = tab[i].size;
    size_t bun = BCKM_MSG_HEADER_BYTES + BCKM_MSG_TAG_BYTES + 114 + ((size_t)m + maxsize) * BCKM_MSG_KEYED_ENTRY_BYTES;
    /* Every live set this BP is entitled to has its key (a created set gets one). */
    for (uint32_t i = 0; i < m; i++) {
        uint32_t t = tab[i].id, count;
        if (!knows_set(km, t) || t == plan->created_set) continue;
        if (t == departed) {
            const uint32_t *mem = bckm_sets_members(reg, t, &count);
            for (uint32_t k = 0; k < count; k++) if (pool_get(&km->node_keks, mem[k]) != NULL) nrefs++;
            bytes += (size_t)count * upd;
        } else {
            if (pool_get(&km->set_keks, t) == NULL) return BCKM_ERR_STATE;
            nrefs++;
            bytes += upd;
        }
    }
    /* The joiner's bundle. */
    if (c->op == BCKM_OP_JOIN && origin_bp == km->bp && pending_find(km, c->node_id) != NULL) {
        uint32_t set, attach;
        int e = bckm_sets_node(reg, c->node_id, &set, &attach);
        if (e != BCKM_OK) return e;
        if (!knows_set(km, set) || (set != plan->created_set && pool_get(&km->set_keks, set) == NULL))
            return BCKM_ERR_STATE;
        nrefs++;
        bytes += bun;
    }
    /* Movers served here: a bundle, or dropped when their new set is one
     * this BP may not key (only another BP adopted it). */
    for (uint32_t i = 0; i < plan->move_count; i++) {
        uint32_t u = plan->moves[i].node_id, to = plan->moves[i].to_set;
        if (pool_get(&km->node_keks, u) == NULL) continue;
        if (!knows_set(km, to)) { ndrop++; continue; }
        if (to != plan->created_set && pool_get(&km->set_keks, to) == NULL) return BCKM_ERR_STATE;
        nrefs++;
        bytes += bun;
    }
    /* The batch signature's trailers and workspace too: signing happens
     * after the keys moved and must not fail then. */
    int e = msgs_reserve_many(out, nrefs, bytes + bckm_rekey_batch_trailer_bytes(nrefs));
    if (e == BCKM_OK) e = sign_work_reserve(km, bckm_rekey_batch_work_bytes(nrefs, bytes));
    if (e == BCKM_OK) e = scratch_reserve(km, upd > bun ? upd : bun);
    if (e == BCKM_OK) e = ids_reserve(km, (size_t)maxsize * 2);
    if (e == BCKM_OK) e = pool_reserve(&km->set_keks, 1);
    if (e == BCKM_OK) e = pool_reserve(&km->pair_keys, m);
    if (e == BCKM_OK) e = pool_reserve(&km->node_keks, 1);
    if (e == BCKM_OK) e = log_reserve(km, plan);
    if (e == BCKM_OK && km->cap_dropped < ndrop) {
        uint32_t *d = realloc(km->dropped, (size_t)ndrop * sizeof *d);
        if (d == NULL) e = BCKM_ERR_NOMEM;
        else { km->dropped = d; km->cap_dropped = ndrop; }
    }
    if (e != BCKM_OK) return e;
    km->ndropped = 0;
    for (uint32_t i = 0; i < plan->move_count; i++) {
        uint32_t u = plan->moves[i].node_id;
        if (pool_get(&km->node_keks, u) != NULL && !knows_set(km, plan->moves[i].to_set))
            km->dropped[km->ndropped++] = u;
    }
    return BCKM_OK;
}

uint32_t bckm_km_dropped(const struct bckm_km *km, const uint32_t **nodes) {
    if (nodes != NULL) *nodes = km->dropped;
    return km->ndropped;
}

static int commit_batch(struct bckm_km *km, const struct bckm_sets *reg, uint32_t origin_bp,
                        const struct bckm_tx *c, const struct bckm_plan *plan, struct bckm_msgs *out) {
    if (km == NULL || reg == NULL || c == NULL || plan == NULL || out == NULL) return BCKM_ERR_ARG;
    /* REATTACH (spec 10.1): no key changes and no messages; a BP other than
     * the new serving one stops serving the node (its KEK goes). */
    if (c->op == BCKM_OP_REATTACH) {
        if (origin_bp != km->bp) pool_del(&km->node_keks, c->node_id);
        return BCKM_OK;
    }
    const struct bckm_set_info *tab = bckm_sets_table(reg);
    uint32_t m = bckm_sets_count(reg);
    uint64_t epoch = plan->epoch;
    int leaving = c->op == BCKM_OP_LEAVE || c->op == BCKM_OP_EVICT;
    uint32_t departed = departed_set(c, plan);
    km->ndropped = 0;
    int e = commit_prepare(km, reg, origin_bp, c, plan, out);
    if (e != BCKM_OK) return e;

    /* (a) Messages under the keys the devices hold now, before any update.
     * A failure here (none is expected after step 0: the scratch, the
     * output and every pool are reserved) changes nothing yet. */
    for (uint32_t i = 0; i < m; i++) {
        uint32_t t = tab[i].id, count;
        if (!knows_set(km, t) || t == plan->created_set) continue;
        const uint32_t *mem = bckm_sets_members(reg, t, &count);
        struct bckm_writer w;
        bckm_writer_init(&w, km->scratch, km->scratch_cap);
        e = write_update(km, reg, c, plan, t, departed, &w);
        if (e != BCKM_OK) goto undo;
        if (t == departed) {
            /* The departed node knows K_S: each remaining member gets the
             * refresh under its own node KEK. */
            for (uint32_t k = 0; k < count; k++) {
                const uint8_t *kek = pool_get(&km->node_keks, mem[k]);
                int moved = 0;
                for (uint32_t j = 0; j < plan->move_count; j++) if (plan->moves[j].node_id == mem[k]) moved = 1;
                if (kek == NULL || moved) continue;
                e = emit(km, out, BCKM_MSG_UPDATE, BCKM_KEK_NODE, mem[k], epoch, NULL, kek, km->scratch, w.len);
                if (e != BCKM_OK) goto undo;
            }
        } else {
            const uint8_t *kt = pool_get(&km->set_keks, t);
            if (kt == NULL) { e = BCKM_ERR_STATE; goto undo; }
            e = emit(km, out, BCKM_MSG_UPDATE, BCKM_KEK_SET, t, epoch, NULL, kt, km->scratch, w.len);
            if (e != BCKM_OK) goto undo;
        }
        bckm_wipe(km->scratch, w.len);
    }

    /* (b) Retired sets: their keys die. */
    for (uint32_t i = 0; i < plan->retired_count; i++) {
        uint32_t x = plan->retired[i];
        pool_del(&km->set_keks, x);
        for (uint32_t j = 0; j < m; j++) pool_del(&km->pair_keys, pair_id(x, tab[j].id));
        for (uint32_t j = 0; j < plan->retired_count; j++) pool_del(&km->pair_keys, pair_id(x, plan->retired[j]));
    }
    /* (c) A created set starts from keys derived from the domain secrets. */
    uint8_t k[BCKM_KEY_BYTES];
    if (plan->created_set != 0) {
        uint32_t s = plan->created_set;
        if (knows_set(km, s)) {
            bckm_kdf_set_init(km->domain, s, k);
            if ((e = pool_put(&km->set_keks, s, k)) != BCKM_OK) goto out;
        }
        for (uint32_t j = 0; j < m; j++) {
            uint32_t t = tab[j].id;
            if (t == s || !knows_pair(km, s, t)) continue;
            const uint8_t *d = pair_domain(km, s, t);
            if (d == NULL) continue;   /* adopted set and a third BP's new set */
            bckm_kdf_setpair_init(d, s, t, k);
            if ((e = pool_put(&km->pair_keys, pair_id(s, t), k)) != BCKM_OK) goto out;
        }
    }
    /* (d) Every key of a changed set moves to the new epoch, each once. */
    for (uint32_t i = 0; i < plan->changed_count; i++) {
        uint32_t s = plan->changed[i];
        uint8_t *ks = pool_get(&km->set_keks, s);
        if (ks != NULL) set_advance(c->refresh, s, epoch, ks);
        for (uint32_t j = 0; j < m; j++) {
            uint32_t t = tab[j].id;
            if (t == s) continue;
            if (in_list(plan->changed, i, t)) continue; /* already done with t's turn */
            uint8_t *kp = pool_get(&km->pair_keys, pair_id(s, t));
            if (kp != NULL) pair_advance(c->refresh, plan, s, t, kp);
        }
    }
    /* (e) The departed node's KEK dies; a joiner's KEK is installed. */
    const uint8_t *code = NULL;
    struct pending *p = NULL;
    if (leaving) pool_del(&km->node_keks, c->node_id);
    if (c->op == BCKM_OP_JOIN && origin_bp == km->bp) {
        p = pending_find(km, c->node_id);
        if (p != NULL) {
            if ((e = pool_put(&km->node_keks, c->node_id, p->kek)) != BCKM_OK) goto out;
            code = p->code;
        }
    }
    /* (f) Log the change for catch-up of sleeping or adopted nodes. */
    if ((e = log_change(km, c, plan)) != BCKM_OK) goto out;
    /* (g) Bundles: the joiner, and every mover attached here. */
    if (code != NULL) {
        e = emit_bundle(km, reg, c->node_id, code, epoch, NULL, out);
        pending_drop(km, p);
        if (e != BCKM_OK) goto out;
    }
    for (uint32_t i = 0; i < plan->move_count; i++) {
        if (pool_get(&km->node_keks, plan->moves[i].node_id) == NULL) continue;
        /* A joiner moved in its own join epoch already has its bundle, built
         * from the registry after Reorder: one message per device per epoch. */
        if (code != NULL && plan->moves[i].node_id == c->node_id) continue;
        if (is_dropped(km, plan->moves[i].node_id)) continue;
        if ((e = emit_bundle(km, reg, plan->moves[i].node_id, NULL, epoch, NULL, out)) != BCKM_OK) goto out;
    }
    /* (h) Movers into a set this BP may not key are no longer served here:
     * their KEK and handed-over seed die; they rejoin a BP that holds the
     * set (spec 10.4). */
    for (uint32_t i = 0; i < km->ndropped; i++) {
        pool_del(&km->node_keks, km->dropped[i]);
        pool_del(&km->seeds, km->dropped[i]);
    }
    e = BCKM_OK;
out:
    bckm_wipe(k, sizeof k);
    return e;
undo:
    /* The messages appended so far are dropped by bckm_km_commit's batch_end. */
    km->ndropped = 0;
    return e;
}

int bckm_km_commit(struct bckm_km *km, const struct bckm_sets *reg, uint32_t origin_bp,
                   const struct bckm_tx *c, const struct bckm_plan *plan, struct bckm_msgs *out) {
    struct batch b = batch_begin(out);
    return batch_end(km, out, b, commit_batch(km, reg, origin_bp, c, plan, out));
}

/* ---- genesis and rejoin ------------------------------------------------------------------ */

int bckm_km_adopt(struct bckm_km *km, uint32_t node_id) {
    struct pending *p = pending_find(km, node_id);
    if (p == NULL) return BCKM_ERR_UNKNOWN;
    int e = pool_put(&km->node_keks, node_id, p->kek);
    /* The code leaves the BP only inside the genesis bundle; keep it until then. */
    return e;
}

static int provision_batch(struct bckm_km *km, const struct bckm_sets *reg, struct bckm_msgs *out) {
    const struct bckm_set_info *tab = bckm_sets_table(reg);
    uint32_t m = bckm_sets_count(reg);
    uint8_t k[BCKM_KEY_BYTES];
    int e = BCKM_OK;
    for (uint32_t i = 0; i < m && e == BCKM_OK; i++) {
        uint32_t s = tab[i].id;
        if (knows_set(km, s)) {
            bckm_kdf_set_init(km->domain, s, k);
            e = pool_put(&km->set_keks, s, k);
        }
        for (uint32_t j = i + 1; j < m && e == BCKM_OK; j++) {
            uint32_t t = tab[j].id;
            if (!knows_pair(km, s, t)) continue;
            const uint8_t *d = pair_domain(km, s, t);
            if (d == NULL) { e = BCKM_ERR_STATE; break; }
            bckm_kdf_setpair_init(d, s, t, k);
            e = pool_put(&km->pair_keys, pair_id(s, t), k);
        }
    }
    bckm_wipe(k, sizeof k);
    if (e != BCKM_OK || out == NULL) return e;
    for (uint32_t i = 0; i < m; i++) {
        uint32_t count;
        const uint32_t *mem = bckm_sets_members(reg, tab[i].id, &count);
        for (uint32_t j = 0; j < count; j++) {
            if (pool_get(&km->node_keks, mem[j]) == NULL) continue;
            struct pending *p = pending_find(km, mem[j]);
            e = emit_bundle(km, reg, mem[j], p != NULL ? p->code : NULL, bckm_sets_epoch(reg), NULL, out);
            if (p != NULL) pending_drop(km, p);
            if (e != BCKM_OK) return e;
        }
    }
    return BCKM_OK;
}

int bckm_km_provision(struct bckm_km *km, const struct bckm_sets *reg, struct bckm_msgs *out) {
    struct batch b = batch_begin(out);
    return batch_end(km, out, b, provision_batch(km, reg, out));
}

int bckm_km_bundle_for(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id, struct bckm_msgs *out) {
    if (km == NULL || reg == NULL || out == NULL) return BCKM_ERR_ARG;
    struct pending *p = pending_find(km, node_id);
    struct batch b = batch_begin(out);
    int e = batch_end(km, out, b, emit_bundle(km, reg, node_id, p != NULL ? p->code : NULL, bckm_sets_epoch(reg), NULL, out));
    if (p != NULL && e == BCKM_OK) pending_drop(km, p);
    return e;
}

void bckm_km_forget_codes(struct bckm_km *km) {
    /* Only codes of nodes already adopted at genesis; open joins stay.
     * pending_drop may move or shrink the array, so look each one up anew. */
    uint32_t i = 0;
    while (i < km->npend) {
        if (pool_get(&km->node_keks, km->pend[i].node_id) == NULL) { i++; continue; }
        pending_drop(km, &km->pend[i]);
    }
}

int bckm_km_adopt_node(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id,
                       const uint8_t kek[BCKM_KEY_BYTES], const uint8_t challenge[16], struct bckm_msgs *out) {
    uint32_t set, attach;
    if (km == NULL || reg == NULL || kek == NULL || challenge == NULL || out == NULL) return BCKM_ERR_ARG;
    int e = bckm_sets_node(reg, node_id, &set, &attach);
    if (e != BCKM_OK) return e;
    if (!knows_set(km, set)) return BCKM_ERR_PERM;
    if ((e = pool_put(&km->node_keks, node_id, kek)) != BCKM_OK) return e;
    struct batch b = batch_begin(out);
    e = emit_bundle(km, reg, node_id, NULL, bckm_sets_epoch(reg), challenge, out);
    return batch_end(km, out, b, e);
}

/* ---- queries ------------------------------------------------------------------------------- */

int bckm_km_knows_set(const struct bckm_km *km, uint32_t set_id) {
    return pool_get(&km->set_keks, set_id) != NULL;
}

int bckm_km_set_key(const struct bckm_km *km, uint32_t set_id, uint8_t out[BCKM_KEY_BYTES]) {
    const uint8_t *k = pool_get(&km->set_keks, set_id);
    if (k == NULL) return BCKM_ERR_UNKNOWN;
    memcpy(out, k, BCKM_KEY_BYTES);
    return BCKM_OK;
}

int bckm_km_pair_key(const struct bckm_km *km, uint32_t a, uint32_t b, uint8_t out[BCKM_KEY_BYTES]) {
    const uint8_t *k = pool_get(&km->pair_keys, pair_id(a, b));
    if (k == NULL) return BCKM_ERR_UNKNOWN;
    memcpy(out, k, BCKM_KEY_BYTES);
    return BCKM_OK;
}

int bckm_km_node_pair_key(const struct bckm_km *km, const struct bckm_sets *reg, uint32_t u, uint32_t v,
                          uint8_t out[BCKM_KEY_BYTES]) {
    uint32_t su, sv, a, count, pu = UINT32_MAX, pv = UINT32_MAX;
    if (bckm_sets_node(reg, u, &su, &a) != BCKM_OK || bckm_sets_node(reg, v, &sv, &a) != BCKM_OK) return BCKM_ERR_UNKNOWN;
    if (su != sv || u == v || !knows_set(km, su)) return BCKM_ERR_ARG;
    const uint32_t *mem = bckm_sets_members(reg, su, &count);
    for (uint32_t i = 0; i < count; i++) { if (mem[i] == u) pu = i; if (mem[i] == v) pv = i; }
    node_pair(km, u, pu, v, pv, out);
    return BCKM_OK;
}

int bckm_km_has_node(const struct bckm_km *km, uint32_t node_id) {
    return pool_get(&km->node_keks, node_id) != NULL;
}

int bckm_km_generator(const struct bckm_km *km, struct bckm_drbg *out) {
    if (km == NULL || out == NULL) return BCKM_ERR_ARG;
    if (!km->reproducible) return BCKM_ERR_STATE;
    *out = km->drbg;
    return BCKM_OK;
}

size_t bckm_km_bytes(const struct bckm_km *km) {
    return sizeof *km + pool_bytes(&km->node_keks) + pool_bytes(&km->set_keks) + pool_bytes(&km->pair_keys)
           + (size_t)km->cap_pend * sizeof(struct pending) + km->scratch_cap + km->sign_work_cap
           + (km->ids_cap + km->cap_dropped) * sizeof(uint32_t);
}

/* ---- sleeping nodes and adoption ------------------------------------------------------------ */

static int catch_up_batch(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id, uint64_t last_epoch,
                          const uint8_t *challenge, struct bckm_msgs *out) {
    uint32_t set, attach;
    if (km == NULL || reg == NULL || out == NULL) return BCKM_ERR_ARG;
    const uint8_t *kek = pool_get(&km->node_keks, node_id);
    if (kek == NULL) return BCKM_ERR_UNKNOWN;
    int e = bckm_sets_node(reg, node_id, &set, &attach);
    if (e != BCKM_OK) return e;
    uint64_t cur = bckm_sets_epoch(reg);
    if (last_epoch > cur) return BCKM_ERR_ARG;
    if (last_epoch == cur) return BCKM_OK;
    int replay = cur - last_epoch <= BCKM_KM_LOG_EPOCHS;
    for (uint64_t ep = last_epoch + 1; replay && ep <= cur; ep++) {
        const struct log_entry *l = log_get(km, ep);
        /* Replay only what the requester provably held keys for: a join of
         * it after last_epoch means it claims an epoch before it existed. */
        if (l == NULL || moved_in(&l->plan, node_id) || l->plan.created_set == set ||
            (l->tx.op == BCKM_OP_JOIN && l->tx.node_id == node_id)) replay = 0;
    }
    if (!replay) return emit_bundle(km, reg, node_id, NULL, cur, challenge, out);
    for (uint64_t ep = last_epoch + 1; ep <= cur; ep++) {
        const struct log_entry *l = log_get(km, ep);
        uint32_t departed = departed_set(&l->tx, &l->plan);
        e = scratch_reserve(km, update_bytes(&l->plan));
        if (e != BCKM_OK) return e;
        struct bckm_writer w;
        bckm_writer_init(&w, km->scratch, km->scratch_cap);
        e = write_update(km, reg, &l->tx, &l->plan, set, departed, &w);
        if (e == BCKM_OK) e = emit(km, out, BCKM_MSG_UPDATE, BCKM_KEK_NODE, node_id, ep, challenge, kek, km->scratch, w.len);
        bckm_wipe(km->scratch, w.len);
        if (e != BCKM_OK) return e;
    }
    return BCKM_OK;
}

int bckm_km_catch_up(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id, uint64_t last_epoch,
                     const uint8_t challenge[16], struct bckm_msgs *out) {
    if (km == NULL) return BCKM_ERR_ARG;
    struct batch b = batch_begin(out);
    int e = catch_up_batch(km, reg, node_id, last_epoch, challenge, out);
    return batch_end(km, out, b, e);
}

int bckm_km_open_resync(const struct bckm_km *km, const uint8_t *req, size_t len, uint32_t *node,
                        uint64_t *last_epoch, uint8_t challenge[16]) {
    if (km == NULL || req == NULL || node == NULL || last_epoch == NULL || challenge == NULL) return BCKM_ERR_ARG;
    if (len != BCKM_RESYNC_REQUEST_BYTES) return BCKM_ERR_FORMAT;
    const uint8_t *kek = pool_get(&km->node_keks, bckm_resync_request_node(req));
    if (kek == NULL) return BCKM_ERR_UNKNOWN;
    return bckm_resync_request_open(kek, req, node, last_epoch, challenge);
}

/* What a handover may be (spec 10.4), checked before anything is used: a
 * bundle-format body under the node KEK, without the code, from a node not
 * attached here, of a set this BP does not hold by right (its own sets, or
 * every set under `global`: those nodes rejoin by bckm_km_adopt_node), whose
 * pair-key list names neither the node's own set nor ID 0. */
static int handover_precheck(const struct bckm_km *km, uint32_t set, uint32_t node_id,
                             const struct bckm_msg_header *h, const struct bckm_bundle_view *v) {
    if (h->kek_type != BCKM_KEK_NODE || v->has_code) return BCKM_ERR_FORMAT;
    if (km->policy != BCKM_POLICY_OWNED || bckm_id_bp(set) == km->bp) return BCKM_ERR_PERM;
    if (pool_get(&km->node_keks, node_id) != NULL) return BCKM_ERR_EXISTS;
    for (uint32_t i = 0; i < v->setkeys.n; i++) {
        uint32_t id = bckm_msg_list_id(&v->setkeys, i, BCKM_MSG_KEYED_ENTRY_BYTES);
        if (id == set || id == BCKM_ID_NONE) return BCKM_ERR_FORMAT;
    }
    return BCKM_OK;
}

static int import_handover_batch(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id,
                                 const uint8_t kek[BCKM_KEY_BYTES], const uint8_t *msg, size_t len,
                                 struct bckm_msgs *out) {
    uint32_t set, attach;
    struct bckm_msg_header h;
    struct bckm_bundle_view v;
    if (km == NULL || reg == NULL || kek == NULL || msg == NULL || out == NULL) return BCKM_ERR_ARG;
    int e = bckm_sets_node(reg, node_id, &set, &attach);
    if (e != BCKM_OK) return e;
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL) return BCKM_ERR_NOMEM;
    memcpy(buf, msg, len);
    e = bckm_msg_open(buf, len, kek, &h);
    if (e == BCKM_OK && (h.kind != BCKM_MSG_HANDOVER || h.recipient != node_id)) e = BCKM_ERR_FORMAT;
    if (e == BCKM_OK) e = bckm_msg_parse_bundle(buf + BCKM_MSG_HEADER_BYTES, h.body_len, &v);
    if (e == BCKM_OK && (v.node_id != node_id || v.set_id != set)) e = BCKM_ERR_MISMATCH;
    uint64_t cur = bckm_sets_epoch(reg);
    if (e == BCKM_OK && (h.epoch > cur || cur - h.epoch > BCKM_KM_LOG_EPOCHS)) e = BCKM_ERR_STATE;
    if (e == BCKM_OK) e = handover_precheck(km, set, node_id, &h, &v);
    /* Roll the handed keys forward exactly as the device would. */
    uint32_t n = v.setkeys.n;
    struct { uint32_t id; uint8_t key[BCKM_KEY_BYTES]; uint8_t live; } *pk = NULL;
    uint8_t ks[BCKM_KEY_BYTES];
    if (e == BCKM_OK) {
        pk = calloc(n + 1 + cur - h.epoch, sizeof *pk);
        if (pk == NULL) e = BCKM_ERR_NOMEM;
    }
    if (e == BCKM_OK) {
        memcpy(ks, v.set_kek, BCKM_KEY_BYTES);
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *ent = v.setkeys.p + (size_t)i * BCKM_MSG_KEYED_ENTRY_BYTES;
            pk[i].id = bckm_get_u32(ent);
            memcpy(pk[i].key, ent + 4, BCKM_KEY_BYTES);
            pk[i].live = 1;
        }
    }
    for (uint64_t ep = h.epoch + 1; e == BCKM_OK && ep <= cur; ep++) {
        const struct log_entry *l = log_get(km, ep);
        if (l == NULL || moved_in(&l->plan, node_id) || bckm_plan_retired(&l->plan, set)) { e = BCKM_ERR_STATE; break; }
        int own = bckm_plan_changed(&l->plan, set);
        for (uint32_t i = 0; i < n; i++) {
            if (!pk[i].live) continue;
            if (bckm_plan_retired(&l->plan, pk[i].id)) { pk[i].live = 0; continue; }
            if (own || bckm_plan_changed(&l->plan, pk[i].id))
                pair_advance(l->tx.refresh, &l->plan, set, pk[i].id, pk[i].key);
        }
        const uint8_t *d = l->plan.created_set != 0 ? pair_domain(km, l->plan.created_set, set) : NULL;
        if (d != NULL) {
            pk[n].id = l->plan.created_set;
            bckm_kdf_setpair_init(d, pk[n].id, set, pk[n].key);
            pair_advance(l->tx.refresh, &l->plan, pk[n].id, set, pk[n].key);
            pk[n].live = 1;
            n++;
        }
        if (own) set_advance(l->tx.refresh, set, ep, ks);
    }
    if (e == BCKM_OK) {
        /* Every handed pair key must name a set live now (retired ones were
         * dropped on the way). */
        uint32_t cnt;
        for (uint32_t i = 0; i < n && e == BCKM_OK; i++)
            if (pk[i].live && bckm_sets_members(reg, pk[i].id, &cnt) == NULL) e = BCKM_ERR_FORMAT;
    }
    if (e == BCKM_OK) {
        /* Adopt: from now on this BP holds the set's keys and rekeys it. A
         * key this BP already holds is never replaced by a handed value, and
         * pairs with its own sets come from its own secrets only. All or
         * nothing: whatever this call added is taken back on failure. */
        int new_set = !bckm_map_get(&km->adopted, set, NULL), new_setkek = 0, new_kek = 0, new_seed = 0;
        e = new_set ? bckm_map_put(&km->adopted, set, 1) : BCKM_OK;
        if (e == BCKM_OK && pool_get(&km->set_keks, set) == NULL) {
            if ((e = pool_put(&km->set_keks, set, ks)) == BCKM_OK) new_setkek = 1;
        }
        for (uint32_t i = 0; i < n && e == BCKM_OK; i++) {
            if (!pk[i].live || bckm_id_bp(pk[i].id) == km->bp) continue;
            if (pool_get(&km->pair_keys, pair_id(set, pk[i].id)) != NULL) continue;
            if ((e = pool_put(&km->pair_keys, pair_id(set, pk[i].id), pk[i].key)) == BCKM_OK) pk[i].live = 2;
        }
        if (e == BCKM_OK && pool_get(&km->seeds, node_id) == NULL) {
            if ((e = pool_put(&km->seeds, node_id, v.seed)) == BCKM_OK) new_seed = 1;
        }
        if (e == BCKM_OK && (e = pool_put(&km->node_keks, node_id, kek)) == BCKM_OK) new_kek = 1;
        if (e == BCKM_OK) e = catch_up_batch(km, reg, node_id, h.epoch, NULL, out);
        if (e != BCKM_OK) {
            for (uint32_t i = 0; i < n; i++) if (pk[i].live == 2) pool_del(&km->pair_keys, pair_id(set, pk[i].id));
            if (new_kek) pool_del(&km->node_keks, node_id);
            if (new_seed) pool_del(&km->seeds, node_id);
            if (new_setkek) pool_del(&km->set_keks, set);
            if (new_set) (void)bckm_map_del(&km->adopted, set);
            /* (the messages it appended: bckm_km_import_handover's batch_end) */
        }
    }
    if (pk != NULL) { bckm_wipe(pk, (n + 1) * sizeof *pk); free(pk); }
    bckm_wipe(ks, sizeof ks);
    bckm_wipe(buf, len);
    free(buf);
    return e;
}

int bckm_km_import_handover(struct bckm_km *km, const struct bckm_sets *reg, uint32_t node_id,
                            const uint8_t kek[BCKM_KEY_BYTES], const uint8_t *msg, size_t len,
                            struct bckm_msgs *out) {
    struct batch b = batch_begin(out);
    return batch_end(km, out, b, import_handover_batch(km, reg, node_id, kek, msg, len, out));
}
