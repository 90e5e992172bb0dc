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
    BCKM_ERR_ARG = -1,        /* NULL pointer, bad length, out-of-range value */
    BCKM_ERR_NOMEM = -2,      /* allocation failed or a fixed capacity is full */
    BCKM_ERR_AUTH = -3,       /* AEAD or signature verification failed */
    BCKM_ERR_REPLAY = -4,     /* epoch not the one expected (replayed or out of order) */
    BCKM_ERR_FORMAT = -5,     /* malformed or non-canonical encoding */
    BCKM_ERR_TRUNCATED = -6,  /* input shorter than its encoding says */
    BCKM_ERR_UNKNOWN = -7,    /* node, set or BP not known */
    BCKM_ERR_EXISTS = -8,     /* ID or secret-code hash already used */
    BCKM_ERR_MISMATCH = -9,   /* fields disagree with the replicated state */
    BCKM_ERR_PERM = -10,      /* signer not allowed to do this (owner, BP set) */
    BCKM_ERR_STATE = -11,     /* operation not valid in the current state */
    BCKM_ERR_CRYPTO = -12,    /* libsodium refused an operation */
    BCKM_ERR_IO = -13,        /* storage error */
    BCKM_ERR_CORRUPT = -14    /* stored data fails its integrity check */
} bckm_err;

/* A human-readable name for an error code; never NULL. */
/*@ assigns \nothing;
    ensures \result != \null;
 */
const char *bckm_strerror(int err);

/* Sizes of the protocol's keys and fields, in bytes. */
#define BCKM_KEY_BYTES 32u      /* DEK, KEK, pair seeds, set keys */
#define BCKM_REFRESH_BYTES 16u  /* refresh key carried by a transaction */
#define BCKM_CODE_BYTES 32u     /* a node's secret code */
#define BCKM_HASH_BYTES 32u     /* BLAKE2b-256 digests */

/* Identifiers: 0 means "none"; the top byte is the allocating BP. */
#define BCKM_ID_NONE 0u
#define BCKM_ID_BP_SHIFT 24u
#define BCKM_ID_COUNTER_MAX 0x00FFFFFFu
#define BCKM_MAX_BPS 255u

/*@ requires bp <= BCKM_MAX_BPS;
    assigns \nothing;
    ensures \result == ((bp << 24) | (counter & BCKM_ID_COUNTER_MAX));
 */
static inline uint32_t bckm_id_make(uint32_t bp, uint32_t counter) {
    return (bp << BCKM_ID_BP_SHIFT) | (counter & BCKM_ID_COUNTER_MAX);
}
/*@ assigns \nothing;
    ensures \result == id >> 24;
 */
static inline uint32_t bckm_id_bp(uint32_t id) { return id >> BCKM_ID_BP_SHIFT; }

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

/* Big-endian helpers used by every codec. */
/*@ requires \valid(p + (0 .. 3));
    assigns p[0 .. 3];
    ensures p[0] == ((v >> 24) & 0xFF) && p[1] == ((v >> 16) & 0xFF) &&
            p[2] == ((v >> 8) & 0xFF) && p[3] == (v & 0xFF);
 */
static inline void bckm_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);  p[3] = (uint8_t)v;
}
/*@ requires \valid_read(p + (0 .. 3));
    assigns \nothing;
    ensures \result == ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]);
 */
static inline uint32_t bckm_get_u32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
/*@ requires \valid(p + (0 .. 7));
    assigns p[0 .. 7];
 */
static inline void bckm_put_u64(uint8_t *p, uint64_t v) {
    bckm_put_u32(p, (uint32_t)(v >> 32)); bckm_put_u32(p + 4, (uint32_t)v);
}
/*@ requires \valid_read(p + (0 .. 7));
    assigns \nothing;
 */
static inline uint64_t bckm_get_u64(const uint8_t *p) {
    return ((uint64_t)bckm_get_u32(p) << 32) | (uint64_t)bckm_get_u32(p + 4);
}
/*@ requires \valid(p + (0 .. 1));
    assigns p[0 .. 1];
    ensures p[0] == ((v >> 8) & 0xFF) && p[1] == (v & 0xFF);
 */
static inline void bckm_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v;
}
/*@ requires \valid_read(p + (0 .. 1));
    assigns \nothing;
    ensures \result == (uint16_t)((p[0] << 8) | p[1]);
 */
static inline uint16_t bckm_get_u16(const uint8_t *p) {
    return (uint16_t)(((uint16_t)p[0] << 8) | (uint16_t)p[1]);
}

#endif
