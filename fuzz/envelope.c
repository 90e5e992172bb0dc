/*
 * Harness: the signed envelope (bckm_envelope_decode / encode / sign / verify).
 *
 * Input: arbitrary bytes, read as an encoded envelope.
 * Oracles:
 *   - a rejected input leaves the caller's struct unchanged and the error
 *     matches its length class (TRUNCATED short, FORMAT otherwise);
 *   - an accepted input is valid, re-encodes to the same 134 bytes, and its
 *     signature check under its BP's key (support/bp_keys.h: BPs 1..4, as in
 *     the test vectors) answers only OK or AUTH;
 *   - re-signing the decoded envelope verifies, and flipping any one signed
 *     byte (chosen from the input) makes it fail: the signature covers every
 *     field it should.
 */
#include "support/fuzz.h"

#include "bckm/tx.h"
#include "support/bp_keys.h"

static int fuzz_envelope(const uint8_t *data, size_t size) {
    struct bckm_envelope e, before;
    uint8_t enc[BCKM_ENVELOPE_MAX_BYTES];
    size_t enc_len = 0;

    fuzz_bp_keys_setup();
    memset(&e, 0xA5, sizeof e);
    memcpy(&before, &e, sizeof e);
    int rc = bckm_envelope_decode(data, size, &e);
    if (rc != BCKM_OK) {
        FUZZ_CHECK(memcmp(&e, &before, sizeof e) == 0);
        /* Short for its version (134, or 198 for version 2): truncated. */
        if (size < BCKM_ENVELOPE_BYTES ||
            (data[0] == BCKM_ENVELOPE_VERSION_REATTACH && size < BCKM_ENVELOPE_V2_BYTES))
            FUZZ_CHECK(rc == BCKM_ERR_TRUNCATED);
        else
            FUZZ_CHECK(rc == BCKM_ERR_FORMAT);
        return 0;
    }
    FUZZ_CHECK(size == bckm_envelope_wire_len(data[0]) && size != 0);
    FUZZ_CHECK(bckm_envelope_is_valid(&e) == 1);
    FUZZ_CHECK(bckm_envelope_encode_to(&e, enc, sizeof enc, &enc_len) == BCKM_OK);
    FUZZ_CHECK(enc_len == size && memcmp(enc, data, size) == 0);
    const size_t signed_len = size - BCKM_SIG_BYTES;

    /* Signer: the envelope's own BP when it has a key here, else BP 1. */
    uint32_t signer = (e.bp >= 1 && e.bp <= FUZZ_N_BPS) ? e.bp : 1u;
    const uint8_t *pk = fuzz_bp_pk[signer - 1];
    int vrc = bckm_envelope_verify(&e, pk);
    FUZZ_CHECK(vrc == BCKM_OK || vrc == BCKM_ERR_AUTH);

    struct bckm_envelope s = e;
    FUZZ_CHECK(bckm_envelope_sign(&s, fuzz_bp_sk[signer - 1]) == BCKM_OK);
    FUZZ_CHECK(bckm_envelope_verify(&s, pk) == BCKM_OK);
    /* Signing must not touch the signed fields. */
    uint8_t enc2[BCKM_ENVELOPE_MAX_BYTES];
    size_t enc2_len = 0;
    FUZZ_CHECK(bckm_envelope_encode_to(&s, enc2, sizeof enc2, &enc2_len) == BCKM_OK);
    FUZZ_CHECK(enc2_len == size && memcmp(enc2, data, signed_len) == 0);

    /* Tamper with one byte before the signature (position and bit taken
     * from the signature bytes of the input); if the result still decodes,
     * the old signature must no longer verify. */
    size_t pos = (size_t)data[signed_len] % signed_len;
    uint8_t bit = (uint8_t)(1u << (data[signed_len + 1] & 7u));
    enc2[pos] ^= bit;
    struct bckm_envelope t;
    if (bckm_envelope_decode(enc2, enc2_len, &t) == BCKM_OK)
        FUZZ_CHECK(bckm_envelope_verify(&t, pk) == BCKM_ERR_AUTH);
    return 0;
}

FUZZ_ENTRY(fuzz_envelope)
