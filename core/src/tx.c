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
#define ENV_OFF_SIG 70u

/*@ assigns \nothing;
    ensures \result == 1 <==> (op == 1 || op == 2 || op == 3);
    ensures \result == 0 || \result == 1;
 */
static int op_known(uint8_t op) {
    return op == BCKM_TX_OP_JOIN || op == BCKM_TX_OP_LEAVE || op == BCKM_TX_OP_EVICT;
}

/*@ assigns \nothing;
    ensures \result == 1 <==> (1 <= bp && bp <= 255);
    ensures \result == 0 || \result == 1;
 */
static int bp_in_range(uint32_t bp) {
    return bp >= BCKM_BP_MIN && bp <= BCKM_MAX_BPS;
}

int bckm_tx_is_valid(const struct bckm_tx *tx) {
    return op_known(tx->op) && tx->node_id != BCKM_ID_NONE && tx->set_id != BCKM_ID_NONE;
}

int bckm_tx_encode(const struct bckm_tx *tx, uint8_t out[BCKM_TX_BYTES]) {
    int ret = BCKM_OK;
    size_t i;

    if (tx == NULL || out == NULL) { ret = BCKM_ERR_ARG; goto out; }
    if (!bckm_tx_is_valid(tx)) { ret = BCKM_ERR_ARG; goto out; }

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

    if (buf == NULL || out == NULL) { ret = BCKM_ERR_ARG; goto out; }
    if (len < BCKM_TX_BYTES) { ret = BCKM_ERR_TRUNCATED; goto out; }
    if (len > BCKM_TX_BYTES) { ret = BCKM_ERR_FORMAT; goto out; }

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

    if (!op_known(t.op)) { ret = BCKM_ERR_FORMAT; goto out; }
    if (t.node_id == BCKM_ID_NONE || t.set_id == BCKM_ID_NONE) { ret = BCKM_ERR_FORMAT; goto out; }

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
    return env->version == BCKM_ENVELOPE_VERSION && bp_in_range(env->bp) &&
           bckm_tx_is_valid(&env->tx);
}

/* Writes the 70 signed bytes (everything before the signature). */
/*@ requires \valid_read(env) && \valid(out + (0 .. BCKM_ENVELOPE_SIGNED_BYTES - 1));
    requires \separated(env, out + (0 .. BCKM_ENVELOPE_SIGNED_BYTES - 1));
    assigns out[0 .. BCKM_ENVELOPE_SIGNED_BYTES - 1];
    ensures \result == BCKM_OK || \result == BCKM_ERR_ARG;
    ensures \result == BCKM_OK <==> bckm_envelope_fields_ok((struct bckm_envelope *)env);
    ensures \result == BCKM_OK ==> bckm_envelope_encodes_signed{Pre, Post}((struct bckm_envelope *)env, out);
 */
static int envelope_encode_signed(const struct bckm_envelope *env, uint8_t *out) {
    int ret = BCKM_OK;

    if (!bckm_envelope_is_valid(env)) { ret = BCKM_ERR_ARG; goto out; }
    out[ENV_OFF_VERSION] = env->version;
    bckm_put_u32(out + ENV_OFF_BP, env->bp);
    bckm_put_u64(out + ENV_OFF_SEQ, env->seq);
    ret = bckm_tx_encode(&env->tx, out + ENV_OFF_TX);

out:
    return ret;
}

int bckm_envelope_encode(const struct bckm_envelope *env, uint8_t out[BCKM_ENVELOPE_BYTES]) {
    int ret = BCKM_OK;
    size_t i;

    if (env == NULL || out == NULL) { ret = BCKM_ERR_ARG; goto out; }
    ret = envelope_encode_signed(env, out);
    if (ret != BCKM_OK) goto out;
    /*@ loop invariant 0 <= i <= BCKM_SIG_BYTES;
        loop invariant bckm_envelope_encodes_signed{Pre, Here}((struct bckm_envelope *)env, out);
        loop invariant \forall integer k; 0 <= k < i ==> out[ENV_OFF_SIG + k] == \at(env->sig[k], Pre);
        loop assigns i, out[ENV_OFF_SIG .. ENV_OFF_SIG + BCKM_SIG_BYTES - 1];
        loop variant BCKM_SIG_BYTES - i; */
    for (i = 0; i < BCKM_SIG_BYTES; i++) out[ENV_OFF_SIG + i] = env->sig[i];

out:
    return ret;
}

int bckm_envelope_decode(const uint8_t *buf, size_t len, struct bckm_envelope *out) {
    int ret = BCKM_OK;
    uint8_t version;
    uint32_t bp;
    uint64_t seq;
    uint8_t sig[BCKM_SIG_BYTES];
    size_t i;

    if (buf == NULL || out == NULL) { ret = BCKM_ERR_ARG; goto out; }
    if (len < BCKM_ENVELOPE_BYTES) { ret = BCKM_ERR_TRUNCATED; goto out; }
    if (len > BCKM_ENVELOPE_BYTES) { ret = BCKM_ERR_FORMAT; goto out; }

    version = buf[ENV_OFF_VERSION];
    if (version != BCKM_ENVELOPE_VERSION) { ret = BCKM_ERR_FORMAT; goto out; }
    bp = bckm_get_u32(buf + ENV_OFF_BP);
    if (!bp_in_range(bp)) { ret = BCKM_ERR_FORMAT; goto out; }
    seq = bckm_get_u64(buf + ENV_OFF_SEQ);
    /*@ loop invariant 0 <= i <= BCKM_SIG_BYTES;
        loop invariant \forall integer k; 0 <= k < i ==> sig[k] == buf[ENV_OFF_SIG + k];
        loop assigns i, sig[0 .. BCKM_SIG_BYTES - 1];
        loop variant BCKM_SIG_BYTES - i; */
    for (i = 0; i < BCKM_SIG_BYTES; i++) sig[i] = buf[ENV_OFF_SIG + i];
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
        loop invariant \forall integer k; 0 <= k < i ==> out->sig[k] == sig[k];
        loop assigns i, out->sig[0 .. BCKM_SIG_BYTES - 1];
        loop variant BCKM_SIG_BYTES - i; */
    for (i = 0; i < BCKM_SIG_BYTES; i++) out->sig[i] = sig[i];

out:
    return ret;
}

/* The signed message: label || the 70 bytes before the signature. */
#define ENV_MSG_BYTES (BCKM_ENVELOPE_LABEL_BYTES + BCKM_ENVELOPE_SIGNED_BYTES)

/*@ requires \valid_read(env) && \valid(msg + (0 .. ENV_MSG_BYTES - 1));
    requires \separated(env, msg + (0 .. ENV_MSG_BYTES - 1));
    assigns msg[0 .. ENV_MSG_BYTES - 1];
    ensures \result == BCKM_OK || \result == BCKM_ERR_ARG;
 */
static int envelope_message(const struct bckm_envelope *env, uint8_t msg[ENV_MSG_BYTES]) {
    static const uint8_t label[BCKM_ENVELOPE_LABEL_BYTES] = BCKM_ENVELOPE_LABEL;
    size_t i;

    /*@ loop invariant 0 <= i <= BCKM_ENVELOPE_LABEL_BYTES;
        loop assigns i, msg[0 .. BCKM_ENVELOPE_LABEL_BYTES - 1];
        loop variant BCKM_ENVELOPE_LABEL_BYTES - i; */
    for (i = 0; i < BCKM_ENVELOPE_LABEL_BYTES; i++) msg[i] = label[i];
    return envelope_encode_signed(env, msg + BCKM_ENVELOPE_LABEL_BYTES);
}

int bckm_envelope_sign(struct bckm_envelope *env, const uint8_t sk[BCKM_SIGN_SK_BYTES]) {
    int ret = BCKM_OK;
    uint8_t msg[ENV_MSG_BYTES];

    if (env == NULL || sk == NULL) { ret = BCKM_ERR_ARG; goto out; }
    ret = envelope_message(env, msg);
    if (ret != BCKM_OK) goto out;
    if (crypto_sign_detached(env->sig, NULL, msg, sizeof msg, sk) != 0) ret = BCKM_ERR_CRYPTO;

out:
    return ret;
}

int bckm_envelope_verify(const struct bckm_envelope *env, const uint8_t pk[BCKM_SIGN_PK_BYTES]) {
    int ret = BCKM_OK;
    uint8_t msg[ENV_MSG_BYTES];

    if (env == NULL || pk == NULL) { ret = BCKM_ERR_ARG; goto out; }
    ret = envelope_message(env, msg);
    if (ret != BCKM_OK) goto out;
    if (crypto_sign_verify_detached(env->sig, msg, sizeof msg, pk) != 0) ret = BCKM_ERR_AUTH;

out:
    return ret;
}
