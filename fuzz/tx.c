/*
 * Harness: the 57-byte transaction codec (bckm_tx_decode / bckm_tx_encode).
 *
 * Input: arbitrary bytes, read as an encoded transaction.
 * Oracles:
 *   - a rejected input leaves the caller's struct byte-for-byte unchanged,
 *     and the error is the one tx.h names for its length;
 *   - an accepted input is valid (bckm_tx_is_valid) and re-encodes to exactly
 *     the input bytes (canonical encoding), and decodes again to the same
 *     fields;
 *   - the first 57 bytes read as field values: the encoder accepts them iff
 *     bckm_tx_is_valid says so, and what it writes decodes back to them.
 */
#include "support/fuzz.h"

#include "bckm/tx.h"

static int fuzz_tx_same(const struct bckm_tx *a, const struct bckm_tx *b) {
    return a->op == b->op && a->node_id == b->node_id && a->set_id == b->set_id &&
           memcmp(a->code_hash, b->code_hash, sizeof a->code_hash) == 0 &&
           memcmp(a->refresh, b->refresh, sizeof a->refresh) == 0;
}

static int fuzz_tx(const uint8_t *data, size_t size) {
    struct bckm_tx t, before, again;
    uint8_t enc[BCKM_TX_BYTES];

    /* A recognisable prior state, so "unchanged" is a real comparison. */
    memset(&t, 0xA5, sizeof t);
    memcpy(&before, &t, sizeof t);
    int rc = bckm_tx_decode(data, size, &t);
    if (rc != BCKM_OK) {
        FUZZ_CHECK(memcmp(&t, &before, sizeof t) == 0);
        if (size < BCKM_TX_BYTES)
            FUZZ_CHECK(rc == BCKM_ERR_TRUNCATED);
        else
            FUZZ_CHECK(rc == BCKM_ERR_FORMAT);
    } else {
        FUZZ_CHECK(size == BCKM_TX_BYTES);
        FUZZ_CHECK(bckm_tx_is_valid(&t) == 1);
        FUZZ_CHECK(bckm_tx_encode(&t, enc) == BCKM_OK);
        FUZZ_CHECK(memcmp(enc, data, BCKM_TX_BYTES) == 0);
        FUZZ_CHECK(bckm_tx_decode(enc, sizeof enc, &again) == BCKM_OK);
        FUZZ_CHECK(fuzz_tx_same(&t, &again));
    }

    /* Encoder side: field values straight from the input, valid or not. */
    if (size >= BCKM_TX_BYTES) {
        struct bckm_tx f;
        memset(&f, 0, sizeof f);
        f.op = data[0];
        f.node_id = bckm_get_u32(data + 1);
        f.set_id = bckm_get_u32(data + 5);
        memcpy(f.code_hash, data + 9, sizeof f.code_hash);
        memcpy(f.refresh, data + 41, sizeof f.refresh);
        memset(enc, 0x5A, sizeof enc);
        uint8_t enc_before[BCKM_TX_BYTES];
        memcpy(enc_before, enc, sizeof enc);
        int erc = bckm_tx_encode(&f, enc);
        if (bckm_tx_is_valid(&f)) {
            FUZZ_CHECK(erc == BCKM_OK);
            memset(&again, 0, sizeof again);
            FUZZ_CHECK(bckm_tx_decode(enc, sizeof enc, &again) == BCKM_OK);
            FUZZ_CHECK(fuzz_tx_same(&f, &again));
        } else {
            FUZZ_CHECK(erc == BCKM_ERR_ARG);
            /* tx.h: an encoder that refuses writes nothing. */
            FUZZ_CHECK(memcmp(enc, enc_before, sizeof enc) == 0);
        }
    }
    return 0;
}

FUZZ_ENTRY(fuzz_tx)
