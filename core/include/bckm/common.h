/*
 * bckm: common definitions shared by every module.
 *
 * One error enum for the whole library: every function that can fail returns
 * a bckm_err (0 on success, a negative code that says where the check failed).
 * Identifiers are 32-bit; the top 8 bits name the blockchain participant (BP)
 * that allocated them, so two BPs never allocate the same ID and no ID is
 * ever reused (see spec/protocol.md, "Identifiers").
 */
#ifndef BCKM_COMMON_H
#define BCKM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define BCKM_MUST_CHECK __attribute__((warn_unused_result))
#else
#define BCKM_MUST_CHECK
#endif

typedef enum {
    BCKM_OK = 0,
    BCKM_ERR_ARG = -1,       /* NULL pointer, bad length, out-of-range value */
    BCKM_ERR_NOMEM = -2,     /* allocation failed or a fixed capacity is full */
    BCKM_ERR_AUTH = -3,      /* AEAD or signature verification failed */
    BCKM_ERR_REPLAY = -4,    /* epoch not the one expected (replayed or out of order) */
    BCKM_ERR_FORMAT = -5,    /* malformed or non-canonical encoding */
    BCKM_ERR_TRUNCATED = -6, /* input shorter than its encoding says */
    BCKM_ERR_UNKNOWN = -7,   /* node, set or BP not known */
    BCKM_ERR_EXISTS = -8,    /* ID or secret-code hash already used */
    BCKM_ERR_MISMATCH = -9,  /* fields disagree with the replicated state */
    BCKM_ERR_PERM = -10,     /* signer not allowed to do this (owner, BP set) */
    BCKM_ERR_STATE = -11,    /* operation not valid in the current state */
    BCKM_ERR_CRYPTO = -12,   /* libsodium refused an operation */
    BCKM_ERR_IO = -13,       /* storage error */
    BCKM_ERR_CORRUPT = -14   /* stored data fails its integrity check */
} bckm_err;

/* A human-readable name for an error code; never NULL. */
/*@ assigns \nothing;
    ensures \result != \null;
 */
const char *bckm_strerror(int err);

/* Sizes of the protocol's keys and fields, in bytes. */
#define BCKM_KEY_BYTES 32u     /* DEK, KEK, pair seeds, set keys */
#define BCKM_REFRESH_BYTES 16u /* refresh key carried by a transaction */
#define BCKM_CODE_BYTES 32u    /* a node's secret code */
#define BCKM_HASH_BYTES 32u    /* BLAKE2b-256 digests */

/* Identifiers: 0 means "none"; the top byte is the allocating BP. */
#define BCKM_ID_NONE 0u
#define BCKM_ID_COUNTER_MAX 0x00FFFFFFu
#define BCKM_MAX_BPS 255u

/* bp in the top byte, the counter's low 24 bits below it; written as
 * arithmetic (the same value as bp << 24 | (counter & 0xFFFFFF)) because
 * the provers relate sums and remainders to the set IDs' contracts, not
 * bitwise ors. */
/*@ requires bp <= BCKM_MAX_BPS;
    assigns \nothing;
    ensures \result == bp * 16777216 + counter % 16777216;
 */
static inline uint32_t bckm_id_make(uint32_t bp, uint32_t counter) {
    return bp * (BCKM_ID_COUNTER_MAX + 1u) + counter % (BCKM_ID_COUNTER_MAX + 1u);
}
/* The allocating BP: the top byte (id >> 24, written as a division for the
 * same reason). */
/*@ assigns \nothing;
    ensures \result == id / 16777216;
 */
static inline uint32_t bckm_id_bp(uint32_t id) { return id / (BCKM_ID_COUNTER_MAX + 1u); }

/* Wipes a secret; used on every path that drops one (a wrapper so the
 * proofs have one contract for it). */
/*@ requires p != \null && len > 0 ==> \valid((unsigned char *)p + (0 .. len - 1));
    assigns ((unsigned char *)p)[0 .. len - 1];
    ensures p != \null ==> \forall integer i; 0 <= i < len ==> ((unsigned char *)p)[i] == 0;
 */
void bckm_wipe(void *p, size_t len);

/* Constant-time equality of two secrets: 1 if equal, 0 otherwise. */
/*@ requires len > 0 ==> \valid_read(a + (0 .. len - 1)) && \valid_read(b + (0 .. len - 1));
    assigns \nothing;
    ensures \result == 0 || \result == 1;
    ensures \result == 1 <==> (\forall integer i; 0 <= i < len ==> a[i] == b[i]);
 */
int bckm_ct_equal(const uint8_t *a, const uint8_t *b, size_t len);

/* Initialises libsodium once; returns BCKM_OK or BCKM_ERR_CRYPTO. */
/*@ assigns \nothing;
    ensures \result == BCKM_OK || \result == BCKM_ERR_CRYPTO;
 */
int bckm_init(void) BCKM_MUST_CHECK;

/* Big-endian helpers used by every codec.
 *
 * Their contracts are arithmetic: bckm_be16/32/64 give the value of 2, 4 or
 * 8 bytes read big-endian, each put_ ensures that the bytes it wrote read
 * back as v and each get_ returns that value, so get(put(v)) == v follows
 * from the two contracts and codecs can state round trips field by field.
 * The encoders reduce each byte with `% 256u` before the narrowing cast (for
 * an unsigned value the same as `& 0xFFu`, and the same bytes as a plain
 * truncation): every cast is then lossless, so the proof needs no exception
 * for unsigned downcasts, and division and remainder by constants are what
 * the provers reason about best. The decoders add disjoint shifted bytes,
 * which is the same as or-ing them. */
/*@ logic integer bckm_be16(integer b0, integer b1) = b0 * 256 + b1;
    logic integer bckm_be32(integer b0, integer b1, integer b2, integer b3) =
        ((b0 * 256 + b1) * 256 + b2) * 256 + b3;
    logic integer bckm_be64(integer b0, integer b1, integer b2, integer b3,
                            integer b4, integer b5, integer b6, integer b7) =
        bckm_be32(b0, b1, b2, b3) * 4294967296 + bckm_be32(b4, b5, b6, b7);
 */
/*@ requires \valid(p + (0 .. 3));
    assigns p[0 .. 3];
    ensures p[0] == v / 16777216 % 256 && p[1] == v / 65536 % 256 &&
            p[2] == v / 256 % 256 && p[3] == v % 256;
    ensures bckm_be32(p[0], p[1], p[2], p[3]) == v;
 */
static inline void bckm_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)((v >> 24) % 256u);
    p[1] = (uint8_t)((v >> 16) % 256u);
    p[2] = (uint8_t)((v >> 8) % 256u);
    p[3] = (uint8_t)(v % 256u);
}
/*@ requires \valid_read(p + (0 .. 3));
    assigns \nothing;
    ensures \result == bckm_be32(p[0], p[1], p[2], p[3]);
 */
static inline uint32_t bckm_get_u32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) + ((uint32_t)p[1] << 16) + ((uint32_t)p[2] << 8) + (uint32_t)p[3];
}
/*@ requires \valid(p + (0 .. 7));
    assigns p[0 .. 7];
    ensures bckm_be64(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]) == v;
 */
static inline void bckm_put_u64(uint8_t *p, uint64_t v) {
    /* The two halves by division and remainder (for an unsigned value the
     * same as v >> 32 and the low 32 bits): what the proof relates to the
     * arithmetic post-condition. */
    uint32_t hi = (uint32_t)(v / 4294967296u), lo = (uint32_t)(v % 4294967296u);
    bckm_put_u32(p, hi);
    bckm_put_u32(p + 4, lo);
    /*@ assert bckm_be32(p[0], p[1], p[2], p[3]) == hi; */
}
/*@ requires \valid_read(p + (0 .. 7));
    assigns \nothing;
    ensures \result == bckm_be64(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
 */
static inline uint64_t bckm_get_u64(const uint8_t *p) {
    return ((uint64_t)bckm_get_u32(p) << 32) + (uint64_t)bckm_get_u32(p + 4);
}
/*@ requires \valid(p + (0 .. 1));
    assigns p[0 .. 1];
    ensures p[0] == v / 256 && p[1] == v % 256;
    ensures bckm_be16(p[0], p[1]) == v;
 */
static inline void bckm_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)((v >> 8) % 256u);
    p[1] = (uint8_t)(v % 256u);
}
/*@ requires \valid_read(p + (0 .. 1));
    assigns \nothing;
    ensures \result == bckm_be16(p[0], p[1]);
 */
static inline uint16_t bckm_get_u16(const uint8_t *p) {
    return (uint16_t)(((uint32_t)p[0] << 8) + (uint32_t)p[1]);
}

#endif
