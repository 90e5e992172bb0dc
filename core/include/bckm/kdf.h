/*
 * Key derivation: keyed BLAKE2b-256 (libsodium crypto_generichash) with one
 * label per key kind. The input is always
 *     "bckm-kdf" (8 bytes) || label (1 byte) || the label's fixed fields,
 * so inputs of different kinds never collide (the label differs) and inputs
 * of one kind never collide as long as their fields differ (fixed lengths).
 * Every update mixes the epoch of the change, which is unique per change, so
 * no two keys are ever derived from the same input. Layouts: spec/protocol.md.
 */
#ifndef BCKM_KDF_H
#define BCKM_KDF_H

#include "bckm/common.h"

enum {
    BCKM_KDF_SET_UPDATE = 1,     /* K_S'  = KDF(K_S;  r || S || epoch) */
    BCKM_KDF_SETPAIR_UPDATE = 2, /* K_ST' = KDF(K_ST; r || min || max || epoch) */
    BCKM_KDF_PAIR_NODE = 3,      /* K_uv  = KDF(Q_first; first || second) */
    BCKM_KDF_SET_INIT = 4,       /* K_S   = KDF(D; S) */
    BCKM_KDF_SETPAIR_INIT = 5,   /* K_ST  = KDF(D or D_ab; min || max) */
    BCKM_KDF_PAIR_SEED = 6,      /* Q_u   = KDF(D; u) */
    /* 7 is reserved: the code commitment is an Ed25519 key (rejoin.h) */
    BCKM_KDF_KEK = 8,           /* K_u from the enrolment key agreement */
    BCKM_KDF_BP_PAIR = 9,       /* D_ab from the two BPs' X25519 agreement */
    BCKM_KDF_CONFIRM = 10,      /* enrolment key confirmation tags */
    BCKM_KDF_DRBG = 11,         /* per-call seeds and next keys of the deterministic DRBG */
    BCKM_KDF_SET_REFRESH = 12,  /* r_X   = KDF16(r;   X || epoch) */
    BCKM_KDF_PAIR_REFRESH = 13, /* r_X,T = KDF16(r_X; T) */
    BCKM_KDF_RESYNC = 14        /* resync request tag under K_u (resync.h) */
};

#define BCKM_KDF_PREFIX_BYTES 8u
#define BCKM_KDF_MAX_FIELDS 128u

/*
 * The one primitive: out = BLAKE2b-256(key = key[0..32),
 *   "bckm-kdf" || label || fields[0..flen)).
 * out may alias key or fields. Returns BCKM_ERR_ARG when flen is too large.
 */
/*@ requires \valid_read(key + (0 .. BCKM_KEY_BYTES - 1));
    requires flen <= BCKM_KDF_MAX_FIELDS && flen > 0 ==> \valid_read(fields + (0 .. flen - 1));
    requires \valid(out + (0 .. BCKM_KEY_BYTES - 1));
    assigns out[0 .. BCKM_KEY_BYTES - 1];
    behavior too_long:
      assumes flen > BCKM_KDF_MAX_FIELDS;
      assigns \nothing;
      ensures \result == BCKM_ERR_ARG;
    behavior derived:
      assumes flen <= BCKM_KDF_MAX_FIELDS;
      assigns out[0 .. BCKM_KEY_BYTES - 1];
      ensures \result == BCKM_OK;
    complete behaviors;
    disjoint behaviors;
 */
int bckm_kdf_derive(const uint8_t key[BCKM_KEY_BYTES], uint8_t label, const uint8_t *fields,
                    size_t flen, uint8_t out[BCKM_KEY_BYTES]) BCKM_MUST_CHECK;

/* Wrappers, one per key kind; every one may update in place (out == key). */
/*@ requires \valid_read(key + (0 .. BCKM_KEY_BYTES - 1));
    requires \valid_read(refresh + (0 .. BCKM_REFRESH_BYTES - 1));
    requires \valid(out + (0 .. BCKM_KEY_BYTES - 1));
    assigns out[0 .. BCKM_KEY_BYTES - 1];
 */
void bckm_kdf_set_update(const uint8_t key[BCKM_KEY_BYTES],
                         const uint8_t refresh[BCKM_REFRESH_BYTES], uint32_t set_id, uint64_t epoch,
                         uint8_t out[BCKM_KEY_BYTES]);
/* The pair is unordered: (a, b) and (b, a) give the same key. */
/*@ requires \valid_read(key + (0 .. BCKM_KEY_BYTES - 1));
    requires \valid_read(refresh + (0 .. BCKM_REFRESH_BYTES - 1));
    requires \valid(out + (0 .. BCKM_KEY_BYTES - 1));
    assigns out[0 .. BCKM_KEY_BYTES - 1];
 */
void bckm_kdf_setpair_update(const uint8_t key[BCKM_KEY_BYTES],
                             const uint8_t refresh[BCKM_REFRESH_BYTES], uint32_t a, uint32_t b,
                             uint64_t epoch, uint8_t out[BCKM_KEY_BYTES]);
/*
 * Refresh material (spec 4, 5): a change's refresh key r never leaves the
 * BPs; the members of a changed set X get r_X, and every other set T gets
 * only r_X,T, one-way from r_X. Both are 16 bytes, from BLAKE2b keyed with
 * the 16-byte value above them and a 16-byte output.
 *   r_X   = BLAKE2b-128(key = r,   "bckm-kdf" || 12 || u32 X || u64 epoch)
 *   r_X,T = BLAKE2b-128(key = r_X, "bckm-kdf" || 13 || u32 T)
 */
/*@ requires \valid_read(r + (0 .. BCKM_REFRESH_BYTES - 1));
    requires \valid(out + (0 .. BCKM_REFRESH_BYTES - 1));
    assigns out[0 .. BCKM_REFRESH_BYTES - 1];
 */
void bckm_kdf_set_refresh(const uint8_t r[BCKM_REFRESH_BYTES], uint32_t set_id, uint64_t epoch,
                          uint8_t out[BCKM_REFRESH_BYTES]);
/*@ requires \valid_read(r_set + (0 .. BCKM_REFRESH_BYTES - 1));
    requires \valid(out + (0 .. BCKM_REFRESH_BYTES - 1));
    assigns out[0 .. BCKM_REFRESH_BYTES - 1];
 */
void bckm_kdf_pair_refresh(const uint8_t r_set[BCKM_REFRESH_BYTES], uint32_t other,
                           uint8_t out[BCKM_REFRESH_BYTES]);
/*
 * The pairwise set key of a and b moved to epoch: one set-pair update per
 * changed side, in increasing order of that side's set ID, each with that
 * side's pair refresh (r_ab = r_a,b when a changed, else NULL; r_ba the
 * same for b). Both NULL leaves key as it is. In place (out may be key).
 */
/*@ requires \valid_read(key + (0 .. BCKM_KEY_BYTES - 1));
    requires r_ab == \null || \valid_read(r_ab + (0 .. BCKM_REFRESH_BYTES - 1));
    requires r_ba == \null || \valid_read(r_ba + (0 .. BCKM_REFRESH_BYTES - 1));
    requires \valid(out + (0 .. BCKM_KEY_BYTES - 1));
    assigns out[0 .. BCKM_KEY_BYTES - 1];
 */
void bckm_kdf_setpair_advance(const uint8_t key[BCKM_KEY_BYTES], uint32_t a, const uint8_t *r_ab,
                              uint32_t b, const uint8_t *r_ba, uint64_t epoch,
                              uint8_t out[BCKM_KEY_BYTES]);
/* `first` is the member who entered the set first; its seed derives the key. */
/*@ requires \valid_read(seed + (0 .. BCKM_KEY_BYTES - 1));
    requires \valid(out + (0 .. BCKM_KEY_BYTES - 1));
    assigns out[0 .. BCKM_KEY_BYTES - 1];
 */
void bckm_kdf_pair_node(const uint8_t seed[BCKM_KEY_BYTES], uint32_t first, uint32_t second,
                        uint8_t out[BCKM_KEY_BYTES]);
/*@ requires \valid_read(domain + (0 .. BCKM_KEY_BYTES - 1));
    requires \valid(out + (0 .. BCKM_KEY_BYTES - 1));
    assigns out[0 .. BCKM_KEY_BYTES - 1];
 */
void bckm_kdf_set_init(const uint8_t domain[BCKM_KEY_BYTES], uint32_t set_id,
                       uint8_t out[BCKM_KEY_BYTES]);
/*@ requires \valid_read(domain + (0 .. BCKM_KEY_BYTES - 1));
    requires \valid(out + (0 .. BCKM_KEY_BYTES - 1));
    assigns out[0 .. BCKM_KEY_BYTES - 1];
 */
void bckm_kdf_setpair_init(const uint8_t domain[BCKM_KEY_BYTES], uint32_t a, uint32_t b,
                           uint8_t out[BCKM_KEY_BYTES]);
/*@ requires \valid_read(domain + (0 .. BCKM_KEY_BYTES - 1));
    requires \valid(out + (0 .. BCKM_KEY_BYTES - 1));
    assigns out[0 .. BCKM_KEY_BYTES - 1];
 */
void bckm_kdf_pair_seed(const uint8_t domain[BCKM_KEY_BYTES], uint32_t node_id,
                        uint8_t out[BCKM_KEY_BYTES]);

/* A node KEK from a key agreement: KDF(key; KEK label, rx || tx || th),
 * where (rx, tx) are the crypto_kx session keys seen from the BP and th the
 * transcript hash. Enrolment keys it with the PSK, rejoin with rx. */
/*@ requires \valid_read(key + (0 .. BCKM_KEY_BYTES - 1));
    requires \valid_read(rx + (0 .. 31)) && \valid_read(tx + (0 .. 31)) && \valid_read(th + (0 .. 31));
    requires \valid(out + (0 .. BCKM_KEY_BYTES - 1));
    assigns out[0 .. BCKM_KEY_BYTES - 1];
    ensures \result == BCKM_OK;
 */
int bckm_kdf_session_kek(const uint8_t key[BCKM_KEY_BYTES], const uint8_t rx[32],
                         const uint8_t tx[32], const uint8_t th[32],
                         uint8_t out[BCKM_KEY_BYTES]) BCKM_MUST_CHECK;

/* Deterministic random bit generator, for the simulator's reproducible mode
 * only (a key manager in real use draws from the operating system and holds
 * no generator). A 32-byte key and a counter; each call derives the output's
 * ChaCha20 seed and the next key from the current key, then replaces the key:
 *     s    = KDF(key; 11, u64 counter || 0x00)
 *     key' = KDF(key; 11, u64 counter || 0x01)
 * so one seed reproduces a whole run, and the state after an output cannot
 * recompute it (forward security: the key that derived s is gone). */
struct bckm_drbg {
    uint8_t key[BCKM_KEY_BYTES];
    uint64_t counter;
};
/* seed == NULL draws the key from the operating system. */
/*@ requires \valid(d);
    requires seed == \null || \valid_read(seed + (0 .. BCKM_KEY_BYTES - 1));
    requires seed == \null || \separated(d, seed + (0 .. BCKM_KEY_BYTES - 1));
    assigns *d;
    ensures d->counter == 0;
 */
void bckm_drbg_init(struct bckm_drbg *d, const uint8_t seed[BCKM_KEY_BYTES]);
/*@ requires \valid(d);
    requires d->counter < 18446744073709551615;
    requires len > 0 ==> \valid(out + (0 .. len - 1));
    requires len > 0 ==> \separated(d, out + (0 .. len - 1));
    assigns d->key[0 .. BCKM_KEY_BYTES - 1], d->counter, out[0 .. len - 1];
    ensures d->counter == \old(d->counter) + 1;
 */
void bckm_drbg_fill(struct bckm_drbg *d, uint8_t *out, size_t len);
/* Zeroes the key and the counter; NULL is a no-op. */
/*@ requires d == \null || \valid(d);
    assigns d->key[0 .. BCKM_KEY_BYTES - 1], d->counter;
    ensures d != \null ==> d->counter == 0 &&
              (\forall integer i; 0 <= i < BCKM_KEY_BYTES ==> d->key[i] == 0);
 */
void bckm_drbg_wipe(struct bckm_drbg *d);

#endif
