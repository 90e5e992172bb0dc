/*
 * The key manager's life cycle, the placement policy (which keys a BP may
 * hold), how it draws randomness, seals one message and signs one batch,
 * and the queries. The steps of a change are in km_prepare.c (step 1) and
 * km_commit.c (step 3); the message bodies in km_bodies.c; the rekey log in
 * km_log.c; genesis and rejoin in km_genesis.c; catch-up and handover in
 * km_recovery.c.
 */
#include "km_internal.h"
#include "bckm/kdf.h"
#include "bckm/map.h"
#include "bckm/msg.h"
#include "bckm/rekey_auth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int bckm_km_reserve_sign_work(struct bckm_km *km, size_t n) {
    if (km->sign_work_cap >= n) return BCKM_OK;
    uint8_t *b = malloc(n);
    if (b == NULL) return BCKM_ERR_NOMEM;
    free(km->sign_work);
    km->sign_work = b;
    km->sign_work_cap = n;
    return BCKM_OK;
}

int bckm_km_reserve_ids(struct bckm_km *km, size_t n) {
    if (km->ids_cap >= n) return BCKM_OK;
    uint32_t *b = realloc(km->ids, n * sizeof *b);
    if (b == NULL) return BCKM_ERR_NOMEM;
    km->ids = b;
    km->ids_cap = n;
    return BCKM_OK;
}

static int msgs_reserve(struct bckm_msgs *m, size_t bytes) {
    return bckm_msgs_reserve(m, 1, bytes);
}

int bckm_km_reserve_scratch(struct bckm_km *km, size_t bytes) {
    if (km->scratch_cap >= bytes) return BCKM_OK;
    size_t ncap = km->scratch_cap ? km->scratch_cap : 4096;
    while (ncap < bytes) ncap *= 2;
    uint8_t *b = malloc(ncap);
    if (b == NULL) return BCKM_ERR_NOMEM;
    if (km->scratch != NULL) {
        bckm_wipe(km->scratch, km->scratch_cap);
        free(km->scratch);
    }
    km->scratch = b;
    km->scratch_cap = ncap;
    return BCKM_OK;
}

/* Every secret or nonce the key manager draws: the OS's randomness, or in
 * the simulator's reproducible mode the forward-secure generator. */
void bckm_km_random(struct bckm_km *km, uint8_t *out, size_t len) {
    if (km->reproducible)
        bckm_drbg_fill(&km->drbg, out, len);
    else
        randombytes_buf(out, len);
}

/* challenge: the resync challenge a node-KEK message answers, or NULL
 * (all zero: a set-KEK message always, bckm_msg_seal refuses any other). */
int bckm_km_emit(struct bckm_km *km, struct bckm_msgs *out, uint8_t kind, uint8_t kek_type,
                 uint32_t recipient, uint64_t epoch, const uint8_t *challenge,
                 const uint8_t kek[BCKM_KEY_BYTES], const uint8_t *body, size_t body_len) {
    size_t need = BCKM_MSG_HEADER_BYTES + body_len + BCKM_MSG_TAG_BYTES;
    int e = msgs_reserve(out, need);
    if (e != BCKM_OK) return e;
    struct bckm_msg_header h;
    memset(&h, 0, sizeof h);
    h.kind = kind;
    h.kek_type = kek_type;
    h.recipient = recipient;
    h.epoch = epoch;
    h.sender = (uint8_t)km->bp;
    if (challenge != NULL) memcpy(h.challenge, challenge, sizeof h.challenge);
    bckm_km_random(km, h.nonce, sizeof h.nonce);
    size_t len = 0;
    e = bckm_msg_seal(&h, kek, body, body_len, out->buf + out->len, out->cap - out->len, &len);
    if (e != BCKM_OK) return e;
    out->refs[out->n++] = (struct bckm_msg_ref){ kind, kek_type, recipient, out->len, len };
    out->len += len;
    return BCKM_OK;
}

struct bckm_km_batch bckm_km_batch_begin(const struct bckm_msgs *out) {
    struct bckm_km_batch b = { 0, 0 };
    if (out != NULL) {
        b.n = out->n;
        b.len = out->len;
    }
    return b;
}

int bckm_km_batch_end(struct bckm_km *km, struct bckm_msgs *out, struct bckm_km_batch b, int e) {
    if (out == NULL) return e;
    /* The reserved workspace when it and the room left in out are large
     * enough (a commit reserved both with its other allocations, so signing
     * cannot fail after the keys moved), else the signer's own allocations
     * (a call that did not reserve: catch-up, adoption, bundles). */
    if (e == BCKM_OK && out->n > b.n &&
        km->sign_work_cap >= bckm_rekey_batch_work_bytes(out->n - b.n, out->len - b.len) &&
        out->cap - out->len >= bckm_rekey_batch_trailer_bytes(out->n - b.n))
        e = bckm_rekey_batch_sign_in(out, b.n, km->bp, km->sign_sk, km->sign_work,
                                     km->sign_work_cap);
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

int bckm_km_entitled(const struct bckm_km *km, uint32_t set) {
    return km->policy == BCKM_POLICY_GLOBAL || bckm_id_bp(set) == km->bp ||
           bckm_map_get(&km->adopted, set, NULL);
}

int bckm_km_entitled_pair(const struct bckm_km *km, uint32_t a, uint32_t b) {
    return bckm_km_entitled(km, a) || bckm_km_entitled(km, b);
}

/* The secret initial pairwise set keys of (a, b) derive from: this BP's
 * domain for two of its own sets (or under the global policy), else the
 * secret shared with the other owner. NULL when it is not known. */
const uint8_t *bckm_km_pair_domain(const struct bckm_km *km, uint32_t a, uint32_t b) {
    if (km->policy == BCKM_POLICY_GLOBAL) return km->domain;
    uint32_t oa = bckm_id_bp(a), ob = bckm_id_bp(b);
    if (oa == km->bp && ob == km->bp) return km->domain;
    /* A set adopted from a failed BP keeps its owner's ID; its pairs with
     * this BP's sets derive from the secret this BP shares with that owner. */
    uint32_t other = oa == km->bp ? ob : oa;
    if ((oa != km->bp && ob != km->bp) || !km->has_peer[other]) return NULL;
    return km->peer_secret[other];
}

int bckm_km_bp_secret(const uint8_t my_sk[32], uint32_t me, const uint8_t their_pk[32],
                      uint32_t them, uint8_t out[BCKM_KEY_BYTES]) {
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
    if (out == NULL || cfg == NULL || cfg->bp_id == 0 || cfg->bp_id > BCKM_MAX_BPS)
        return BCKM_ERR_ARG;
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
    bckm_keypool_init(&km->node_keks);
    bckm_keypool_init(&km->set_keks);
    bckm_keypool_init(&km->pair_keys);
    bckm_keypool_init(&km->seeds);
    bckm_map_init(&km->adopted);
    bckm_map_init(&km->pend_index);
    *out = km;
    return BCKM_OK;
}

void bckm_km_free(struct bckm_km *km) {
    if (km == NULL) return;
    bckm_keypool_free(&km->node_keks);
    bckm_keypool_free(&km->set_keks);
    bckm_keypool_free(&km->pair_keys);
    bckm_keypool_free(&km->seeds);
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

int bckm_km_set_peer_secret(struct bckm_km *km, uint32_t other,
                            const uint8_t secret[BCKM_KEY_BYTES]) {
    if (other == 0 || other > BCKM_MAX_BPS || other == km->bp) return BCKM_ERR_ARG;
    memcpy(km->peer_secret[other], secret, BCKM_KEY_BYTES);
    km->has_peer[other] = 1;
    return BCKM_OK;
}

/* ---- queries ------------------------------------------------------------------------------- */

int bckm_km_knows_set(const struct bckm_km *km, uint32_t set_id) {
    return bckm_keypool_get(&km->set_keks, set_id) != NULL;
}

int bckm_km_set_key(const struct bckm_km *km, uint32_t set_id, uint8_t out[BCKM_KEY_BYTES]) {
    const uint8_t *k = bckm_keypool_get(&km->set_keks, set_id);
    if (k == NULL) return BCKM_ERR_UNKNOWN;
    memcpy(out, k, BCKM_KEY_BYTES);
    return BCKM_OK;
}

int bckm_km_pair_key(const struct bckm_km *km, uint32_t a, uint32_t b,
                     uint8_t out[BCKM_KEY_BYTES]) {
    const uint8_t *k = bckm_keypool_get(&km->pair_keys, bckm_pair_id(a, b));
    if (k == NULL) return BCKM_ERR_UNKNOWN;
    memcpy(out, k, BCKM_KEY_BYTES);
    return BCKM_OK;
}

int bckm_km_node_pair_key(const struct bckm_km *km, const struct bckm_sets *reg, uint32_t u,
                          uint32_t v, uint8_t out[BCKM_KEY_BYTES]) {
    uint32_t su, sv, a, count, pu = UINT32_MAX, pv = UINT32_MAX;
    if (bckm_sets_node(reg, u, &su, &a) != BCKM_OK || bckm_sets_node(reg, v, &sv, &a) != BCKM_OK)
        return BCKM_ERR_UNKNOWN;
    if (su != sv || u == v || !bckm_km_entitled(km, su)) return BCKM_ERR_ARG;
    const uint32_t *mem = bckm_sets_members(reg, su, &count);
    for (uint32_t i = 0; i < count; i++) {
        if (mem[i] == u) pu = i;
        if (mem[i] == v) pv = i;
    }
    bckm_km_node_pair(km, u, pu, v, pv, out);
    return BCKM_OK;
}

int bckm_km_has_node(const struct bckm_km *km, uint32_t node_id) {
    return bckm_keypool_get(&km->node_keks, node_id) != NULL;
}

int bckm_km_generator(const struct bckm_km *km, struct bckm_drbg *out) {
    if (km == NULL || out == NULL) return BCKM_ERR_ARG;
    if (!km->reproducible) return BCKM_ERR_STATE;
    *out = km->drbg;
    return BCKM_OK;
}

size_t bckm_km_bytes(const struct bckm_km *km) {
    return sizeof *km + bckm_keypool_bytes(&km->node_keks) + bckm_keypool_bytes(&km->set_keks) +
           bckm_keypool_bytes(&km->pair_keys) +
           (size_t)km->cap_pend * sizeof(struct bckm_km_pending) + km->scratch_cap +
           km->sign_work_cap + (km->ids_cap + km->cap_dropped) * sizeof(uint32_t);
}
