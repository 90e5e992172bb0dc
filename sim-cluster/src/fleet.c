#include "sim/fleet.h"

#include "bckm/assert.h"
#include "bckm/rejoin.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t bckm_fleet_rand(struct bckm_drbg *rng, uint32_t bound) {
    uint8_t b[4];
    bckm_drbg_fill(rng, b, sizeof b);
    return bound ? bckm_get_u32(b) % bound : 0;
}

int bckm_fleet_init(struct bckm_fleet *f, const struct bckm_fleet_config *cfg) {
    if (f == NULL || cfg == NULL || cfg->rng == NULL || cfg->sign_seed == NULL || cfg->bps == 0 ||
        cfg->bps > BCKM_MAX_BPS || cfg->max_nodes == 0)
        return BCKM_ERR_ARG;
    if (cfg->policy != BCKM_POLICY_OWNED && cfg->policy != BCKM_POLICY_GLOBAL) return BCKM_ERR_ARG;
    memset(f, 0, sizeof *f);
    f->p = cfg->bps;
    f->policy = cfg->policy;
    bckm_map_init(&f->dev_of);
    bckm_device_caps(cfg->max_nodes, cfg->bps, &f->cap_peers, &f->cap_sets);
    uint8_t cluster[BCKM_KEY_BYTES], x_sk[BCKM_MAX_BPS + 1][32], x_pk[BCKM_MAX_BPS + 1][32];
    bckm_drbg_fill(cfg->rng, cluster, sizeof cluster);
    int e = BCKM_OK;
    for (uint32_t b = 1; b <= f->p && e == BCKM_OK; b++) {
        struct bckm_km_config kc;
        uint8_t sseed[32], dseed[BCKM_KEY_BYTES];
        memset(&kc, 0, sizeof kc);
        cfg->sign_seed(cfg->sign_ctx, b, cfg->rng, sseed);
        crypto_sign_seed_keypair(f->bps.pk[b], f->sign_sk[b], sseed);
        bckm_wipe(sseed, sizeof sseed);
        f->bps.has[b] = 1;
        kc.bp_id = b;
        kc.policy = f->policy;
        /* Global: one domain secret for the cluster, every BP derives the
         * same set keys; owned: each BP its own. */
        if (f->policy == BCKM_POLICY_GLOBAL)
            memcpy(kc.domain, cluster, sizeof cluster);
        else
            bckm_drbg_fill(cfg->rng, kc.domain, sizeof kc.domain);
        bckm_drbg_fill(cfg->rng, dseed, sizeof dseed);
        kc.drbg_seed = dseed;
        memcpy(kc.sign_sk, f->sign_sk[b], sizeof kc.sign_sk);
        e = bckm_km_new(&f->km[b], &kc);
        bckm_wipe(&kc, sizeof kc);
        bckm_wipe(dseed, sizeof dseed);
        /* The static X25519 key registered at the cluster's set-up. */
        bckm_drbg_fill(cfg->rng, x_sk[b], 32);
        crypto_scalarmult_base(x_pk[b], x_sk[b]);
    }
    for (uint32_t a = 1; a <= f->p && e == BCKM_OK; a++)
        for (uint32_t b = 1; b <= f->p && e == BCKM_OK; b++) {
            uint8_t sec[BCKM_KEY_BYTES];
            if (a == b) continue;
            e = bckm_km_bp_secret(x_sk[a], a, x_pk[b], b, sec);
            if (e == BCKM_OK) e = bckm_km_set_peer_secret(f->km[a], b, sec);
            bckm_wipe(sec, sizeof sec);
        }
    bckm_wipe(x_sk, sizeof x_sk);
    bckm_wipe(cluster, sizeof cluster);
    /* What devices trust: the root of the BP table (spec 8). */
    bckm_bps_root(&f->bps, f->bps_root);
    if (e != BCKM_OK) bckm_fleet_free(f);
    return e;
}

void bckm_fleet_free(struct bckm_fleet *f) {
    if (f == NULL) return;
    for (uint32_t b = 0; b <= BCKM_MAX_BPS; b++) bckm_km_free(f->km[b]);
    for (uint32_t i = 0; i < f->ndevs; i++) {
        bckm_device_wipe(f->devs[i].dev);
        free(f->devs[i].dev);
    }
    free(f->devs);
    bckm_map_free(&f->dev_of);
    bckm_wipe(f, sizeof *f);
}

int bckm_fleet_add(struct bckm_fleet *f, uint32_t node, const uint8_t kek[BCKM_KEY_BYTES]) {
    if (f == NULL || kek == NULL || node == 0 || bckm_map_get(&f->dev_of, node, NULL))
        return BCKM_ERR_ARG;
    uint32_t bp = bckm_id_bp(node);
    if (bp == 0 || bp > f->p) return BCKM_ERR_ARG;
    if (f->ndevs == f->cap_devs) {
        uint32_t ncap = f->cap_devs ? f->cap_devs * 2 : 64;
        struct bckm_fleet_dev *n = realloc(f->devs, (size_t)ncap * sizeof *n);
        if (n == NULL) return BCKM_ERR_NOMEM;
        f->devs = n;
        f->cap_devs = ncap;
    }
    size_t bytes = BCKM_DEVICE_BYTES(f->cap_peers, f->cap_sets);
    void *mem = malloc(bytes);
    struct bckm_device *d = NULL;
    if (mem == NULL) return BCKM_ERR_NOMEM;
    int e = bckm_device_init(mem, bytes, f->cap_peers, f->cap_sets, kek, bp, f->bps.pk[bp],
                             f->bps_root, &d);
    if (e == BCKM_OK) e = bckm_map_put(&f->dev_of, node, f->ndevs);
    if (e != BCKM_OK) {
        bckm_wipe(mem, bytes);
        free(mem);
        return e;
    }
    BCKM_ASSERT(f->ndevs < f->cap_devs, "room was made above");
    f->devs[f->ndevs++] = (struct bckm_fleet_dev){ node, d, 1, 0, bp };
    return BCKM_OK;
}

uint32_t bckm_fleet_index(const struct bckm_fleet *f, uint32_t node) {
    uint32_t i;
    if (node == 0 || !bckm_map_get(&f->dev_of, node, &i)) return UINT32_MAX;
    BCKM_ASSERT(i < f->ndevs && f->devs[i].node_id == node, "dev_of indexes devs");
    return i;
}

struct bckm_fleet_dev *bckm_fleet_dev(const struct bckm_fleet *f, uint32_t node) {
    uint32_t i = bckm_fleet_index(f, node);
    return i == UINT32_MAX ? NULL : &f->devs[i];
}

struct bckm_device *bckm_fleet_device(const struct bckm_fleet *f, uint32_t node) {
    struct bckm_fleet_dev *d = bckm_fleet_dev(f, node);
    return d == NULL ? NULL : d->dev;
}

int bckm_fleet_apply_sets(void *ctx, uint32_t bp, const struct bckm_tx *tx,
                          struct bckm_plan *plan) {
    return bckm_sets_apply((struct bckm_sets *)ctx, bp, tx, plan);
}

int bckm_fleet_genesis_node(
    struct bckm_fleet *f, uint32_t bp, const struct bckm_sets *reg, struct bckm_drbg *rng,
    int (*apply)(void *ctx, uint32_t bp, const struct bckm_tx *tx, struct bckm_plan *plan),
    void *ctx, struct bckm_plan *plan, struct bckm_tx *tx_out, uint8_t kek_out[BCKM_KEY_BYTES]) {
    if (f == NULL || reg == NULL || rng == NULL || apply == NULL || plan == NULL ||
        tx_out == NULL || kek_out == NULL || bp == 0 || bp > f->p)
        return BCKM_ERR_ARG;
    bckm_drbg_fill(rng, kek_out, BCKM_KEY_BYTES);
    int e = bckm_km_prepare_join(f->km[bp], reg, kek_out, tx_out);
    if (e == BCKM_OK) e = apply(ctx, bp, tx_out, plan);
    if (e == BCKM_OK) e = bckm_km_adopt(f->km[bp], tx_out->node_id);
    return e;
}

int bckm_fleet_provision(struct bckm_fleet *f, const struct bckm_sets *reg, int per_device) {
    if (f == NULL || reg == NULL) return BCKM_ERR_ARG;
    struct bckm_msgs m;
    bckm_msgs_init(&m);
    int e = BCKM_OK;
    for (uint32_t b = 1; b <= f->p && e == BCKM_OK; b++) {
        BCKM_ASSERT(f->km[b] != NULL, "bckm_fleet_init made every BP's key manager");
        bckm_msgs_clear(&m);
        if (per_device) {
            e = bckm_km_provision(f->km[b], reg, NULL);
            for (uint32_t i = 0; i < f->ndevs && e == BCKM_OK; i++)
                if (f->devs[i].bp == b)
                    e = bckm_km_bundle_for(f->km[b], reg, f->devs[i].node_id, &m);
        } else {
            e = bckm_km_provision(f->km[b], reg, &m);
        }
        if (e == BCKM_OK) e = bckm_fleet_deliver(f, b, reg, &m, NULL, NULL);
        if (per_device) bckm_km_forget_codes(f->km[b]);
    }
    bckm_msgs_free(&m);
    return e;
}

int bckm_fleet_apply(struct bckm_fleet *f, struct bckm_device *d, const uint8_t *msg, size_t len) {
    if (f == NULL || d == NULL || msg == NULL || len == 0) return BCKM_ERR_ARG;
    uint8_t *copy = malloc(len);
    if (copy == NULL) return BCKM_ERR_NOMEM;
    memcpy(copy, msg, len); /* the device opens it in place */
    int e = bckm_device_apply(d, copy, len);
    bckm_wipe(copy, len);
    free(copy);
    return e;
}

struct route {
    struct bckm_fleet *f;
    uint32_t bp;
    bckm_fleet_filter_fn filter;
    void *ctx;
    uint8_t *copy; /* one buffer for the whole batch */
    size_t cap;
};

static int route_one(void *ctx, uint32_t node, const uint8_t *msg, size_t len) {
    struct route *r = ctx;
    struct bckm_fleet *f = r->f;
    struct bckm_fleet_dev *d = bckm_fleet_dev(f, node);
    if (d != NULL && d->bp != r->bp) d = NULL; /* another BP serves it */
    BCKM_ASSERT(d == NULL || (d->dev != NULL && d->node_id == node),
                "an entry holds its node's store");
    if (r->filter != NULL && !r->filter(r->ctx, node, d, msg, len)) return BCKM_OK;
    if (d == NULL || d->asleep) return BCKM_OK;
    if (r->cap < len) {
        uint8_t *c = realloc(r->copy, len);
        if (c == NULL) {
            f->errors++;
            return BCKM_OK;
        }
        r->copy = c;
        r->cap = len;
    }
    memcpy(r->copy, msg, len); /* the device opens it in place */
    int e = bckm_device_apply(d->dev, r->copy, len);
    if (e != BCKM_OK) {
        f->errors++;
        if (f->report)
            fprintf(stderr, "delivery to %u (%zu bytes) failed: %s\n", node, len, bckm_strerror(e));
    }
    return BCKM_OK;
}

int bckm_fleet_deliver(struct bckm_fleet *f, uint32_t bp, const struct bckm_sets *reg,
                       const struct bckm_msgs *m, bckm_fleet_filter_fn filter, void *ctx) {
    if (f == NULL || reg == NULL || m == NULL || bp == 0 || bp > f->p) return BCKM_ERR_ARG;
    for (uint32_t i = 0; i < m->n; i++) {
        f->messages++;
        f->message_bytes += m->refs[i].len;
    }
    struct route r = { f, bp, filter, ctx, NULL, 0 };
    int e = bckm_msgs_route(m, reg, route_one, &r);
    if (r.copy != NULL) bckm_wipe(r.copy, r.cap);
    free(r.copy);
    if (e != BCKM_OK) f->errors++;
    return e;
}

int bckm_fleet_check(const struct bckm_fleet *f, const struct bckm_sets *reg, struct bckm_drbg *rng,
                     uint32_t pairs, const uint8_t *bps, struct bckm_fleet_check *out) {
    if (f == NULL || reg == NULL || rng == NULL || out == NULL) return BCKM_ERR_ARG;
    memset(out, 0, sizeof *out);
    uint32_t m = bckm_sets_count(reg), nl = 0;
    uint64_t epoch = bckm_sets_epoch(reg);
    uint32_t *live = malloc((size_t)(f->ndevs + 1) * sizeof *live);
    if (live == NULL) return BCKM_ERR_NOMEM;
    for (uint32_t i = 0; i < f->ndevs; i++) {
        const struct bckm_device *d = f->devs[i].dev;
        uint32_t set, at, count;
        /* A departed node's store is wiped (node ID 0) or refers to a node
         * the registry no longer lists: neither is checked. */
        if (d->node_id == 0 || bckm_sets_node(reg, d->node_id, &set, &at) != BCKM_OK) continue;
        if (bps != NULL && !bps[bckm_id_bp(d->node_id)]) continue;
        live[nl++] = d->node_id;
        int bad = 0;
        if (d->epoch != epoch) {
            out->stale++;
            bad = 1;
        }
        if (d->set_id != set) {
            out->wrong_set++;
            bad = 1;
        } else {
            (void)bckm_sets_members(reg, set, &count);
            if (bckm_device_key_count(d) != count + m) {
                out->wrong_count++;
                bad = 1;
            }
        }
        out->bad_devices += (uint32_t)bad;
    }
    BCKM_ASSERT(nl <= f->ndevs, "one entry per device at most");
    out->members = nl;
    for (uint32_t k = 0; k < pairs && nl >= 2; k++) {
        uint32_t u = live[bckm_fleet_rand(rng, nl)], v = live[bckm_fleet_rand(rng, nl)];
        if (u == v) continue;
        const struct bckm_device *du = bckm_fleet_device(f, u), *dv = bckm_fleet_device(f, v);
        uint8_t ku[BCKM_KEY_BYTES], kv[BCKM_KEY_BYTES];
        BCKM_ASSERT(du != NULL && dv != NULL, "live[] lists simulated devices only");
        if (bckm_device_key_for(du, v, dv->set_id, ku) != BCKM_OK ||
            bckm_device_key_for(dv, u, du->set_id, kv) != BCKM_OK ||
            !bckm_ct_equal(ku, kv, sizeof ku))
            out->disagree++;
        bckm_wipe(ku, sizeof ku);
        bckm_wipe(kv, sizeof kv);
    }
    free(live);
    return BCKM_OK;
}

void bckm_fleet_keys_digest(const struct bckm_fleet *f, uint8_t out[32]) {
    crypto_generichash_state h;
    crypto_generichash_init(&h, (const uint8_t *)"bckm-sim-keys", 13, 32);
    for (uint32_t i = 0; i < f->ndevs; i++) {
        const struct bckm_device *d = f->devs[i].dev;
        uint8_t head[28];
        bckm_put_u32(head, d->node_id);
        bckm_put_u32(head + 4, d->set_id);
        bckm_put_u64(head + 8, d->epoch);
        bckm_put_u32(head + 16, d->n_peers);
        bckm_put_u32(head + 20, d->n_sets);
        bckm_put_u32(head + 24, i);
        crypto_generichash_update(&h, head, sizeof head);
        for (uint32_t k = 0; k < d->n_peers + d->n_sets; k++) {
            const struct bckm_device_key *e =
                &d->keys[k < d->n_peers ? k : d->cap_peers + (k - d->n_peers)];
            uint8_t id[4];
            bckm_put_u32(id, e->id);
            crypto_generichash_update(&h, id, 4);
            crypto_generichash_update(&h, e->key, sizeof e->key);
        }
    }
    crypto_generichash_final(&h, out, 32);
}
