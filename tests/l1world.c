#include "l1world.h"

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
        if (bckm_km_new(&w->km[b], &cfg) != BCKM_OK) return -1;
        bckm_drbg_fill(&w->rng, sk[b], 32);
        bckm_msgs_init(&w->out[b]);
    }
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
    if (mem == NULL || bckm_device_init(mem, bytes, w->cap_peers, w->cap_sets, kek, &d) != BCKM_OK) return -1;
    w->devs[w->ndevs] = (struct l1dev){ node, d, 1 };
    if (bckm_map_put(&w->dev_of, node, w->ndevs) != BCKM_OK) return -1;
    w->ndevs++;
    return 0;
}

/* Delivers one BP's messages: node-KEK messages to their node, set-KEK
 * messages to every member of the set attached to that BP, except nodes that
 * get a bundle in the same batch. */
static int deliver(struct l1world *w, uint32_t bp, struct bckm_msgs *m) {
    uint8_t *copy = NULL;
    size_t copy_cap = 0;
    struct bckm_map bundled;
    bckm_map_init(&bundled);
    for (uint32_t i = 0; i < m->n; i++)
        if (m->refs[i].kind == BCKM_MSG_BUNDLE && bckm_map_put(&bundled, m->refs[i].recipient, 1) != BCKM_OK) return -1;
    for (uint32_t i = 0; i < m->n; i++) {
        const struct bckm_msg_ref *r = &m->refs[i];
        uint32_t nrec = 1, single = r->recipient;
        const uint32_t *rec = &single;
        if (r->kek_type == BCKM_KEK_SET) rec = bckm_sets_members(w->reg, r->recipient, &nrec);
        if (copy_cap < r->len) { free(copy); copy_cap = r->len; copy = malloc(copy_cap); }
        for (uint32_t k = 0; k < nrec; k++) {
            uint32_t set, attach;
            if (r->kek_type == BCKM_KEK_SET) {
                if (bckm_map_get(&bundled, rec[k], NULL)) continue;
                if (bckm_sets_node(w->reg, rec[k], &set, &attach) != BCKM_OK || attach != bp) continue;
            }
            struct bckm_device *d = l1_device(w, rec[k]);
            if (d == NULL) continue;
            memcpy(copy, m->buf + r->off, r->len);
            int e = bckm_device_apply(d, copy, r->len);
            if (e != BCKM_OK) {
                l1_delivery_errors++;
                fprintf(stderr, "delivery to %u (kind %u kek %u recip %u) failed: %s\n", rec[k], r->kind,
                        r->kek_type, r->recipient, bckm_strerror(e));
            }
        }
    }
    free(copy);
    bckm_map_free(&bundled);
    return 0;
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

void l1_deliver_all(struct l1world *w) {
    for (uint32_t bp = 1; bp <= w->p; bp++) deliver(w, bp, &w->out[bp]);
}

static int commit_all(struct l1world *w, uint32_t origin, const struct bckm_tx *c) {
    int e = bckm_sets_apply(w->reg, origin, c, &w->plan);
    if (e != BCKM_OK) return e;
    w->last = *c;
    w->last_bp = origin;
    for (uint32_t bp = 1; bp <= w->p; bp++) {
        bckm_msgs_clear(&w->out[bp]);
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

int l1_leave(struct l1world *w, uint32_t node, uint8_t op) {
    uint32_t set, attach, i;
    struct bckm_tx c;
    int e = bckm_sets_node(w->reg, node, &set, &attach);
    if (e != BCKM_OK) return e;
    e = bckm_km_prepare_leave(w->km[attach], w->reg, node, op, &c);
    if (e != BCKM_OK) return e;
    e = commit_all(w, attach, &c);
    if (e == BCKM_OK && bckm_map_get(&w->dev_of, node, &i)) w->devs[i].live = 0;
    return e;
}
