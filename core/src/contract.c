#include "bckm/contract.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct bckm_state {
    struct bckm_sets *reg;
    struct bckm_bp_table bps;
    uint64_t seq[BCKM_MAX_BPS + 1];
};

int bckm_state_new(struct bckm_state **out, bckm_policy policy, const struct bckm_bp_table *bps) {
    if (out == NULL || bps == NULL) return BCKM_ERR_ARG;
    struct bckm_state *st = calloc(1, sizeof *st);
    if (st == NULL) return BCKM_ERR_NOMEM;
    int e = bckm_sets_new(&st->reg, policy);
    if (e != BCKM_OK) {
        free(st);
        return e;
    }
    st->bps = *bps;
    st->bps.has[0] = 0; /* 0 is never a BP */
    *out = st;
    return BCKM_OK;
}

void bckm_state_free(struct bckm_state *st) {
    if (st == NULL) return;
    bckm_sets_free(st->reg);
    free(st);
}

int bckm_state_clone(const struct bckm_state *st, struct bckm_state **out) {
    struct bckm_state *c = malloc(sizeof *c);
    if (c == NULL) return BCKM_ERR_NOMEM;
    *c = *st;
    int e = bckm_sets_clone(st->reg, &c->reg);
    if (e != BCKM_OK) {
        free(c);
        return e;
    }
    *out = c;
    return BCKM_OK;
}

const struct bckm_sets *bckm_state_registry(const struct bckm_state *st) { return st->reg; }

uint64_t bckm_state_seq(const struct bckm_state *st, uint32_t bp) {
    return bp <= BCKM_MAX_BPS ? st->seq[bp] : 0;
}

int bckm_contract_verify(const struct bckm_state *st, const struct bckm_envelope *env) {
    if (st == NULL || env == NULL) return BCKM_ERR_ARG;
    if (env->bp == 0 || env->bp > BCKM_MAX_BPS || !st->bps.has[env->bp]) return BCKM_ERR_PERM;
    return bckm_envelope_verify(env, st->bps.pk[env->bp]);
}

/* Every rule but the signature. */
static int check_rules(const struct bckm_state *st, const struct bckm_envelope *env) {
    if (st == NULL || env == NULL) return BCKM_ERR_ARG;
    if (env->bp == 0 || env->bp > BCKM_MAX_BPS || !st->bps.has[env->bp]) return BCKM_ERR_PERM;
    /* Fresh: above the origin's last committed number, so no envelope can
     * execute twice (replay) even if gossip delivers it again. */
    if (env->seq <= st->seq[env->bp]) return BCKM_ERR_REPLAY;
    /* A REATTACH travels only in a version-2 envelope, which carries the
     * node's consent; every other change only in version 1. */
    if (!bckm_envelope_is_valid(env)) return BCKM_ERR_FORMAT;
    if (env->tx.op == BCKM_TX_OP_REATTACH)
        return bckm_sets_check_reattach(st->reg, env->bp, &env->tx, env->consent);
    return bckm_sets_check(st->reg, env->bp, &env->tx);
}

int bckm_contract_check(const struct bckm_state *st, const struct bckm_envelope *env) {
    int e = check_rules(st, env);
    if (e != BCKM_OK) return e;
    return bckm_envelope_verify(env, st->bps.pk[env->bp]);
}

int bckm_contract_check_bytes(const struct bckm_state *st, const uint8_t *buf, size_t len) {
    struct bckm_envelope env;
    int e = bckm_envelope_decode(buf, len, &env);
    if (e != BCKM_OK) return e;
    return bckm_contract_check(st, &env);
}

static int execute(struct bckm_state *st, const struct bckm_envelope *env, struct bckm_plan *plan) {
    int e = env->tx.op == BCKM_TX_OP_REATTACH
                ? bckm_sets_apply_reattach(st->reg, env->bp, &env->tx, env->consent, plan)
                : bckm_sets_apply(st->reg, env->bp, &env->tx, plan);
    if (e != BCKM_OK) return e;
    st->seq[env->bp] = env->seq;
    return BCKM_OK;
}

int bckm_contract_apply(struct bckm_state *st, const struct bckm_envelope *env,
                        struct bckm_plan *plan) {
    int e = bckm_contract_check(st, env);
    return e == BCKM_OK ? execute(st, env, plan) : e;
}

int bckm_contract_apply_verified(struct bckm_state *st, const struct bckm_envelope *env,
                                 struct bckm_plan *plan) {
    int e = check_rules(st, env);
    return e == BCKM_OK ? execute(st, env, plan) : e;
}

int bckm_contract_genesis(struct bckm_state *st, uint32_t bp, const struct bckm_tx *tx,
                          struct bckm_plan *plan) {
    if (st == NULL || bp == 0 || bp > BCKM_MAX_BPS || !st->bps.has[bp]) return BCKM_ERR_ARG;
    return bckm_sets_apply(st->reg, bp, tx, plan);
}

void bckm_state_hash(const struct bckm_state *st, uint8_t out[BCKM_HASH_BYTES]) {
    static const uint8_t label[13] = { 'b', 'c', 'k', 'm', '-', 's', 't',
                                       'a', 't', 'e', '-', 'v', '1' };
    crypto_generichash_state h;
    uint8_t d[BCKM_HASH_BYTES], b[9];
    bckm_sets_digest(st->reg, d);
    crypto_generichash_init(&h, NULL, 0, BCKM_HASH_BYTES);
    crypto_generichash_update(&h, label, sizeof label);
    crypto_generichash_update(&h, d, sizeof d);
    for (uint32_t bp = 1; bp <= BCKM_MAX_BPS; bp++) {
        if (st->seq[bp] == 0) continue;
        b[0] = (uint8_t)bp;
        bckm_put_u64(b + 1, st->seq[bp]);
        crypto_generichash_update(&h, b, sizeof b);
    }
    crypto_generichash_final(&h, out, BCKM_HASH_BYTES);
}

/* The node's side of a REATTACH (sets.h): here rather than in sets.c, which
 * only verifies. */
int bckm_reattach_consent(const uint8_t code[BCKM_CODE_BYTES], uint32_t node_id, uint32_t bp,
                          uint64_t ctr, uint8_t sig[BCKM_SIG_BYTES]) {
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t msg[BCKM_REATTACH_STATEMENT_BYTES];
    int e = BCKM_ERR_CRYPTO;
    if (code == NULL || sig == NULL || node_id == BCKM_ID_NONE || bp == 0 || bp > BCKM_MAX_BPS ||
        ctr == 0)
        return BCKM_ERR_ARG;
    bckm_reattach_statement(node_id, bp, ctr, msg);
    if (crypto_sign_seed_keypair(pk, sk, code) != 0) goto out;
    if (crypto_sign_detached(sig, NULL, msg, sizeof msg, sk) != 0) goto out;
    e = BCKM_OK;
out:
    bckm_wipe(sk, sizeof sk);
    return e;
}
