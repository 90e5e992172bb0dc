#include "sim/resilience.h"

#include "sim/fleet.h"

#include "bckm/assert.h"

#include "bckm/kdf.h"
#include "bckm/map.h"
#include "bckm/msg.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a set of 32-byte key values ---------------------------------------------- */

/* The key values in the order learnt, indexed by core's hash map on their
 * first 8 bytes (every key here is a BLAKE2b output, so those bytes are
 * already uniform). Keys that share them are chained through next[], and
 * a lookup compares all 32 bytes: a colliding prefix never counts as a
 * known key. */
struct keyset {
    uint8_t (*keys)[BCKM_KEY_BYTES];
    uint32_t *next; /* 1 + index of the next key with this prefix, 0: none */
    uint32_t len, cap;
    struct bckm_map first; /* prefix -> index of the latest key with it */
};

static uint64_t key_prefix(const uint8_t *k) {
    uint64_t h = bckm_get_u64(k);
    return h ? h : 1; /* the map's keys are nonzero */
}

static void keyset_free(struct keyset *s) {
    if (s->keys != NULL) bckm_wipe(s->keys, (size_t)s->cap * BCKM_KEY_BYTES);
    free(s->keys);
    free(s->next);
    bckm_map_free(&s->first);
    memset(s, 0, sizeof *s);
}

static int keyset_has(const struct keyset *s, const uint8_t *k) {
    uint32_t i;
    if (!bckm_map_get(&s->first, key_prefix(k), &i)) return 0;
    for (;;) {
        BCKM_ASSERT(i < s->len, "the map and the chains index learnt keys");
        if (bckm_ct_equal(s->keys[i], k, BCKM_KEY_BYTES)) return 1;
        if (s->next[i] == 0) return 0;
        i = s->next[i] - 1;
    }
}

static int keyset_add(struct keyset *s, const uint8_t *k) {
    if (keyset_has(s, k)) return BCKM_OK;
    if (s->len == s->cap) {
        uint32_t ncap = s->cap ? s->cap * 2 : 1024;
        if (ncap < s->cap) return BCKM_ERR_NOMEM;
        uint8_t(*nk)[BCKM_KEY_BYTES] = malloc((size_t)ncap * BCKM_KEY_BYTES);
        uint32_t *nn = realloc(s->next, (size_t)ncap * sizeof *nn);
        if (nn != NULL) s->next = nn;
        if (nk == NULL || nn == NULL) {
            free(nk);
            return BCKM_ERR_NOMEM;
        }
        /* Moved by hand, not realloc'd: the old copy is wiped. */
        if (s->len > 0) memcpy(nk, s->keys, (size_t)s->len * BCKM_KEY_BYTES);
        if (s->keys != NULL) bckm_wipe(s->keys, (size_t)s->cap * BCKM_KEY_BYTES);
        free(s->keys);
        s->keys = nk;
        s->cap = ncap;
    }
    uint64_t h = key_prefix(k);
    uint32_t prev;
    s->next[s->len] = bckm_map_get(&s->first, h, &prev) ? prev + 1 : 0;
    int e = bckm_map_put(&s->first, h, s->len);
    if (e != BCKM_OK) return e;
    memcpy(s->keys[s->len], k, BCKM_KEY_BYTES);
    s->len++;
    return BCKM_OK;
}

/* ---- the world ------------------------------------------------------------------ */

struct bckm_res_world {
    struct bckm_res_params prm;
    struct bckm_sets *reg;
    /* The key managers and the device stores (every node's when
     * all_devices, else the captured nodes' only). */
    struct bckm_fleet fleet;
    int have_fleet;
    struct bckm_drbg rng;
    uint32_t *ids;                   /* genesis index -> node ID */
    uint8_t (*keks)[BCKM_KEY_BYTES]; /* genesis index -> node KEK */
    struct bckm_map index;           /* node ID -> genesis index */
    int provisioned;
    /* adversary */
    struct keyset known;
    struct bckm_map intra_sets; /* sets where some K_uv is held */
    struct bckm_map cap_nodes;  /* captured node IDs */
    uint8_t cap_bps[BCKM_MAX_BPS + 1];
    uint64_t node_keks_held;
};

static uint32_t rng_below(struct bckm_drbg *d, uint32_t bound) {
    uint8_t b[8];
    bckm_drbg_fill(d, b, sizeof b);
    /* 64 random bits reduced mod a 32-bit bound: bias below 2^-32. */
    return bound ? (uint32_t)(bckm_get_u64(b) % bound) : 0;
}

/* The key manager that generated a set's keys: its owner (owned policy) or
 * any BP (global policy, where every BP derives the same keys). */
static const struct bckm_km *truth_km(const struct bckm_res_world *w, uint32_t set) {
    if (w->prm.policy == BCKM_POLICY_GLOBAL) return w->fleet.km[1];
    uint32_t b = bckm_id_bp(set);
    return (b >= 1 && b <= w->prm.bps) ? w->fleet.km[b] : NULL;
}

/* The store of genesis node i, made when first needed. */
static int new_device(struct bckm_res_world *w, uint32_t i) {
    if (bckm_fleet_device(&w->fleet, w->ids[i]) != NULL) return BCKM_OK;
    return bckm_fleet_add(&w->fleet, w->ids[i], w->keks[i]);
}

/* BP signing keys come from the seed, not from rng (the analysis' random
 * sequence does not depend on them). */
static void sign_seed(void *ctx, uint32_t bp, struct bckm_drbg *rng, uint8_t seed[32]) {
    const uint8_t *s = ctx;
    uint8_t lab[12] = { 'r', 'e', 's', 's', 'i', 'g', 'n' };
    (void)rng;
    bckm_put_u32(lab + 8, bp);
    crypto_generichash(seed, 32, lab, sizeof lab, s, BCKM_KEY_BYTES);
}

int bckm_res_build(struct bckm_res_world **out, const struct bckm_res_params *p) {
    if (out == NULL || p == NULL) return BCKM_ERR_ARG;
    *out = NULL;
    if (p->nodes < 2 || p->nodes > BCKM_RES_MAX_NODES || p->bps < 1 || p->bps > BCKM_MAX_BPS)
        return BCKM_ERR_ARG;
    if (p->policy != BCKM_POLICY_OWNED && p->policy != BCKM_POLICY_GLOBAL) return BCKM_ERR_ARG;
    if (bckm_init() != BCKM_OK) return BCKM_ERR_CRYPTO;
    struct bckm_res_world *w = calloc(1, sizeof *w);
    if (w == NULL) return BCKM_ERR_NOMEM;
    w->prm = *p;
    bckm_map_init(&w->index);
    bckm_map_init(&w->intra_sets);
    bckm_map_init(&w->cap_nodes);
    *out = w;
    uint8_t s[BCKM_KEY_BYTES] = { 0 };
    memcpy(s, "bckm-resilience", 15);
    bckm_put_u64(s + 24, p->seed);
    bckm_drbg_init(&w->rng, s);
    int e = bckm_sets_new(&w->reg, p->policy);
    if (e != BCKM_OK) return e;
    w->ids = calloc(p->nodes, sizeof *w->ids);
    w->keks = malloc((size_t)p->nodes * BCKM_KEY_BYTES);
    if (w->ids == NULL || w->keks == NULL) return BCKM_ERR_NOMEM;

    /* Key managers: the same wiring as a cluster's set-up (sim/fleet.h). */
    struct bckm_fleet_config fc = { p->bps, p->policy, p->nodes, &w->rng, sign_seed, s };
    e = bckm_fleet_init(&w->fleet, &fc);
    if (e != BCKM_OK) return e;
    w->have_fleet = 1;

    /* Genesis: joins spread round-robin over the BPs (n/p each, as the
     * paper's Prop. 3 assumes), applied to the registry without messages. */
    struct bckm_plan plan;
    bckm_plan_init(&plan);
    for (uint32_t i = 0; i < p->nodes && e == BCKM_OK; i++) {
        uint32_t bp = 1 + (i % p->bps);
        struct bckm_tx c;
        e = bckm_fleet_genesis_node(&w->fleet, bp, w->reg, &w->rng, bckm_fleet_apply_sets, w->reg,
                                    &plan, &c, w->keks[i]);
        if (e == BCKM_OK) e = bckm_map_put(&w->index, c.node_id, i);
        w->ids[i] = c.node_id;
    }
    bckm_plan_free(&plan);
    if (e != BCKM_OK) return e;
    if (p->all_devices)
        for (uint32_t i = 0; i < p->nodes && e == BCKM_OK; i++) e = new_device(w, i);
    return e;
}

void bckm_res_free(struct bckm_res_world *w) {
    if (w == NULL) return;
    if (w->have_fleet) bckm_fleet_free(&w->fleet);
    bckm_sets_free(w->reg);
    if (w->keks != NULL) bckm_wipe(w->keks, (size_t)w->prm.nodes * BCKM_KEY_BYTES);
    free(w->keks);
    free(w->ids);
    bckm_map_free(&w->index);
    bckm_map_free(&w->intra_sets);
    bckm_map_free(&w->cap_nodes);
    keyset_free(&w->known);
    free(w);
}

/* Provisions every BP's devices, one BP at a time so that only one BP's
 * bundles are in memory; each bundle reaches its node's store if it has
 * one. */
static int provision(struct bckm_res_world *w) {
    if (w->provisioned) return BCKM_OK;
    int e = bckm_fleet_provision(&w->fleet, w->reg, 0);
    /* A genesis store that refuses its own BP's bundle is a broken world. */
    if (e == BCKM_OK && w->fleet.errors != 0) e = BCKM_ERR_STATE;
    if (e == BCKM_OK) w->provisioned = 1;
    return e;
}

/* ---- capture ------------------------------------------------------------------------ */

static int capture_device(struct bckm_res_world *w, const struct bckm_device *d) {
    int e = keyset_add(&w->known, d->kek);
    if (e == BCKM_OK) e = keyset_add(&w->known, d->set_kek);
    if (e == BCKM_OK) e = keyset_add(&w->known, d->seed);
    for (uint32_t i = 0; i < d->n_peers && e == BCKM_OK; i++)
        e = keyset_add(&w->known, d->keys[i].key);
    for (uint32_t i = 0; i < d->n_sets && e == BCKM_OK; i++)
        e = keyset_add(&w->known, d->keys[d->cap_peers + i].key);
    if (e == BCKM_OK && d->n_peers > 0) e = bckm_map_put(&w->intra_sets, d->set_id, 1);
    return e;
}

/* Everything a BP's key manager holds (set KEKs, pairwise set keys, node
 * KEKs) or derives on demand (pairwise node keys of the sets it knows). */
static int capture_bp(struct bckm_res_world *w, uint32_t b) {
    const struct bckm_km *km = w->fleet.km[b];
    const struct bckm_set_info *tab = bckm_sets_table(w->reg);
    uint32_t m = bckm_sets_count(w->reg);
    uint8_t k[BCKM_KEY_BYTES];
    int e = BCKM_OK;
    for (uint32_t i = 0; i < m && e == BCKM_OK; i++) {
        uint32_t s = tab[i].id, count;
        if (bckm_km_set_key(km, s, k) == BCKM_OK) e = keyset_add(&w->known, k);
        for (uint32_t j = i + 1; j < m && e == BCKM_OK; j++)
            if (bckm_km_pair_key(km, s, tab[j].id, k) == BCKM_OK) e = keyset_add(&w->known, k);
        if (e != BCKM_OK || !bckm_km_knows_set(km, s)) continue;
        const uint32_t *mem = bckm_sets_members(w->reg, s, &count);
        for (uint32_t x = 0; x < count && e == BCKM_OK; x++) {
            if (bckm_km_has_node(km, mem[x])) w->node_keks_held++;
            for (uint32_t y = x + 1; y < count && e == BCKM_OK; y++)
                if (bckm_km_node_pair_key(km, w->reg, mem[x], mem[y], k) == BCKM_OK)
                    e = keyset_add(&w->known, k);
        }
        if (e == BCKM_OK && count > 1) e = bckm_map_put(&w->intra_sets, s, 1);
    }
    /* Node KEKs of members of sets this BP does not know (possible under
     * the global policy's cross-BP placement): counted too. */
    if (e == BCKM_OK)
        for (uint32_t i = 0; i < m; i++) {
            uint32_t count;
            if (bckm_km_knows_set(km, tab[i].id)) continue;
            const uint32_t *mem = bckm_sets_members(w->reg, tab[i].id, &count);
            for (uint32_t x = 0; x < count; x++)
                if (bckm_km_has_node(km, mem[x])) w->node_keks_held++;
        }
    bckm_wipe(k, sizeof k);
    return e;
}

/* The capture order: for nodes, a seeded shuffle (random) or every member
 * but the oldest of each set, then the oldest ones (cover); for BPs, a
 * seeded shuffle or 1, 2, ... */
static int pick_order(struct bckm_res_world *w, uint32_t *order, uint32_t total) {
    if (w->prm.capture == BCKM_RES_CAPTURE_BP) {
        for (uint32_t i = 0; i < total; i++) order[i] = i + 1;
    } else if (w->prm.pick == BCKM_RES_PICK_COVER) {
        const struct bckm_set_info *tab = bckm_sets_table(w->reg);
        uint32_t m = bckm_sets_count(w->reg), k = 0, count;
        for (uint32_t i = 0; i < m; i++) {
            const uint32_t *mem = bckm_sets_members(w->reg, tab[i].id, &count);
            for (uint32_t x = 1; x < count; x++) order[k++] = mem[x];
        }
        /* Then the oldest members, singleton sets first: at most one set may
         * keep all of its members free, so every singleton but one must go. */
        for (int pass = 0; pass < 2; pass++)
            for (uint32_t i = 0; i < m; i++) {
                const uint32_t *mem = bckm_sets_members(w->reg, tab[i].id, &count);
                if (count > 0 && (count == 1) == (pass == 0)) order[k++] = mem[0];
            }
        if (k != total) return BCKM_ERR_STATE;
        return BCKM_OK;
    } else {
        for (uint32_t i = 0; i < total; i++) order[i] = w->ids[i];
    }
    if (w->prm.pick == BCKM_RES_PICK_RANDOM)
        for (uint32_t i = 0; i + 1 < total; i++) {
            uint32_t j = i + rng_below(&w->rng, total - i);
            uint32_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    return BCKM_OK;
}

/* ---- counting ------------------------------------------------------------------------- */

static int count_links(struct bckm_res_world *w, struct bckm_res_result *r) {
    const struct bckm_set_info *tab = bckm_sets_table(w->reg);
    uint32_t m = bckm_sets_count(w->reg);
    uint64_t n = bckm_sets_nodes(w->reg);
    uint8_t k[BCKM_KEY_BYTES];
    int e = BCKM_OK;
    r->links_total = n * (n - 1) / 2;
    r->intra_total = r->intra_deciphered = r->cross_deciphered = 0;
    for (uint32_t i = 0; i < m && e == BCKM_OK; i++) {
        uint64_t si = tab[i].size;
        r->intra_total += si * (si - 1) / 2;
        const struct bckm_km *tk = truth_km(w, tab[i].id);
        if (tk == NULL) return BCKM_ERR_STATE;
        /* One pairwise set key protects all |S| * |T| links of (S, T). */
        for (uint32_t j = i + 1; j < m && e == BCKM_OK; j++) {
            e = bckm_km_pair_key(tk, tab[i].id, tab[j].id, k);
            if (e == BCKM_OK && keyset_has(&w->known, k)) r->cross_deciphered += si * tab[j].size;
        }
        if (e != BCKM_OK || !bckm_map_get(&w->intra_sets, tab[i].id, NULL)) continue;
        uint32_t count;
        const uint32_t *mem = bckm_sets_members(w->reg, tab[i].id, &count);
        for (uint32_t x = 0; x < count && e == BCKM_OK; x++)
            for (uint32_t y = x + 1; y < count && e == BCKM_OK; y++) {
                e = bckm_km_node_pair_key(tk, w->reg, mem[x], mem[y], k);
                if (e == BCKM_OK && keyset_has(&w->known, k)) r->intra_deciphered++;
            }
    }
    bckm_wipe(k, sizeof k);
    r->cross_total = r->links_total - r->intra_total;
    r->links_deciphered = r->intra_deciphered + r->cross_deciphered;
    r->rate = r->links_total ? (double)r->links_deciphered / (double)r->links_total : 0.0;
    return e;
}

double bckm_res_prop1(uint32_t n) {
    double dn = (double)n;
    return 2.0 * (dn + 1.0) / ((sqrt(dn) + 1.0) * dn);
}

double bckm_res_prop3(uint32_t n, uint32_t p) {
    double dn = (double)n, dp = (double)p;
    return (2.0 * dn * dp - dn - dp) / ((dn - 1.0) * dp * dp);
}

static void structure(struct bckm_res_world *w, struct bckm_res_result *r) {
    const struct bckm_set_info *tab = bckm_sets_table(w->reg);
    uint32_t m = bckm_sets_count(w->reg), n = bckm_sets_nodes(w->reg), ones = 0;
    r->sets = m;
    r->set_min = UINT32_MAX;
    r->set_max = 0;
    for (uint32_t i = 0; i < m; i++) {
        if (tab[i].size < r->set_min) r->set_min = tab[i].size;
        if (tab[i].size > r->set_max) r->set_max = tab[i].size;
        if (tab[i].size == 1) ones++;
    }
    /* Nodes: every intra-set pair needs one of its two ends, so each set
     * keeps at most one member uncaptured; every pair of sets needs a
     * captured member on one side, so at most one set keeps all of its
     * members (only possible for a singleton set). */
    r->min_nodes_all = n - m + (ones > 1 ? ones - 1 : 0);
    /* BPs: under `owned` the pairwise node keys of a set and the pairwise
     * set keys between two sets of one BP are known to that BP only; under
     * `global` every BP derives every key. */
    uint32_t many = 0, single = 0;
    r->nodes_per_bp_min = UINT32_MAX;
    r->nodes_per_bp_max = 0;
    for (uint32_t b = 1; b <= w->prm.bps; b++) {
        uint32_t a = 0;
        for (uint32_t i = 0; i < n; i++) a += bckm_id_bp(w->ids[i]) == b;
        if (a < r->nodes_per_bp_min) r->nodes_per_bp_min = a;
        if (a > r->nodes_per_bp_max) r->nodes_per_bp_max = a;
        if (a >= 2)
            many++;
        else if (a == 1)
            single++;
    }
    r->min_bps_all = w->prm.policy == BCKM_POLICY_GLOBAL ? 1 : many + (single > 1 ? single - 1 : 0);
}

int bckm_res_run(struct bckm_res_world *w, struct bckm_res_result *r) {
    if (w == NULL || r == NULL) return BCKM_ERR_ARG;
    memset(r, 0, sizeof *r);
    const struct bckm_res_params *p = &w->prm;
    uint32_t total = p->capture == BCKM_RES_CAPTURE_BP ? p->bps : p->nodes;
    if (p->capture != BCKM_RES_CAPTURE_NODE && p->capture != BCKM_RES_CAPTURE_BP)
        return BCKM_ERR_ARG;
    if (p->pick != BCKM_RES_PICK_RANDOM && p->pick != BCKM_RES_PICK_COVER) return BCKM_ERR_ARG;
    if (p->count < 1 || p->count > total) return BCKM_ERR_ARG;
    /* Zeroed: no path reads a slot pick_order did not write, but the
     * analyzers cannot see that p->count <= total bounds every read. */
    uint32_t *order = calloc(total, sizeof *order);
    if (order == NULL) return BCKM_ERR_NOMEM;
    int e = pick_order(w, order, total);
    /* The captured nodes need their real stores before provisioning. */
    if (p->capture == BCKM_RES_CAPTURE_NODE)
        for (uint32_t i = 0; i < p->count && e == BCKM_OK; i++) {
            uint32_t gi;
            if (!bckm_map_get(&w->index, order[i], &gi))
                e = BCKM_ERR_STATE;
            else
                e = new_device(w, gi);
        }
    if (e == BCKM_OK) e = provision(w);
    r->dev_keys_min = UINT32_MAX;
    double sum = 0;
    for (uint32_t i = 0; i < p->count && e == BCKM_OK; i++) {
        if (p->capture == BCKM_RES_CAPTURE_BP) {
            w->cap_bps[order[i]] = 1;
            e = capture_bp(w, order[i]);
            continue;
        }
        const struct bckm_device *d = bckm_fleet_device(&w->fleet, order[i]);
        if (d == NULL || d->node_id != order[i]) {
            e = BCKM_ERR_STATE;
            break;
        }
        uint32_t kc = bckm_device_key_count(d);
        if (kc < r->dev_keys_min) r->dev_keys_min = kc;
        if (kc > r->dev_keys_max) r->dev_keys_max = kc;
        sum += kc;
        e = bckm_map_put(&w->cap_nodes, order[i], 1);
        if (e == BCKM_OK) e = capture_device(w, d);
    }
    free(order);
    if (e != BCKM_OK) return e;
    if (p->capture == BCKM_RES_CAPTURE_BP) r->dev_keys_min = 0;
    r->dev_keys_mean = p->capture == BCKM_RES_CAPTURE_NODE ? sum / p->count : 0.0;
    r->captured = p->count;
    r->keys_held = w->known.len;
    r->node_keks_held = w->node_keks_held;
    structure(w, r);
    e = count_links(w, r);
    if (e != BCKM_OK) return e;
    double n = p->nodes;
    if (p->capture == BCKM_RES_CAPTURE_NODE) {
        r->rate_paper_member = bckm_res_prop1(p->nodes);
        /* The paper states one node; for K nodes its Lemma 1 summed over the
         * captures, capped at every link (an upper bound: sets overlap). */
        r->rate_paper = fmin(1.0, p->count * r->rate_paper_member);
    } else {
        r->rate_paper_member = bckm_res_prop3(p->nodes, p->bps);
        /* Prop. 3's proof for K BPs: every link with an end among the K n/p
         * nodes of the captured BPs; equals Prop. 3 at K = 1. */
        double rest = n * (1.0 - (double)p->count / p->bps);
        r->rate_paper =
            p->count == 1 ? r->rate_paper_member : 1.0 - rest * (rest - 1.0) / (n * (n - 1.0));
    }
    return BCKM_OK;
}

const struct bckm_sets *bckm_res_registry(const struct bckm_res_world *w) { return w->reg; }

const struct bckm_device *bckm_res_device(const struct bckm_res_world *w, uint32_t node_id) {
    return bckm_fleet_device(&w->fleet, node_id);
}

int bckm_res_knows(const struct bckm_res_world *w, const uint8_t key[BCKM_KEY_BYTES]) {
    return keyset_has(&w->known, key);
}

int bckm_res_captured_node(const struct bckm_res_world *w, uint32_t node_id) {
    return bckm_map_get(&w->cap_nodes, node_id, NULL);
}

int bckm_res_captured_bp(const struct bckm_res_world *w, uint32_t bp) {
    return bp <= BCKM_MAX_BPS && w->cap_bps[bp];
}

/* ---- the command ------------------------------------------------------------------------ */

static void usage(FILE *f, const char *prog) {
    fprintf(f,
            "usage: %s --nodes N --bps P --policy owned|global --capture node|bp\n"
            "       --count K --seed S [--pick random|cover] [--json]\n"
            "Builds a genesis network of N nodes over P BPs, captures K nodes (their\n"
            "device key stores) or K BPs (every key their key manager holds or derives),\n"
            "and counts the links among all N(N-1)/2 that the captured keys decipher.\n"
            "  --nodes N     2..%u\n"
            "  --bps P       1..%u\n"
            "  --policy      set placement: owned (a set belongs to one BP) or global\n"
            "  --capture     node or bp\n"
            "  --count K     captured members: 1..N (node) or 1..P (bp)\n"
            "  --seed S      unsigned 64-bit seed of the network and the random pick\n"
            "  --pick        random (default: K drawn from the seed) or cover (the order\n"
            "                that reaches every link soonest; checks Props. 2 and 4)\n"
            "  --json        one JSON object on stdout\n"
            "rate_paper: Prop. 1 (node) or Prop. 3 (BP) of the paper for K = 1; for K > 1,\n"
            "K times Prop. 1 capped at 1 (node) or Prop. 3's proof extended to K BPs.\n"
            "Exit: 0 done, 1 failure, 2 bad flags.\n",
            prog, BCKM_RES_MAX_NODES, BCKM_MAX_BPS);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out) {
    char *end;
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max) return -1;
    *out = v;
    return 0;
}

static int bad(const char *prog, const char *msg, const char *val) {
    fprintf(stderr, "%s: %s%s%s%s\n", prog, msg, val ? " '" : "", val ? val : "", val ? "'" : "");
    fprintf(stderr, "%s: see --help\n", prog);
    return 2;
}

int bckm_resilience_main(int argc, char **argv) {
    const char *prog = argc > 0 && argv[0] != NULL ? argv[0] : "resilience";
    struct bckm_res_params p;
    int have_n = 0, have_p = 0, have_pol = 0, have_cap = 0, have_k = 0, have_seed = 0, json = 0;
    memset(&p, 0, sizeof p);
    p.pick = BCKM_RES_PICK_RANDOM;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, prog);
            return 0;
        }
        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t x;
        if (strcmp(a, "--nodes") == 0) {
            if (v == NULL) return bad(prog, "--nodes needs a value", NULL);
            if (parse_u64(v, BCKM_RES_MAX_NODES, &x) != 0 || x < 2)
                return bad(prog, "--nodes must be an integer in 2..65536, got", v);
            p.nodes = (uint32_t)x;
            have_n = 1;
        } else if (strcmp(a, "--bps") == 0) {
            if (v == NULL) return bad(prog, "--bps needs a value", NULL);
            if (parse_u64(v, BCKM_MAX_BPS, &x) != 0 || x < 1)
                return bad(prog, "--bps must be an integer in 1..255, got", v);
            p.bps = (uint32_t)x;
            have_p = 1;
        } else if (strcmp(a, "--policy") == 0) {
            if (v == NULL) return bad(prog, "--policy needs a value", NULL);
            if (strcmp(v, "owned") == 0)
                p.policy = BCKM_POLICY_OWNED;
            else if (strcmp(v, "global") == 0)
                p.policy = BCKM_POLICY_GLOBAL;
            else
                return bad(prog, "--policy must be owned or global, got", v);
            have_pol = 1;
        } else if (strcmp(a, "--capture") == 0) {
            if (v == NULL) return bad(prog, "--capture needs a value", NULL);
            if (strcmp(v, "node") == 0)
                p.capture = BCKM_RES_CAPTURE_NODE;
            else if (strcmp(v, "bp") == 0)
                p.capture = BCKM_RES_CAPTURE_BP;
            else
                return bad(prog, "--capture must be node or bp, got", v);
            have_cap = 1;
        } else if (strcmp(a, "--count") == 0) {
            if (v == NULL) return bad(prog, "--count needs a value", NULL);
            if (parse_u64(v, BCKM_RES_MAX_NODES, &x) != 0 || x < 1)
                return bad(prog, "--count must be a positive integer, got", v);
            p.count = (uint32_t)x;
            have_k = 1;
        } else if (strcmp(a, "--seed") == 0) {
            if (v == NULL) return bad(prog, "--seed needs a value", NULL);
            if (parse_u64(v, UINT64_MAX, &x) != 0)
                return bad(prog, "--seed must be an unsigned 64-bit integer, got", v);
            p.seed = x;
            have_seed = 1;
        } else if (strcmp(a, "--pick") == 0) {
            if (v == NULL) return bad(prog, "--pick needs a value", NULL);
            if (strcmp(v, "random") == 0)
                p.pick = BCKM_RES_PICK_RANDOM;
            else if (strcmp(v, "cover") == 0)
                p.pick = BCKM_RES_PICK_COVER;
            else
                return bad(prog, "--pick must be random or cover, got", v);
        } else {
            return bad(prog, "unknown argument", a);
        }
        i++;
    }
    if (!have_n) return bad(prog, "missing --nodes", NULL);
    if (!have_p) return bad(prog, "missing --bps", NULL);
    if (!have_pol) return bad(prog, "missing --policy", NULL);
    if (!have_cap) return bad(prog, "missing --capture", NULL);
    if (!have_k) return bad(prog, "missing --count", NULL);
    if (!have_seed) return bad(prog, "missing --seed", NULL);
    if (p.bps > p.nodes) return bad(prog, "--bps must not exceed --nodes", NULL);
    if (p.capture == BCKM_RES_CAPTURE_NODE && p.count > p.nodes)
        return bad(prog, "--count must not exceed --nodes for node capture", NULL);
    if (p.capture == BCKM_RES_CAPTURE_BP && p.count > p.bps)
        return bad(prog, "--count must not exceed --bps for BP capture", NULL);

    struct bckm_res_world *w = NULL;
    struct bckm_res_result r;
    int e = bckm_res_build(&w, &p);
    if (e == BCKM_OK) e = bckm_res_run(w, &r);
    bckm_res_free(w);
    if (e != BCKM_OK) {
        fprintf(stderr, "%s: failed: %s\n", prog, bckm_strerror(e));
        return 1;
    }
    const char *pol = p.policy == BCKM_POLICY_OWNED ? "owned" : "global";
    const char *cap = p.capture == BCKM_RES_CAPTURE_NODE ? "node" : "bp";
    const char *pick = p.pick == BCKM_RES_PICK_RANDOM ? "random" : "cover";
    double bound = 2.0 * sqrt((double)p.nodes);
    if (json) {
        printf("{\"nodes\":%u,\"bps\":%u,\"policy\":\"%s\",\"capture\":\"%s\",\"pick\":\"%s\","
               "\"count\":%u,"
               "\"seed\":%llu,\"sets\":%u,\"set_size_min\":%u,\"set_size_max\":%u,"
               "\"nodes_per_bp_min\":%u,\"nodes_per_bp_max\":%u,"
               "\"links_total\":%llu,\"links_deciphered\":%llu,\"rate\":%.9f,\"rate_paper\":%.9f,"
               "\"rate_paper_member\":%.9f,"
               "\"intra_total\":%llu,\"intra_deciphered\":%llu,\"cross_total\":%llu,\"cross_"
               "deciphered\":%llu,"
               "\"keys_held\":%llu,\"node_keks_held\":%llu,",
               p.nodes, p.bps, pol, cap, pick, p.count, (unsigned long long)p.seed, r.sets,
               r.set_min, r.set_max, r.nodes_per_bp_min, r.nodes_per_bp_max,
               (unsigned long long)r.links_total, (unsigned long long)r.links_deciphered, r.rate,
               r.rate_paper, r.rate_paper_member, (unsigned long long)r.intra_total,
               (unsigned long long)r.intra_deciphered, (unsigned long long)r.cross_total,
               (unsigned long long)r.cross_deciphered, (unsigned long long)r.keys_held,
               (unsigned long long)r.node_keks_held);
        if (p.capture == BCKM_RES_CAPTURE_NODE)
            printf("\"device_keys_min\":%u,\"device_keys_max\":%u,\"device_keys_mean\":%.3f,",
                   r.dev_keys_min, r.dev_keys_max, r.dev_keys_mean);
        printf("\"storage_bound_2sqrtn\":%.3f,\"min_nodes_all_links\":%u,\"prop2_claim_nodes\":%u,"
               "\"min_bps_all_links\":%u,\"prop4_claim_bps\":%u}\n",
               bound, r.min_nodes_all, p.nodes, r.min_bps_all, p.bps);
    } else {
        printf("network: %u nodes, %u BPs, policy %s, %u sets (sizes %u..%u)\n", p.nodes, p.bps,
               pol, r.sets, r.set_min, r.set_max);
        printf("captured: %u %s(s), pick %s, seed %llu; %llu distinct keys held\n", p.count, cap,
               pick, (unsigned long long)p.seed, (unsigned long long)r.keys_held);
        printf("links deciphered: %llu of %llu (intra-set %llu of %llu, cross-set %llu of %llu)\n",
               (unsigned long long)r.links_deciphered, (unsigned long long)r.links_total,
               (unsigned long long)r.intra_deciphered, (unsigned long long)r.intra_total,
               (unsigned long long)r.cross_deciphered, (unsigned long long)r.cross_total);
        printf("rate %.6f, paper %.6f (%s)\n", r.rate, r.rate_paper,
               p.capture == BCKM_RES_CAPTURE_NODE ? "Prop. 1" : "Prop. 3");
        if (p.capture == BCKM_RES_CAPTURE_NODE)
            printf("device keys: min %u, max %u, mean %.1f; 2*sqrt(n) = %.1f\n", r.dev_keys_min,
                   r.dev_keys_max, r.dev_keys_mean, bound);
        printf("smallest capture deciphering every link: %u nodes (Prop. 2 claims %u), %u BPs "
               "(Prop. 4 claims %u)\n",
               r.min_nodes_all, p.nodes, r.min_bps_all, p.bps);
    }
    return 0;
}
