/*
 * The BP signing keys the fuzz harnesses use: the same derivation as the
 * Layer 2 test vectors (BP b, 1-based, has the Ed25519 key pair whose seed
 * bytes are b * 0x20 + j), so the envelopes and certificates in the seed
 * corpora carry signatures that really verify, and the harnesses can check
 * the accept path as well as the reject path.
 */
#ifndef BCKM_FUZZ_BP_KEYS_H
#define BCKM_FUZZ_BP_KEYS_H

#include <sodium.h>

#include "bckm/tx.h"
#include "fuzz.h"

#define FUZZ_N_BPS 4u
#define FUZZ_F 1u

static uint8_t fuzz_bp_pk[FUZZ_N_BPS][BCKM_SIGN_PK_BYTES];
static uint8_t fuzz_bp_sk[FUZZ_N_BPS][BCKM_SIGN_SK_BYTES];

static inline void fuzz_bp_keys_setup(void) {
    static int ready;
    if (ready) return;
    FUZZ_CHECK(bckm_init() == BCKM_OK);
    for (uint32_t b = 1; b <= FUZZ_N_BPS; b++) {
        uint8_t seed[crypto_sign_SEEDBYTES];
        for (size_t j = 0; j < sizeof seed; j++) seed[j] = (uint8_t)(b * 0x20u + j);
        FUZZ_CHECK(crypto_sign_seed_keypair(fuzz_bp_pk[b - 1], fuzz_bp_sk[b - 1], seed) == 0);
    }
    ready = 1;
}

#endif
