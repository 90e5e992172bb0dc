/*
 * Compiled (never linked) by `make prove` before the proof: checks that the
 * prototypes and constants in proofs/libsodium.h agree with the installed
 * libsodium. Redeclaring a function with an incompatible prototype is a
 * compile error, and every constant is compared below.
 */
#include <sodium.h>

#define BCKM_SODIUM_CHECK 1
#include "libsodium.h"

_Static_assert(sizeof(crypto_generichash_state) == 384, "BLAKE2b state size");
_Static_assert(crypto_generichash_BYTES_MIN == 16U, "generichash BYTES_MIN");
_Static_assert(crypto_generichash_BYTES_MAX == 64U, "generichash BYTES_MAX");
_Static_assert(crypto_generichash_BYTES == 32U, "generichash BYTES");
_Static_assert(crypto_generichash_KEYBYTES_MIN == 16U, "generichash KEYBYTES_MIN");
_Static_assert(crypto_generichash_KEYBYTES_MAX == 64U, "generichash KEYBYTES_MAX");
_Static_assert(crypto_generichash_KEYBYTES == 32U, "generichash KEYBYTES");
_Static_assert(crypto_sign_BYTES == 64U, "sign BYTES");
_Static_assert(crypto_sign_PUBLICKEYBYTES == 32U, "sign PUBLICKEYBYTES");
_Static_assert(crypto_sign_SECRETKEYBYTES == 64U, "sign SECRETKEYBYTES");
_Static_assert(randombytes_SEEDBYTES == 32U, "randombytes SEEDBYTES");
