/*
 * The 57-byte transaction and its signed envelope (spec/layer2-formats.md).
 * Contracts: core/include/bckm/tx.h.
 *
 * Shape of every codec here: arguments checked first, one exit label, the
 * length compared with the fixed size before any byte is read, results built
 * in locals and written to the output only on success.
 */
#include "bckm/tx.h"

#include <sodium.h>

/* The envelope round trip (decode(encode(x)) == x), proven in the group
 * "lemmas" and used by proofs/entry.c. Here rather than in tx.h: a lemma is
 * a hypothesis of every goal of every file that parses it, and the block
 * codec's goals do not need this one (proofs/README.md). */
/*@ lemma bckm_envelope_roundtrip{X, Y, B}:
        \forall struct bckm_envelope *x, *y, uint8_t *b;
            bckm_envelope_encodes{X, B}(x, b) && bckm_envelope_encodes{Y, B}(y, b) ==>
            bckm_envelope_same{X, Y}(x, y);
 */

/* Byte offsets inside a transaction. */
#define TX_OFF_OP 0u
#define TX_OFF_NODE 1u
#define TX_OFF_SET 5u
#define TX_OFF_CODE 9u
#define TX_OFF_REFRESH 41u

/* Byte offsets inside an envelope. */
#define ENV_OFF_VERSION 0u
#define ENV_OFF_BP 1u
#define ENV_OFF_SEQ 5u
#define ENV_OFF_TX 13u
#define ENV_OFF_CONSENT 70u /* version 2 only */
#define ENV_OFF_SIG 70u     /* version 1; version 2: 134 */
#define ENV_OFF_OP (ENV_OFF_TX + TX_OFF_OP)

/*@ assigns \nothing;
    ensures \result == 1 <==> (op == 1 || op == 2 || op == 3 || op == 4);
    ensures \result == 0 || \result == 1;
 */
static int op_known(uint8_t op) {
    return op == BCKM_TX_OP_JOIN || op == BCKM_TX_OP_LEAVE || op == BCKM_TX_OP_EVICT ||
           op == BCKM_TX_OP_REATTACH;
}

/* REATTACH travels in version 2 and nothing else does. */
/*@ assigns \nothing;
    ensures \result == 1 <==> bckm_env_version_op(version, op);
    ensures \result == 0 || \result == 1;
 */
static int version_carries(uint8_t version, uint8_t op) {
    if (version == BCKM_ENVELOPE_VERSION)
        return op == BCKM_TX_OP_JOIN || op == BCKM_TX_OP_LEAVE || op == BCKM_TX_OP_EVICT;
    return version == BCKM_ENVELOPE_VERSION_REATTACH && op == BCKM_TX_OP_REATTACH;
}

/*@ assigns \nothing;
    ensures \result == 1 <==> (1 <= bp && bp <= 255);
    ensures \result == 0 || \result == 1;
 */
static int bp_in_range(uint32_t bp) { return bp >= BCKM_BP_MIN && bp <= BCKM_MAX_BPS; }

int bckm_tx_is_valid(const struct bckm_tx *tx) {
    return op_known(tx->op) && tx->node_id != BCKM_ID_NONE && tx->set_id != BCKM_ID_NONE;
}

int bckm_tx_encode(const struct bckm_tx *tx, uint8_t out[BCKM_TX_BYTES]) {
    int ret = BCKM_OK;
    size_t i;

    if (tx == NULL || out == NULL) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (!bckm_tx_is_valid(tx)) {
        ret = BCKM_ERR_ARG;
        goto out;
    }

    out[TX_OFF_OP] = tx->op;
    bckm_put_u32(out + TX_OFF_NODE, tx->node_id);
    bckm_put_u32(out + TX_OFF_SET, tx->set_id);
    /*@ loop invariant 0 <= i <= BCKM_HASH_BYTES;
        loop invariant out[0] == \at(tx->op, Pre) &&
                       bckm_be32(out[1], out[2], out[3], out[4]) == \at(tx->node_id, Pre) &&
                       bckm_be32(out[5], out[6], out[7], out[8]) == \at(tx->set_id, Pre);
        loop invariant \forall integer k; 0 <= k < i ==> out[TX_OFF_CODE + k] == \at(tx->code_hash[k], Pre);
        loop assigns i, out[TX_OFF_CODE .. TX_OFF_CODE + BCKM_HASH_BYTES - 1];
        loop variant BCKM_HASH_BYTES - i; */
    for (i = 0; i < BCKM_HASH_BYTES; i++) out[TX_OFF_CODE + i] = tx->code_hash[i];
    /*@ loop invariant 0 <= i <= BCKM_REFRESH_BYTES;
        loop invariant out[0] == \at(tx->op, Pre) &&
                       bckm_be32(out[1], out[2], out[3], out[4]) == \at(tx->node_id, Pre) &&
                       bckm_be32(out[5], out[6], out[7], out[8]) == \at(tx->set_id, Pre);
        loop invariant \forall integer k; 0 <= k < BCKM_HASH_BYTES ==>
                         out[TX_OFF_CODE + k] == \at(tx->code_hash[k], Pre);
        loop invariant \forall integer k; 0 <= k < i ==> out[TX_OFF_REFRESH + k] == \at(tx->refresh[k], Pre);
        loop assigns i, out[TX_OFF_REFRESH .. TX_OFF_REFRESH + BCKM_REFRESH_BYTES - 1];
        loop variant BCKM_REFRESH_BYTES - i; */
    for (i = 0; i < BCKM_REFRESH_BYTES; i++) out[TX_OFF_REFRESH + i] = tx->refresh[i];

out:
    return ret;
}

int bckm_tx_decode(const uint8_t *buf, size_t len, struct bckm_tx *out) {
    int ret = BCKM_OK;
    struct bckm_tx t;
    size_t i;

    if (buf == NULL || out == NULL) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (len < BCKM_TX_BYTES) {
        ret = BCKM_ERR_TRUNCATED;
        goto out;
    }
    if (len > BCKM_TX_BYTES) {
        ret = BCKM_ERR_FORMAT;
        goto out;
    }

    t.op = buf[TX_OFF_OP];
    t.node_id = bckm_get_u32(buf + TX_OFF_NODE);
    t.set_id = bckm_get_u32(buf + TX_OFF_SET);
    /*@ loop invariant 0 <= i <= BCKM_HASH_BYTES;
        loop invariant \forall integer k; 0 <= k < i ==> t.code_hash[k] == buf[TX_OFF_CODE + k];
        loop assigns i, t.code_hash[0 .. BCKM_HASH_BYTES - 1];
        loop variant BCKM_HASH_BYTES - i; */
    for (i = 0; i < BCKM_HASH_BYTES; i++) t.code_hash[i] = buf[TX_OFF_CODE + i];
    /*@ loop invariant 0 <= i <= BCKM_REFRESH_BYTES;
        loop invariant \forall integer k; 0 <= k < i ==> t.refresh[k] == buf[TX_OFF_REFRESH + k];
        loop assigns i, t.refresh[0 .. BCKM_REFRESH_BYTES - 1];
        loop variant BCKM_REFRESH_BYTES - i; */
    for (i = 0; i < BCKM_REFRESH_BYTES; i++) t.refresh[i] = buf[TX_OFF_REFRESH + i];

    if (!op_known(t.op)) {
        ret = BCKM_ERR_FORMAT;
        goto out;
    }
    if (t.node_id == BCKM_ID_NONE || t.set_id == BCKM_ID_NONE) {
        ret = BCKM_ERR_FORMAT;
        goto out;
    }

    /* Field by field rather than one struct copy: the same effect, and the
     * post-condition on the scalar fields then follows directly. */
    out->op = t.op;
    out->node_id = t.node_id;
    out->set_id = t.set_id;
    /*@ loop invariant 0 <= i <= BCKM_HASH_BYTES;
        loop invariant out->op == t.op && out->node_id == t.node_id && out->set_id == t.set_id;
        loop invariant \forall integer k; 0 <= k < i ==> out->code_hash[k] == t.code_hash[k];
        loop assigns i, out->code_hash[0 .. BCKM_HASH_BYTES - 1];
        loop variant BCKM_HASH_BYTES - i; */
    for (i = 0; i < BCKM_HASH_BYTES; i++) out->code_hash[i] = t.code_hash[i];
    /*@ loop invariant 0 <= i <= BCKM_REFRESH_BYTES;
        loop invariant out->op == t.op && out->node_id == t.node_id && out->set_id == t.set_id;
        loop invariant \forall integer k; 0 <= k < BCKM_HASH_BYTES ==> out->code_hash[k] == t.code_hash[k];
        loop invariant \forall integer k; 0 <= k < i ==> out->refresh[k] == t.refresh[k];
        loop assigns i, out->refresh[0 .. BCKM_REFRESH_BYTES - 1];
        loop variant BCKM_REFRESH_BYTES - i; */
    for (i = 0; i < BCKM_REFRESH_BYTES; i++) out->refresh[i] = t.refresh[i];

out:
    return ret;
}

int bckm_envelope_is_valid(const struct bckm_envelope *env) {
    return version_carries(env->version, env->tx.op) && bp_in_range(env->bp) &&
           bckm_tx_is_valid(&env->tx);
}

size_t bckm_envelope_wire_len(uint8_t version) {
    if (version == BCKM_ENVELOPE_VERSION) return BCKM_ENVELOPE_BYTES;
    if (version == BCKM_ENVELOPE_VERSION_REATTACH) return BCKM_ENVELOPE_V2_BYTES;
    return 0;
}

/* Writes the signed bytes (everything before the signature: 70 bytes in
 * version 1, 134 in version 2). */
/*@ requires \valid_read(env);
    requires \valid(out + (0 .. bckm_env_signed_len(env->version) - 1));
    requires \separated(env, out + (0 .. bckm_env_signed_len(env->version) - 1));
    assigns out[0 .. bckm_env_signed_len(env->version) - 1];
    ensures \result == BCKM_OK || \result == BCKM_ERR_ARG;
    ensures \result == BCKM_OK <==> bckm_envelope_fields_ok((struct bckm_envelope *)env);
    ensures \result == BCKM_OK ==> bckm_envelope_encodes_signed{Pre, Post}((struct bckm_envelope *)env, out);
 */
static int envelope_encode_signed(const struct bckm_envelope *env, uint8_t *out) {
    int ret = BCKM_OK;
    size_t i;

    if (!bckm_envelope_is_valid(env)) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    out[ENV_OFF_VERSION] = env->version;
    bckm_put_u32(out + ENV_OFF_BP, env->bp);
    bckm_put_u64(out + ENV_OFF_SEQ, env->seq);
    ret = bckm_tx_encode(&env->tx, out + ENV_OFF_TX);
    if (ret != BCKM_OK || env->version != BCKM_ENVELOPE_VERSION_REATTACH) goto out;
    /*@ loop invariant 0 <= i <= BCKM_SIG_BYTES;
        loop invariant bckm_envelope_encodes_head{Pre, Here}((struct bckm_envelope *)env, out);
        loop invariant \forall integer k; 0 <= k < i ==> out[ENV_OFF_CONSENT + k] == \at(env->consent[k], Pre);
        loop assigns i, out[ENV_OFF_CONSENT .. ENV_OFF_CONSENT + BCKM_SIG_BYTES - 1];
        loop variant BCKM_SIG_BYTES - i; */
    for (i = 0; i < BCKM_SIG_BYTES; i++) out[ENV_OFF_CONSENT + i] = env->consent[i];

out:
    return ret;
}

int bckm_envelope_encode_to(const struct bckm_envelope *env, uint8_t *out, size_t cap,
                            size_t *out_len) {
    int ret = BCKM_OK;
    size_t i, signed_len;

    if (env == NULL || out_len == NULL || (cap > 0 && out == NULL)) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (!bckm_envelope_is_valid(env)) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    signed_len = env->version == BCKM_ENVELOPE_VERSION ? BCKM_ENVELOPE_SIGNED_BYTES
                                                       : BCKM_ENVELOPE_V2_SIGNED_BYTES;
    if (cap < signed_len + BCKM_SIG_BYTES) {
        ret = BCKM_ERR_NOMEM;
        goto out;
    }
    ret = envelope_encode_signed(env, out);
    if (ret != BCKM_OK) goto out;
    /*@ assert (env->version == 1 && signed_len == 70) || (env->version == 2 && signed_len == 134); */
    /*@ loop invariant 0 <= i <= BCKM_SIG_BYTES;
        loop invariant (\at(env->version, Pre) == 1 && signed_len == 70) ||
                       (\at(env->version, Pre) == 2 && signed_len == 134);
        loop invariant bckm_envelope_encodes_head{Pre, Here}((struct bckm_envelope *)env, out);
        loop invariant \at(env->version, Pre) == 2 ==>
                       \forall integer k; 0 <= k < BCKM_SIG_BYTES ==>
                         out[ENV_OFF_CONSENT + k] == \at(env->consent[k], Pre);
        loop invariant bckm_envelope_encodes_signed{Pre, Here}((struct bckm_envelope *)env, out);
        loop invariant \forall integer k; 0 <= k < i ==> out[signed_len + k] == \at(env->sig[k], Pre);
        loop assigns i, out[signed_len .. signed_len + BCKM_SIG_BYTES - 1];
        loop variant BCKM_SIG_BYTES - i; */
    for (i = 0; i < BCKM_SIG_BYTES; i++) out[signed_len + i] = env->sig[i];
    *out_len = signed_len + BCKM_SIG_BYTES;

out:
    return ret;
}

int bckm_envelope_encode(const struct bckm_envelope *env, uint8_t out[BCKM_ENVELOPE_BYTES]) {
    size_t n = 0;

    if (env == NULL || out == NULL) return BCKM_ERR_ARG;
    if (env->version != BCKM_ENVELOPE_VERSION) return BCKM_ERR_ARG;
    return bckm_envelope_encode_to(env, out, BCKM_ENVELOPE_BYTES, &n);
}

int bckm_envelope_decode(const uint8_t *buf, size_t len, struct bckm_envelope *out) {
    int ret = BCKM_OK;
    uint8_t version;
    uint32_t bp;
    uint64_t seq;
    uint8_t consent[BCKM_SIG_BYTES];
    uint8_t sig[BCKM_SIG_BYTES];
    size_t i, signed_len;

    if (buf == NULL || out == NULL) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    if (len < BCKM_ENVELOPE_BYTES) {
        ret = BCKM_ERR_TRUNCATED;
        goto out;
    }

    version = buf[ENV_OFF_VERSION];
    if (version == BCKM_ENVELOPE_VERSION)
        signed_len = BCKM_ENVELOPE_SIGNED_BYTES;
    else if (version == BCKM_ENVELOPE_VERSION_REATTACH)
        signed_len = BCKM_ENVELOPE_V2_SIGNED_BYTES;
    else {
        ret = BCKM_ERR_FORMAT;
        goto out;
    }
    /*@ assert signed_len == bckm_env_signed_len(version); */
    if (len < signed_len + BCKM_SIG_BYTES) {
        ret = BCKM_ERR_TRUNCATED;
        goto out;
    }
    if (len > signed_len + BCKM_SIG_BYTES) {
        ret = BCKM_ERR_FORMAT;
        goto out;
    }
    if (!version_carries(version, buf[ENV_OFF_OP])) {
        ret = BCKM_ERR_FORMAT;
        goto out;
    }
    bp = bckm_get_u32(buf + ENV_OFF_BP);
    if (!bp_in_range(bp)) {
        ret = BCKM_ERR_FORMAT;
        goto out;
    }
    seq = bckm_get_u64(buf + ENV_OFF_SEQ);
    /*@ loop invariant 0 <= i <= BCKM_SIG_BYTES;
        loop invariant version == 2 ==> \forall integer k; 0 <= k < i ==> consent[k] == buf[ENV_OFF_CONSENT + k];
        loop invariant version == 1 ==> \forall integer k; 0 <= k < i ==> consent[k] == 0;
        loop assigns i, consent[0 .. BCKM_SIG_BYTES - 1];
        loop variant BCKM_SIG_BYTES - i; */
    for (i = 0; i < BCKM_SIG_BYTES; i++)
        consent[i] = version == BCKM_ENVELOPE_VERSION_REATTACH ? buf[ENV_OFF_CONSENT + i] : 0u;
    /*@ loop invariant 0 <= i <= BCKM_SIG_BYTES;
        loop invariant \forall integer k; 0 <= k < i ==> sig[k] == buf[signed_len + k];
        loop assigns i, sig[0 .. BCKM_SIG_BYTES - 1];
        loop variant BCKM_SIG_BYTES - i; */
    for (i = 0; i < BCKM_SIG_BYTES; i++) sig[i] = buf[signed_len + i];
    /* Every byte is read before out is written. The transaction goes
     * straight into out->tx: bckm_tx_decode leaves it untouched when it
     * fails, and nothing after it can fail, so out is still written only on
     * success. Then the other fields, from the locals. */
    ret = bckm_tx_decode(buf + ENV_OFF_TX, BCKM_TX_BYTES, &out->tx);
    if (ret != BCKM_OK) goto out;
    out->version = version;
    out->bp = bp;
    out->seq = seq;
    /*@ loop invariant 0 <= i <= BCKM_SIG_BYTES;
        loop invariant out->version == version && out->bp == bp && out->seq == seq;
        loop invariant bckm_tx_encodes{Here, Pre}(&out->tx, (uint8_t *)buf + ENV_OFF_TX);
        loop invariant bckm_tx_fields_ok(out->tx.op, out->tx.node_id, out->tx.set_id);
        loop invariant \forall integer k; 0 <= k < i ==> out->consent[k] == consent[k];
        loop assigns i, out->consent[0 .. BCKM_SIG_BYTES - 1];
        loop variant BCKM_SIG_BYTES - i; */
    for (i = 0; i < BCKM_SIG_BYTES; i++) out->consent[i] = consent[i];
    /*@ loop invariant 0 <= i <= BCKM_SIG_BYTES;
        loop invariant out->version == version && out->bp == bp && out->seq == seq;
        loop invariant bckm_tx_encodes{Here, Pre}(&out->tx, (uint8_t *)buf + ENV_OFF_TX);
        loop invariant bckm_tx_fields_ok(out->tx.op, out->tx.node_id, out->tx.set_id);
        loop invariant \forall integer k; 0 <= k < BCKM_SIG_BYTES ==> out->consent[k] == consent[k];
        loop invariant \forall integer k; 0 <= k < i ==> out->sig[k] == sig[k];
        loop assigns i, out->sig[0 .. BCKM_SIG_BYTES - 1];
        loop variant BCKM_SIG_BYTES - i; */
    for (i = 0; i < BCKM_SIG_BYTES; i++) out->sig[i] = sig[i];
    /*@ assert signed_len == bckm_env_signed_len(out->version); */
    /*@ assert \forall integer k; 0 <= k < BCKM_SIG_BYTES ==>
                 out->sig[k] == buf[bckm_env_signed_len(out->version) + k]; */
    /*@ assert out->version == 2 ==> \forall integer k; 0 <= k < BCKM_SIG_BYTES ==>
                 out->consent[k] == buf[ENV_OFF_CONSENT + k]; */
    /* The encoding predicate in three steps (each a goal of its own): the
     * 70-byte head, the signed bytes, the whole envelope. */
    /*@ assert bckm_envelope_encodes_head{Here, Pre}(out, (uint8_t *)buf); */
    /*@ assert bckm_envelope_encodes_signed{Here, Pre}(out, (uint8_t *)buf); */
    /*@ assert bckm_envelope_encodes{Here, Pre}(out, (uint8_t *)buf); */

out:
    return ret;
}

/* The signed message: label || the bytes before the signature (70 or 134). */
#define ENV_MSG_MAX_BYTES (BCKM_ENVELOPE_LABEL_BYTES + BCKM_ENVELOPE_V2_SIGNED_BYTES)

/*@ requires \valid_read(env) && \valid(msg + (0 .. ENV_MSG_MAX_BYTES - 1));
    requires \valid(msg_len);
    requires \separated(env, msg_len, msg + (0 .. ENV_MSG_MAX_BYTES - 1));
    assigns msg[0 .. ENV_MSG_MAX_BYTES - 1], *msg_len;
    ensures \result == BCKM_OK || \result == BCKM_ERR_ARG;
    ensures \result == BCKM_OK ==> *msg_len <= ENV_MSG_MAX_BYTES;
 */
static int envelope_message(const struct bckm_envelope *env, uint8_t msg[ENV_MSG_MAX_BYTES],
                            size_t *msg_len) {
    static const uint8_t label[BCKM_ENVELOPE_LABEL_BYTES] = BCKM_ENVELOPE_LABEL;
    int ret;
    size_t i;

    *msg_len = 0;
    if (!bckm_envelope_is_valid(env)) return BCKM_ERR_ARG;
    /*@ loop invariant 0 <= i <= BCKM_ENVELOPE_LABEL_BYTES;
        loop assigns i, msg[0 .. BCKM_ENVELOPE_LABEL_BYTES - 1];
        loop variant BCKM_ENVELOPE_LABEL_BYTES - i; */
    for (i = 0; i < BCKM_ENVELOPE_LABEL_BYTES; i++) msg[i] = label[i];
    ret = envelope_encode_signed(env, msg + BCKM_ENVELOPE_LABEL_BYTES);
    if (ret == BCKM_OK)
        *msg_len = BCKM_ENVELOPE_LABEL_BYTES + (env->version == BCKM_ENVELOPE_VERSION
                                                    ? BCKM_ENVELOPE_SIGNED_BYTES
                                                    : BCKM_ENVELOPE_V2_SIGNED_BYTES);
    return ret;
}

int bckm_envelope_sign(struct bckm_envelope *env, const uint8_t sk[BCKM_SIGN_SK_BYTES]) {
    int ret = BCKM_OK;
    uint8_t msg[ENV_MSG_MAX_BYTES];
    size_t n = 0;

    if (env == NULL || sk == NULL) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    ret = envelope_message(env, msg, &n);
    if (ret != BCKM_OK) goto out;
    if (crypto_sign_detached(env->sig, NULL, msg, n, sk) != 0) ret = BCKM_ERR_CRYPTO;

out:
    return ret;
}

int bckm_envelope_verify(const struct bckm_envelope *env, const uint8_t pk[BCKM_SIGN_PK_BYTES]) {
    int ret = BCKM_OK;
    uint8_t msg[ENV_MSG_MAX_BYTES];
    size_t n = 0;

    if (env == NULL || pk == NULL) {
        ret = BCKM_ERR_ARG;
        goto out;
    }
    ret = envelope_message(env, msg, &n);
    if (ret != BCKM_OK) goto out;
    if (crypto_sign_verify_detached(env->sig, msg, n, pk) != 0) ret = BCKM_ERR_AUTH;

out:
    return ret;
}
