/*
 * Harness: a whole block as the ledger stores it, header || body, the body
 * n_txs records u16 length || transaction (bckm_block_decode / encode /
 * header codec / body framing, root and codec / seal / hash).
 *
 * Input: arbitrary bytes, read as an encoded block, and also as a bare
 * body of opaque transactions.
 * Oracles on the body functions (the input as a body):
 *   - bckm_block_body_next walks records of length 1..1024 inside the
 *     input, advancing by 2 + length, and on an error leaves the position
 *     and the outputs as they were;
 *   - the records walked, put back with bckm_block_body_put, give exactly
 *     the bytes walked (put/next round trip);
 *   - bckm_block_body_root succeeds exactly for the count of records walked
 *     when the walk reached the end cleanly (one more is TRUNCATED, one
 *     fewer FORMAT), and otherwise fails with the walk's own error;
 *   - on a block, bckm_block_body_check agrees with the decoder: its error
 *     is the decoder's, and when it passes the decoder says OK or FORMAT
 *     (a transaction that is not an envelope).
 * Oracles on the block:
 *   - rejected: the caller's header is unchanged, the error is TRUNCATED,
 *     FORMAT or MISMATCH, and no envelope slot past the capacity given was
 *     written (a guard slot stays intact);
 *   - accepted: the header is valid, the block re-encodes to exactly the
 *     input bytes, the 121-byte header decodes alone to the same fields, and
 *     a capacity one short of the envelope count is refused with NOMEM
 *     without touching the header or the slot past that capacity;
 *   - rejected only for its transaction root (MISMATCH): the framing is
 *     right, so the root of the body bytes exists; with it in the header the
 *     block decodes (OK, or FORMAT when a transaction is no envelope), and
 *     when it decodes it re-encodes to the input with only the root bytes
 *     changed, and bckm_block_seal over its envelopes gives that root.
 */
#include "support/fuzz.h"

#include "bckm/block.h"

/* Offset of tx_root in the header: version 1, height 8, prev 32, proposer 4,
 * time 8 (block.h). */
#define FUZZ_BLOCK_ROOT_OFF 53u

static struct bckm_envelope fuzz_block_envs[BCKM_BLOCK_MAX_TXS + 1];
static uint8_t fuzz_block_out[BCKM_BLOCK_MAX_BYTES];
static uint8_t fuzz_block_fixed[BCKM_BLOCK_MAX_BYTES];

static int fuzz_block_same_header(const struct bckm_block_header *a,
                                  const struct bckm_block_header *b) {
    return a->version == b->version && a->height == b->height &&
           memcmp(a->prev_hash, b->prev_hash, BCKM_HASH_BYTES) == 0 && a->proposer == b->proposer &&
           a->time == b->time && memcmp(a->tx_root, b->tx_root, BCKM_HASH_BYTES) == 0 &&
           memcmp(a->state_hash, b->state_hash, BCKM_HASH_BYTES) == 0 && a->n_txs == b->n_txs;
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

/* The body length of the first n decoded envelopes: one record each, the
 * envelope at its own version's length (134 or 198). */
static size_t fuzz_block_body_len(uint32_t n) {
    size_t len = 0;
    for (uint32_t i = 0; i < n; i++)
        len += BCKM_BLOCK_TX_PREFIX_BYTES + bckm_envelope_wire_len(fuzz_block_envs[i].version);
    return len;
}

/* The input as a bare body: walk, put back, root. */
static void fuzz_block_body(const uint8_t *body, size_t len) {
    size_t pos = 0, out_pos = 0;
    uint32_t k = 0;
    int r;
    if (len > sizeof fuzz_block_out) return;
    for (;;) {
        const uint8_t *tx = (const uint8_t *)&k, *tx_before;
        size_t tx_len = 7777, pos_before = pos;
        tx_before = tx;
        r = bckm_block_body_next(body, len, &pos, &tx, &tx_len);
        if (r != 1) {
            FUZZ_CHECK(pos == pos_before && tx == tx_before && tx_len == 7777);
            break;
        }
        FUZZ_CHECK(tx_len >= 1 && tx_len <= BCKM_BLOCK_TX_MAX_BYTES);
        FUZZ_CHECK(tx == body + pos_before + BCKM_BLOCK_TX_PREFIX_BYTES);
        FUZZ_CHECK(pos == pos_before + BCKM_BLOCK_TX_PREFIX_BYTES + tx_len && pos <= len);
        FUZZ_CHECK(bckm_block_body_put(fuzz_block_out, sizeof fuzz_block_out, &out_pos, tx,
                                       tx_len) == BCKM_OK);
        k++;
    }
    FUZZ_CHECK(r == 0 || r == BCKM_ERR_TRUNCATED || r == BCKM_ERR_FORMAT);
    if (r == 0) FUZZ_CHECK(pos == len);
    /* put/next round trip: the records put back are the bytes walked */
    FUZZ_CHECK(out_pos == pos);
    FUZZ_CHECK(pos == 0 || memcmp(fuzz_block_out, body, pos) == 0);

    uint8_t root[BCKM_HASH_BYTES], keep[BCKM_HASH_BYTES];
    memset(root, 0x3C, sizeof root);
    memcpy(keep, root, sizeof root);
    if (k > BCKM_BLOCK_MAX_TXS) return; /* more records than a block may hold */
    int rr = bckm_block_body_root(body, len, k, root);
    if (r == 0) {
        FUZZ_CHECK(rr == BCKM_OK);
        /* The root is over exactly these bytes. */
        uint8_t again[BCKM_HASH_BYTES];
        FUZZ_CHECK(bckm_block_body_root(fuzz_block_out, out_pos, k, again) == BCKM_OK);
        FUZZ_CHECK(memcmp(again, root, sizeof root) == 0);
        if (k < BCKM_BLOCK_MAX_TXS) {
            memcpy(keep, root, sizeof root);
            FUZZ_CHECK(bckm_block_body_root(body, len, k + 1u, root) == BCKM_ERR_TRUNCATED);
            FUZZ_CHECK(memcmp(root, keep, sizeof root) == 0);
        }
        if (k > 0) FUZZ_CHECK(bckm_block_body_root(body, len, k - 1u, root) == BCKM_ERR_FORMAT);
        FUZZ_CHECK(memcmp(root, keep, sizeof root) == 0);
    } else {
        /* The first k records are fine, then bytes that are no record: as
         * k records the body has bytes left over, as k+1 the walk's error. */
        FUZZ_CHECK(rr == BCKM_ERR_FORMAT);
        if (k < BCKM_BLOCK_MAX_TXS) FUZZ_CHECK(bckm_block_body_root(body, len, k + 1u, root) == r);
        FUZZ_CHECK(memcmp(root, keep, sizeof root) == 0);
    }
}

static int fuzz_block(const uint8_t *data, size_t size) {
    struct bckm_block_header h, before;
    size_t out_len = 0;

    fuzz_block_body(data, size);
    if (size > BCKM_BLOCK_HEADER_BYTES)
        fuzz_block_body(data + BCKM_BLOCK_HEADER_BYTES, size - BCKM_BLOCK_HEADER_BYTES);

    memset(&h, 0xA5, sizeof h);
    memcpy(&before, &h, sizeof h);
    fuzz_block_guard_set(BCKM_BLOCK_MAX_TXS);
    int rc = bckm_block_decode(data, size, &h, fuzz_block_envs, BCKM_BLOCK_MAX_TXS);
    FUZZ_CHECK(fuzz_block_guard_ok(BCKM_BLOCK_MAX_TXS));

    /* The framing and root check agrees with the decoder. */
    struct bckm_block_header hh;
    if (size >= BCKM_BLOCK_HEADER_BYTES &&
        bckm_block_header_decode(data, BCKM_BLOCK_HEADER_BYTES, &hh) == BCKM_OK) {
        int crc = bckm_block_body_check(&hh, data + BCKM_BLOCK_HEADER_BYTES,
                                        size - BCKM_BLOCK_HEADER_BYTES);
        if (crc != BCKM_OK)
            FUZZ_CHECK(rc == crc);
        else
            FUZZ_CHECK(rc == BCKM_OK || rc == BCKM_ERR_FORMAT);
    }

    if (rc == BCKM_OK) {
        uint32_t n = h.n_txs;
        FUZZ_CHECK(bckm_block_header_is_valid(&h) == 1);
        FUZZ_CHECK(n <= BCKM_BLOCK_MAX_TXS);
        FUZZ_CHECK(size == BCKM_BLOCK_HEADER_BYTES + fuzz_block_body_len(n));
        FUZZ_CHECK(bckm_block_encode(&h, fuzz_block_envs, n, fuzz_block_out, sizeof fuzz_block_out,
                                     &out_len) == BCKM_OK);
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
        /* Everything but the root was right as far as the root check goes:
         * the header decoded and the body is well framed, so its root
         * exists; put into the header, the block decodes unless a
         * transaction is no envelope. */
        struct bckm_block_header sealed;
        FUZZ_CHECK(bckm_block_header_decode(data, BCKM_BLOCK_HEADER_BYTES, &sealed) == BCKM_OK);
        uint32_t n = sealed.n_txs;
        FUZZ_CHECK(size <= sizeof fuzz_block_fixed);
        memcpy(fuzz_block_fixed, data, size);
        FUZZ_CHECK(bckm_block_body_root(data + BCKM_BLOCK_HEADER_BYTES,
                                        size - BCKM_BLOCK_HEADER_BYTES, n,
                                        fuzz_block_fixed + FUZZ_BLOCK_ROOT_OFF) == BCKM_OK);
        FUZZ_CHECK(memcmp(fuzz_block_fixed + FUZZ_BLOCK_ROOT_OFF, data + FUZZ_BLOCK_ROOT_OFF,
                          BCKM_HASH_BYTES) != 0);
        int rc2 =
            bckm_block_decode(fuzz_block_fixed, size, &sealed, fuzz_block_envs, BCKM_BLOCK_MAX_TXS);
        FUZZ_CHECK(rc2 == BCKM_OK || rc2 == BCKM_ERR_FORMAT);
        if (rc2 == BCKM_OK) {
            struct bckm_block_header resealed = sealed;
            FUZZ_CHECK(size == BCKM_BLOCK_HEADER_BYTES + fuzz_block_body_len(n));
            FUZZ_CHECK(bckm_block_seal(&resealed, fuzz_block_envs, n) == BCKM_OK);
            FUZZ_CHECK(fuzz_block_same_header(&resealed, &sealed));
            FUZZ_CHECK(bckm_block_encode(&sealed, fuzz_block_envs, n, fuzz_block_out,
                                         sizeof fuzz_block_out, &out_len) == BCKM_OK);
            FUZZ_CHECK(out_len == size);
            FUZZ_CHECK(memcmp(fuzz_block_out, data, FUZZ_BLOCK_ROOT_OFF) == 0);
            FUZZ_CHECK(memcmp(fuzz_block_out + FUZZ_BLOCK_ROOT_OFF + BCKM_HASH_BYTES,
                              data + FUZZ_BLOCK_ROOT_OFF + BCKM_HASH_BYTES,
                              size - FUZZ_BLOCK_ROOT_OFF - BCKM_HASH_BYTES) == 0);
        }
    }
    return 0;
}

FUZZ_ENTRY(fuzz_block)
