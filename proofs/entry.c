/*
 * The analysis entry point, compiled only under Frama-C (__FRAMAC__): calls
 * every proven function with unknown inputs, so that the proof of each
 * caller-side precondition covers what any caller could pass. WP proves this
 * main() like any other function of the proof set: every call below must
 * satisfy the contract of the function it calls.
 */
#ifdef __FRAMAC__
#include "__fc_builtin.h"

#include "bckm/common.h"
#include "bckm/sets.h"
#include "bckm/kdf.h"
#include "bckm/tx.h"
#include "bckm/block.h"

/* Unknown bytes in a buffer (byte by byte: no pointer casts). */
/*@ requires \valid(buf + (0 .. len - 1));
    assigns buf[0 .. len - 1], Frama_C_entropy_source;
 */
static void unknown_bytes(uint8_t *buf, size_t len) {
    /*@ loop invariant 0 <= i <= len;
        loop assigns i, buf[0 .. len - 1], Frama_C_entropy_source;
        loop variant len - i; */
    for (size_t i = 0; i < len; i++) buf[i] = Frama_C_unsigned_char_interval(0, 255);
}

/*@ assigns \result, Frama_C_entropy_source \from Frama_C_entropy_source; */
static uint32_t any_u32(void) { return Frama_C_unsigned_int_interval(0u, 0xFFFFFFFFu); }

/*@ assigns Frama_C_entropy_source; */
static void entry_common(void) {
    uint8_t a[32], b[32];
    int e = Frama_C_interval(-20, 20);
    unknown_bytes(a, sizeof a);
    unknown_bytes(b, sizeof b);
    (void)bckm_strerror(e);
    (void)bckm_ct_equal(a, b, sizeof a);
    bckm_wipe(a, sizeof a);
    bckm_wipe(a, 0);
    (void)bckm_init();
}

/*@ assigns Frama_C_entropy_source; */
static void entry_helpers(void) {
    uint8_t b[8];
    uint32_t v32 = any_u32();
    uint64_t v64 = ((uint64_t)any_u32() << 32) | any_u32();
    uint16_t v16 = (uint16_t)Frama_C_unsigned_int_interval(0u, 0xFFFFu);
    unknown_bytes(b, sizeof b);
    bckm_put_u16(b, v16);
    (void)bckm_get_u16(b);
    bckm_put_u32(b, v32);
    (void)bckm_get_u32(b);
    bckm_put_u64(b, v64);
    (void)bckm_get_u64(b);
    (void)bckm_id_bp(bckm_id_make(Frama_C_unsigned_int_interval(0u, BCKM_MAX_BPS), v32));
}

/* A set table of unknown content and length (up to 8 sets). */
/*@ assigns Frama_C_entropy_source; */
static void entry_sets(void) {
    struct bckm_set_info sets[8];
    uint32_t count = Frama_C_unsigned_int_interval(0u, 8u);
    uint32_t idx, id;
    int fresh, e;
    /*@ loop invariant 0 <= i <= 8;
        loop assigns i, sets[0 .. 7], Frama_C_entropy_source;
        loop variant 8 - i; */
    for (uint32_t i = 0; i < 8; i++) {
        sets[i].id = any_u32();
        sets[i].owner = any_u32();
        sets[i].size = any_u32();
    }
    (void)bckm_sets_target(any_u32());
    (void)bckm_sets_pick_open(sets, count, any_u32(), any_u32(), any_u32(), &idx);
    (void)bckm_sets_pick_dissolve(sets, count, any_u32(), any_u32(), any_u32(), &idx);
    e = bckm_sets_assign(sets, count, any_u32(), any_u32(), any_u32(), &id, &fresh);
    (void)e;
    if (count > 0) {
        uint32_t dest[4];
        uint32_t m = Frama_C_unsigned_int_interval(0u, 4u);
        uint32_t victim = Frama_C_unsigned_int_interval(0u, count - 1);
        (void)bckm_sets_plan_moves(sets, count, any_u32(), any_u32(), victim, dest, m);
    }
}

/* Every key derivation, in place and out of place, with unknown keys. */
/*@ assigns Frama_C_entropy_source; */
static void entry_kdf(void) {
    uint8_t key[BCKM_KEY_BYTES], out[BCKM_KEY_BYTES], r[BCKM_REFRESH_BYTES], r2[BCKM_REFRESH_BYTES];
    uint8_t fields[BCKM_KDF_MAX_FIELDS + 1], x[32], y[32], z[32], buf[64];
    size_t flen = Frama_C_unsigned_long_interval(0u, BCKM_KDF_MAX_FIELDS + 1u);
    uint64_t epoch = ((uint64_t)any_u32() << 32) | any_u32();
    struct bckm_drbg d;
    int e;
    unknown_bytes(key, sizeof key);
    unknown_bytes(r, sizeof r);
    unknown_bytes(r2, sizeof r2);
    unknown_bytes(fields, sizeof fields);
    unknown_bytes(x, sizeof x);
    unknown_bytes(y, sizeof y);
    unknown_bytes(z, sizeof z);
    e = bckm_kdf_derive(key, (uint8_t)Frama_C_unsigned_char_interval(0, 255), fields, flen, out);
    bckm_kdf_set_update(key, r, any_u32(), epoch, out);
    bckm_kdf_set_update(key, r, any_u32(), epoch, key);
    bckm_kdf_setpair_update(key, r, any_u32(), any_u32(), epoch, key);
    bckm_kdf_set_refresh(r, any_u32(), epoch, r2);
    bckm_kdf_set_refresh(r, any_u32(), epoch, r);
    bckm_kdf_pair_refresh(r, any_u32(), r2);
    bckm_kdf_setpair_advance(key, any_u32(), r, any_u32(), r2, epoch, key);
    bckm_kdf_setpair_advance(key, any_u32(), NULL, any_u32(), r2, epoch, out);
    bckm_kdf_setpair_advance(key, any_u32(), r, any_u32(), NULL, epoch, out);
    bckm_kdf_pair_node(key, any_u32(), any_u32(), out);
    bckm_kdf_set_init(key, any_u32(), out);
    bckm_kdf_setpair_init(key, any_u32(), any_u32(), out);
    bckm_kdf_pair_seed(key, any_u32(), out);
    e = bckm_kdf_session_kek(key, x, y, z, out);
    (void)e;
    bckm_drbg_init(&d, key);
    bckm_drbg_init(&d, NULL);
    bckm_drbg_fill(&d, buf, Frama_C_unsigned_long_interval(0u, sizeof buf));
    bckm_drbg_wipe(&d);
    bckm_drbg_wipe(NULL);
}

/* decode(encode(x)) == x for transactions: proven from the two contracts
 * alone (and lemma bckm_tx_roundtrip), for every valid x. */
/*@ requires \valid_read(x) && \valid(y) && \separated(x, y);
    requires bckm_tx_fields_ok(x->op, x->node_id, x->set_id);
    assigns *y;
    ensures \result == BCKM_OK && bckm_tx_same{Post, Pre}(y, (struct bckm_tx *)x);
 */
static int roundtrip_tx(const struct bckm_tx *x, struct bckm_tx *y) {
    uint8_t b[BCKM_TX_BYTES];
    int e = bckm_tx_encode(x, b);
    //@ assert e == BCKM_OK;
    e = bckm_tx_decode(b, sizeof b, y);
    //@ assert e == BCKM_OK && bckm_tx_same{Here, Pre}(y, (struct bckm_tx *)x);
    return e;
}

/* decode(encode(x)) == x for envelopes, the same way (lemma
 * bckm_envelope_roundtrip), for every x with valid fields and any signature
 * bytes. */
/*@ requires \valid_read(x) && \valid(y) && \separated(x, y);
    requires bckm_envelope_fields_ok((struct bckm_envelope *)x);
    assigns *y;
    ensures \result == BCKM_OK && bckm_envelope_same{Post, Pre}(y, (struct bckm_envelope *)x);
 */
static int roundtrip_envelope(const struct bckm_envelope *x, struct bckm_envelope *y) {
    uint8_t b[BCKM_ENVELOPE_MAX_BYTES];
    size_t n = 0;
    int e = bckm_envelope_encode_to(x, b, sizeof b, &n);
    //@ assert e == BCKM_OK && n == bckm_env_len(x->version);
    e = bckm_envelope_decode(b, n, y);
    //@ assert e == BCKM_OK && bckm_envelope_same{Here, Pre}(y, (struct bckm_envelope *)x);
    return e;
}

/* The transaction and envelope codecs on unknown bytes of unknown length,
 * and the encoders on whatever the decoders produced. */
/*@ assigns Frama_C_entropy_source; */
static void entry_tx(void) {
    uint8_t buf[BCKM_ENVELOPE_MAX_BYTES + 1], out[BCKM_ENVELOPE_MAX_BYTES];
    uint8_t sk[BCKM_SIGN_SK_BYTES], pk[BCKM_SIGN_PK_BYTES];
    size_t len = Frama_C_unsigned_long_interval(0u, sizeof buf);
    size_t out_len = 0;
    struct bckm_tx t;
    struct bckm_envelope env;
    int e;
    unknown_bytes(buf, sizeof buf);
    unknown_bytes(sk, sizeof sk);
    unknown_bytes(pk, sizeof pk);
    e = bckm_tx_decode(buf, len, &t);
    if (e == BCKM_OK) {
        (void)bckm_tx_is_valid(&t);
        e = bckm_tx_encode(&t, out);
    }
    (void)bckm_envelope_wire_len(buf[0]);
    e = bckm_envelope_decode(buf, len, &env);
    if (e == BCKM_OK) {
        (void)bckm_envelope_is_valid(&env);
        e = bckm_envelope_encode(&env, out);
        e = bckm_envelope_encode_to(&env, out, Frama_C_unsigned_long_interval(0u, sizeof out),
                                    &out_len);
        e = bckm_envelope_sign(&env, sk);
        e = bckm_envelope_verify(&env, pk);
    }
    /* The round trip of an unknown valid transaction. */
    t.op = (uint8_t)Frama_C_unsigned_char_interval(BCKM_TX_OP_JOIN, BCKM_TX_OP_REATTACH);
    t.node_id = Frama_C_unsigned_int_interval(1u, 0xFFFFFFFFu);
    t.set_id = Frama_C_unsigned_int_interval(1u, 0xFFFFFFFFu);
    unknown_bytes(t.code_hash, sizeof t.code_hash);
    unknown_bytes(t.refresh, sizeof t.refresh);
    e = roundtrip_tx(&t, &env.tx);
    /* The round trip of an envelope of unknown fields, whenever they are
     * valid. */
    {
        struct bckm_envelope x;
        unknown_bytes(x.tx.code_hash, sizeof x.tx.code_hash);
        unknown_bytes(x.tx.refresh, sizeof x.tx.refresh);
        unknown_bytes(x.consent, sizeof x.consent);
        unknown_bytes(x.sig, sizeof x.sig);
        x.version = (uint8_t)Frama_C_unsigned_char_interval(0, 255);
        x.bp = any_u32();
        x.seq = any_u32();
        x.tx.op = (uint8_t)Frama_C_unsigned_char_interval(0, 255);
        x.tx.node_id = any_u32();
        x.tx.set_id = any_u32();
        if (bckm_envelope_is_valid(&x)) e = roundtrip_envelope(&x, &env);
    }
    e = bckm_envelope_sign(NULL, sk);
    e = bckm_envelope_verify(&env, NULL);
    (void)e;
}

/* decode(encode(h)) == h for block headers (lemma
 * bckm_block_header_roundtrip), for every h with valid fields. */
/*@ requires \valid_read(x) && \valid(y) && \separated(x, y);
    requires bckm_block_header_fields_ok((struct bckm_block_header *)x);
    assigns *y;
    ensures \result == BCKM_OK &&
            bckm_block_header_same{Post, Pre}(y, (struct bckm_block_header *)x);
 */
static int roundtrip_block_header(const struct bckm_block_header *x, struct bckm_block_header *y) {
    uint8_t b[BCKM_BLOCK_HEADER_BYTES];
    int e = bckm_block_header_encode(x, b);
    //@ assert e == BCKM_OK;
    e = bckm_block_header_decode(b, sizeof b, y);
    //@ assert e == BCKM_OK && bckm_block_header_same{Here, Pre}(y, (struct bckm_block_header *)x);
    return e;
}

/* The block header codec on unknown bytes of unknown length (proven in
 * group "block", see proofs/targets). */
/*@ assigns Frama_C_entropy_source; */
static void entry_block(void) {
    uint8_t buf[BCKM_BLOCK_HEADER_BYTES + 1], out[BCKM_BLOCK_HEADER_BYTES];
    size_t len = Frama_C_unsigned_long_interval(0u, sizeof buf);
    struct bckm_block_header h;
    struct bckm_envelope envs[2];
    uint8_t body[2 * BCKM_ENVELOPE_MAX_BYTES + 1];
    size_t body_len;
    struct bckm_cert c;
    uint8_t cert_buf[BCKM_CERT_MAX_BYTES];
    size_t cert_len;
    int e;
    unknown_bytes(buf, sizeof buf);
    e = bckm_block_header_decode(buf, len, &h);
    if (e == BCKM_OK) {
        (void)bckm_block_header_is_valid(&h);
        e = bckm_block_header_encode(&h, out);
    }
    /* The round trip of a header of unknown fields, whenever they are
     * valid. */
    {
        struct bckm_block_header x;
        unknown_bytes(x.prev_hash, sizeof x.prev_hash);
        unknown_bytes(x.tx_root, sizeof x.tx_root);
        unknown_bytes(x.state_hash, sizeof x.state_hash);
        x.version = (uint8_t)Frama_C_unsigned_char_interval(0, 255);
        x.height = ((uint64_t)any_u32() << 32) | any_u32();
        x.proposer = any_u32();
        x.time = ((uint64_t)any_u32() << 32) | any_u32();
        x.n_txs = any_u32();
        if (bckm_block_header_is_valid(&x)) e = roundtrip_block_header(&x, &h);
    }
    e = bckm_block_body_encode(envs, Frama_C_unsigned_int_interval(0u, 2u), body,
                               Frama_C_unsigned_long_interval(0u, sizeof body), &body_len);
    /* The certificate encoder on a certificate with unknown fields (the
     * signer entries as they happen to be) and a buffer of unknown size. */
    c.version = (uint8_t)Frama_C_unsigned_char_interval(0, 255);
    c.height = ((uint64_t)any_u32() << 32) | any_u32();
    c.view = ((uint64_t)any_u32() << 32) | any_u32();
    c.count = any_u32();
    (void)bckm_cert_encoded_len(any_u32());
    e = bckm_cert_encode(&c, cert_buf, Frama_C_unsigned_long_interval(0u, sizeof cert_buf),
                         &cert_len);
    /* The certificate decoder on unknown bytes of unknown length. */
    unknown_bytes(cert_buf, sizeof cert_buf);
    e = bckm_cert_decode(cert_buf, Frama_C_unsigned_long_interval(0u, sizeof cert_buf), &c);
    (void)e;
}

/*@ assigns Frama_C_entropy_source; */
int main(void) {
    entry_common();
    entry_helpers();
    entry_sets();
    entry_kdf();
    entry_tx();
    entry_block();
    return 0;
}
#endif
