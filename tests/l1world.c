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

uint32_t l1_rand(struct l1world *w, uint32_t bound) {
    uint8_t b[4];
    bckm_drbg_fill(&w->rng, b, 4);
    return bound ? bckm_get_u32(b) % bound : 0;
}

int l1_init(struct l1world *w, uint32_t p, bckm_policy policy, uint32_t max_nodes, uint64_t seed) {
    memset(w, 0, sizeof *w);
    w->p = p;
    w->policy = policy;
    uint8_t s[32] = {0};
    bckm_put_u64(s, seed);
    bckm_drbg_init(&w->rng, s);
    bckm_device_caps(max_nodes, p, &w->cap_peers, &w->cap_sets);
    if (bckm_sets_new(&w->reg, policy) != BCKM_OK) return -1;
    bckm_map_init(&w->dev_of);
    bckm_plan_init(&w->plan);
    uint8_t cluster[32], sk[BCKM_MAX_BPS + 1][32], pk[BCKM_MAX_BPS + 1][32];
    bckm_drbg_fill(&w->rng, cluster, 32);
    for (uint32_t b = 1; b <= p; b++) {
        struct bckm_km_config cfg;
        uint8_t dseed[32];
        memset(&cfg, 0, sizeof cfg);
        cfg.bp_id = b;
        cfg.policy = policy;
        if (policy == BCKM_POLICY_GLOBAL) memcpy(cfg.domain, cluster, 32);
        else bckm_drbg_fill(&w->rng, cfg.domain, 32);
        bckm_drbg_fill(&w->rng, dseed, 32);
        cfg.drbg_seed = dseed;
        /* The signing key comes from the seed alone (not from w->rng, so
         * the world's random sequence is what it was without it). */
        uint8_t kseed[32], lab[12] = { 'l', '1', 's', 'i', 'g', 'n' };
        bckm_put_u32(lab + 8, b);
        crypto_generichash(kseed, 32, lab, sizeof lab, s, 8);
        crypto_sign_seed_keypair(w->bps.pk[b], w->sign_sk[b], kseed);
        w->bps.has[b] = 1;
        memcpy(cfg.sign_sk, w->sign_sk[b], 64);
        bckm_wipe(kseed, sizeof kseed);
        int ke = bckm_km_new(&w->km[b], &cfg);
        bckm_wipe(cfg.sign_sk, sizeof cfg.sign_sk);
        if (ke != BCKM_OK) return -1;
        bckm_drbg_fill(&w->rng, sk[b], 32);
        bckm_msgs_init(&w->out[b]);
    }
    /* The devices' trust anchor: the root of the BP table (spec 8). */
    bckm_bps_root(&w->bps, w->bps_root);
    /* Static X25519 keys of the BPs, registered at cluster set-up. */
    for (uint32_t b = 1; b <= p; b++) {
        crypto_scalarmult_base(pk[b], sk[b]);
    }
    for (uint32_t a = 1; a <= p; a++)
        for (uint32_t b = 1; b <= p; b++) {
            if (a == b) continue;
            uint8_t sec[32];
            if (bckm_km_bp_secret(sk[a], a, pk[b], b, sec) != BCKM_OK) return -1;
            if (bckm_km_set_peer_secret(w->km[a], b, sec) != BCKM_OK) return -1;
        }
    return 0;
}

void l1_free(struct l1world *w) {
    for (uint32_t i = 0; i < w->ndevs; i++) free(w->devs[i].dev);
    free(w->devs);
    for (uint32_t b = 1; b <= w->p; b++) { bckm_km_free(w->km[b]); bckm_msgs_free(&w->out[b]); }
    bckm_sets_free(w->reg);
    bckm_map_free(&w->dev_of);
    bckm_plan_free(&w->plan);
    sodium_memzero(w->sign_sk, sizeof w->sign_sk);
}

struct bckm_device *l1_device(struct l1world *w, uint32_t node) {
    uint32_t i;
    if (!bckm_map_get(&w->dev_of, node, &i)) return NULL;
    return w->devs[i].dev;
}

static int add_device(struct l1world *w, uint32_t node, const uint8_t kek[32]) {
    if (w->ndevs == w->cap_devs) {
        w->cap_devs = w->cap_devs ? w->cap_devs * 2 : 256;
        w->devs = realloc(w->devs, (size_t)w->cap_devs * sizeof *w->devs);
        if (w->devs == NULL) return -1;
    }
    size_t bytes = BCKM_DEVICE_BYTES(w->cap_peers, w->cap_sets);
    void *mem = malloc(bytes);
    struct bckm_device *d;
    uint32_t bp = bckm_id_bp(node);
    if (mem == NULL || bckm_device_init(mem, bytes, w->cap_peers, w->cap_sets, kek, bp, w->bps.pk[bp],
                                        w->bps_root, &d) != BCKM_OK) return -1;
    w->devs[w->ndevs] = (struct l1dev){ node, d, 1, 0, bp };
    if (bckm_map_put(&w->dev_of, node, w->ndevs) != BCKM_OK) return -1;
    w->ndevs++;
    return 0;
}

/* Delivers one BP's messages: node-KEK messages to their node, set-KEK
 * messages to every member of the set attached to that BP, except nodes that
 * get a bundle in the same batch. */
uint32_t l1_index(struct l1world *w, uint32_t node) {
    uint32_t i;
    return bckm_map_get(&w->dev_of, node, &i) ? i : UINT32_MAX;
}

struct delivery {
    struct l1world *w;
    uint32_t bp;
    uint8_t *copy;
    size_t cap;
};

/* Devices asleep or served by another BP do not receive BP bp's batch. */
static int deliver_one(void *ctx, uint32_t node, const uint8_t *msg, size_t len) {
    struct delivery *dl = ctx;
    struct l1world *w = dl->w;
    uint32_t di = l1_index(w, node);
    if (di == UINT32_MAX || w->devs[di].bp != dl->bp) return BCKM_OK;
    if (w->tap != NULL) w->tap(w->tap_ctx, dl->bp, node, msg, len);
    if (w->devs[di].asleep) return BCKM_OK;
    if (dl->cap < len) {
        uint8_t *c = realloc(dl->copy, len);
        if (c == NULL) return BCKM_ERR_NOMEM;
        dl->copy = c; dl->cap = len;
    }
    memcpy(dl->copy, msg, len);  /* applied in place */
    int e = bckm_device_apply(w->devs[di].dev, dl->copy, len);
    if (e != BCKM_OK) {
        l1_delivery_errors++;
        fprintf(stderr, "delivery to %u (%zu bytes) failed: %s\n", node, len, bckm_strerror(e));
    }
    return BCKM_OK;
}

static int deliver(struct l1world *w, uint32_t bp, struct bckm_msgs *m) {
    struct delivery dl = { w, bp, NULL, 0 };
    int e = bckm_msgs_route(m, w->reg, deliver_one, &dl);
    free(dl.copy);
    return e == BCKM_OK ? 0 : -1;
}

int l1_genesis(struct l1world *w, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        uint32_t bp = 1 + (i % w->p);
        uint8_t kek[32];
        struct bckm_tx c;
        bckm_drbg_fill(&w->rng, kek, 32);
        int e = bckm_km_prepare_join(w->km[bp], w->reg, kek, &c);
        if (e == BCKM_OK) e = bckm_sets_apply(w->reg, bp, &c, &w->plan);
        if (e == BCKM_OK) e = bckm_km_adopt(w->km[bp], c.node_id);
        if (e == BCKM_OK && add_device(w, c.node_id, kek) != 0) e = BCKM_ERR_NOMEM;
        if (e != BCKM_OK) return e;
    }
    w->n_peak = n;
    for (uint32_t bp = 1; bp <= w->p; bp++) {
        bckm_msgs_clear(&w->out[bp]);
        int e = bckm_km_provision(w->km[bp], w->reg, &w->out[bp]);
        if (e != BCKM_OK) return e;
        deliver(w, bp, &w->out[bp]);
    }
    return BCKM_OK;
}

void l1_deliver(struct l1world *w, uint32_t bp, struct bckm_msgs *m) { deliver(w, bp, m); }

void l1_deliver_all(struct l1world *w) {
    for (uint32_t bp = 1; bp <= w->p; bp++) if (!w->dead[bp]) deliver(w, bp, &w->out[bp]);
}

static int commit_all(struct l1world *w, uint32_t origin, const struct bckm_tx *c) {
    int e = bckm_sets_apply(w->reg, origin, c, &w->plan);
    if (e != BCKM_OK) return e;
    w->last = *c;
    w->last_bp = origin;
    for (uint32_t bp = 1; bp <= w->p; bp++) {
        bckm_msgs_clear(&w->out[bp]);
        if (w->dead[bp]) continue;
        e = bckm_km_commit(w->km[bp], w->reg, origin, c, &w->plan, &w->out[bp]);
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
    int e = bckm_km_prepare_join(w->km[bp], w->reg, kek, &c);
    if (e != BCKM_OK) return e;
    if (add_device(w, c.node_id, kek) != 0) return BCKM_ERR_NOMEM;
    if (node_out) *node_out = c.node_id;
    return commit_all(w, bp, &c);
}

int l1_enrol_join(struct l1world *w, struct bckm_credstore *cs, uint32_t bp, uint32_t serial,
                  const uint8_t psk[32], uint32_t *node_out) {
    struct bckm_enrol_device ds;
    struct bckm_enrol_bp bs;
    struct bckm_tx c;
    uint8_t hello[BCKM_ENROL_HELLO_BYTES], reply[BCKM_ENROL_REPLY_BYTES], fin[BCKM_ENROL_FINISH_BYTES], cred[32];
    int e = bckm_enrol_device_hello(&ds, serial, psk, NULL, hello);
    if (e == BCKM_OK) e = bckm_credstore_get(cs, bckm_enrol_hello_serial(hello), cred);
    if (e == BCKM_OK) e = bckm_enrol_bp_reply(&bs, bp, w->bps.pk[bp], w->bps_root, cred, hello, NULL, reply);
    sodium_memzero(cred, sizeof cred);
    if (e == BCKM_OK) e = bckm_enrol_device_finish(&ds, reply, fin);
    if (e == BCKM_OK) e = bckm_enrol_bp_finish(&bs, fin);
    if (e == BCKM_OK && (ds.bp_id != bp || memcmp(ds.bps_root, w->bps_root, 32) != 0)) e = BCKM_ERR_AUTH;
    if (e == BCKM_OK) e = bckm_credstore_spend(cs, serial);
    if (e == BCKM_OK) e = bckm_km_prepare_join(w->km[bp], w->reg, bs.kek, &c);
    if (e == BCKM_OK && add_device(w, c.node_id, bs.kek) != 0) e = BCKM_ERR_NOMEM;
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
    uint32_t bp = w->devs[i].bp;     /* the BP that serves the node takes its leave */
    int e = bckm_km_prepare_leave(w->km[bp], w->reg, node, op, &c);
    if (e != BCKM_OK) return e;
    e = commit_all(w, bp, &c);
    if (e == BCKM_OK) w->devs[i].live = 0;
    return e;
}

int l1_reattach(struct l1world *w, uint32_t node, uint32_t bp) {
    uint32_t i = l1_index(w, node);
    struct bckm_tx c;
    uint8_t consent[BCKM_SIG_BYTES];
    if (i == UINT32_MAX) return BCKM_ERR_UNKNOWN;
    uint64_t ctr = bckm_sets_reattach_ctr(w->reg, node) + 1;
    int e = bckm_sets_reattach_tx(w->reg, node, ctr, &c);
    if (e == BCKM_OK) e = bckm_reattach_consent(w->devs[i].dev->code, node, bp, ctr, consent);
    if (e == BCKM_OK) e = bckm_sets_apply_reattach(w->reg, bp, &c, consent, &w->plan);
    for (uint32_t b = 1; b <= w->p && e == BCKM_OK; b++) {
        bckm_msgs_clear(&w->out[b]);
        if (w->dead[b]) continue;
        e = bckm_km_commit(w->km[b], w->reg, bp, &c, &w->plan, &w->out[b]);
        if (e == BCKM_OK && w->out[b].n != 0) e = BCKM_ERR_STATE;  /* a REATTACH sends nothing */
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
    for (uint32_t i = 0; i < w->ndevs; i++) {
        const struct bckm_device *d = w->devs[i].dev;
        if (d->node_id == 0) continue;
        size_t need = n + 4 + d->n_peers + d->n_sets;
        if (need > cap) { while (need > cap) cap *= 2; e = realloc(e, cap * sizeof *e); }
        uint8_t live = (uint8_t)w->devs[i].live;
        uint32_t u = d->node_id;
        e[n] = (struct entry){ {0}, u, u, 0, K_KEK, live }; memcpy(e[n++].key, d->kek, 32);
        e[n] = (struct entry){ {0}, u, u, 0, K_SEED, live }; memcpy(e[n++].key, d->seed, 32);
        e[n] = (struct entry){ {0}, u, d->set_id, 0, K_SETKEK, live }; memcpy(e[n++].key, d->set_kek, 32);
        for (uint32_t k = 0; k < d->n_peers; k++) {
            uint32_t v = d->keys[k].id;
            e[n] = (struct entry){ {0}, u, u < v ? u : v, u < v ? v : u, K_PAIRNODE, live };
            memcpy(e[n++].key, d->keys[k].key, 32);
        }
        for (uint32_t k = 0; k < d->n_sets; k++) {
            uint32_t t = d->keys[d->cap_peers + k].id, s = d->set_id;
            e[n] = (struct entry){ {0}, u, s < t ? s : t, s < t ? t : s, K_SETPAIR, live };
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
        if (live == 0) { i = j; continue; }          /* only departed nodes: dead key */
        if (!same || live != holders) bad++;           /* shared across kinds, or with a departed node */
        else {
            size_t want = 0;
            switch (e[i].kind) {
            case K_KEK: case K_SEED: want = 1; break;
            case K_PAIRNODE: want = 2; break;
            case K_SETKEK: want = set_size(w, e[i].a); break;
            case K_SETPAIR: want = set_size(w, e[i].a) + set_size(w, e[i].b); break;
            }
            if (holders != want) bad++;
            for (size_t k = i; k < j; k++) {
                uint32_t set, at;
                if (bckm_sets_node(w->reg, e[k].holder, &set, &at) != BCKM_OK) { bad++; continue; }
                if (e[k].kind == K_SETKEK && set != e[k].a) bad++;
                if (e[k].kind == K_SETPAIR && set != e[k].a && set != e[k].b) bad++;
                if (e[k].kind == K_PAIRNODE && e[k].holder != e[k].a && e[k].holder != e[k].b) bad++;
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
    uint32_t cap = bckm_sets_target(w->n_peak), over = 0, per_owner[BCKM_MAX_BPS + 1] = {0};
    for (uint32_t i = 0; i < m; i++) { if (tab[i].size > cap) over++; per_owner[tab[i].owner]++; }
    fails += violated(over == 0, "over == 0");
    for (uint32_t o = 0; o <= BCKM_MAX_BPS; o++) {
        if (per_owner[o] == 0) continue;
        uint32_t nb = bckm_sets_owner_nodes(w->reg, o);
        fails += violated(per_owner[o] <= nb / s + (nb % s != 0) + 1, "per_owner[o] <= nb / s + (nb % s != 0) + 1");
    }
    uint32_t stale = 0, wrong_count = 0, wrong_set = 0;
    uint32_t *live = malloc((size_t)(w->ndevs + 1) * sizeof *live), nl = 0;
    for (uint32_t i = 0; i < w->ndevs; i++) {
        if (!w->devs[i].live) continue;
        const struct bckm_device *d = w->devs[i].dev;
        uint32_t set, at;
        live[nl++] = w->devs[i].node_id;
        if (d->epoch != bckm_sets_epoch(w->reg)) stale++;
        if (bckm_sets_node(w->reg, d->node_id, &set, &at) != BCKM_OK || set != d->set_id) { wrong_set++; continue; }
        if (bckm_device_key_count(d) != set_size(w, set) + m) wrong_count++;
    }
    fails += violated(nl == n, "nl == n");
    fails += violated(stale == 0, "stale == 0");
    fails += violated(wrong_set == 0, "wrong_set == 0");
    fails += violated(wrong_count == 0, "wrong_count == 0");
    uint32_t disagree = 0;
    for (uint32_t k = 0; k < pairs && nl >= 2; k++) {
        uint32_t u = live[l1_rand(w, nl)], v = live[l1_rand(w, nl)];
        if (u == v) continue;
        struct bckm_device *du = l1_device(w, u), *dv = l1_device(w, v);
        uint8_t ku[32], kv[32];
        if (bckm_device_key_for(du, v, dv->set_id, ku) != BCKM_OK ||
            bckm_device_key_for(dv, u, du->set_id, kv) != BCKM_OK || memcmp(ku, kv, 32) != 0) disagree++;
    }
    fails += violated(disagree == 0, "disagree == 0");
    free(live);
    return fails;
}


int l1_rejoin(struct l1world *w, uint32_t node, uint32_t b, uint8_t kek_out[32], uint8_t challenge_out[16]) {
    struct bckm_device *d = l1_device(w, node);
    struct bckm_rejoin_node ns;
    struct bckm_rejoin_bp bs;
    uint8_t hello[BCKM_REJOIN_HELLO_BYTES], chal[BCKM_REJOIN_CHALLENGE_BYTES], proof[64], commit[32], pk[32];
    uint32_t got = 0;
    if (d == NULL) return BCKM_ERR_UNKNOWN;
    int e = bckm_rejoin_node_hello(&ns, node, NULL, hello);
    if (e == BCKM_OK) e = bckm_rejoin_bp_challenge(&bs, b, w->sign_sk[b], hello, NULL, chal);
    if (e == BCKM_OK) e = bckm_rejoin_node_prove(&ns, w->bps_root, &w->bps, d->code, chal, proof, &got, pk);
    if (e == BCKM_OK && (got != b || sodium_memcmp(pk, w->bps.pk[b], 32) != 0)) e = BCKM_ERR_AUTH;
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

int l1_seal_as(struct l1world *w, uint32_t bp, const struct bckm_msg_header *h, const uint8_t kek[32],
               const uint8_t *body, size_t body_len, struct bckm_msgs *out) {
    struct bckm_msg_header hh = *h;
    size_t need = BCKM_MSG_HEADER_BYTES + body_len + BCKM_MSG_TAG_BYTES, len = 0;
    hh.sender = (uint8_t)bp;
    uint8_t *b = realloc(out->buf, out->len + need);
    if (b == NULL) return BCKM_ERR_NOMEM;
    out->buf = b; out->cap = out->len + need;
    struct bckm_msg_ref *r = realloc(out->refs, (size_t)(out->n + 1) * sizeof *r);
    if (r == NULL) return BCKM_ERR_NOMEM;
    out->refs = r; out->refs_cap = out->n + 1;
    int e = bckm_msg_seal(&hh, kek, body, body_len, out->buf + out->len, need, &len);
    if (e != BCKM_OK) return e;
    uint32_t first = out->n;
    out->refs[out->n++] = (struct bckm_msg_ref){ hh.kind, hh.kek_type, hh.recipient, out->len, len };
    out->len += len;
    return bckm_rekey_batch_sign(out, first, bp, w->sign_sk[bp]);
}

int l1_move_to(struct l1world *w, uint32_t node, uint32_t b) {
    uint32_t i = l1_index(w, node);
    uint8_t kek[32], ch[16];
    struct bckm_msgs m;
    if (i == UINT32_MAX) return BCKM_ERR_UNKNOWN;
    int e = l1_rejoin(w, node, b, kek, ch);
    bckm_msgs_init(&m);
    if (e == BCKM_OK) e = bckm_km_adopt_node(w->km[b], w->reg, node, kek, ch, &m);
    if (e == BCKM_OK) e = l1_reattach(w, node, b);
    if (e == BCKM_OK) {
        w->devs[i].bp = b;
        l1_deliver(w, b, &m);
    }
    bckm_msgs_free(&m);
    sodium_memzero(kek, sizeof kek);
    return e;
}
