#include "adversary.h"

#include "bckm/kdf.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ----------------------------------------------------------- */

/* Grows *p to hold at least need elements; the test stops on exhaustion. */
static void *reserve(void *p, uint32_t *cap, uint32_t need, size_t elem) {
    if (need <= *cap) return p;
    uint32_t ncap = *cap ? *cap : 64;
    while (ncap < need) ncap *= 2;
    void *q = realloc(p, (size_t)ncap * elem);
    if (q == NULL) {
        fprintf(stderr, "adversary: out of memory\n");
        exit(2);
    }
    *cap = ncap;
    return q;
}

static void map_put(struct bckm_map *m, uint64_t key, uint32_t val) {
    if (bckm_map_put(m, key, val) != BCKM_OK) {
        fprintf(stderr, "adversary: out of memory\n");
        exit(2);
    }
}

/* Map keys: 64 bits of a digest, never 0 (bckm_map reserves it). Every hit
 * is confirmed on the full bytes, so a prefix collision cannot fake a fact. */
static uint64_t digest64(const void *p, size_t len) {
    uint8_t h[8];
    crypto_generichash(h, sizeof h, p, len, NULL, 0);
    uint64_t k = bckm_get_u64(h);
    return k ? k : 1;
}

static uint64_t value_key(const uint8_t v[32]) {
    uint64_t k = bckm_get_u64(v);
    return k ? k : 1;
}

static uint64_t name_key(uint8_t kind, uint32_t x, uint32_t y) {
    uint8_t f[9];
    f[0] = kind;
    bckm_put_u32(f + 1, x);
    bckm_put_u32(f + 5, y);
    return digest64(f, sizeof f);
}

void adv_init(struct adversary *a) {
    memset(a, 0, sizeof *a);
    bckm_map_init(&a->known_ix);
    bckm_map_init(&a->seed_ix);
    bckm_map_init(&a->refresh_ix);
    bckm_map_init(&a->name_ix);
    bckm_map_init(&a->value_ix);
    bckm_map_init(&a->changed_at);
    bckm_map_init(&a->msg_ix);
    bckm_map_init(&a->routed);
}

void adv_free(struct adversary *a) {
    if (a->known) bckm_wipe(a->known, (size_t)a->cap_known * 32);
    if (a->refresh) bckm_wipe(a->refresh, (size_t)a->cap_refresh * sizeof *a->refresh);
    if (a->vers) bckm_wipe(a->vers, (size_t)a->cap_vers * sizeof *a->vers);
    for (uint32_t i = 0; i < a->nmsgs; i++) free(a->msgs[i].bytes);
    free(a->known);
    free(a->refresh);
    free(a->names);
    free(a->vers);
    free(a->msgs);
    free(a->work);
    bckm_map_free(&a->known_ix);
    bckm_map_free(&a->seed_ix);
    bckm_map_free(&a->refresh_ix);
    bckm_map_free(&a->name_ix);
    bckm_map_free(&a->value_ix);
    bckm_map_free(&a->changed_at);
    bckm_map_free(&a->msg_ix);
    bckm_map_free(&a->routed);
    memset(a, 0, sizeof *a);
}

/* ---- ground truth ------------------------------------------------------------ */

static uint32_t name_find(const struct adversary *a, uint8_t kind, uint32_t x, uint32_t y) {
    uint32_t lo = x < y ? x : y, hi = x < y ? y : x, i;
    if (kind != ADV_SET_PAIR) {
        lo = x;
        hi = 0;
    }
    if (!bckm_map_get(&a->name_ix, name_key(kind, lo, hi), &i)) return ADV_NONE;
    const struct adv_name *n = &a->names[i];
    return n->kind == kind && n->a == lo && n->b == hi ? i : ADV_NONE;
}

static uint32_t name_get(struct adversary *a, uint8_t kind, uint32_t x, uint32_t y) {
    uint32_t i = name_find(a, kind, x, y);
    if (i != ADV_NONE) return i;
    uint32_t lo = x < y ? x : y, hi = x < y ? y : x;
    if (kind != ADV_SET_PAIR) {
        lo = x;
        hi = 0;
    }
    a->names = reserve(a->names, &a->cap_names, a->nnames + 1, sizeof *a->names);
    i = a->nnames++;
    a->names[i] = (struct adv_name){ kind, lo, hi, ADV_NONE, ADV_NONE, ADV_NONE };
    map_put(&a->name_ix, name_key(kind, lo, hi), i);
    return i;
}

/* The version of name n valid at epoch (the last one starting at or before it). */
static uint32_t version_at(const struct adversary *a, uint32_t n, uint64_t epoch) {
    uint32_t v = a->names[n].last;
    while (v != ADV_NONE && a->vers[v].from > epoch) v = a->vers[v].prev;
    return v;
}

/* The KEK version that sealed a message: a node's KEK, or the set KEK the
 * members held before the change (the previous epoch's). */
static uint32_t sealing_version(const struct adversary *a, const struct adv_msg *m) {
    if (m->h.kek_type == BCKM_KEK_NODE) return version_at(a, m->name, UINT64_MAX);
    return m->h.epoch > 0 ? version_at(a, m->name, m->h.epoch - 1) : ADV_NONE;
}

static void push_work(struct adversary *a, uint32_t v) {
    a->work = reserve(a->work, &a->cap_work, a->nwork + 1, sizeof *a->work);
    a->work[a->nwork++] = v;
}

static void mark_known(struct adversary *a, uint32_t v) {
    if (a->vers[v].known) return;
    a->vers[v].known = 1;
    push_work(a, v);
}

int adv_knows(const struct adversary *a, const uint8_t value[32]) {
    uint32_t i;
    return bckm_map_get(&a->known_ix, value_key(value), &i) && memcmp(a->known[i], value, 32) == 0;
}

static uint32_t version_of_value(const struct adversary *a, const uint8_t value[32]) {
    uint32_t v;
    if (!bckm_map_get(&a->value_ix, value_key(value), &v) ||
        memcmp(a->vers[v].value, value, 32) != 0)
        return ADV_NONE;
    return v;
}

static uint32_t known_add(struct adversary *a, const uint8_t value[32]) {
    uint32_t i;
    if (bckm_map_get(&a->known_ix, value_key(value), &i) && memcmp(a->known[i], value, 32) == 0)
        return i;
    a->known = reserve(a->known, &a->cap_known, a->nknown + 1, 32);
    i = a->nknown++;
    memcpy(a->known[i], value, 32);
    map_put(&a->known_ix, value_key(value), i);
    return i;
}

void adv_learn_key(struct adversary *a, const uint8_t value[32]) {
    known_add(a, value);
    uint32_t v = version_of_value(a, value);
    if (v != ADV_NONE) mark_known(a, v);
}

void adv_learn_seed(struct adversary *a, uint32_t node, const uint8_t seed[32]) {
    map_put(&a->seed_ix, node, known_add(a, seed));
}

const uint8_t *adv_seed(const struct adversary *a, uint32_t node) {
    uint32_t i;
    return bckm_map_get(&a->seed_ix, node, &i) ? a->known[i] : NULL;
}

/* ---- the rules --------------------------------------------------------------- */

/* The values the adversary can put in side X's place of a refresh at epoch
 * (for the pair with T, or T == ADV_NONE for X's set KEK): every value it
 * learnt for X in any role, as is, and r_X,T = KDF(r_X; 13, T) from every
 * r_X it learnt. Trying a learnt r_X,U as r_X or as r_X,T is what label 13's
 * one-wayness says is useless; the closure tries it anyway, so a refresh
 * value handed out in the wrong role (or a broken label 13) shows up. */
static uint32_t side_values(const struct adversary *a, uint64_t epoch, uint32_t x, uint32_t t,
                            uint8_t out[][BCKM_REFRESH_BYTES], uint32_t cap) {
    uint32_t i, c = 0;
    if (!bckm_map_get(&a->refresh_ix, epoch + 1, &i)) return 0;
    for (; i != ADV_NONE && c < cap; i = a->refresh[i].next) {
        const struct adv_refresh *r = &a->refresh[i];
        if (r->epoch != epoch || r->x != x) continue;
        memcpy(out[c++], r->r, BCKM_REFRESH_BYTES);
        if (r->t == ADV_NONE && t != ADV_NONE && c < cap) bckm_kdf_pair_refresh(r->r, t, out[c++]);
    }
    return c;
}

#define ADV_MAX_SIDE 16u

/* (b) Spec section 5, step 3: a changed set's KEK moves with r_S; a set pair
 * (A, B) with A < B moves once per changed side, A's side (r_A,B) first
 * (bckm_kdf_setpair_advance). The adversary need not know which sides
 * changed: it builds every combination of the values it holds for each side
 * (one side alone, or both), and the caller keeps a candidate only when it
 * is the true value. */
uint32_t adv_derive(const struct adversary *a, const struct adv_name *n, const uint8_t prev[32],
                    uint64_t epoch, uint8_t out[ADV_MAX_CANDIDATES][32]) {
    uint8_t ra[ADV_MAX_SIDE][BCKM_REFRESH_BYTES], rb[ADV_MAX_SIDE][BCKM_REFRESH_BYTES];
    uint32_t c = 0, na, nb;
    if (n->kind == ADV_SET_KEK) {
        na = side_values(a, epoch, n->a, ADV_NONE, ra, ADV_MAX_SIDE);
        for (uint32_t i = 0; i < na && c < ADV_MAX_CANDIDATES; i++)
            bckm_kdf_set_update(prev, ra[i], n->a, epoch, out[c++]);
    } else if (n->kind == ADV_SET_PAIR) { /* names hold pairs as (min, max) */
        na = side_values(a, epoch, n->a, n->b, ra, ADV_MAX_SIDE);
        nb = side_values(a, epoch, n->b, n->a, rb, ADV_MAX_SIDE);
        for (uint32_t i = 0; i < na && c < ADV_MAX_CANDIDATES; i++)
            bckm_kdf_setpair_advance(prev, n->a, ra[i], n->b, NULL, epoch, out[c++]);
        for (uint32_t j = 0; j < nb && c < ADV_MAX_CANDIDATES; j++)
            bckm_kdf_setpair_advance(prev, n->a, NULL, n->b, rb[j], epoch, out[c++]);
        for (uint32_t i = 0; i < na; i++)
            for (uint32_t j = 0; j < nb && c < ADV_MAX_CANDIDATES; j++)
                bckm_kdf_setpair_advance(prev, n->a, ra[i], n->b, rb[j], epoch, out[c++]);
    } /* node KEKs never roll forward */
    bckm_wipe(ra, sizeof ra);
    bckm_wipe(rb, sizeof rb);
    return c;
}

/* Tries every derivation the adversary can make for version v from the
 * version before it and the refresh material of the epoch v starts at. */
static void try_derive(struct adversary *a, uint32_t v) {
    const struct adv_version *cur = &a->vers[v];
    if (cur->known || cur->prev == ADV_NONE || !a->vers[cur->prev].known) return;
    uint8_t out[ADV_MAX_CANDIDATES][32];
    uint32_t c = adv_derive(a, &a->names[cur->name], a->vers[cur->prev].value, cur->from, out),
             hit = 0;
    for (uint32_t k = 0; k < c; k++) hit |= memcmp(out[k], cur->value, 32) == 0;
    bckm_wipe(out, (size_t)c * 32);
    if (hit) {
        a->derived++;
        adv_learn_key(a, a->vers[v].value);
    }
}

static void learn_refresh(struct adversary *a, uint64_t epoch, uint32_t x, uint32_t t,
                          const uint8_t r[BCKM_REFRESH_BYTES]) {
    uint32_t head = ADV_NONE, i;
    if (bckm_map_get(&a->refresh_ix, epoch + 1, &head))
        for (i = head; i != ADV_NONE; i = a->refresh[i].next)
            if (a->refresh[i].x == x && a->refresh[i].t == t &&
                memcmp(a->refresh[i].r, r, BCKM_REFRESH_BYTES) == 0)
                return;
    a->refresh = reserve(a->refresh, &a->cap_refresh, a->nrefresh + 1, sizeof *a->refresh);
    i = a->nrefresh++;
    a->refresh[i].epoch = epoch;
    a->refresh[i].x = x;
    a->refresh[i].t = t;
    memcpy(a->refresh[i].r, r, BCKM_REFRESH_BYTES);
    a->refresh[i].next = head;
    map_put(&a->refresh_ix, epoch + 1, i);
    /* Every key that changed at that epoch may now roll forward. */
    uint32_t v;
    if (bckm_map_get(&a->changed_at, epoch + 1, &v))
        for (; v != ADV_NONE; v = a->vers[v].next_at) try_derive(a, v);
}

static void learn_keyed_list(struct adversary *a, const struct bckm_msg_list *l) {
    for (uint32_t i = 0; i < l->n; i++)
        adv_learn_key(a, l->p + (size_t)i * BCKM_MSG_KEYED_ENTRY_BYTES + 4);
}

static int list_has(const struct bckm_msg_list *l, uint32_t stride, uint32_t id) {
    for (uint32_t i = 0; i < l->n; i++)
        if (bckm_msg_list_id(l, i, stride) == id) return 1;
    return 0;
}

/* (a) An update for the members of T teaches r_T (when T changed) and r_X,T
 * for every other changed X, bound to its epoch, and the new pair keys it
 * carries. T is the recipient of a set-KEK update; under a node KEK (the
 * departed node's set-mates, catch-up) it is the one changed set without a
 * pair refresh when r_T is present, else not named: the pair refreshes are
 * then kept for an unknown T (ADV_ANY). A bundle teaches every key of its
 * recipient and its pair seed. */
void adv_learn_opened(struct adversary *a, const struct bckm_msg_header *h, const uint8_t *body) {
    if (h->kind == BCKM_MSG_UPDATE) {
        struct bckm_update_view v;
        if (bckm_msg_parse_update(body, h->body_len, &v) != BCKM_OK) return;
        uint32_t t = ADV_ANY;
        if (h->kek_type == BCKM_KEK_SET)
            t = h->recipient;
        else if (v.has_set_refresh)
            for (uint32_t i = 0; i < v.changed.n; i++) {
                uint32_t x = bckm_msg_list_id(&v.changed, i, 4);
                if (!list_has(&v.pairs, BCKM_MSG_REFRESH_ENTRY_BYTES, x)) t = x;
            }
        if (v.has_set_refresh && t != ADV_ANY)
            learn_refresh(a, h->epoch, t, ADV_NONE, v.set_refresh);
        for (uint32_t i = 0; i < v.pairs.n; i++) {
            const uint8_t *e = v.pairs.p + (size_t)i * BCKM_MSG_REFRESH_ENTRY_BYTES;
            learn_refresh(a, h->epoch, bckm_get_u32(e), t, e + 4);
        }
        learn_keyed_list(a, &v.newkeys);
    } else {
        struct bckm_bundle_view v;
        if (bckm_msg_parse_bundle(body, h->body_len, &v) != BCKM_OK) return;
        adv_learn_seed(a, v.node_id, v.seed);
        adv_learn_key(a, v.set_kek);
        learn_keyed_list(a, &v.setkeys);
        learn_keyed_list(a, &v.peers);
    }
}

void adv_truth(struct adversary *a, uint8_t kind, uint32_t x, uint32_t y, uint64_t epoch,
               const uint8_t value[32]) {
    uint32_t n = name_get(a, kind, x, y), last = a->names[n].last;
    if (last != ADV_NONE && memcmp(a->vers[last].value, value, 32) == 0) return;
    a->vers = reserve(a->vers, &a->cap_vers, a->nvers + 1, sizeof *a->vers);
    uint32_t v = a->nvers++, head = ADV_NONE;
    (void)bckm_map_get(&a->changed_at, epoch + 1, &head);
    a->vers[v] = (struct adv_version){ n, last, ADV_NONE, head, epoch, { 0 }, 0 };
    memcpy(a->vers[v].value, value, 32);
    if (last != ADV_NONE)
        a->vers[last].next = v;
    else
        a->names[n].first = v;
    a->names[n].last = v;
    map_put(&a->changed_at, epoch + 1, v);
    map_put(&a->value_ix, value_key(value), v);
    if (adv_knows(a, value))
        mark_known(a, v);
    else
        try_derive(a, v);
}

const struct adv_version *adv_current(const struct adversary *a, uint8_t kind, uint32_t x,
                                      uint32_t y) {
    uint32_t n = name_find(a, kind, x, y);
    return n == ADV_NONE || a->names[n].last == ADV_NONE ? NULL : &a->vers[a->names[n].last];
}

/* ---- the network ------------------------------------------------------------- */

size_t adv_open_copy(const struct adversary *a, uint32_t i, uint8_t *body, size_t cap) {
    const struct adv_msg *m = &a->msgs[i];
    uint32_t v = sealing_version(a, m);
    if (v == ADV_NONE || !a->vers[v].known || m->h.body_len > cap) return 0;
    uint8_t *copy = malloc(m->len);
    struct bckm_msg_header h;
    size_t got = 0;
    if (copy == NULL) return 0;
    memcpy(copy, m->bytes, m->len);
    if (bckm_msg_open(copy, m->len, a->vers[v].value, &h) == BCKM_OK) {
        memcpy(body, copy + BCKM_MSG_HEADER_BYTES, h.body_len);
        got = h.body_len;
    }
    bckm_wipe(copy, m->len);
    free(copy);
    return got;
}

static void try_open(struct adversary *a, uint32_t i) {
    struct adv_msg *m = &a->msgs[i];
    if (m->opened) return;
    uint8_t *body = malloc(m->h.body_len ? m->h.body_len : 1);
    if (body == NULL) return;
    size_t n = adv_open_copy(a, i, body, m->h.body_len);
    if (n > 0) {
        struct bckm_msg_header h = a->msgs[i].h;
        a->msgs[i].opened = 1;
        a->opened++;
        adv_learn_opened(a, &h, body);
    }
    bckm_wipe(body, m->h.body_len);
    free(body);
}

uint32_t adv_record(struct adversary *a, uint32_t node, const uint8_t *msg, size_t len) {
    uint64_t d = digest64(msg, len);
    uint32_t i;
    if (!bckm_map_get(&a->msg_ix, d, &i) || a->msgs[i].len != len ||
        memcmp(a->msgs[i].bytes, msg, len) != 0) {
        struct bckm_msg_header h;
        if (bckm_msg_header_decode(msg, len, &h) != BCKM_OK) return ADV_NONE;
        a->msgs = reserve(a->msgs, &a->cap_msgs, a->nmsgs + 1, sizeof *a->msgs);
        i = a->nmsgs++;
        struct adv_msg *m = &a->msgs[i];
        m->bytes = malloc(len);
        if (m->bytes == NULL) {
            fprintf(stderr, "adversary: out of memory\n");
            exit(2);
        }
        memcpy(m->bytes, msg, len);
        m->len = len;
        m->h = h;
        m->opened = 0;
        m->name =
            name_get(a, h.kek_type == BCKM_KEK_NODE ? ADV_NODE_KEK : ADV_SET_KEK, h.recipient, 0);
        m->next = a->names[m->name].msgs;
        a->names[m->name].msgs = i;
        map_put(&a->msg_ix, d, i);
        try_open(a, i);
    }
    map_put(&a->routed, ((uint64_t)i + 1) << 32 | node, 1);
    return i;
}

int adv_routed(const struct adversary *a, uint32_t i, uint32_t node) {
    return bckm_map_get(&a->routed, ((uint64_t)i + 1) << 32 | node, NULL);
}

/* A version just became known: roll it forward, open what it seals. */
static void expand(struct adversary *a, uint32_t v) {
    const struct adv_version *ver = &a->vers[v];
    if (ver->next != ADV_NONE) try_derive(a, ver->next);
    for (uint32_t i = a->names[ver->name].msgs; i != ADV_NONE; i = a->msgs[i].next)
        if (!a->msgs[i].opened && sealing_version(a, &a->msgs[i]) == v) try_open(a, i);
}

void adv_close(struct adversary *a) {
    while (a->nwork > 0) expand(a, a->work[--a->nwork]);
}
