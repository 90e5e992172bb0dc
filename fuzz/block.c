/*
 * Harness: a whole block as the ledger stores it, header || envelopes
 * (bckm_block_decode / encode / header codec / body codec / seal / hash).
 *
 * Input: arbitrary bytes, read as an encoded block.
 * Oracles:
 *   - rejected: the caller's header is unchanged, the error is TRUNCATED,
 *     FORMAT or MISMATCH, and no envelope slot past the capacity given was
 *     written (a guard slot stays intact);
 *   - accepted: the header is valid, the block re-encodes to exactly the
 *     input bytes, the 121-byte header decodes alone to the same fields, and
 *     a capacity one short of the envelope count is refused with NOMEM
 *     without touching the header or the slot past that capacity;
 *   - rejected only for its transaction root (MISMATCH): once the header is
 *     sealed over the envelopes that did decode, the block is accepted, and
 *     re-encodes to the input with only the root bytes changed.
 */
#include "support/fuzz.h"

#include "bckm/block.h"

/* Offset of tx_root in the header: version 1, height 8, prev 32, proposer 4,
 * time 8 (block.h). */
#define FUZZ_BLOCK_ROOT_OFF 53u

static struct bckm_envelope fuzz_block_envs[BCKM_BLOCK_MAX_TXS + 1];
static uint8_t fuzz_block_out[BCKM_BLOCK_MAX_BYTES];

static int fuzz_block_same_header(const struct bckm_block_header *a,
                                  const struct bckm_block_header *b) {
    return a->version == b->version && a->height == b->height &&
           memcmp(a->prev_hash, b->prev_hash, BCKM_HASH_BYTES) == 0 &&
           a->proposer == b->proposer && a->time == b->time &&
           memcmp(a->tx_root, b->tx_root, BCKM_HASH_BYTES) == 0 &&
           memcmp(a->state_hash, b->state_hash, BCKM_HASH_BYTES) == 0 &&
           a->n_txs == b->n_txs;
}

/* Fills slot i with a byte pattern no decoder writes as a whole. */
static void fuzz_block_guard_set(uint32_t i) {
    memset(&fuzz_block_envs[i], 0xC3, sizeof fuzz_block_envs[i]);
}

static int fuzz_block_guard_ok(uint32_t i) {
    const uint8_t *p = (const uint8_t *)&fuzz_block_envs[i];
    for (size_t k = 0; k < sizeof fuzz_block_envs[i]; k++)
        if (p[k] != 0xC3) return 0;
    return 1;
}

/* The body length of the first n decoded envelopes: each at its own
 * version's length (134 or 198). */
static size_t fuzz_block_body_len(uint32_t n) {
    size_t len = 0;
    for (uint32_t i = 0; i < n; i++) len += bckm_envelope_wire_len(fuzz_block_envs[i].version);
    return len;
}

static int fuzz_block(const uint8_t *data, size_t size) {
    struct bckm_block_header h, before;
    size_t out_len = 0;

    memset(&h, 0xA5, sizeof h);
    memcpy(&before, &h, sizeof h);
    fuzz_block_guard_set(BCKM_BLOCK_MAX_TXS);
    int rc = bckm_block_decode(data, size, &h, fuzz_block_envs, BCKM_BLOCK_MAX_TXS);
    FUZZ_CHECK(fuzz_block_guard_ok(BCKM_BLOCK_MAX_TXS));

    if (rc == BCKM_OK) {
        uint32_t n = h.n_txs;
        FUZZ_CHECK(bckm_block_header_is_valid(&h) == 1);
        FUZZ_CHECK(n <= BCKM_BLOCK_MAX_TXS);
        FUZZ_CHECK(size == BCKM_BLOCK_HEADER_BYTES + fuzz_block_body_len(n));
        FUZZ_CHECK(bckm_block_encode(&h, fuzz_block_envs, n, fuzz_block_out,
                                     sizeof fuzz_block_out, &out_len) == BCKM_OK);
        FUZZ_CHECK(out_len == size);
        FUZZ_CHECK(memcmp(fuzz_block_out, data, size) == 0);

        struct bckm_block_header alone;
        FUZZ_CHECK(bckm_block_header_decode(data, BCKM_BLOCK_HEADER_BYTES, &alone) == BCKM_OK);
        FUZZ_CHECK(fuzz_block_same_header(&h, &alone));
        uint8_t hash[BCKM_HASH_BYTES];
        FUZZ_CHECK(bckm_block_hash(&h, hash) == BCKM_OK);

        if (n > 0) {
            struct bckm_block_header h2 = h, h2_before;
            memcpy(&h2_before, &h2, sizeof h2);
            fuzz_block_guard_set(n - 1);
            int rc2 = bckm_block_decode(data, size, &h2, fuzz_block_envs, n - 1);
            FUZZ_CHECK(rc2 == BCKM_ERR_NOMEM);
            FUZZ_CHECK(memcmp(&h2, &h2_before, sizeof h2) == 0);
            FUZZ_CHECK(fuzz_block_guard_ok(n - 1));
        }
        return 0;
    }

    FUZZ_CHECK(memcmp(&h, &before, sizeof h) == 0);
    FUZZ_CHECK(rc == BCKM_ERR_TRUNCATED || rc == BCKM_ERR_FORMAT || rc == BCKM_ERR_MISMATCH);
    if (size < BCKM_BLOCK_HEADER_BYTES) FUZZ_CHECK(rc == BCKM_ERR_TRUNCATED);

    if (rc == BCKM_ERR_MISMATCH) {
        /* Everything but the root was right: the header and all envelopes
         * decoded, so sealing over them must give an accepted block. */
        struct bckm_block_header sealed;
        FUZZ_CHECK(bckm_block_header_decode(data, BCKM_BLOCK_HEADER_BYTES, &sealed) == BCKM_OK);
        uint32_t n = sealed.n_txs;
        FUZZ_CHECK(size == BCKM_BLOCK_HEADER_BYTES + fuzz_block_body_len(n));
        FUZZ_CHECK(bckm_block_seal(&sealed, fuzz_block_envs, n) == BCKM_OK);
        FUZZ_CHECK(bckm_block_body_decode(&sealed, data + BCKM_BLOCK_HEADER_BYTES,
                                          size - BCKM_BLOCK_HEADER_BYTES, fuzz_block_envs,
                                          BCKM_BLOCK_MAX_TXS) == BCKM_OK);
        FUZZ_CHECK(bckm_block_encode(&sealed, fuzz_block_envs, n, fuzz_block_out,
                                     sizeof fuzz_block_out, &out_len) == BCKM_OK);
        FUZZ_CHECK(out_len == size);
        FUZZ_CHECK(memcmp(fuzz_block_out, data, FUZZ_BLOCK_ROOT_OFF) == 0);
        FUZZ_CHECK(memcmp(fuzz_block_out + FUZZ_BLOCK_ROOT_OFF + BCKM_HASH_BYTES,
                          data + FUZZ_BLOCK_ROOT_OFF + BCKM_HASH_BYTES,
                          size - FUZZ_BLOCK_ROOT_OFF - BCKM_HASH_BYTES) == 0);
        struct bckm_block_header again;
        FUZZ_CHECK(bckm_block_decode(fuzz_block_out, out_len, &again, fuzz_block_envs,
                                     BCKM_BLOCK_MAX_TXS) == BCKM_OK);
        FUZZ_CHECK(fuzz_block_same_header(&again, &sealed));
    }
    return 0;
}

FUZZ_ENTRY(fuzz_block)
