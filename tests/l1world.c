#include "l1world.h"

#include "bckm/credstore.h"
#include "bckm/enrol.h"
#include "bckm/rejoin.h"
#include "bckm/rekey_auth.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t l1_delivery_errors = 0;

uint32_t l1_rand(struct l1world *w, uint32_t bound) { return bckm_fleet_rand(&w->rng, bound); }

/* The signing key comes from the seed alone (not from w->rng, so the
 * world's random sequence is what it was without it). */
static void sign_seed(void *ctx, uint32_t bp, struct bckm_drbg *rng, uint8_t seed[32]) {
    const uint8_t *s = ctx;
    uint8_t lab[12] = { 'l', '1', 's', 'i', 'g', 'n' };
    (void)rng;
    bckm_put_u32(lab + 8, bp);
    crypto_generichash(seed, 32, lab, sizeof lab, s, 8);
}

int l1_init(struct l1world *w, uint32_t p, bckm_policy policy, uint32_t max_nodes, uint64_t seed) {
    memset(w, 0, sizeof *w);
    w->p = p;
    w->policy = policy;
    uint8_t s[32] = { 0 };
    bckm_put_u64(s, seed);
    bckm_drbg_init(&w->rng, s);
    bckm_plan_init(&w->plan);
    for (uint32_t b = 1; b <= BCKM_MAX_BPS; b++) bckm_msgs_init(&w->out[b]);
    if (bckm_sets_new(&w->reg, policy) != BCKM_OK) return -1;
    struct bckm_fleet_config fc = { p, policy, max_nodes, &w->rng, sign_seed, s };
    if (bckm_fleet_init(&w->fleet, &fc) != BCKM_OK) return -1;
    w->fleet.report = 1;
    return 0;
}

void l1_free(struct l1world *w) {
    bckm_fleet_free(&w->fleet);
    for (uint32_t b = 1; b <= BCKM_MAX_BPS; b++) bckm_msgs_free(&w->out[b]);
    bckm_sets_free(w->reg);
    bckm_plan_free(&w->plan);
}

struct bckm_device *l1_device(struct l1world *w, uint32_t node) {
    return bckm_fleet_device(&w->fleet, node);
}

uint32_t l1_index(struct l1world *w, uint32_t node) { return bckm_fleet_index(&w->fleet, node); }

/* The network's view: every message a BP transmits to a device it serves,
 * awake or asleep. */
static int tap_filter(void *ctx, uint32_t node, struct bckm_fleet_dev *d, const uint8_t *msg,
                      size_t len) {
    struct l1world *w = ctx;
    if (d != NULL && w->tap != NULL) w->tap(w->tap_ctx, d->bp, node, msg, len);
    return 1;
}

/* Delivers one BP's messages to the devices it serves (asleep ones get
 * nothing); refusals are counted in l1_delivery_errors. */
static int deliver(struct l1world *w, uint32_t bp, struct bckm_msgs *m) {
    uint64_t before = w->fleet.errors;
    int e = bckm_fleet_deliver(&w->fleet, bp, w->reg, m, tap_filter, w);
    l1_delivery_errors += (uint32_t)(w->fleet.errors - before);
    return e == BCKM_OK ? 0 : -1;
}

int l1_genesis(struct l1world *w, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        uint32_t bp = 1 + (i % w->p);
        uint8_t kek[32];
        struct bckm_tx c;
        int e = bckm_fleet_genesis_node(&w->fleet, bp, w->reg, &w->rng, bckm_fleet_apply_sets,
                                        w->reg, &w->plan, &c, kek);
        if (e == BCKM_OK) e = bckm_fleet_add(&w->fleet, c.node_id, kek);
        sodium_memzero(kek, sizeof kek);
        if (e != BCKM_OK) return e;
    }
    w->n_peak = n;
    /* Each BP's bundles stay in w->out[bp] (tests replay them). */
    for (uint32_t bp = 1; bp <= w->p; bp++) {
        bckm_msgs_clear(&w->out[bp]);
        int e = bckm_km_provision(w->fleet.km[bp], w->reg, &w->out[bp]);
        if (e != BCKM_OK) return e;
        (void)deliver(w, bp, &w->out[bp]);
    }
    return BCKM_OK;
}

void l1_deliver(struct l1world *w, uint32_t bp, struct bckm_msgs *m) { (void)deliver(w, bp, m); }

void l1_deliver_all(struct l1world *w) {
    for (uint32_t bp = 1; bp <= w->p; bp++)
        if (!w->dead[bp]) (void)deliver(w, bp, &w->out[bp]);
}

static int commit_all(struct l1world *w, uint32_t origin, const struct bckm_tx *c) {
    int e = bckm_sets_apply(w->reg, origin, c, &w->plan);
    if (e != BCKM_OK) return e;
    w->last = *c;
    w->last_bp = origin;
    for (uint32_t bp = 1; bp <= w->p; bp++) {
        bckm_msgs_clear(&w->out[bp]);
        if (w->dead[bp]) continue;
        e = bckm_km_commit(w->fleet.km[bp], w->reg, origin, c, &w->plan, &w->out[bp]);
        if (e != BCKM_OK) return e;
    }
    if (!w->hold) l1_deliver_all(w);
    if (bckm_sets_nodes(w->reg) > w->n_peak) w->n_peak = bckm_sets_nodes(w->reg);
    return BCKM_OK;
}

int l1_join(struct l1world *w, uint32_t bp, uint32_t *node_out) {
    uint8_t kek[32];
    struct bckm_tx c;
    bckm_drbg_fill(&w->rng, kek, 32);
    int e = bckm_km_prepare_join(w->fleet.km[bp], w->reg, kek, &c);
    if (e != BCKM_OK) return e;
    if (bckm_fleet_add(&w->fleet, c.node_id, kek) != BCKM_OK) return BCKM_ERR_NOMEM;
    if (node_out) *node_out = c.node_id;
    return commit_all(w, bp, &c);
}

int l1_enrol_join(struct l1world *w, struct bckm_credstore *cs, uint32_t bp, uint32_t serial,
                  const uint8_t psk[32], uint32_t *node_out) {
    struct bckm_enrol_device ds;
    struct bckm_enrol_bp bs;
    struct bckm_tx c;
    uint8_t hello[BCKM_ENROL_HELLO_BYTES], reply[BCKM_ENROL_REPLY_BYTES],
        fin[BCKM_ENROL_FINISH_BYTES], cred[32];
    int e = bckm_enrol_device_hello(&ds, serial, psk, NULL, hello);
    if (e == BCKM_OK) e = bckm_credstore_get(cs, bckm_enrol_hello_serial(hello), cred);
    if (e == BCKM_OK)
        e = bckm_enrol_bp_reply(&bs, bp, w->fleet.bps.pk[bp], w->fleet.bps_root, cred, hello, NULL,
                                reply);
    sodium_memzero(cred, sizeof cred);
    if (e == BCKM_OK) e = bckm_enrol_device_finish(&ds, reply, fin);
    if (e == BCKM_OK) e = bckm_enrol_bp_finish(&bs, fin);
    if (e == BCKM_OK && (ds.bp_id != bp || memcmp(ds.bps_root, w->fleet.bps_root, 32) != 0))
        e = BCKM_ERR_AUTH;
    if (e == BCKM_OK) e = bckm_credstore_spend(cs, serial);
    if (e == BCKM_OK) e = bckm_km_prepare_join(w->fleet.km[bp], w->reg, bs.kek, &c);
    if (e == BCKM_OK && bckm_fleet_add(&w->fleet, c.node_id, bs.kek) != BCKM_OK) e = BCKM_ERR_NOMEM;
    sodium_memzero(&ds, sizeof ds);
    sodium_memzero(&bs, sizeof bs);
    if (e != BCKM_OK) return e;
    if (node_out) *node_out = c.node_id;
    return commit_all(w, bp, &c);
}

int l1_leave(struct l1world *w, uint32_t node, uint8_t op) {
    uint32_t i = l1_index(w, node);
    struct bckm_tx c;
    if (i == UINT32_MAX) return BCKM_ERR_UNKNOWN;
    uint32_t bp = w->fleet.devs[i].bp; /* the BP that serves the node takes its leave */
    int e = bckm_km_prepare_leave(w->fleet.km[bp], w->reg, node, op, &c);
    if (e != BCKM_OK) return e;
    e = commit_all(w, bp, &c);
    if (e == BCKM_OK) w->fleet.devs[i].live = 0;
    return e;
}

int l1_reattach(struct l1world *w, uint32_t node, uint32_t bp) {
    uint32_t i = l1_index(w, node);
    struct bckm_tx c;
    uint8_t consent[BCKM_SIG_BYTES];
    if (i == UINT32_MAX) return BCKM_ERR_UNKNOWN;
    uint64_t ctr = bckm_sets_reattach_ctr(w->reg, node) + 1;
    int e = bckm_sets_reattach_tx(w->reg, node, ctr, &c);
    if (e == BCKM_OK) e = bckm_reattach_consent(w->fleet.devs[i].dev->code, node, bp, ctr, consent);
    if (e == BCKM_OK) e = bckm_sets_apply_reattach(w->reg, bp, &c, consent, &w->plan);
    for (uint32_t b = 1; b <= w->p && e == BCKM_OK; b++) {
        bckm_msgs_clear(&w->out[b]);
        if (w->dead[b]) continue;
        e = bckm_km_commit(w->fleet.km[b], w->reg, bp, &c, &w->plan, &w->out[b]);
        if (e == BCKM_OK && w->out[b].n != 0) e = BCKM_ERR_STATE; /* a REATTACH sends nothing */
    }
    return e;
}

/* ---- invariant checks ---------------------------------------------------- */

enum { K_KEK = 1, K_SEED, K_SETKEK, K_PAIRNODE, K_SETPAIR };

struct entry {
    uint8_t key[32];
    uint32_t holder, a, b;
    uint8_t kind, live;
};

static int cmp_entry(const void *x, const void *y) {
    return memcmp(((const struct entry *)x)->key, ((const struct entry *)y)->key, 32);
}

static uint32_t set_size(struct l1world *w, uint32_t set) {
    uint32_t n;
    (void)bckm_sets_members(w->reg, set, &n);
    return n;
}

/* The sharing rule: every key value is held by exactly the nodes the paper
 * gives it to, and no departed node holds a key a member still uses. */
uint32_t l1_census(struct l1world *w) {
    size_t cap = 1024, n = 0;
    struct entry *e = malloc(cap * sizeof *e);
    if (e == NULL) return UINT32_MAX; /* out of memory: fails the census */
    for (uint32_t i = 0; i < w->fleet.ndevs; i++) {
        const struct bckm_device *d = w->fleet.devs[i].dev;
        if (d->node_id == 0) continue;
        size_t need = n + 4 + d->n_peers + d->n_sets;
        if (need > cap) {
            while (need > cap) cap *= 2;
            struct entry *ne = realloc(e, cap * sizeof *e);
            if (ne == NULL) {
                free(e);
                return UINT32_MAX;
            }
            e = ne;
        }
        uint8_t live = (uint8_t)w->fleet.devs[i].live;
        uint32_t u = d->node_id;
        e[n] = (struct entry){ { 0 }, u, u, 0, K_KEK, live };
        memcpy(e[n++].key, d->kek, 32);
        e[n] = (struct entry){ { 0 }, u, u, 0, K_SEED, live };
        memcpy(e[n++].key, d->seed, 32);
        e[n] = (struct entry){ { 0 }, u, d->set_id, 0, K_SETKEK, live };
        memcpy(e[n++].key, d->set_kek, 32);
        for (uint32_t k = 0; k < d->n_peers; k++) {
            uint32_t v = d->keys[k].id;
            e[n] = (struct entry){ { 0 }, u, u < v ? u : v, u < v ? v : u, K_PAIRNODE, live };
            memcpy(e[n++].key, d->keys[k].key, 32);
        }
        for (uint32_t k = 0; k < d->n_sets; k++) {
            uint32_t t = d->keys[d->cap_peers + k].id, s = d->set_id;
            e[n] = (struct entry){ { 0 }, u, s < t ? s : t, s < t ? t : s, K_SETPAIR, live };
            memcpy(e[n++].key, d->keys[d->cap_peers + k].key, 32);
        }
    }
    qsort(e, n, sizeof *e, cmp_entry);
    uint32_t bad = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1, live = e[i].live;
        int same = 1;
        while (j < n && memcmp(e[j].key, e[i].key, 32) == 0) {
            if (e[j].kind != e[i].kind || e[j].a != e[i].a || e[j].b != e[i].b) same = 0;
            live += e[j].live;
            j++;
        }
        size_t holders = j - i;
        if (live == 0) {
            i = j;
            continue;
        } /* only departed nodes: dead key */
        if (!same || live != holders)
            bad++; /* shared across kinds, or with a departed node */
        else {
            size_t want = 0;
            switch (e[i].kind) {
            case K_KEK:
            case K_SEED: want = 1; break;
            case K_PAIRNODE: want = 2; break;
            case K_SETKEK: want = set_size(w, e[i].a); break;
            case K_SETPAIR: want = set_size(w, e[i].a) + set_size(w, e[i].b); break;
            }
            if (holders != want) bad++;
            for (size_t k = i; k < j; k++) {
                uint32_t set, at;
                if (bckm_sets_node(w->reg, e[k].holder, &set, &at) != BCKM_OK) {
                    bad++;
                    continue;
                }
                if (e[k].kind == K_SETKEK && set != e[k].a) bad++;
                if (e[k].kind == K_SETPAIR && set != e[k].a && set != e[k].b) bad++;
                if (e[k].kind == K_PAIRNODE && e[k].holder != e[k].a && e[k].holder != e[k].b)
                    bad++;
            }
        }
        i = j;
    }
    if (bad) fprintf(stderr, "census: %u key groups break the sharing rule\n", bad);
    free(e);
    return bad;
}

static uint32_t violated(int ok, const char *what) {
    if (!ok) fprintf(stderr, "l1_check: violated: %s\n", what);
    return !ok;
}

/* Per-operation invariants. */
uint32_t l1_check(struct l1world *w, uint32_t pairs) {
    uint32_t fails = 0;
    fails += violated(bckm_sets_audit(w->reg) == BCKM_OK, "bckm_sets_audit(w->reg) == BCKM_OK");
    uint32_t n = bckm_sets_nodes(w->reg), m = bckm_sets_count(w->reg), s = bckm_sets_target(n);
    const struct bckm_set_info *tab = bckm_sets_table(w->reg);
    uint32_t cap = bckm_sets_target(w->n_peak), over = 0, per_owner[BCKM_MAX_BPS + 1] = { 0 };
    for (uint32_t i = 0; i < m; i++) {
        if (tab[i].size > cap) over++;
        per_owner[tab[i].owner]++;
    }
    fails += violated(over == 0, "over == 0");
    for (uint32_t o = 0; o <= BCKM_MAX_BPS; o++) {
        if (per_owner[o] == 0) continue;
        uint32_t nb = bckm_sets_owner_nodes(w->reg, o);
        fails += violated(per_owner[o] <= nb / s + (nb % s != 0) + 1,
                          "per_owner[o] <= nb / s + (nb % s != 0) + 1");
    }
    /* The world's own bookkeeping: the devices it marks live are exactly
     * the registry's members. */
    uint32_t flagged = 0, flagged_members = 0;
    for (uint32_t i = 0; i < w->fleet.ndevs; i++) {
        uint32_t set, at;
        if (!w->fleet.devs[i].live) continue;
        flagged++;
        flagged_members += bckm_sets_node(w->reg, w->fleet.devs[i].node_id, &set, &at) == BCKM_OK;
    }
    struct bckm_fleet_check ck;
    if (bckm_fleet_check(&w->fleet, w->reg, &w->rng, pairs, NULL, &ck) != BCKM_OK) return fails + 1;
    fails += violated(flagged == n && flagged_members == n && ck.members == n,
                      "every member and only members live, each with a device");
    fails += violated(ck.stale == 0, "stale == 0");
    fails += violated(ck.wrong_set == 0, "wrong_set == 0");
    fails += violated(ck.wrong_count == 0, "wrong_count == 0");
    fails += violated(ck.disagree == 0, "disagree == 0");
    return fails;
}

int l1_rejoin(struct l1world *w, uint32_t node, uint32_t b, uint8_t kek_out[32],
              uint8_t challenge_out[16]) {
    struct bckm_device *d = l1_device(w, node);
    struct bckm_rejoin_node ns;
    struct bckm_rejoin_bp bs;
    uint8_t hello[BCKM_REJOIN_HELLO_BYTES], chal[BCKM_REJOIN_CHALLENGE_BYTES], proof[64],
        commit[32], pk[32];
    uint32_t got = 0;
    if (d == NULL) return BCKM_ERR_UNKNOWN;
    int e = bckm_rejoin_node_hello(&ns, node, NULL, hello);
    if (e == BCKM_OK) e = bckm_rejoin_bp_challenge(&bs, b, w->fleet.sign_sk[b], hello, NULL, chal);
    if (e == BCKM_OK)
        e = bckm_rejoin_node_prove(&ns, w->fleet.bps_root, &w->fleet.bps, d->code, chal, proof,
                                   &got, pk);
    if (e == BCKM_OK && (got != b || sodium_memcmp(pk, w->fleet.bps.pk[b], 32) != 0))
        e = BCKM_ERR_AUTH;
    /* the BP reads the node's commitment from the chain (the registry) */
    if (e == BCKM_OK) e = bckm_sets_code_hash(w->reg, node, commit);
    if (e == BCKM_OK) e = bckm_rejoin_bp_verify(&bs, commit, proof);
    if (e == BCKM_OK && sodium_memcmp(ns.kek, bs.kek, 32) != 0) e = BCKM_ERR_AUTH;
    if (e == BCKM_OK) {
        memcpy(kek_out, bs.kek, 32);
        randombytes_buf(challenge_out, 16);
        e = bckm_device_rejoin(d, bs.kek, got, pk, challenge_out);
    }
    sodium_memzero(&ns, sizeof ns);
    sodium_memzero(&bs, sizeof bs);
    return e;
}

int l1_seal_as(struct l1world *w, uint32_t bp, const struct bckm_msg_header *h,
               const uint8_t kek[32], const uint8_t *body, size_t body_len, struct bckm_msgs *out) {
    struct bckm_msg_header hh = *h;
    size_t need = BCKM_MSG_HEADER_BYTES + body_len + BCKM_MSG_TAG_BYTES, len = 0;
    hh.sender = (uint8_t)bp;
    uint8_t *b = realloc(out->buf, out->len + need);
    if (b == NULL) return BCKM_ERR_NOMEM;
    out->buf = b;
    out->cap = out->len + need;
    struct bckm_msg_ref *r = realloc(out->refs, (size_t)(out->n + 1) * sizeof *r);
    if (r == NULL) return BCKM_ERR_NOMEM;
    out->refs = r;
    out->refs_cap = out->n + 1;
    int e = bckm_msg_seal(&hh, kek, body, body_len, out->buf + out->len, need, &len);
    if (e != BCKM_OK) return e;
    uint32_t first = out->n;
    out->refs[out->n++] =
        (struct bckm_msg_ref){ hh.kind, hh.kek_type, hh.recipient, out->len, len };
    out->len += len;
    return bckm_rekey_batch_sign(out, first, bp, w->fleet.sign_sk[bp]);
}

int l1_move_to(struct l1world *w, uint32_t node, uint32_t b) {
    uint32_t i = l1_index(w, node);
    uint8_t kek[32], ch[16];
    struct bckm_msgs m;
    if (i == UINT32_MAX) return BCKM_ERR_UNKNOWN;
    int e = l1_rejoin(w, node, b, kek, ch);
    bckm_msgs_init(&m);
    if (e == BCKM_OK) e = bckm_km_adopt_node(w->fleet.km[b], w->reg, node, kek, ch, &m);
    if (e == BCKM_OK) e = l1_reattach(w, node, b);
    if (e == BCKM_OK) {
        w->fleet.devs[i].bp = b;
        l1_deliver(w, b, &m);
    }
    bckm_msgs_free(&m);
    sodium_memzero(kek, sizeof kek);
    return e;
}

int l1_step(struct l1world *w) {
    uint32_t r = l1_rand(w, 10), node;
    if (r < 5 || bckm_sets_nodes(w->reg) < 8) return l1_join(w, 1 + l1_rand(w, w->p), &node);
    uint32_t i = l1_rand(w, w->fleet.ndevs);
    for (uint32_t k = 0; k < w->fleet.ndevs; k++) {
        const struct bckm_fleet_dev *d = &w->fleet.devs[(i + k) % w->fleet.ndevs];
        if (d->live) return l1_leave(w, d->node_id, r < 8 ? BCKM_OP_LEAVE : BCKM_OP_EVICT);
    }
    return l1_join(w, 1, &node);
}

struct bckm_km_config l1_km_config(const struct l1world *w, uint32_t bp) {
    static const uint8_t any_seed[32];
    struct bckm_km_config c;
    memset(&c, 0, sizeof c);
    c.bp_id = bp;
    c.policy = w->policy;
    c.drbg_seed = any_seed;
    memcpy(c.sign_sk, w->fleet.sign_sk[bp], sizeof c.sign_sk);
    return c;
}
