/*
 * The trust base of the proof: ACSL contracts of the libsodium functions that
 * the proven code calls (and declarations of the others that the proven
 * files mention). Frama-C reads this header instead of the real <sodium.h>
 * (proofs/include/sodium.h includes it), so every fact the proof takes from
 * libsodium is written here and nowhere else. proofs/README.md says why each
 * contract is a fair reading of libsodium's documentation.
 *
 * The prototypes are checked against the installed <sodium.h> by
 * proofs/sodium_check.c (make prove compiles it first): a prototype that
 * disagrees with libsodium, or a constant with another value, stops the build.
 *
 * Conventions: a contract states only what the callers rely on (which bytes
 * are read, which are written, that an output is fully written) and requires
 * what libsodium documents as the caller's duty. Nothing here says anything
 * about the value of a digest or a signature beyond "it is written".
 */
#ifndef BCKM_PROOF_LIBSODIUM_H
#define BCKM_PROOF_LIBSODIUM_H

#include <stddef.h>

#ifndef BCKM_SODIUM_CHECK
/* Types and constants, as libsodium defines them (values checked by
 * proofs/sodium_check.c). The BLAKE2b state is opaque to callers. */
typedef struct crypto_generichash_blake2b_state {
    unsigned char opaque[384];
} crypto_generichash_blake2b_state;
typedef crypto_generichash_blake2b_state crypto_generichash_state;

#define crypto_generichash_BYTES_MIN 16U
#define crypto_generichash_BYTES_MAX 64U
#define crypto_generichash_BYTES 32U
#define crypto_generichash_KEYBYTES_MIN 16U
#define crypto_generichash_KEYBYTES_MAX 64U
#define crypto_generichash_KEYBYTES 32U
#define crypto_sign_BYTES 64U
#define crypto_sign_PUBLICKEYBYTES 32U
#define crypto_sign_SECRETKEYBYTES 64U
#define randombytes_SEEDBYTES 32U
#endif

/* ---- core ---------------------------------------------------------------- */

/* 0 on success, 1 when already initialised, -1 on failure. Touches only
 * libsodium's own internal state, which no proven code reads. */
/*@ assigns \nothing;
    ensures \result == 0 || \result == 1 || \result == -1;
 */
int sodium_init(void);

/* ---- utils --------------------------------------------------------------- */

/* Writes zeros over exactly len bytes at pnt. */
/*@ requires len > 0 ==> \valid((unsigned char *)pnt + (0 .. len - 1));
    assigns ((unsigned char *)pnt)[0 .. len - 1];
    ensures \forall integer i; 0 <= i < len ==> ((unsigned char *)pnt)[i] == 0;
 */
void sodium_memzero(void * const pnt, const size_t len);

/* Constant-time comparison: 0 when the len bytes are equal, -1 otherwise.
 * Reads the two ranges, writes nothing. */
/*@ requires len > 0 ==> \valid_read((const unsigned char *)b1_ + (0 .. len - 1));
    requires len > 0 ==> \valid_read((const unsigned char *)b2_ + (0 .. len - 1));
    assigns \nothing;
    ensures \result == 0 || \result == -1;
    ensures \result == 0 <==>
      (\forall integer i; 0 <= i < len ==>
         ((const unsigned char *)b1_)[i] == ((const unsigned char *)b2_)[i]);
 */
int sodium_memcmp(const void * const b1_, const void * const b2_, size_t len);

/* ---- BLAKE2b (crypto_generichash) ----------------------------------------- */

/* One-shot keyed or unkeyed BLAKE2b. With outlen and keylen inside the
 * documented ranges it always succeeds and writes all outlen bytes of out,
 * and nothing else; the output buffer must not overlap the inputs (bckm
 * never lets it). */
/*@ requires crypto_generichash_BYTES_MIN <= outlen <= crypto_generichash_BYTES_MAX;
    requires \valid(out + (0 .. outlen - 1));
    requires inlen > 0 ==> \valid_read(in + (0 .. inlen - 1));
    requires (key == \null && keylen == 0) ||
             (crypto_generichash_KEYBYTES_MIN <= keylen <= crypto_generichash_KEYBYTES_MAX &&
              \valid_read(key + (0 .. keylen - 1)));
    requires \separated(out + (0 .. outlen - 1), in + (0 .. inlen - 1));
    requires key != \null ==> \separated(out + (0 .. outlen - 1), key + (0 .. keylen - 1));
    assigns out[0 .. outlen - 1]
      \from in[0 .. inlen - 1], key[0 .. keylen - 1], outlen, keylen, inlen;
    ensures \initialized(out + (0 .. outlen - 1));
    ensures \result == 0;
 */
int crypto_generichash(unsigned char *out, size_t outlen,
                       const unsigned char *in, unsigned long long inlen,
                       const unsigned char *key, size_t keylen);

/*@ requires \valid(state);
    requires crypto_generichash_BYTES_MIN <= outlen <= crypto_generichash_BYTES_MAX;
    requires (key == \null && keylen == 0) ||
             (crypto_generichash_KEYBYTES_MIN <= keylen <= crypto_generichash_KEYBYTES_MAX &&
              \valid_read(key + (0 .. keylen - 1)));
    assigns *state \from key[0 .. keylen - 1], keylen, outlen;
    ensures \result == 0;
 */
int crypto_generichash_init(crypto_generichash_state *state,
                            const unsigned char *key,
                            const size_t keylen, const size_t outlen);

/*@ requires \valid(state);
    requires inlen > 0 ==> \valid_read(in + (0 .. inlen - 1));
    assigns *state \from *state, in[0 .. inlen - 1], inlen;
    ensures \result == 0;
 */
int crypto_generichash_update(crypto_generichash_state *state,
                              const unsigned char *in,
                              unsigned long long inlen);

/*@ requires \valid(state);
    requires crypto_generichash_BYTES_MIN <= outlen <= crypto_generichash_BYTES_MAX;
    requires \valid(out + (0 .. outlen - 1));
    requires \separated(state, out + (0 .. outlen - 1));
    assigns *state, out[0 .. outlen - 1] \from *state, outlen;
    ensures \initialized(out + (0 .. outlen - 1));
    ensures \result == 0 || \result == -1;
 */
int crypto_generichash_final(crypto_generichash_state *state,
                             unsigned char *out, const size_t outlen);

/* ---- Ed25519 (crypto_sign) ------------------------------------------------- */

/*@ requires \valid(sig + (0 .. crypto_sign_BYTES - 1));
    requires siglen_p == \null || \valid(siglen_p);
    requires mlen > 0 ==> \valid_read(m + (0 .. mlen - 1));
    requires \valid_read(sk + (0 .. crypto_sign_SECRETKEYBYTES - 1));
    assigns sig[0 .. crypto_sign_BYTES - 1], *siglen_p
      \from m[0 .. mlen - 1], mlen, sk[0 .. crypto_sign_SECRETKEYBYTES - 1];
    ensures \initialized(sig + (0 .. crypto_sign_BYTES - 1));
    ensures \result == 0 || \result == -1;
 */
int crypto_sign_detached(unsigned char *sig, unsigned long long *siglen_p,
                         const unsigned char *m, unsigned long long mlen,
                         const unsigned char *sk);

/*@ requires \valid_read(sig + (0 .. crypto_sign_BYTES - 1));
    requires mlen > 0 ==> \valid_read(m + (0 .. mlen - 1));
    requires \valid_read(pk + (0 .. crypto_sign_PUBLICKEYBYTES - 1));
    assigns \nothing;
    ensures \result == 0 || \result == -1;
 */
int crypto_sign_verify_detached(const unsigned char *sig,
                                const unsigned char *m,
                                unsigned long long mlen,
                                const unsigned char *pk);

/* ---- randombytes ------------------------------------------------------------ */

/*@ requires size > 0 ==> \valid((unsigned char *)buf + (0 .. size - 1));
    assigns ((unsigned char *)buf)[0 .. size - 1];
    ensures size > 0 ==> \initialized((unsigned char *)buf + (0 .. size - 1));
 */
void randombytes_buf(void * const buf, const size_t size);

/*@ requires size > 0 ==> \valid((unsigned char *)buf + (0 .. size - 1));
    requires \valid_read(seed + (0 .. randombytes_SEEDBYTES - 1));
    assigns ((unsigned char *)buf)[0 .. size - 1]
      \from seed[0 .. randombytes_SEEDBYTES - 1], size;
    ensures size > 0 ==> \initialized((unsigned char *)buf + (0 .. size - 1));
 */
void randombytes_buf_deterministic(void * const buf, const size_t size,
                                   const unsigned char seed[randombytes_SEEDBYTES]);

#endif
