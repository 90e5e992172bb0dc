/*
 * bckm tx: the 57-byte transaction of the paper (Fig. 3) and the signed
 * envelope that carries it between blockchain participants (BPs).
 *
 * Normative layout: spec/layer2-formats.md. Every decoder takes a byte range
 * (buf, len), never reads outside it, accepts only canonical encodings
 * (decode then encode gives back the same bytes) and leaves its output
 * untouched when it fails. Encoders refuse values that the decoder would
 * refuse, so nothing this module writes can be rejected on the way back in.
 *
 * The codec functions use no allocation, no pointer casts and counted loops
 * only, so that Frama-C WP can prove them; the contracts sit above each
 * declaration. The sign/verify functions call libsodium (Ed25519).
 */
#ifndef BCKM_TX_H
#define BCKM_TX_H

#include "bckm/common.h"

/* Operation codes (first byte of a transaction). */
#define BCKM_TX_OP_JOIN 1u
#define BCKM_TX_OP_LEAVE 2u
#define BCKM_TX_OP_EVICT 3u
#define BCKM_TX_OP_REATTACH 4u /* only inside a version-2 envelope */

/* op (1) || node ID (4) || set ID (4) || code hash (32) || refresh key (16) */
#define BCKM_TX_BYTES 57u

/* Envelope version 1 (ops 1-3):
 *   version (1) || origin BP (4) || sequence (8) || tx (57) || signature (64).
 * Envelope version 2 (op 4, REATTACH, only):
 *   version (1) || origin BP (4) || sequence (8) || tx (57) || node consent (64)
 *   || signature (64).
 * The version byte alone gives the length; each op has exactly one version. */
#define BCKM_ENVELOPE_VERSION 1u
#define BCKM_ENVELOPE_VERSION_REATTACH 2u
#define BCKM_SIG_BYTES 64u                 /* Ed25519 signature */
#define BCKM_SIGN_PK_BYTES 32u             /* Ed25519 public key */
#define BCKM_SIGN_SK_BYTES 64u             /* Ed25519 secret key, libsodium layout (seed || pk) */
#define BCKM_ENVELOPE_SIGNED_BYTES 70u     /* version 1: the bytes that precede the signature */
#define BCKM_ENVELOPE_BYTES 134u           /* version 1: 70 + 64 */
#define BCKM_ENVELOPE_V2_SIGNED_BYTES 134u /* version 2: 70 + consent 64 */
#define BCKM_ENVELOPE_V2_BYTES 198u        /* version 2: 134 + 64 */
#define BCKM_ENVELOPE_MAX_BYTES 198u       /* the longest envelope */

/* BP identifiers are 1..BCKM_MAX_BPS (common.h); 0 means none. */
#define BCKM_BP_MIN 1u

/* Domain-separation label signed in front of the envelope bytes (16 ASCII
 * bytes, no terminator). */
#define BCKM_ENVELOPE_LABEL "bckm-envelope-v1"
#define BCKM_ENVELOPE_LABEL_BYTES 16u

struct bckm_tx {
    uint8_t op;                          /* BCKM_TX_OP_* */
    uint32_t node_id;                    /* never 0 */
    uint32_t set_id;                     /* never 0 */
    uint8_t code_hash[BCKM_HASH_BYTES];  /* BLAKE2b-256 of the node's secret code */
    uint8_t refresh[BCKM_REFRESH_BYTES]; /* refresh key of this rekeying */
};

struct bckm_envelope {
    uint8_t version; /* 1, or 2 exactly when tx.op is REATTACH */
    uint32_t bp;     /* originating BP, 1..BCKM_MAX_BPS */
    uint64_t seq;    /* per-BP sequence number */
    struct bckm_tx tx;
    uint8_t consent[BCKM_SIG_BYTES]; /* version 2: the node's consent
                                              * (sets.h, bckm_reattach_consent);
                                              * version 1: not encoded, zero
                                              * after a decode */
    uint8_t sig[BCKM_SIG_BYTES];     /* Ed25519 over label || the bytes before it */
};

/* The fields a decoder accepts, as a predicate on values (no pointer, so
 * that it reads the same before and after any assignment). */
/*@ predicate bckm_tx_fields_ok(integer op, integer node_id, integer set_id) =
        (op == 1 || op == 2 || op == 3 || op == 4) && node_id != 0 && set_id != 0;
 */

/* The encoding as a relation between a value (read at label V) and 57
 * bytes (read at label B): b holds t when every field of t reads back from
 * its offset (IDs big-endian). Encoder and decoder both state their result
 * with it, the value and the bytes each read where the other is not yet or
 * no longer written, so decode(encode(x)) == x (lemma bckm_tx_roundtrip) and
 * the decoder's result is a function of the bytes. */
/*@ predicate bckm_tx_encodes{V, B}(struct bckm_tx *t, uint8_t *b) =
        \at(b[0], B) == \at(t->op, V) &&
        bckm_be32(\at(b[1], B), \at(b[2], B), \at(b[3], B), \at(b[4], B)) == \at(t->node_id, V) &&
        bckm_be32(\at(b[5], B), \at(b[6], B), \at(b[7], B), \at(b[8], B)) == \at(t->set_id, V) &&
        (\forall integer i; 0 <= i < BCKM_HASH_BYTES ==>
            \at(b[9 + i], B) == \at(t->code_hash[i], V)) &&
        (\forall integer i; 0 <= i < BCKM_REFRESH_BYTES ==>
            \at(b[41 + i], B) == \at(t->refresh[i], V));

    predicate bckm_tx_same{X, Y}(struct bckm_tx *x, struct bckm_tx *y) =
        \at(x->op, X) == \at(y->op, Y) && \at(x->node_id, X) == \at(y->node_id, Y) &&
        \at(x->set_id, X) == \at(y->set_id, Y) &&
        (\forall integer i; 0 <= i < BCKM_HASH_BYTES ==>
            \at(x->code_hash[i], X) == \at(y->code_hash[i], Y)) &&
        (\forall integer i; 0 <= i < BCKM_REFRESH_BYTES ==>
            \at(x->refresh[i], X) == \at(y->refresh[i], Y));

    // Two values held by the same bytes are the same value.
    lemma bckm_tx_roundtrip{X, Y, B}:
        \forall struct bckm_tx *x, *y, uint8_t *b;
            bckm_tx_encodes{X, B}(x, b) && bckm_tx_encodes{Y, B}(y, b) ==>
            bckm_tx_same{X, Y}(x, y);
 */

/* The same for envelopes: the fields the decoder accepts, the signed
 * bytes (70 or 134) and the whole envelope (134 or 198). Encoder and
 * decoder state their results with these, so decode(encode(x)) == x (lemma
 * bckm_envelope_roundtrip). */
/*@ // Version v's signed length and whole length (0 for an unknown v).
    logic integer bckm_env_signed_len(integer v) = v == 1 ? 70 : v == 2 ? 134 : 0;
    logic integer bckm_env_len(integer v) = v == 1 ? 134 : v == 2 ? 198 : 0;

    // The op a version carries: REATTACH exactly in version 2.
    predicate bckm_env_version_op(integer v, integer op) =
        (v == 1 && (op == 1 || op == 2 || op == 3)) || (v == 2 && op == 4);

    predicate bckm_envelope_fields_ok{L}(struct bckm_envelope *e) =
        bckm_env_version_op(e->version, e->tx.op) && 1 <= e->bp <= BCKM_MAX_BPS &&
        bckm_tx_fields_ok(e->tx.op, e->tx.node_id, e->tx.set_id);

    // The first 70 bytes, the same in both versions.
    predicate bckm_envelope_encodes_head{V, B}(struct bckm_envelope *e, uint8_t *b) =
        \at(b[0], B) == \at(e->version, V) &&
        bckm_be32(\at(b[1], B), \at(b[2], B), \at(b[3], B), \at(b[4], B)) == \at(e->bp, V) &&
        bckm_be64(\at(b[5], B), \at(b[6], B), \at(b[7], B), \at(b[8], B),
                  \at(b[9], B), \at(b[10], B), \at(b[11], B), \at(b[12], B)) == \at(e->seq, V) &&
        bckm_tx_encodes{V, B}(\at(&e->tx, V), b + 13);

    predicate bckm_envelope_encodes_signed{V, B}(struct bckm_envelope *e, uint8_t *b) =
        bckm_envelope_encodes_head{V, B}(e, b) &&
        (\at(e->version, V) == 2 ==>
           \forall integer i; 0 <= i < BCKM_SIG_BYTES ==> \at(b[70 + i], B) == \at(e->consent[i], V));

    predicate bckm_envelope_encodes{V, B}(struct bckm_envelope *e, uint8_t *b) =
        bckm_envelope_encodes_signed{V, B}(e, b) &&
        (\forall integer i; 0 <= i < BCKM_SIG_BYTES ==>
           \at(b[bckm_env_signed_len(\at(e->version, V)) + i], B) == \at(e->sig[i], V));

    predicate bckm_envelope_same{X, Y}(struct bckm_envelope *x, struct bckm_envelope *y) =
        \at(x->version, X) == \at(y->version, Y) && \at(x->bp, X) == \at(y->bp, Y) &&
        \at(x->seq, X) == \at(y->seq, Y) && bckm_tx_same{X, Y}(\at(&x->tx, X), \at(&y->tx, Y)) &&
        (\at(x->version, X) == 2 ==>
           \forall integer i; 0 <= i < BCKM_SIG_BYTES ==> \at(x->consent[i], X) == \at(y->consent[i], Y)) &&
        (\forall integer i; 0 <= i < BCKM_SIG_BYTES ==> \at(x->sig[i], X) == \at(y->sig[i], Y));

 */

/* 1 when the fields of tx are ones the decoder accepts, 0 otherwise. */
/*@ requires \valid_read(tx);
    assigns \nothing;
    ensures \result == 1 <==> bckm_tx_fields_ok(tx->op, tx->node_id, tx->set_id);
    ensures \result == 0 || \result == 1;
 */
int bckm_tx_is_valid(const struct bckm_tx *tx);

/* Writes the 57-byte encoding of tx. BCKM_ERR_ARG when tx is not valid (out
 * untouched). */
/*@ requires \valid_read(tx) && \valid(out + (0 .. BCKM_TX_BYTES - 1));
    requires \separated(tx, out + (0 .. BCKM_TX_BYTES - 1));
    assigns out[0 .. BCKM_TX_BYTES - 1];
    ensures \result == BCKM_OK || \result == BCKM_ERR_ARG;
    ensures \result == BCKM_OK <==> bckm_tx_fields_ok(tx->op, tx->node_id, tx->set_id);
    ensures \result == BCKM_OK ==> bckm_tx_encodes{Pre, Post}((struct bckm_tx *)tx, out);
 */
int bckm_tx_encode(const struct bckm_tx *tx, uint8_t out[BCKM_TX_BYTES]) BCKM_MUST_CHECK;

/* Decodes exactly BCKM_TX_BYTES bytes. BCKM_ERR_TRUNCATED when len is short,
 * BCKM_ERR_FORMAT when len is long, the op is unknown or an ID is 0.
 * out is written only on success. */
/*@ requires len == 0 || \valid_read(buf + (0 .. len - 1));
    requires \valid(out);
    requires \separated(buf + (0 .. len - 1), out);
    assigns *out;
    ensures \result == BCKM_OK ==> bckm_tx_fields_ok(out->op, out->node_id, out->set_id);
    ensures \result == BCKM_OK ==> bckm_tx_encodes{Post, Pre}(out, (uint8_t *)buf);
    ensures len == BCKM_TX_BYTES ==>
              (\result == BCKM_OK <==>
               bckm_tx_fields_ok(buf[0], bckm_be32(buf[1], buf[2], buf[3], buf[4]),
                                 bckm_be32(buf[5], buf[6], buf[7], buf[8])));
    ensures \result != BCKM_ERR_ARG ==> \result == BCKM_OK || \result == BCKM_ERR_TRUNCATED ||
                                       \result == BCKM_ERR_FORMAT;
    ensures \result != BCKM_OK ==> *out == \old(*out);
 */
int bckm_tx_decode(const uint8_t *buf, size_t len, struct bckm_tx *out) BCKM_MUST_CHECK;

/* 1 when the envelope's header fields and transaction are ones the decoder
 * accepts (the signature is not checked), 0 otherwise. */
/*@ requires \valid_read(env);
    assigns \nothing;
    ensures \result == 1 <==> bckm_envelope_fields_ok((struct bckm_envelope *)env);
    ensures \result == 0 || \result == 1;
 */
int bckm_envelope_is_valid(const struct bckm_envelope *env);

/* The encoded length of an envelope of this version: 134 (version 1),
 * 198 (version 2), 0 for any other version. */
/*@ assigns \nothing;
    ensures \result == bckm_env_len(version);
 */
size_t bckm_envelope_wire_len(uint8_t version);

/* Writes a version-1 envelope's 134 bytes. BCKM_ERR_ARG when a field is out
 * of range or the envelope is a version 2 (which does not fit: use
 * bckm_envelope_encode_to). */
/*@ requires \valid_read(env) && \valid(out + (0 .. BCKM_ENVELOPE_BYTES - 1));
    requires \separated(env, out + (0 .. BCKM_ENVELOPE_BYTES - 1));
    assigns out[0 .. BCKM_ENVELOPE_BYTES - 1];
    ensures \result == BCKM_OK || \result == BCKM_ERR_ARG;
    ensures \result == BCKM_OK <==>
              (bckm_envelope_fields_ok((struct bckm_envelope *)env) && env->version == 1);
    ensures \result == BCKM_OK ==> bckm_envelope_encodes{Pre, Post}((struct bckm_envelope *)env, out);
 */
int bckm_envelope_encode(const struct bckm_envelope *env,
                         uint8_t out[BCKM_ENVELOPE_BYTES]) BCKM_MUST_CHECK;

/* Writes any envelope's encoding (134 or 198 bytes) into out (cap bytes)
 * and its length into *out_len. BCKM_ERR_ARG when a field is out of range,
 * BCKM_ERR_NOMEM when cap is below the length (out and *out_len untouched
 * on every error). */
/*@ requires \valid_read(env) && \valid(out_len);
    requires cap == 0 || \valid(out + (0 .. cap - 1));
    requires cap == 0 || \separated(env, out_len, out + (0 .. cap - 1));
    requires \separated(env, out_len);
    assigns out[0 .. cap - 1], *out_len;
    ensures \result == BCKM_OK || \result == BCKM_ERR_ARG || \result == BCKM_ERR_NOMEM;
    ensures \result == BCKM_ERR_ARG <==> !bckm_envelope_fields_ok((struct bckm_envelope *)env);
    ensures \result == BCKM_ERR_NOMEM <==>
              (bckm_envelope_fields_ok((struct bckm_envelope *)env) && cap < bckm_env_len(env->version));
    ensures \result == BCKM_OK ==>
              *out_len == bckm_env_len(env->version) && *out_len <= cap &&
              bckm_envelope_encodes{Pre, Post}((struct bckm_envelope *)env, out);
    ensures \result != BCKM_OK ==> *out_len == \old(*out_len);
 */
int bckm_envelope_encode_to(const struct bckm_envelope *env, uint8_t *out, size_t cap,
                            size_t *out_len) BCKM_MUST_CHECK;

/* Decodes exactly one envelope of len bytes: 134 with version 1, 198 with
 * version 2 (the signature and the consent are not checked: see
 * bckm_envelope_verify and the contract). BCKM_ERR_TRUNCATED when short for
 * its version, BCKM_ERR_FORMAT when long, for an unknown version, a version
 * that does not carry the op, a BP ID outside 1..255 or a bad tx. A
 * version-1 envelope decodes with consent all zero. out is written only on
 * success. */
/*@ requires len == 0 || \valid_read(buf + (0 .. len - 1));
    requires \valid(out);
    requires \separated(buf + (0 .. len - 1), out);
    assigns *out;
    ensures \result == BCKM_OK ==> bckm_envelope_fields_ok(out);
    ensures \result == BCKM_OK ==> len == bckm_env_len(out->version);
    ensures \result == BCKM_OK ==> bckm_envelope_encodes{Post, Pre}(out, (uint8_t *)buf);
    ensures \result == BCKM_OK && out->version == 1 ==>
              \forall integer i; 0 <= i < BCKM_SIG_BYTES ==> out->consent[i] == 0;
    // With the two above: success exactly on these bytes.
    ensures len >= 1 && len == bckm_env_len(buf[0]) &&
            bckm_env_version_op(buf[0], buf[13]) &&
            1 <= bckm_be32(buf[1], buf[2], buf[3], buf[4]) <= BCKM_MAX_BPS &&
            bckm_tx_fields_ok(buf[13], bckm_be32(buf[14], buf[15], buf[16], buf[17]),
                              bckm_be32(buf[18], buf[19], buf[20], buf[21])) ==>
              \result == BCKM_OK;
    ensures \result != BCKM_ERR_ARG ==> \result == BCKM_OK || \result == BCKM_ERR_TRUNCATED ||
                                       \result == BCKM_ERR_FORMAT;
    ensures \result != BCKM_OK ==> *out == \old(*out);
 */
int bckm_envelope_decode(const uint8_t *buf, size_t len, struct bckm_envelope *out) BCKM_MUST_CHECK;

/* Signs env with the BP's Ed25519 secret key (libsodium 64-byte layout) and
 * stores the signature in env->sig. BCKM_ERR_ARG when a field is out of
 * range, BCKM_ERR_CRYPTO when libsodium fails. */
/*@ requires env == \null || \valid(env);
    requires sk == \null || \valid_read(sk + (0 .. BCKM_SIGN_SK_BYTES - 1));
    requires env != \null && sk != \null ==>
               \separated(env, sk + (0 .. BCKM_SIGN_SK_BYTES - 1));
    assigns env->sig[0 .. BCKM_SIG_BYTES - 1];
    ensures \result == BCKM_OK || \result == BCKM_ERR_ARG || \result == BCKM_ERR_CRYPTO;
 */
int bckm_envelope_sign(struct bckm_envelope *env,
                       const uint8_t sk[BCKM_SIGN_SK_BYTES]) BCKM_MUST_CHECK;

/* BCKM_OK when env->sig is a valid signature of env under pk,
 * BCKM_ERR_AUTH when it is not, BCKM_ERR_ARG when a field is out of range. */
/*@ requires env == \null || \valid_read(env);
    requires pk == \null || \valid_read(pk + (0 .. BCKM_SIGN_PK_BYTES - 1));
    assigns \nothing;
    ensures \result == BCKM_OK || \result == BCKM_ERR_ARG || \result == BCKM_ERR_AUTH;
 */
int bckm_envelope_verify(const struct bckm_envelope *env,
                         const uint8_t pk[BCKM_SIGN_PK_BYTES]) BCKM_MUST_CHECK;

#endif
