/*
 * Harness: the commit certificate (bckm_cert_decode / encode / verify).
 *
 * Input: arbitrary bytes, read as an encoded certificate.
 * Oracles:
 *   - rejected: the caller's struct is unchanged; TRUNCATED below the fixed
 *     part;
 *   - accepted: it re-encodes to exactly the input, its length is
 *     bckm_cert_encoded_len(count), and checked against another block hash
 *     it is refused with MISMATCH;
 *   - with every signature replaced by a real commit signature of its BP
 *     (support/bp_keys.h: BPs 1..4, f = 1), bckm_cert_verify must answer
 *     exactly what its contract says: UNKNOWN for a signer outside the
 *     table, AUTH for fewer than 2f+1 signers, OK otherwise; and one flipped
 *     signature bit then gives AUTH;
 *   - the view is signed: a certificate that verifies no longer does once
 *     its view is changed (AUTH), and its encoding changes in the view bytes
 *     only.
 */
#include "support/fuzz.h"

#include "bckm/block.h"
#include "support/bp_keys.h"

static struct bckm_cert fuzz_cert_c, fuzz_cert_before, fuzz_cert_signed;
static uint8_t fuzz_cert_out[BCKM_CERT_MAX_BYTES];

static int fuzz_cert(const uint8_t *data, size_t size) {
    size_t out_len = 0;

    fuzz_bp_keys_setup();
    memset(&fuzz_cert_c, 0xA5, sizeof fuzz_cert_c);
    memcpy(&fuzz_cert_before, &fuzz_cert_c, sizeof fuzz_cert_c);
    int rc = bckm_cert_decode(data, size, &fuzz_cert_c);
    if (rc != BCKM_OK) {
        FUZZ_CHECK(memcmp(&fuzz_cert_c, &fuzz_cert_before, sizeof fuzz_cert_c) == 0);
        FUZZ_CHECK(rc == BCKM_ERR_TRUNCATED || rc == BCKM_ERR_FORMAT);
        if (size < BCKM_CERT_FIXED_BYTES) FUZZ_CHECK(rc == BCKM_ERR_TRUNCATED);
        return 0;
    }
    const struct bckm_cert *c = &fuzz_cert_c;
    FUZZ_CHECK(c->count >= 1 && c->count <= BCKM_CERT_MAX_SIGS);
    FUZZ_CHECK(size == bckm_cert_encoded_len(c->count));
    FUZZ_CHECK(bckm_cert_encode(c, fuzz_cert_out, sizeof fuzz_cert_out, &out_len) == BCKM_OK);
    FUZZ_CHECK(out_len == size);
    FUZZ_CHECK(memcmp(fuzz_cert_out, data, size) == 0);

    uint8_t other[BCKM_HASH_BYTES];
    memcpy(other, c->block_hash, sizeof other);
    other[data[size - 1] % BCKM_HASH_BYTES] ^= 0x01;
    FUZZ_CHECK(bckm_cert_verify(c, other, (const uint8_t(*)[BCKM_SIGN_PK_BYTES])fuzz_bp_pk,
                                FUZZ_N_BPS, FUZZ_F) == BCKM_ERR_MISMATCH);

    /* Re-sign with the real keys where the table has one, then ask for the
     * exact verdict. Signing costs time, so only small certificates (the
     * table has 4 BPs; larger counts necessarily name an unknown signer). */
    if (c->count > FUZZ_N_BPS + 1u) return 0;
    memcpy(&fuzz_cert_signed, c, sizeof *c);
    int unknown = 0;
    for (uint32_t i = 0; i < fuzz_cert_signed.count; i++) {
        uint32_t bp = fuzz_cert_signed.sigs[i].bp;
        if (bp > FUZZ_N_BPS) {
            unknown = 1;
            continue;
        }
        FUZZ_CHECK(bckm_commit_sign(fuzz_cert_signed.height, fuzz_cert_signed.view,
                                    fuzz_cert_signed.block_hash, fuzz_bp_sk[bp - 1],
                                    fuzz_cert_signed.sigs[i].sig) == BCKM_OK);
    }
    int vrc =
        bckm_cert_verify(&fuzz_cert_signed, fuzz_cert_signed.block_hash,
                         (const uint8_t(*)[BCKM_SIGN_PK_BYTES])fuzz_bp_pk, FUZZ_N_BPS, FUZZ_F);
    if (unknown)
        FUZZ_CHECK(vrc == BCKM_ERR_UNKNOWN);
    else if (fuzz_cert_signed.count < 2u * FUZZ_F + 1u)
        FUZZ_CHECK(vrc == BCKM_ERR_AUTH);
    else
        FUZZ_CHECK(vrc == BCKM_OK);

    if (vrc == BCKM_OK) {
        /* Commit votes of one view are not votes of another. */
        uint64_t view = fuzz_cert_signed.view;
        fuzz_cert_signed.view = view ^ (1ull << (data[0] % 64u));
        FUZZ_CHECK(bckm_cert_verify(&fuzz_cert_signed, fuzz_cert_signed.block_hash,
                                    (const uint8_t(*)[BCKM_SIGN_PK_BYTES])fuzz_bp_pk, FUZZ_N_BPS,
                                    FUZZ_F) == BCKM_ERR_AUTH);
        uint8_t msg_a[BCKM_COMMIT_MSG_BYTES], msg_b[BCKM_COMMIT_MSG_BYTES];
        bckm_commit_message(fuzz_cert_signed.height, view, fuzz_cert_signed.block_hash, msg_a);
        bckm_commit_message(fuzz_cert_signed.height, fuzz_cert_signed.view,
                            fuzz_cert_signed.block_hash, msg_b);
        FUZZ_CHECK(memcmp(msg_a, msg_b, BCKM_COMMIT_LABEL_BYTES + 8u) == 0);
        FUZZ_CHECK(memcmp(msg_a + BCKM_COMMIT_LABEL_BYTES + 8u,
                          msg_b + BCKM_COMMIT_LABEL_BYTES + 8u, 8u) != 0);
        FUZZ_CHECK(memcmp(msg_a + BCKM_COMMIT_LABEL_BYTES + 16u,
                          msg_b + BCKM_COMMIT_LABEL_BYTES + 16u, BCKM_HASH_BYTES) == 0);
        fuzz_cert_signed.view = view;
    }

    if (!unknown) {
        uint32_t i = data[0] % fuzz_cert_signed.count;
        fuzz_cert_signed.sigs[i].sig[data[size - 1] % BCKM_SIG_BYTES] ^= 0x04;
        FUZZ_CHECK(bckm_cert_verify(&fuzz_cert_signed, fuzz_cert_signed.block_hash,
                                    (const uint8_t(*)[BCKM_SIGN_PK_BYTES])fuzz_bp_pk, FUZZ_N_BPS,
                                    FUZZ_F) == BCKM_ERR_AUTH);
    }
    return 0;
}

FUZZ_ENTRY(fuzz_cert)
