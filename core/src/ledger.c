/*
 * Ledger front end: argument checks, validation of every appended block,
 * dispatch to the backend. Interface: core/include/bckm/ledger.h.
 */
#include "ledger_internal.h"

#include <stdlib.h>
#include <string.h>

int bckm_ledger_handle_new(const struct bckm_ledger_config *cfg, bckm_ledger **out) {
    bckm_ledger *l = NULL;
    int ret = BCKM_OK;

    if (cfg == NULL || out == NULL || cfg->bp_pk == NULL) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (cfg->n_bps == 0 || cfg->n_bps > BCKM_MAX_BPS) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (cfg->f > (cfg->n_bps - 1u) / 2u) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if ((cfg->flags & ~(BCKM_LEDGER_TRUST_FILE | BCKM_LEDGER_OPAQUE)) != 0) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    l = calloc(1, sizeof *l);
    if (l == NULL) {
        ret = BCKM_ERR_NOMEM;
        goto out;
    }
    l->bp_pk = calloc(cfg->n_bps, sizeof *l->bp_pk);
    l->envs = calloc(BCKM_BLOCK_MAX_TXS, sizeof *l->envs);
    if (l->bp_pk == NULL || l->envs == NULL) {
        ret = BCKM_ERR_NOMEM;
        goto out;
    }
    memcpy(l->bp_pk, cfg->bp_pk, (size_t)cfg->n_bps * sizeof *l->bp_pk);
    l->n_bps = cfg->n_bps;
    l->f = cfg->f;
    l->opaque = (cfg->flags & BCKM_LEDGER_OPAQUE) != 0;
    *out = l;
    l = NULL;

out:
    bckm_ledger_handle_free(l);
    return ret;
}

void bckm_ledger_handle_free(bckm_ledger *l) {
    if (l == NULL) return;
    free(l->bp_pk);
    free(l->envs);
    free(l);
}

int bckm_ledger_check_next(bckm_ledger *l, const uint8_t *block, size_t block_len,
                           const uint8_t *cert, size_t cert_len, uint32_t *n_txs,
                           uint8_t hash[BCKM_HASH_BYTES]) {
    static const uint8_t zero[BCKM_HASH_BYTES];
    struct bckm_block_header h;
    int ret;

    if (block == NULL || cert == NULL) return BCKM_ERR_ARG;
    if (l->opaque) {
        /* The transactions are the application's: framing and root only. */
        if (block_len < BCKM_BLOCK_HEADER_BYTES) return BCKM_ERR_TRUNCATED;
        ret = bckm_block_header_decode(block, BCKM_BLOCK_HEADER_BYTES, &h);
        if (ret == BCKM_OK)
            ret = bckm_block_body_check(&h, block + BCKM_BLOCK_HEADER_BYTES,
                                        block_len - BCKM_BLOCK_HEADER_BYTES);
    } else {
        ret = bckm_block_decode(block, block_len, &h, l->envs, BCKM_BLOCK_MAX_TXS);
    }
    if (ret != BCKM_OK) return ret;
    /* The height check first: a block for another height is a caller's
     * ordering problem (STATE), not a broken chain. */
    if (l->height == UINT64_MAX || h.height != l->height + 1u) return BCKM_ERR_STATE;
    if (memcmp(h.prev_hash, l->height == 0 ? zero : l->tip_hash, BCKM_HASH_BYTES) != 0)
        return BCKM_ERR_MISMATCH;
    ret = bckm_cert_decode(cert, cert_len, &l->cert);
    if (ret != BCKM_OK) return ret;
    if (l->cert.height != h.height) return BCKM_ERR_MISMATCH;
    ret = bckm_block_hash(&h, hash);
    if (ret != BCKM_OK) return ret;
    ret = bckm_cert_verify(&l->cert, hash, (const uint8_t(*)[BCKM_SIGN_PK_BYTES])l->bp_pk, l->n_bps,
                           l->f);
    if (ret != BCKM_OK) return ret;
    *n_txs = h.n_txs;
    return BCKM_OK;
}

void bckm_ledger_pos_encode(struct bckm_ledger_pos p, uint8_t out[LEDGER_POS_BYTES]) {
    bckm_put_u64(out, p.height);
    bckm_put_u32(out + 8, p.index);
}

struct bckm_ledger_pos bckm_ledger_pos_decode(const uint8_t in[LEDGER_POS_BYTES]) {
    struct bckm_ledger_pos p;
    p.height = bckm_get_u64(in);
    p.index = bckm_get_u32(in + 8);
    return p;
}

int bckm_ledger_pos_cmp(struct bckm_ledger_pos a, struct bckm_ledger_pos b) {
    if (a.height != b.height) return a.height < b.height ? -1 : 1;
    if (a.index != b.index) return a.index < b.index ? -1 : 1;
    return 0;
}

int bckm_ledger_rec_encode(uint8_t status, const struct bckm_envelope *env,
                           uint8_t out[LEDGER_REC_BYTES], size_t *out_len) {
    size_t n = 0;
    out[0] = status;
    int e = bckm_envelope_encode_to(env, out + 1, LEDGER_REC_BYTES - 1, &n);
    if (e == BCKM_OK) *out_len = 1 + n;
    return e;
}

int bckm_ledger_rec_decode(const uint8_t *buf, size_t len, struct bckm_ledger_pos pos,
                           struct bckm_ledger_entry *out) {
    if (buf == NULL || len < 2 || len != 1 + bckm_envelope_wire_len(buf[1]))
        return BCKM_ERR_CORRUPT;
    if (bckm_envelope_decode(buf + 1, len - 1, &out->env) != BCKM_OK) return BCKM_ERR_CORRUPT;
    out->status = buf[0];
    out->pos = pos;
    return BCKM_OK;
}

/* ---- public entry points ---------------------------------------------- */

void bckm_ledger_close(bckm_ledger *l) {
    if (l == NULL) return;
    if (l->ops != NULL) l->ops->close(l);
    bckm_ledger_handle_free(l);
}

uint64_t bckm_ledger_height(const bckm_ledger *l) { return l == NULL ? 0 : l->height; }

int bckm_ledger_tip_hash(const bckm_ledger *l, uint8_t out[BCKM_HASH_BYTES]) {
    if (l == NULL || out == NULL) return BCKM_ERR_ARG;
    if (l->height == 0)
        memset(out, 0, BCKM_HASH_BYTES);
    else
        memcpy(out, l->tip_hash, BCKM_HASH_BYTES);
    return BCKM_OK;
}

static int append(bckm_ledger *l, const uint8_t *block, size_t block_len, const uint8_t *cert,
                  size_t cert_len, const uint8_t *status, const uint8_t *state, size_t state_len) {
    static const uint8_t executed[BCKM_BLOCK_MAX_TXS]; /* all BCKM_LEDGER_TX_EXECUTED */
    uint8_t hash[BCKM_HASH_BYTES];
    struct ledger_put p;
    uint32_t n = 0;
    int ret;

    if (l == NULL || block == NULL || cert == NULL) return BCKM_ERR_ARG;
    ret = bckm_ledger_check_next(l, block, block_len, cert, cert_len, &n, hash);
    if (ret != BCKM_OK) return ret;
    p.height = l->height + 1u;
    p.block = block;
    p.block_len = block_len;
    p.cert = cert;
    p.cert_len = cert_len;
    p.envs = l->opaque ? NULL : l->envs;
    p.n = l->opaque ? 0 : n;
    p.n_txs = n;
    p.status = status != NULL ? status : executed;
    p.state = state;
    p.state_len = state_len;
    ret = l->ops->put(l, &p);
    if (ret != BCKM_OK) return ret;
    /* The tip moves only once the backend has the block for good. */
    l->height = p.height;
    memcpy(l->tip_hash, hash, BCKM_HASH_BYTES);
    return BCKM_OK;
}

int bckm_ledger_append(bckm_ledger *l, const uint8_t *block, size_t block_len, const uint8_t *cert,
                       size_t cert_len, const uint8_t *status) {
    return append(l, block, block_len, cert, cert_len, status, NULL, 0);
}

int bckm_ledger_append_state(bckm_ledger *l, const uint8_t *block, size_t block_len,
                             const uint8_t *cert, size_t cert_len, const uint8_t *status,
                             const uint8_t *state, size_t state_len) {
    if (state == NULL || state_len == 0 || state_len > BCKM_LEDGER_STATE_MAX_BYTES)
        return BCKM_ERR_ARG;
    return append(l, block, block_len, cert, cert_len, status, state, state_len);
}

int bckm_ledger_put_state(bckm_ledger *l, const uint8_t *state, size_t state_len) {
    if (l == NULL || state == NULL || state_len == 0 || state_len > BCKM_LEDGER_STATE_MAX_BYTES)
        return BCKM_ERR_ARG;
    return l->ops->put_state(l, l->height, state, state_len);
}

int bckm_ledger_get_state(bckm_ledger *l, uint64_t *height, uint8_t *out, size_t cap, size_t *len) {
    if (l == NULL || height == NULL || len == NULL || (cap > 0 && out == NULL)) return BCKM_ERR_ARG;
    return l->ops->get_state(l, height, out, cap, len);
}

static int get_common(bckm_ledger *l, int which, uint64_t height, uint8_t *out, size_t cap,
                      size_t *len) {
    if (l == NULL || len == NULL || (cap > 0 && out == NULL)) return BCKM_ERR_ARG;
    if (height == 0 || height > l->height) return BCKM_ERR_ARG;
    return l->ops->get(l, which, height, out, cap, len);
}

int bckm_ledger_get_block(bckm_ledger *l, uint64_t height, uint8_t *out, size_t cap, size_t *len) {
    return get_common(l, 0, height, out, cap, len);
}

int bckm_ledger_get_cert(bckm_ledger *l, uint64_t height, uint8_t *out, size_t cap, size_t *len) {
    return get_common(l, 1, height, out, cap, len);
}

int bckm_ledger_get_status(bckm_ledger *l, uint64_t height, uint8_t *out, size_t cap, size_t *len) {
    return get_common(l, 2, height, out, cap, len);
}

static int query_common(bckm_ledger *l, enum ledger_query q, const uint8_t *key,
                        struct bckm_ledger_pos after, struct bckm_ledger_entry *out, size_t cap,
                        size_t *n) {
    if (l == NULL || n == NULL || (cap > 0 && out == NULL)) return BCKM_ERR_ARG;
    *n = 0;
    if (l->opaque) return BCKM_ERR_STATE; /* an opaque ledger keeps no envelope index */
    if (cap == 0) return BCKM_OK;
    return l->ops->query(l, q, key, after, out, cap, n);
}

int bckm_ledger_find_node(bckm_ledger *l, uint32_t node_id, struct bckm_ledger_pos after,
                          struct bckm_ledger_entry *out, size_t cap, size_t *n) {
    uint8_t key[4];
    bckm_put_u32(key, node_id);
    return query_common(l, LEDGER_Q_NODE, key, after, out, cap, n);
}

int bckm_ledger_find_code(bckm_ledger *l, const uint8_t code_hash[BCKM_HASH_BYTES],
                          struct bckm_ledger_pos after, struct bckm_ledger_entry *out, size_t cap,
                          size_t *n) {
    if (code_hash == NULL) return BCKM_ERR_ARG;
    return query_common(l, LEDGER_Q_CODE, code_hash, after, out, cap, n);
}

int bckm_ledger_txs_after(bckm_ledger *l, struct bckm_ledger_pos after,
                          struct bckm_ledger_entry *out, size_t cap, size_t *n) {
    return query_common(l, LEDGER_Q_ALL, NULL, after, out, cap, n);
}
