/*
 * The registry of sets (bckm/sets.h): members, node records and the code
 * index, the contract checks of a change, and applying it (Assignment's
 * decision, then Reorder, both decided by sets_algo.c), REATTACH included.
 */
#include "bckm/sets.h"
#include "bckm/map.h"
#include "plan_internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ---- registry -------------------------------------------------------------- */

struct node_rec {
    uint32_t id;
    uint32_t set_id;       /* 0 once departed */
    uint32_t attach;       /* serving BP: took its join, or its last REATTACH */
    uint64_t reattach_ctr; /* counter of its last REATTACH, 0 when none */
    uint8_t member;
    uint8_t code_hash[BCKM_HASH_BYTES];
};

struct member_list {
    uint32_t *ids;
    uint32_t len, cap;
};

/* Code-hash index: open addressing over node indexes (slot = index + 1,
 * 0 = empty), probed from a keyed hash of the whole 32-byte hash, and every
 * hit compared on all 32 bytes: uniqueness is decided on the full hash, and
 * lookups stay O(1) expected. The key is random per registry so that no BP
 * can choose commitments that pile up in one probe chain; it decides only
 * where an entry sits, never an outcome, so replicas agree regardless.
 * Code hashes are never reused, so entries are never removed. */
struct code_index {
    uint32_t *slot;
    uint32_t cap; /* power of two, or 0 */
    uint32_t len;
    uint8_t key[crypto_generichash_KEYBYTES_MIN];
};

struct bckm_sets {
    bckm_policy policy;
    uint32_t n;                /* current members */
    uint64_t epoch;            /* changes applied */
    struct bckm_set_info *tab; /* live sets sorted by ID */
    struct member_list *mem;   /* parallel to tab */
    uint32_t count, cap;
    struct node_rec *nodes; /* every node ever joined, in join order */
    uint32_t nodes_len, nodes_cap;
    struct bckm_map by_id;     /* node ID -> index in nodes */
    struct code_index by_code; /* full code hash -> index in nodes */
    uint32_t next_counter[BCKM_MAX_BPS + 1];
    uint32_t owner_nodes[BCKM_MAX_BPS + 1];
    uint32_t owner_sets[BCKM_MAX_BPS + 1];
    uint8_t digest[BCKM_HASH_BYTES]; /* running hash of every applied change */
    struct member_list dest;         /* Reorder's scratch: each moved member's new set */
};

int bckm_sets_new(struct bckm_sets **out, bckm_policy policy) {
    if (out == NULL || (policy != BCKM_POLICY_OWNED && policy != BCKM_POLICY_GLOBAL))
        return BCKM_ERR_ARG;
    struct bckm_sets *s = calloc(1, sizeof *s);
    if (s == NULL) return BCKM_ERR_NOMEM;
    s->policy = policy;
    for (uint32_t i = 0; i <= BCKM_MAX_BPS; i++) s->next_counter[i] = 1;
    bckm_map_init(&s->by_id);
    randombytes_buf(s->by_code.key, sizeof s->by_code.key);
    *out = s;
    return BCKM_OK;
}

void bckm_sets_free(struct bckm_sets *s) {
    if (s == NULL) return;
    /* A clone that failed half-way may have no member lists yet. */
    for (uint32_t i = 0; s->mem != NULL && i < s->count; i++) free(s->mem[i].ids);
    free(s->tab);
    free(s->mem);
    free(s->nodes);
    free(s->dest.ids);
    bckm_map_free(&s->by_id);
    free(s->by_code.slot);
    free(s);
}

int bckm_sets_clone(const struct bckm_sets *s, struct bckm_sets **out) {
    struct bckm_sets *c = calloc(1, sizeof *c);
    if (c == NULL) return BCKM_ERR_NOMEM;
    *c = *s;
    c->tab = NULL;
    c->mem = NULL;
    c->nodes = NULL;
    c->cap = 0;
    c->nodes_cap = 0;
    c->dest = (struct member_list){ NULL, 0, 0 };
    c->count = 0;
    bckm_map_init(&c->by_id);
    c->by_code.slot = NULL;
    if (s->cap > 0) {
        c->tab = malloc((size_t)s->cap * sizeof *c->tab);
        c->mem = calloc(s->cap, sizeof *c->mem);
        if (c->tab == NULL || c->mem == NULL) goto fail;
        c->cap = s->cap;
        memcpy(c->tab, s->tab, (size_t)s->count * sizeof *c->tab);
        for (uint32_t i = 0; i < s->count; i++) {
            c->mem[i].ids = malloc((size_t)(s->mem[i].cap ? s->mem[i].cap : 1) * sizeof(uint32_t));
            if (c->mem[i].ids == NULL) goto fail;
            c->count = i + 1;
            c->mem[i].cap = s->mem[i].cap;
            c->mem[i].len = s->mem[i].len;
            memcpy(c->mem[i].ids, s->mem[i].ids, (size_t)s->mem[i].len * sizeof(uint32_t));
        }
        c->count = s->count;
    }
    if (s->nodes_cap > 0) {
        c->nodes = malloc((size_t)s->nodes_cap * sizeof *c->nodes);
        if (c->nodes == NULL) goto fail;
        c->nodes_cap = s->nodes_cap;
        memcpy(c->nodes, s->nodes, (size_t)s->nodes_len * sizeof *c->nodes);
    }
    if (bckm_map_clone(&s->by_id, &c->by_id) != BCKM_OK) goto fail;
    if (s->by_code.cap > 0) {
        c->by_code.slot = malloc((size_t)s->by_code.cap * sizeof *c->by_code.slot);
        if (c->by_code.slot == NULL) goto fail;
        memcpy(c->by_code.slot, s->by_code.slot, (size_t)s->by_code.cap * sizeof *c->by_code.slot);
    }
    *out = c;
    return BCKM_OK;
fail:
    bckm_sets_free(c);
    return BCKM_ERR_NOMEM;
}

bckm_policy bckm_sets_policy(const struct bckm_sets *s) { return s->policy; }
uint32_t bckm_sets_nodes(const struct bckm_sets *s) { return s->n; }
uint32_t bckm_sets_count(const struct bckm_sets *s) { return s->count; }
uint64_t bckm_sets_epoch(const struct bckm_sets *s) { return s->epoch; }
const struct bckm_set_info *bckm_sets_table(const struct bckm_sets *s) { return s->tab; }

uint32_t bckm_sets_owner_for(const struct bckm_sets *s, uint32_t bp) {
    return s->policy == BCKM_POLICY_OWNED ? bp : 0;
}

/* Index of a live set, by binary search over the sorted table. */
static int find_set(const struct bckm_sets *s, uint32_t id, uint32_t *idx) {
    uint32_t lo = 0, hi = s->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->tab[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *idx = lo;
    return lo < s->count && s->tab[lo].id == id;
}

const uint32_t *bckm_sets_members(const struct bckm_sets *s, uint32_t set_id, uint32_t *count) {
    uint32_t i;
    if (!find_set(s, set_id, &i)) {
        *count = 0;
        return NULL;
    }
    *count = s->mem[i].len;
    return s->mem[i].ids;
}

static const struct node_rec *node_get(const struct bckm_sets *s, uint32_t id) {
    uint32_t i;
    if (!bckm_map_get(&s->by_id, id, &i)) return NULL;
    return &s->nodes[i];
}

int bckm_sets_node(const struct bckm_sets *s, uint32_t node_id, uint32_t *set_id,
                   uint32_t *attach_bp) {
    const struct node_rec *r = node_get(s, node_id);
    if (r == NULL || !r->member) return BCKM_ERR_UNKNOWN;
    if (set_id) *set_id = r->set_id;
    if (attach_bp) *attach_bp = r->attach;
    return BCKM_OK;
}

static uint32_t code_home(const struct code_index *x, const uint8_t h[BCKM_HASH_BYTES]) {
    uint8_t d[crypto_generichash_BYTES_MIN];
    crypto_generichash(d, sizeof d, h, BCKM_HASH_BYTES, x->key, sizeof x->key);
    return (uint32_t)bckm_get_u64(d) & (x->cap - 1u);
}

/* 1 and the node index when a node with exactly this code hash was ever
 * registered, else 0. */
static int code_find(const struct bckm_sets *s, const uint8_t h[BCKM_HASH_BYTES], uint32_t *idx) {
    const struct code_index *x = &s->by_code;
    if (x->cap == 0) return 0;
    for (uint32_t at = code_home(x, h), n = 0; n < x->cap; at = (at + 1u) & (x->cap - 1u), n++) {
        uint32_t v = x->slot[at];
        if (v == 0) return 0;
        if (memcmp(s->nodes[v - 1].code_hash, h, BCKM_HASH_BYTES) == 0) {
            if (idx) *idx = v - 1;
            return 1;
        }
    }
    return 0;
}

/* Places node index ni (its hash already in s->nodes[ni]); the caller
 * reserved room (load below one half, so a free slot exists). */
static void code_place(struct bckm_sets *s, uint32_t ni) {
    struct code_index *x = &s->by_code;
    uint32_t at = code_home(x, s->nodes[ni].code_hash);
    while (x->slot[at] != 0) at = (at + 1u) & (x->cap - 1u);
    x->slot[at] = ni + 1;
    x->len++;
}

/* Room for `want` entries at load at most one half: after it, code_place
 * cannot fail. Rebuilds the table from s->nodes when it grows. */
static int code_reserve(struct bckm_sets *s, uint32_t want) {
    struct code_index *x = &s->by_code;
    if (want <= x->cap / 2u) return BCKM_OK;
    if (want > (UINT32_MAX / 4u)) return BCKM_ERR_NOMEM;
    uint32_t ncap = x->cap ? x->cap : 64u;
    while (want > ncap / 2u) ncap *= 2u;
    uint32_t *t = calloc(ncap, sizeof *t);
    if (t == NULL) return BCKM_ERR_NOMEM;
    uint32_t *old = x->slot, ocap = x->cap;
    x->slot = t;
    x->cap = ncap;
    x->len = 0;
    for (uint32_t i = 0; i < ocap; i++)
        if (old[i] != 0) code_place(s, old[i] - 1);
    free(old);
    return BCKM_OK;
}

int bckm_sets_node_by_code(const struct bckm_sets *s, const uint8_t code_hash[BCKM_HASH_BYTES],
                           uint32_t *node_id) {
    uint32_t i;
    if (!code_find(s, code_hash, &i)) return BCKM_ERR_UNKNOWN;
    if (!s->nodes[i].member) return BCKM_ERR_UNKNOWN;
    *node_id = s->nodes[i].id;
    return BCKM_OK;
}

int bckm_sets_code_hash(const struct bckm_sets *s, uint32_t node_id, uint8_t out[BCKM_HASH_BYTES]) {
    const struct node_rec *r = node_get(s, node_id);
    if (r == NULL) return BCKM_ERR_UNKNOWN;
    memcpy(out, r->code_hash, BCKM_HASH_BYTES);
    return BCKM_OK;
}

uint32_t bckm_sets_next_counter(const struct bckm_sets *s, uint32_t owner) {
    return owner <= BCKM_MAX_BPS ? s->next_counter[owner] : 0;
}

uint32_t bckm_sets_owner_nodes(const struct bckm_sets *s, uint32_t owner) {
    return owner <= BCKM_MAX_BPS ? s->owner_nodes[owner] : 0;
}

int bckm_sets_id_used(const struct bckm_sets *s, uint32_t node_id) {
    return bckm_map_get(&s->by_id, node_id, NULL);
}

int bckm_sets_check(const struct bckm_sets *s, uint32_t bp, const struct bckm_tx *c) {
    if (s == NULL || c == NULL || bp == 0 || bp > BCKM_MAX_BPS) return BCKM_ERR_ARG;
    if (c->node_id == BCKM_ID_NONE || c->set_id == BCKM_ID_NONE) return BCKM_ERR_ARG;
    if (c->op == BCKM_OP_JOIN) {
        if (bckm_id_bp(c->node_id) != bp) return BCKM_ERR_PERM;
        if (bckm_map_get(&s->by_id, c->node_id, NULL)) return BCKM_ERR_EXISTS;
        if (code_find(s, c->code_hash, NULL)) return BCKM_ERR_EXISTS;
        if (s->n == UINT32_MAX) return BCKM_ERR_NOMEM;
        uint32_t owner = bckm_sets_owner_for(s, bp), want;
        int fresh;
        int e = bckm_sets_assign(s->tab, s->count, owner, s->n + 1, s->next_counter[owner], &want,
                                 &fresh);
        if (e != BCKM_OK) return e;
        return want == c->set_id ? BCKM_OK : BCKM_ERR_MISMATCH;
    }
    if (c->op == BCKM_OP_LEAVE || c->op == BCKM_OP_EVICT) {
        const struct node_rec *r = node_get(s, c->node_id);
        if (r == NULL || !r->member) return BCKM_ERR_UNKNOWN;
        /* Only the serving BP (spec 10.1): the one that took the join or
         * the node consented to in its last REATTACH. Any other BP, honest
         * or not, is refused, so one Byzantine BP cannot evict the nodes of
         * the others. */
        if (r->attach != bp) return BCKM_ERR_PERM;
        if (r->set_id != c->set_id) return BCKM_ERR_MISMATCH;
        if (memcmp(r->code_hash, c->code_hash, BCKM_HASH_BYTES) != 0) return BCKM_ERR_MISMATCH;
        return BCKM_OK;
    }
    /* A REATTACH needs the node's consent, which is not in the 57 bytes. */
    if (c->op == BCKM_OP_REATTACH) return BCKM_ERR_PERM;
    return BCKM_ERR_ARG;
}

/* ---- REATTACH ------------------------------------------------------------- */

static void digest_change(struct bckm_sets *s, uint32_t bp, const struct bckm_tx *c,
                          const struct bckm_plan *p);

void bckm_reattach_statement(uint32_t node_id, uint32_t bp, uint64_t ctr,
                             uint8_t out[BCKM_REATTACH_STATEMENT_BYTES]) {
    static const uint8_t label[BCKM_REATTACH_LABEL_BYTES] = BCKM_REATTACH_LABEL;
    memcpy(out, label, sizeof label);
    bckm_put_u32(out + 16, node_id);
    bckm_put_u32(out + 20, bp);
    bckm_put_u64(out + 24, ctr);
}

int bckm_reattach_verify(const uint8_t commit[BCKM_HASH_BYTES], uint32_t node_id, uint32_t bp,
                         uint64_t ctr, const uint8_t sig[BCKM_SIG_BYTES]) {
    uint8_t msg[BCKM_REATTACH_STATEMENT_BYTES];
    if (commit == NULL || sig == NULL) return BCKM_ERR_ARG;
    bckm_reattach_statement(node_id, bp, ctr, msg);
    return crypto_sign_verify_detached(sig, msg, sizeof msg, commit) == 0 ? BCKM_OK : BCKM_ERR_AUTH;
}

int bckm_sets_reattach_tx(const struct bckm_sets *s, uint32_t node_id, uint64_t ctr,
                          struct bckm_tx *out) {
    if (s == NULL || out == NULL) return BCKM_ERR_ARG;
    const struct node_rec *r = node_get(s, node_id);
    if (r == NULL || !r->member) return BCKM_ERR_UNKNOWN;
    memset(out, 0, sizeof *out);
    out->op = BCKM_OP_REATTACH;
    out->node_id = node_id;
    out->set_id = r->set_id;
    memcpy(out->code_hash, r->code_hash, BCKM_HASH_BYTES);
    bckm_put_u64(out->refresh, ctr);
    return BCKM_OK;
}

uint64_t bckm_sets_reattach_ctr(const struct bckm_sets *s, uint32_t node_id) {
    const struct node_rec *r = s != NULL ? node_get(s, node_id) : NULL;
    return r != NULL ? r->reattach_ctr : 0;
}

int bckm_sets_check_reattach(const struct bckm_sets *s, uint32_t bp, const struct bckm_tx *c,
                             const uint8_t consent[BCKM_SIG_BYTES]) {
    if (s == NULL || c == NULL || consent == NULL || bp == 0 || bp > BCKM_MAX_BPS)
        return BCKM_ERR_ARG;
    if (c->op != BCKM_OP_REATTACH || c->node_id == BCKM_ID_NONE || c->set_id == BCKM_ID_NONE)
        return BCKM_ERR_ARG;
    const struct node_rec *r = node_get(s, c->node_id);
    if (r == NULL || !r->member) return BCKM_ERR_UNKNOWN;
    if (r->set_id != c->set_id) return BCKM_ERR_MISMATCH;
    if (memcmp(r->code_hash, c->code_hash, BCKM_HASH_BYTES) != 0) return BCKM_ERR_MISMATCH;
    /* refresh = counter || 8 zero bytes: one encoding per REATTACH. */
    for (uint32_t i = 8; i < BCKM_REFRESH_BYTES; i++)
        if (c->refresh[i] != 0) return BCKM_ERR_FORMAT;
    uint64_t ctr = bckm_get_u64(c->refresh);
    /* Fresh: a consent the node gave before its last REATTACH (to this BP
     * or another) can never move it again. */
    if (ctr <= r->reattach_ctr) return BCKM_ERR_REPLAY;
    /* The node's own word, under the commitment the chain recorded at its
     * join: no BP can make it without the node's secret code. */
    return bckm_reattach_verify(r->code_hash, c->node_id, bp, ctr, consent);
}

int bckm_sets_apply_reattach(struct bckm_sets *s, uint32_t bp, const struct bckm_tx *c,
                             const uint8_t consent[BCKM_SIG_BYTES], struct bckm_plan *p) {
    if (p == NULL) return BCKM_ERR_ARG;
    int e = bckm_sets_check_reattach(s, bp, c, consent);
    if (e != BCKM_OK) return e;
    uint32_t ni;
    (void)bckm_map_get(&s->by_id, c->node_id, &ni);
    struct node_rec *r = &s->nodes[ni];
    r->attach = bp;
    r->reattach_ctr = bckm_get_u64(c->refresh);
    /* No key epoch: the same epoch, nothing created, retired, changed or moved. */
    p->created_set = 0;
    p->retired_count = 0;
    p->changed_count = 0;
    p->move_count = 0;
    p->epoch = s->epoch;
    digest_change(s, bp, c, p);
    return BCKM_OK;
}

/* gcc -fanalyzer (GCC 12) reports a member list grown here, and by reorder
 * through it, as leaked: a false positive, the array is stored in the list
 * at once and freed with the registry (bckm_sets_free). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
/* Room for `want` members, so that the appends after it cannot fail. */
static int members_reserve(struct member_list *l, uint32_t want) {
    if (want <= l->cap) return BCKM_OK;
    uint32_t ncap = l->cap ? l->cap * 2 : 4;
    if (ncap < want) ncap = want;
    uint32_t *n = realloc(l->ids, (size_t)ncap * sizeof *n);
    if (n == NULL) return BCKM_ERR_NOMEM;
    l->ids = n;
    l->cap = ncap;
    return BCKM_OK;
}

static int members_push(struct member_list *l, uint32_t id) {
    if (members_reserve(l, l->len + 1) != BCKM_OK) return BCKM_ERR_NOMEM;
    l->ids[l->len++] = id;
    return BCKM_OK;
}

static void members_remove(struct member_list *l, uint32_t id) {
    for (uint32_t i = 0; i < l->len; i++) {
        if (l->ids[i] != id) continue;
        memmove(&l->ids[i], &l->ids[i + 1], (size_t)(l->len - i - 1) * sizeof(uint32_t));
        l->len--;
        return;
    }
}

static int table_reserve(struct bckm_sets *s, uint32_t want) {
    if (want <= s->cap) return BCKM_OK;
    uint32_t ncap = s->cap ? s->cap * 2 : 8;
    if (ncap < want) ncap = want;
    struct bckm_set_info *t = realloc(s->tab, (size_t)ncap * sizeof *t);
    if (t == NULL) return BCKM_ERR_NOMEM;
    s->tab = t;
    struct member_list *m = realloc(s->mem, (size_t)ncap * sizeof *m);
    if (m == NULL) return BCKM_ERR_NOMEM;
    s->mem = m;
    s->cap = ncap;
    return BCKM_OK;
}

static void table_remove(struct bckm_sets *s, uint32_t idx) {
    free(s->mem[idx].ids);
    s->owner_sets[s->tab[idx].owner]--;
    memmove(&s->tab[idx], &s->tab[idx + 1], (size_t)(s->count - idx - 1) * sizeof *s->tab);
    memmove(&s->mem[idx], &s->mem[idx + 1], (size_t)(s->count - idx - 1) * sizeof *s->mem);
    s->count--;
}

/*
 * Reorder: at most one dissolution per owner (spec: "Uniformity"). The
 * decisions are the proven pure functions: bckm_sets_pick_dissolve chooses
 * the set, bckm_sets_plan_moves chooses every member's new set and updates
 * the sizes. What is left here is carrying the plan into the member lists
 * and node records, after everything that can fail has been reserved.
 */
static int reorder(struct bckm_sets *s, struct bckm_plan *p) {
    uint32_t cap = bckm_sets_target(s->n);
    for (uint32_t owner = 0; owner <= BCKM_MAX_BPS; owner++) {
        if (s->owner_sets[owner] == 0) continue;
        uint32_t v;
        if (!bckm_sets_pick_dissolve(s->tab, s->count, owner, s->owner_nodes[owner], cap, &v))
            continue;
        uint32_t m = s->mem[v].len;
        int e = bckm_plan_reserve(p, p->changed_count + m + 2, p->move_count + m);
        if (e == BCKM_OK) e = members_reserve(&s->dest, m);
        if (e != BCKM_OK) return e;
        /* No room: the sizes are as they were, and the set stays. The
         * proof says this cannot happen (bckm_room_suffices, above). */
        if (!bckm_sets_plan_moves(s->tab, s->count, owner, cap, v, s->dest.ids, m)) continue;
        /* Every receiving list grows to its new size first, so that
         * carrying the plan out cannot stop halfway. */
        for (uint32_t i = 0; i < s->count; i++) {
            if (i == v || s->tab[i].owner != owner) continue;
            if (members_reserve(&s->mem[i], s->tab[i].size) != BCKM_OK) {
                bckm_sets_undo_moves(s->tab, s->count, s->dest.ids, m, m);
                return BCKM_ERR_NOMEM;
            }
        }
        const struct member_list *victim = &s->mem[v];
        uint32_t from = s->tab[v].id;
        for (uint32_t k = 0; k < m; k++) {
            uint32_t w = victim->ids[k], y = s->dest.ids[k], ni;
            struct member_list *to = &s->mem[y];
            to->ids[to->len++] = w;
            (void)bckm_map_get(&s->by_id, w, &ni);
            s->nodes[ni].set_id = s->tab[y].id;
            p->moves[p->move_count++] = (struct bckm_move){ w, from, s->tab[y].id };
            bckm_plan_add_changed(p, s->tab[y].id);
        }
        bckm_plan_drop_changed(p, from);
        p->retired[p->retired_count++] = from;
        table_remove(s, v);
    }
    return BCKM_OK;
}

static void digest_change(struct bckm_sets *s, uint32_t bp, const struct bckm_tx *c,
                          const struct bckm_plan *p) {
    crypto_generichash_state st;
    uint8_t b[64];
    crypto_generichash_init(&st, NULL, 0, BCKM_HASH_BYTES);
    crypto_generichash_update(&st, s->digest, BCKM_HASH_BYTES);
    bckm_put_u64(b, p->epoch);
    bckm_put_u32(b + 8, bp);
    b[12] = c->op;
    bckm_put_u32(b + 13, c->node_id);
    bckm_put_u32(b + 17, c->set_id);
    crypto_generichash_update(&st, b, 21);
    crypto_generichash_update(&st, c->code_hash, BCKM_HASH_BYTES);
    crypto_generichash_update(&st, c->refresh, BCKM_REFRESH_BYTES);
    for (uint32_t i = 0; i < p->move_count; i++) {
        bckm_put_u32(b, p->moves[i].node_id);
        bckm_put_u32(b + 4, p->moves[i].from_set);
        bckm_put_u32(b + 8, p->moves[i].to_set);
        crypto_generichash_update(&st, b, 12);
    }
    crypto_generichash_final(&st, s->digest, BCKM_HASH_BYTES);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

int bckm_sets_apply(struct bckm_sets *s, uint32_t bp, const struct bckm_tx *c,
                    struct bckm_plan *p) {
    if (p == NULL) return BCKM_ERR_ARG;
    int e = bckm_sets_check(s, bp, c);
    if (e != BCKM_OK) return e;
    /* Reserve everything that can fail before the first change. */
    e = bckm_plan_reserve(p, 4, 0);
    if (e == BCKM_OK && c->op == BCKM_OP_JOIN) e = code_reserve(s, s->by_code.len + 1);
    if (e != BCKM_OK) return e;
    p->created_set = 0;
    p->retired_count = 0;
    p->changed_count = 0;
    p->move_count = 0;
    uint32_t idx;
    if (c->op == BCKM_OP_JOIN) {
        uint32_t owner = bckm_sets_owner_for(s, bp);
        if (table_reserve(s, s->count + 1) != BCKM_OK) return BCKM_ERR_NOMEM;
        if (s->nodes_len == s->nodes_cap) {
            uint32_t ncap = s->nodes_cap ? s->nodes_cap * 2 : 64;
            struct node_rec *n = realloc(s->nodes, (size_t)ncap * sizeof *n);
            if (n == NULL) return BCKM_ERR_NOMEM;
            s->nodes = n;
            s->nodes_cap = ncap;
        }
        if (bckm_map_put(&s->by_id, c->node_id, s->nodes_len) != BCKM_OK) return BCKM_ERR_NOMEM;
        if (!find_set(s, c->set_id, &idx)) {
            memmove(&s->tab[idx + 1], &s->tab[idx], (size_t)(s->count - idx) * sizeof *s->tab);
            memmove(&s->mem[idx + 1], &s->mem[idx], (size_t)(s->count - idx) * sizeof *s->mem);
            s->tab[idx] = (struct bckm_set_info){ c->set_id, owner, 0 };
            s->mem[idx] = (struct member_list){ NULL, 0, 0 };
            s->count++;
            s->owner_sets[owner]++;
            s->next_counter[owner]++;
            p->created_set = c->set_id;
        }
        if (members_push(&s->mem[idx], c->node_id) != BCKM_OK) return BCKM_ERR_NOMEM;
        s->tab[idx].size++;
        struct node_rec *r = &s->nodes[s->nodes_len++];
        r->id = c->node_id;
        r->set_id = c->set_id;
        r->attach = bp;
        r->reattach_ctr = 0;
        r->member = 1;
        memcpy(r->code_hash, c->code_hash, BCKM_HASH_BYTES);
        code_place(s, s->nodes_len - 1);
        s->n++;
        s->owner_nodes[owner]++;
        bckm_plan_add_changed(p, c->set_id);
    } else {
        uint32_t ni;
        (void)bckm_map_get(&s->by_id, c->node_id, &ni);
        struct node_rec *r = &s->nodes[ni];
        if (!find_set(s, r->set_id, &idx)) return BCKM_ERR_STATE;
        uint32_t owner = s->tab[idx].owner;
        members_remove(&s->mem[idx], c->node_id);
        s->tab[idx].size--;
        r->member = 0;
        s->n--;
        s->owner_nodes[owner]--;
        if (s->tab[idx].size == 0) {
            p->retired[p->retired_count++] = r->set_id;
            table_remove(s, idx);
        } else {
            bckm_plan_add_changed(p, r->set_id);
        }
    }
    s->epoch++;
    p->epoch = s->epoch;
    e = reorder(s, p);
    digest_change(s, bp, c, p);
    return e;
}

void bckm_sets_digest(const struct bckm_sets *s, uint8_t out[BCKM_HASH_BYTES]) {
    memcpy(out, s->digest, BCKM_HASH_BYTES);
}

int bckm_sets_audit(const struct bckm_sets *s) {
    uint64_t total = 0;
    uint32_t per_owner_nodes[BCKM_MAX_BPS + 1] = { 0 }, per_owner_sets[BCKM_MAX_BPS + 1] = { 0 };
    uint8_t *seen = calloc(s->nodes_len ? s->nodes_len : 1, 1);
    int e = BCKM_ERR_CORRUPT;
    if (seen == NULL) return BCKM_ERR_NOMEM;
    for (uint32_t i = 0; i < s->count; i++) {
        const struct bckm_set_info *t = &s->tab[i];
        if (i > 0 && s->tab[i - 1].id >= t->id) goto out;       /* sorted, unique */
        if (t->size == 0 || t->size != s->mem[i].len) goto out; /* no empty set */
        if (bckm_id_bp(t->id) != t->owner) goto out;            /* ID names owner */
        if (s->policy == BCKM_POLICY_GLOBAL && t->owner != 0) goto out;
        if ((t->id & BCKM_ID_COUNTER_MAX) >= s->next_counter[t->owner]) goto out; /* fresh IDs */
        per_owner_sets[t->owner]++;
        per_owner_nodes[t->owner] += t->size;
        for (uint32_t k = 0; k < s->mem[i].len; k++) {
            uint32_t ni;
            if (!bckm_map_get(&s->by_id, s->mem[i].ids[k], &ni)) goto out;
            if (!s->nodes[ni].member || s->nodes[ni].set_id != t->id) goto out;
            if (seen[ni]) goto out; /* exactly once */
            seen[ni] = 1;
        }
        total += t->size;
    }
    if (total != s->n) goto out;
    for (uint32_t ni = 0; ni < s->nodes_len; ni++) {
        uint32_t at;
        if (s->nodes[ni].member && !seen[ni]) goto out;                       /* nobody lost */
        if (!code_find(s, s->nodes[ni].code_hash, &at) || at != ni) goto out; /* indexed, unique */
    }
    if (s->by_code.len != s->nodes_len) goto out;
    for (uint32_t o = 0; o <= BCKM_MAX_BPS; o++)
        if (per_owner_sets[o] != s->owner_sets[o] || per_owner_nodes[o] != s->owner_nodes[o])
            goto out;
    e = BCKM_OK;
out:
    free(seen);
    return e;
}
