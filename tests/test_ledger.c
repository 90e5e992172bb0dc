/*
 * The ledger interface on both backends (memory and LMDB): append and read
 * back, every rejected append changes nothing, the queries agree with a brute
 * force scan of the blocks; for LMDB, reopening keeps everything and a
 * tampered store is reported corrupt (and left as it is).
 */
#include "check.h"
#include "ledger_chain.h"

#include <lmdb.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static struct chain ch;

static int chain_ready(size_t len) {
    if (ch.len >= len) return 1;
    chain_free(&ch);
    return chain_build(&ch, len) == BCKM_OK;
}

/* ---- backends --------------------------------------------------------- */

struct backend {
    const char *name;
    int durable;
};
static const struct backend backends[2] = { { "memory", 0 }, { "lmdb", 1 } };

static char tmpdir[64];

static void rm_store(const char *dir) {
    char p[128];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
}

static int fresh_dir(void) {
    strcpy(tmpdir, "/tmp/bckm-ledger-test-XXXXXX");
    return mkdtemp(tmpdir) != NULL;
}

static int open_backend(const struct backend *b, const struct bckm_ledger_config *cfg,
                        bckm_ledger **l) {
    return b->durable ? bckm_ledger_open_lmdb(tmpdir, cfg, l) : bckm_ledger_open_memory(cfg, l);
}

/* ---- tests run on both backends --------------------------------------- */

static void empty_ledger(void) {
    REQUIRE(chain_ready(60));
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    for (int bi = 0; bi < 2; bi++) {
        bckm_ledger *l = NULL;
        uint8_t tip[32], buf[16];
        struct bckm_ledger_entry e[2];
        size_t n = 99, len;
        REQUIRE(fresh_dir());
        REQUIRE(open_backend(&backends[bi], &cfg, &l) == BCKM_OK);
        CHECK_EQ(bckm_ledger_height(l), 0);
        CHECK_EQ(bckm_ledger_tip_hash(l, tip), BCKM_OK);
        CHECK(memcmp(tip, (uint8_t[32]){ 0 }, 32) == 0);
        CHECK_EQ(bckm_ledger_get_block(l, 1, buf, sizeof buf, &len), BCKM_ERR_ARG);
        CHECK_EQ(bckm_ledger_get_cert(l, 0, buf, sizeof buf, &len), BCKM_ERR_ARG);
        CHECK_EQ(bckm_ledger_get_status(l, 1, buf, sizeof buf, &len), BCKM_ERR_ARG);
        CHECK_EQ(bckm_ledger_get_status(l, 0, buf, sizeof buf, &len), BCKM_ERR_ARG);
        CHECK_EQ(bckm_ledger_txs_after(l, BCKM_LEDGER_POS_START, e, 2, &n), BCKM_OK);
        CHECK_EQ(n, 0);
        CHECK_EQ(bckm_ledger_find_node(l, 0x01000001u, BCKM_LEDGER_POS_START, e, 2, &n), BCKM_OK);
        CHECK_EQ(n, 0);
        bckm_ledger_close(l);
        rm_store(tmpdir);
    }
}

static void append_and_read(void) {
    REQUIRE(chain_ready(60));
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    for (int bi = 0; bi < 2; bi++) {
        bckm_ledger *l = NULL;
        uint8_t buf[CHAIN_BLOCK_CAP + CHAIN_CERT_CAP], tip[32];
        size_t len = 0;
        int bad = 0;
        REQUIRE(fresh_dir());
        REQUIRE(open_backend(&backends[bi], &cfg, &l) == BCKM_OK);
        for (uint64_t h = 1; h <= 40; h++)
            if (chain_append(l, &ch, h) != BCKM_OK) bad++;
        CHECK_EQ(bad, 0);
        CHECK_EQ(bckm_ledger_height(l), 40);
        CHECK_EQ(bckm_ledger_tip_hash(l, tip), BCKM_OK);
        CHECK_MEM(tip, ch.hash[39], 32);
        for (uint64_t h = 1; h <= 40; h++) {
            if (bckm_ledger_get_block(l, h, buf, sizeof buf, &len) != BCKM_OK ||
                len != ch.blk_len[h - 1] || memcmp(buf, ch.blk[h - 1], len) != 0)
                bad++;
            if (bckm_ledger_get_cert(l, h, buf, sizeof buf, &len) != BCKM_OK ||
                len != ch.cert_len[h - 1] || memcmp(buf, ch.cert[h - 1], len) != 0)
                bad++;
        }
        CHECK_EQ(bad, 0);
        /* A buffer too small is refused with the size needed. */
        len = 0;
        CHECK_EQ(bckm_ledger_get_block(l, 7, buf, 10, &len), BCKM_ERR_NOMEM);
        CHECK_EQ(len, ch.blk_len[6]);
        CHECK_EQ(bckm_ledger_get_block(l, 41, buf, sizeof buf, &len), BCKM_ERR_ARG);
        /* Status bytes: appended with NULL, so one "executed" (0) per
         * transaction, none for an empty block. */
        for (uint64_t h = 1; h <= 40; h++) {
            memset(buf, 0xAA, CHAIN_MAX_TXS + 1);
            len = 99;
            if (bckm_ledger_get_status(l, h, buf, sizeof buf, &len) != BCKM_OK ||
                len != ch.n_txs[h - 1])
                bad++;
            for (size_t k = 0; k < len && k < CHAIN_MAX_TXS; k++)
                if (buf[k] != 0) bad++;
            if (buf[len] != 0xAA) bad++;
        }
        CHECK_EQ(bad, 0);
        uint64_t hs = 1;
        while (ch.n_txs[hs - 1] < 2) hs++;
        CHECK_EQ(bckm_ledger_get_status(l, hs, buf, 1, &len), BCKM_ERR_NOMEM);
        CHECK_EQ(len, ch.n_txs[hs - 1]);
        CHECK_EQ(bckm_ledger_get_status(l, 41, buf, sizeof buf, &len), BCKM_ERR_ARG);
        CHECK_EQ(bckm_ledger_get_status(l, 0, buf, sizeof buf, &len), BCKM_ERR_ARG);
        bckm_ledger_close(l);
        rm_store(tmpdir);
    }
}

/* Asserts that a rejected append left the ledger at height `h` with the
 * chain's hash as tip. */
static void check_unchanged(bckm_ledger *l, uint64_t h) {
    uint8_t tip[32];
    CHECK_EQ(bckm_ledger_height(l), h);
    CHECK_EQ(bckm_ledger_tip_hash(l, tip), BCKM_OK);
    CHECK_MEM(tip, ch.hash[h - 1], 32);
}

static void append_rejects_bad_input(void) {
    static uint8_t blk[BCKM_BLOCK_MAX_BYTES], cert[BCKM_CERT_MAX_BYTES];
    static uint8_t blk2[BCKM_BLOCK_MAX_BYTES], cert2[BCKM_CERT_MAX_BYTES];
    struct bckm_envelope envs[CHAIN_MAX_TXS];
    uint8_t hash[32], wrong_prev[32];
    size_t blen, clen, blen2, clen2;
    uint32_t n;
    REQUIRE(chain_ready(60));
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    for (int bi = 0; bi < 2; bi++) {
        bckm_ledger *l = NULL;
        REQUIRE(fresh_dir());
        REQUIRE(open_backend(&backends[bi], &cfg, &l) == BCKM_OK);
        REQUIRE(chain_append(l, &ch, 1) == BCKM_OK);
        REQUIRE(chain_append(l, &ch, 2) == BCKM_OK);
        /* wrong height: a gap, then a repeat */
        CHECK_EQ(chain_append(l, &ch, 4), BCKM_ERR_STATE);
        CHECK_EQ(chain_append(l, &ch, 2), BCKM_ERR_STATE);
        check_unchanged(l, 2);
        /* a valid block 3 built on another parent */
        memset(wrong_prev, 0x77, sizeof wrong_prev);
        REQUIRE(chain_make(&ch.keys, 3, wrong_prev, 0, 0x7, envs, &n, blk, sizeof blk, &blen, cert,
                           sizeof cert, &clen, hash) == BCKM_OK);
        CHECK_EQ(bckm_ledger_append(l, blk, blen, cert, clen, NULL), BCKM_ERR_MISMATCH);
        check_unchanged(l, 2);
        /* another block 3 on the right parent, with the honest block's certificate */
        REQUIRE(chain_make(&ch.keys, 3, ch.hash[1], 1, 0x7, envs, &n, blk, sizeof blk, &blen, cert,
                           sizeof cert, &clen, hash) == BCKM_OK);
        CHECK_EQ(bckm_ledger_append(l, blk, blen, ch.cert[2], ch.cert_len[2], NULL),
                 BCKM_ERR_MISMATCH);
        /* ... and with its own certificate it would be fine, so the variant itself is valid;
         * but signed by two BPs only it is not enough (2f+1 = 3) */
        REQUIRE(chain_make(&ch.keys, 3, ch.hash[1], 1, 0x3, envs, &n, blk2, sizeof blk2, &blen2,
                           cert2, sizeof cert2, &clen2, hash) == BCKM_OK);
        CHECK_EQ(bckm_ledger_append(l, blk2, blen2, cert2, clen2, NULL), BCKM_ERR_AUTH);
        check_unchanged(l, 2);
        /* the certificate of block 4 given with block 3 (other height) */
        CHECK_EQ(bckm_ledger_append(l, ch.blk[2], ch.blk_len[2], ch.cert[3], ch.cert_len[3], NULL),
                 BCKM_ERR_MISMATCH);
        /* truncated block, truncated certificate */
        CHECK_EQ(
            bckm_ledger_append(l, ch.blk[2], ch.blk_len[2] - 1, ch.cert[2], ch.cert_len[2], NULL),
            BCKM_ERR_TRUNCATED);
        CHECK_EQ(
            bckm_ledger_append(l, ch.blk[2], ch.blk_len[2], ch.cert[2], ch.cert_len[2] - 1, NULL),
            BCKM_ERR_TRUNCATED);
        /* a changed byte in the last envelope (tx root) or in the header (hash) */
        memcpy(blk2, ch.blk[2], ch.blk_len[2]);
        blk2[ch.blk_len[2] - 1] ^= 1;
        REQUIRE(ch.n_txs[2] > 0);
        CHECK_EQ(bckm_ledger_append(l, blk2, ch.blk_len[2], ch.cert[2], ch.cert_len[2], NULL),
                 BCKM_ERR_MISMATCH);
        memcpy(blk2, ch.blk[2], ch.blk_len[2]);
        blk2[50] ^= 1; /* time */
        CHECK_EQ(bckm_ledger_append(l, blk2, ch.blk_len[2], ch.cert[2], ch.cert_len[2], NULL),
                 BCKM_ERR_MISMATCH);
        /* a bad signature in the certificate */
        memcpy(cert2, ch.cert[2], ch.cert_len[2]);
        cert2[ch.cert_len[2] - 3] ^= 0x10;
        CHECK_EQ(bckm_ledger_append(l, ch.blk[2], ch.blk_len[2], cert2, ch.cert_len[2], NULL),
                 BCKM_ERR_AUTH);
        /* garbage and NULL */
        memset(blk2, 0xEE, 300);
        CHECK(bckm_ledger_append(l, blk2, 300, ch.cert[2], ch.cert_len[2], NULL) != BCKM_OK);
        CHECK_EQ(bckm_ledger_append(l, NULL, 0, ch.cert[2], ch.cert_len[2], NULL), BCKM_ERR_ARG);
        CHECK_EQ(
            bckm_ledger_append(NULL, ch.blk[2], ch.blk_len[2], ch.cert[2], ch.cert_len[2], NULL),
            BCKM_ERR_ARG);
        check_unchanged(l, 2);
        /* after all that, the honest block 3 goes in */
        CHECK_EQ(chain_append(l, &ch, 3), BCKM_OK);
        CHECK_EQ(bckm_ledger_height(l), 3);
        bckm_ledger_close(l);
        if (backends[bi].durable) {
            REQUIRE(bckm_ledger_open_lmdb(tmpdir, &cfg, &l) == BCKM_OK);
            CHECK_EQ(bckm_ledger_height(l), 3);
            bckm_ledger_close(l);
        }
        rm_store(tmpdir);
    }
}

static void genesis_needs_zero_parent(void) {
    static uint8_t blk[BCKM_BLOCK_MAX_BYTES], cert[BCKM_CERT_MAX_BYTES];
    struct bckm_envelope envs[CHAIN_MAX_TXS];
    uint8_t hash[32], prev[32];
    size_t blen, clen;
    uint32_t n;
    REQUIRE(chain_ready(60));
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    memset(prev, 0x11, sizeof prev);
    REQUIRE(chain_make(&ch.keys, 1, prev, 0, 0xF, envs, &n, blk, sizeof blk, &blen, cert,
                       sizeof cert, &clen, hash) == BCKM_OK);
    for (int bi = 0; bi < 2; bi++) {
        bckm_ledger *l = NULL;
        REQUIRE(fresh_dir());
        REQUIRE(open_backend(&backends[bi], &cfg, &l) == BCKM_OK);
        CHECK_EQ(bckm_ledger_append(l, blk, blen, cert, clen, NULL), BCKM_ERR_MISMATCH);
        CHECK_EQ(bckm_ledger_height(l), 0);
        /* all four signing is fine too */
        REQUIRE(chain_make(&ch.keys, 1, (uint8_t[32]){ 0 }, 0, 0xF, envs, &n, blk, sizeof blk,
                           &blen, cert, sizeof cert, &clen, hash) == BCKM_OK);
        CHECK_EQ(bckm_ledger_append(l, blk, blen, cert, clen, NULL), BCKM_OK);
        bckm_ledger_close(l);
        rm_store(tmpdir);
        memset(prev, 0x11, sizeof prev);
        REQUIRE(chain_make(&ch.keys, 1, prev, 0, 0xF, envs, &n, blk, sizeof blk, &blen, cert,
                           sizeof cert, &clen, hash) == BCKM_OK);
    }
}

/* Collects every entry of a query by pages of `page`. */
enum q { Q_NODE, Q_CODE, Q_ALL };
static size_t collect(bckm_ledger *l, enum q q, uint32_t node, const uint8_t *code,
                      struct bckm_ledger_pos after, size_t page, struct bckm_ledger_entry *out,
                      size_t cap) {
    size_t total = 0;
    for (;;) {
        size_t n = 0;
        struct bckm_ledger_entry buf[8];
        int r = q == Q_NODE   ? bckm_ledger_find_node(l, node, after, buf, page, &n)
                : q == Q_CODE ? bckm_ledger_find_code(l, code, after, buf, page, &n)
                              : bckm_ledger_txs_after(l, after, buf, page, &n);
        if (r != BCKM_OK) return (size_t)-1;
        for (size_t i = 0; i < n && total < cap; i++) out[total++] = buf[i];
        if (n < page) return total;
        after = buf[n - 1].pos;
    }
}

static int entry_is(const struct bckm_ledger_entry *e, uint64_t h, uint32_t k, uint8_t status) {
    uint8_t a[BCKM_ENVELOPE_BYTES], b[BCKM_ENVELOPE_BYTES];
    if (e->pos.height != h || e->pos.index != k || e->status != status) return 0;
    if (bckm_envelope_encode(&e->env, a) != BCKM_OK) return 0;
    if (bckm_envelope_encode(&ch.envs[h - 1][k], b) != BCKM_OK) return 0;
    return memcmp(a, b, sizeof a) == 0;
}

/* Status bytes given at append: some transactions marked as rejected at
 * execution, when with_status is set (NULL status otherwise). */
static int with_status;
static uint8_t status_of(uint64_t h, uint32_t k) {
    return (with_status && h % 5 == 0 && k == 0) ? 0xF3u : 0u;
}

static void check_queries(bckm_ledger *l, uint64_t height) {
    static struct bckm_ledger_entry got[600];
    int bad = 0;
    /* by node: every node ID that occurs, and one that never does */
    for (uint32_t v = 0; v <= 18; v++) {
        uint32_t node = 0x01000000u | v;
        for (size_t page = 1; page <= 4; page += 3) {
            size_t n = collect(l, Q_NODE, node, NULL, BCKM_LEDGER_POS_START, page, got, 600);
            size_t want = 0;
            for (uint64_t h = 1; h <= height; h++)
                for (uint32_t k = 0; k < ch.n_txs[h - 1]; k++)
                    if (ch.envs[h - 1][k].tx.node_id == node) {
                        if (want >= n || !entry_is(&got[want], h, k, status_of(h, k))) bad++;
                        want++;
                    }
            if (n != want) bad++;
        }
        uint8_t code[32];
        chain_code_of(node, code);
        size_t n = collect(l, Q_CODE, 0, code, BCKM_LEDGER_POS_START, 2, got, 600);
        size_t want = 0;
        for (uint64_t h = 1; h <= height; h++)
            for (uint32_t k = 0; k < ch.n_txs[h - 1]; k++)
                if (ch.envs[h - 1][k].tx.node_id == node) {
                    if (want >= n || !entry_is(&got[want], h, k, status_of(h, k))) bad++;
                    want++;
                }
        if (n != want) bad++;
    }
    /* everything after a point, from several points (including ones
     * between and beyond the stored positions) */
    for (uint64_t ah = 0; ah <= height + 1; ah += 7) {
        for (uint32_t ak = 0; ak <= 5; ak += 5) {
            struct bckm_ledger_pos after = { ah, ak };
            size_t n = collect(l, Q_ALL, 0, NULL, after, 5, got, 600);
            size_t want = 0;
            for (uint64_t h = 1; h <= height; h++)
                for (uint32_t k = 0; k < ch.n_txs[h - 1]; k++) {
                    if (h < ah || (h == ah && k <= ak)) continue;
                    if (want >= n || !entry_is(&got[want], h, k, status_of(h, k))) bad++;
                    want++;
                }
            if (n != want) bad++;
        }
    }
    CHECK_EQ(bad, 0);
}

/* get_status gives back, for every block, the status bytes of its
 * transactions as appended. */
static void check_status(bckm_ledger *l, uint64_t height) {
    uint8_t buf[CHAIN_MAX_TXS + 4];
    int bad = 0;
    for (uint64_t h = 1; h <= height; h++) {
        size_t len = 0;
        if (bckm_ledger_get_status(l, h, buf, sizeof buf, &len) != BCKM_OK ||
            len != ch.n_txs[h - 1]) {
            bad++;
            continue;
        }
        for (uint32_t k = 0; k < len; k++)
            if (buf[k] != status_of(h, k)) bad++;
    }
    CHECK_EQ(bad, 0);
}

static void queries_match_blocks(void) {
    REQUIRE(chain_ready(60));
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    for (int bi = 0; bi < 2; bi++) {
        bckm_ledger *l = NULL;
        REQUIRE(fresh_dir());
        REQUIRE(open_backend(&backends[bi], &cfg, &l) == BCKM_OK);
        size_t total = 0;
        with_status = 1;
        for (uint64_t h = 1; h <= 60; h++) {
            uint8_t status[CHAIN_MAX_TXS];
            for (uint32_t k = 0; k < CHAIN_MAX_TXS; k++) status[k] = status_of(h, k);
            CHECK_EQ(bckm_ledger_append(l, ch.blk[h - 1], ch.blk_len[h - 1], ch.cert[h - 1],
                                        ch.cert_len[h - 1], status),
                     BCKM_OK);
            total += ch.n_txs[h - 1];
        }
        CHECK(total > 60); /* the chain exercises multi-entry postings */
        check_queries(l, 60);
        check_status(l, 60);
        /* cap 0 and NULL arguments */
        size_t n = 7;
        CHECK_EQ(bckm_ledger_txs_after(l, BCKM_LEDGER_POS_START, NULL, 0, &n), BCKM_OK);
        CHECK_EQ(n, 0);
        CHECK_EQ(bckm_ledger_txs_after(l, BCKM_LEDGER_POS_START, NULL, 3, &n), BCKM_ERR_ARG);
        CHECK_EQ(bckm_ledger_find_code(l, NULL, BCKM_LEDGER_POS_START, NULL, 0, &n), BCKM_ERR_ARG);
        if (backends[bi].durable) {
            bckm_ledger_close(l);
            REQUIRE(bckm_ledger_open_lmdb(tmpdir, &cfg, &l) == BCKM_OK);
            CHECK_EQ(bckm_ledger_height(l), 60);
            check_queries(l, 60);
            check_status(l, 60);
        }
        bckm_ledger_close(l);
        rm_store(tmpdir);
    }
    with_status = 0;
}

/* ---- opaque ledgers ------------------------------------------------------ */

#define OPAQUE_LEN 24
static uint8_t op_blk[OPAQUE_LEN][CHAIN_OPAQUE_BLOCK_CAP], op_cert[OPAQUE_LEN][CHAIN_CERT_CAP];
static size_t op_blk_len[OPAQUE_LEN], op_cert_len[OPAQUE_LEN];
static uint8_t op_hash[OPAQUE_LEN][BCKM_HASH_BYTES];
static uint32_t op_n[OPAQUE_LEN];

/* A chain of opaque blocks (ledger_chain.h) under the same BP keys. */
static int opaque_ready(void) {
    static int ready;
    static const uint8_t zero[BCKM_HASH_BYTES];
    if (ready) return 1;
    if (!chain_ready(60)) return 0;
    for (uint64_t h = 1; h <= OPAQUE_LEN; h++)
        if (chain_make_opaque(&ch.keys, h, h == 1 ? zero : op_hash[h - 2], 0, chain_signers(h),
                              &op_n[h - 1], op_blk[h - 1], CHAIN_OPAQUE_BLOCK_CAP,
                              &op_blk_len[h - 1], op_cert[h - 1], CHAIN_CERT_CAP,
                              &op_cert_len[h - 1], op_hash[h - 1]) != BCKM_OK)
            return 0;
    ready = 1;
    return 1;
}

static uint8_t op_status(uint64_t h, uint32_t k) { return (uint8_t)(h * 13u + k * 7u + 1u); }

static int op_append(bckm_ledger *l, uint64_t h) {
    uint8_t status[CHAIN_OPAQUE_MAX_TXS];
    for (uint32_t k = 0; k < CHAIN_OPAQUE_MAX_TXS; k++) status[k] = op_status(h, k);
    return bckm_ledger_append(l, op_blk[h - 1], op_blk_len[h - 1], op_cert[h - 1],
                              op_cert_len[h - 1], status);
}

static struct bckm_ledger_config opaque_config(void) {
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    cfg.flags = BCKM_LEDGER_OPAQUE;
    return cfg;
}

/* Blocks 1..height are stored byte for byte, with their status bytes, and
 * their transactions read back as the opaque chain made them. */
static void check_opaque_store(bckm_ledger *l, uint64_t height) {
    static uint8_t buf[CHAIN_OPAQUE_BLOCK_CAP];
    uint8_t tx[BCKM_BLOCK_TX_MAX_BYTES];
    int bad = 0;
    CHECK_EQ(bckm_ledger_height(l), height);
    for (uint64_t h = 1; h <= height; h++) {
        size_t len = 0, pos = 0, tl = 0;
        const uint8_t *t = NULL;
        if (bckm_ledger_get_cert(l, h, buf, sizeof buf, &len) != BCKM_OK ||
            len != op_cert_len[h - 1] || memcmp(buf, op_cert[h - 1], len) != 0)
            bad++;
        if (bckm_ledger_get_status(l, h, buf, sizeof buf, &len) != BCKM_OK || len != op_n[h - 1])
            bad++;
        else
            for (uint32_t k = 0; k < len; k++)
                if (buf[k] != op_status(h, k)) bad++;
        if (bckm_ledger_get_block(l, h, buf, sizeof buf, &len) != BCKM_OK ||
            len != op_blk_len[h - 1] || memcmp(buf, op_blk[h - 1], len) != 0) {
            bad++;
            continue;
        }
        const uint8_t *body = buf + BCKM_BLOCK_HEADER_BYTES;
        size_t body_len = len - BCKM_BLOCK_HEADER_BYTES;
        for (uint32_t k = 0; k < op_n[h - 1]; k++) {
            size_t want = chain_opaque_tx(h, k, 0, tx);
            if (bckm_block_body_next(body, body_len, &pos, &t, &tl) != 1 || tl != want ||
                memcmp(t, tx, want) != 0)
                bad++;
        }
        if (pos != body_len) bad++;
    }
    CHECK_EQ(bad, 0);
}

/* Queries have no index to read on an opaque ledger. */
static void check_opaque_queries(bckm_ledger *l) {
    struct bckm_ledger_entry e[4];
    uint8_t code[32] = { 0 };
    size_t n = 99;
    CHECK_EQ(bckm_ledger_txs_after(l, BCKM_LEDGER_POS_START, e, 4, &n), BCKM_ERR_STATE);
    CHECK_EQ(n, 0);
    n = 99;
    CHECK_EQ(bckm_ledger_find_node(l, 0x01000001u, BCKM_LEDGER_POS_START, e, 4, &n),
             BCKM_ERR_STATE);
    CHECK_EQ(n, 0);
    n = 99;
    CHECK_EQ(bckm_ledger_find_code(l, code, BCKM_LEDGER_POS_START, e, 4, &n), BCKM_ERR_STATE);
    CHECK_EQ(n, 0);
}

static void opaque_ledger(void) {
    static uint8_t blk[CHAIN_OPAQUE_BLOCK_CAP + 1];
    REQUIRE(opaque_ready());
    struct bckm_ledger_config cfg = opaque_config();
    uint64_t total = 0;
    for (uint64_t h = 1; h <= 20; h++) total += op_n[h - 1];
    CHECK(total > 40);
    for (int bi = 0; bi < 2; bi++) {
        bckm_ledger *l = NULL;
        int bad = 0;
        REQUIRE(fresh_dir());
        REQUIRE(open_backend(&backends[bi], &cfg, &l) == BCKM_OK);
        check_opaque_queries(l);
        for (uint64_t h = 1; h <= 19; h++)
            if (op_append(l, h) != BCKM_OK) bad++;
        CHECK_EQ(bad, 0);
        uint8_t tip[32];
        CHECK_EQ(bckm_ledger_tip_hash(l, tip), BCKM_OK);
        CHECK_MEM(tip, op_hash[18], 32);
        check_opaque_store(l, 19);
        check_opaque_queries(l);
        /* Rejected appends of block 20 (two transactions) change nothing. */
        REQUIRE(op_n[19] == 2 && op_n[20] == 0);
        size_t bl = op_blk_len[19];
        memcpy(blk, op_blk[19], bl);
        blk[bl - 1] ^= 1; /* a transaction byte: the root */
        CHECK_EQ(bckm_ledger_append(l, blk, bl, op_cert[19], op_cert_len[19], NULL),
                 BCKM_ERR_MISMATCH);
        memcpy(blk, op_blk[19], bl);
        blk[bl] = 0; /* a trailing byte */
        CHECK_EQ(bckm_ledger_append(l, blk, bl + 1, op_cert[19], op_cert_len[19], NULL),
                 BCKM_ERR_FORMAT);
        CHECK_EQ(bckm_ledger_append(l, blk, bl - 1, op_cert[19], op_cert_len[19], NULL),
                 BCKM_ERR_TRUNCATED);
        bckm_put_u16(blk + BCKM_BLOCK_HEADER_BYTES, 0); /* a zero-length first record */
        CHECK_EQ(bckm_ledger_append(l, blk, bl, op_cert[19], op_cert_len[19], NULL),
                 BCKM_ERR_FORMAT);
        bckm_put_u16(blk + BCKM_BLOCK_HEADER_BYTES, BCKM_BLOCK_TX_MAX_BYTES + 1);
        CHECK_EQ(bckm_ledger_append(l, blk, bl, op_cert[19], op_cert_len[19], NULL),
                 BCKM_ERR_FORMAT);
        CHECK_EQ(bckm_ledger_append(l, op_blk[19], bl, op_cert[18], op_cert_len[18], NULL),
                 BCKM_ERR_MISMATCH);
        CHECK_EQ(op_append(l, 21), BCKM_ERR_STATE);
        check_opaque_store(l, 19);
        CHECK_EQ(op_append(l, 20), BCKM_OK);
        check_opaque_store(l, 20);
        if (backends[bi].durable) {
            /* Reopened, it is the same ledger and goes on. */
            bckm_ledger_close(l);
            l = NULL;
            REQUIRE(bckm_ledger_open_lmdb(tmpdir, &cfg, &l) == BCKM_OK);
            check_opaque_store(l, 20);
            check_opaque_queries(l);
            CHECK_EQ(op_append(l, 21), BCKM_OK); /* an empty block */
            bckm_ledger_close(l);
            l = NULL;
            REQUIRE(bckm_ledger_open_lmdb(tmpdir, &cfg, &l) == BCKM_OK);
            check_opaque_store(l, 21);
        }
        bckm_ledger_close(l);
        rm_store(tmpdir);
    }
    /* Envelope ledgers refuse these blocks (their transactions are not
     * envelopes); an opaque ledger takes an envelope chain's blocks, whose
     * framing and root are just as right. */
    struct bckm_ledger_config env_cfg = chain_config(&ch.keys);
    bckm_ledger *l = NULL;
    REQUIRE(op_n[0] > 0);
    REQUIRE(bckm_ledger_open_memory(&env_cfg, &l) == BCKM_OK);
    CHECK_EQ(op_append(l, 1), BCKM_ERR_FORMAT);
    CHECK_EQ(bckm_ledger_height(l), 0);
    bckm_ledger_close(l);
    REQUIRE(bckm_ledger_open_memory(&cfg, &l) == BCKM_OK);
    for (uint64_t h = 1; h <= 5; h++) CHECK_EQ(chain_append(l, &ch, h), BCKM_OK);
    check_opaque_queries(l);
    uint8_t st[8];
    size_t sl = 0;
    CHECK_EQ(bckm_ledger_get_status(l, 5, st, sizeof st, &sl), BCKM_OK);
    CHECK_EQ(sl, ch.n_txs[4]);
    bckm_ledger_close(l);
    /* Unknown flags are refused. */
    struct bckm_ledger_config odd = cfg;
    odd.flags = 4u;
    CHECK_EQ(bckm_ledger_open_memory(&odd, &l), BCKM_ERR_ARG);
    REQUIRE(fresh_dir());
    CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &odd, &l), BCKM_ERR_ARG);
    rm_store(tmpdir);
}

/* ---- LMDB only ---------------------------------------------------------- */

static void lmdb_reopen_persists(void) {
    REQUIRE(chain_ready(60));
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    bckm_ledger *l = NULL;
    uint8_t tip[32];
    int bad = 0;
    REQUIRE(fresh_dir());
    for (uint64_t round = 0; round < 3; round++) {
        REQUIRE(bckm_ledger_open_lmdb(tmpdir, &cfg, &l) == BCKM_OK);
        CHECK_EQ(bckm_ledger_height(l), round * 10);
        for (uint64_t h = round * 10 + 1; h <= round * 10 + 10; h++)
            if (chain_append(l, &ch, h) != BCKM_OK) bad++;
        bckm_ledger_close(l);
    }
    CHECK_EQ(bad, 0);
    REQUIRE(bckm_ledger_open_lmdb(tmpdir, &cfg, &l) == BCKM_OK);
    CHECK_EQ(bckm_ledger_height(l), 30);
    CHECK_EQ(bckm_ledger_tip_hash(l, tip), BCKM_OK);
    CHECK_MEM(tip, ch.hash[29], 32);
    check_queries(l, 30);
    bckm_ledger_close(l);
    rm_store(tmpdir);
}

/* Raw access to the store, to tamper with it as a disk fault or an attacker
 * would. */
struct raw {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
};

static int raw_begin(struct raw *r, const char *db) {
    unsigned flags = (strcmp(db, "by_node") == 0 || strcmp(db, "by_code") == 0)
                         ? (MDB_DUPSORT | MDB_DUPFIXED)
                         : 0u;
    if (mdb_env_create(&r->env) != 0) return 0;
    mdb_env_set_maxdbs(r->env, 8);
    mdb_env_set_mapsize(r->env, 64u << 20);
    if (mdb_env_open(r->env, tmpdir, 0, 0600) != 0) {
        mdb_env_close(r->env);
        return 0;
    }
    if (mdb_txn_begin(r->env, NULL, 0, &r->txn) != 0) {
        mdb_env_close(r->env);
        return 0;
    }
    if (mdb_dbi_open(r->txn, db, flags, &r->dbi) != 0) {
        mdb_txn_abort(r->txn);
        mdb_env_close(r->env);
        return 0;
    }
    return 1;
}

static int raw_end(struct raw *r) {
    int rc = mdb_txn_commit(r->txn);
    mdb_env_close(r->env);
    return rc == 0;
}

static size_t raw_count(const char *db) {
    struct raw r;
    MDB_stat st;
    if (!raw_begin(&r, db)) return (size_t)-1;
    size_t n = mdb_stat(r.txn, r.dbi, &st) == 0 ? st.ms_entries : (size_t)-1;
    mdb_txn_abort(r.txn);
    mdb_env_close(r.env);
    return n;
}

/* Copies the value of key into out (cap bytes); its length, or -1. */
static long raw_get(const char *db, const void *k, size_t kl, void *out, size_t cap) {
    struct raw r;
    if (!raw_begin(&r, db)) return -1;
    MDB_val key = { kl, (void *)(uintptr_t)k }, val;
    long n = -1;
    if (mdb_get(r.txn, r.dbi, &key, &val) == 0 && val.mv_size <= cap) {
        memcpy(out, val.mv_data, val.mv_size);
        n = (long)val.mv_size;
    }
    mdb_txn_abort(r.txn);
    mdb_env_close(r.env);
    return n;
}

static int raw_put(const char *db, const void *k, size_t kl, const void *v, size_t vl) {
    struct raw r;
    if (!raw_begin(&r, db)) return 0;
    MDB_val key = { kl, (void *)(uintptr_t)k }, val = { vl, (void *)(uintptr_t)v };
    if (mdb_put(r.txn, r.dbi, &key, &val, 0) != 0) {
        mdb_txn_abort(r.txn);
        mdb_env_close(r.env);
        return 0;
    }
    return raw_end(&r);
}

static int raw_del(const char *db, const void *k, size_t kl, const void *v, size_t vl) {
    struct raw r;
    if (!raw_begin(&r, db)) return 0;
    MDB_val key = { kl, (void *)(uintptr_t)k }, val = { vl, (void *)(uintptr_t)v };
    if (mdb_del(r.txn, r.dbi, &key, v != NULL ? &val : NULL) != 0) {
        mdb_txn_abort(r.txn);
        mdb_env_close(r.env);
        return 0;
    }
    return raw_end(&r);
}

enum tamper {
    T_FLIP_BLOCK,
    T_OTHER_BLOCK,
    T_GAP,
    T_NO_CERT,
    T_BAD_CERT,
    T_LAST_CERT,
    T_TX_RECORD,
    T_TX_EXTRA,
    T_NODE_MISSING,
    T_NODE_EXTRA,
    T_CODE_MISSING,
    T_FORMAT,
    T_EXTRA_CERT,
    T_FORMAT_V1,
    T_FORMAT_OPAQUE,
    T_NO_STATUS,
    T_STATUS_LEN,
    T_EXTRA_STATUS,
    T_COUNT
};

static int apply_tamper(enum tamper t) {
    static uint8_t blk[BCKM_BLOCK_MAX_BYTES], cert[BCKM_CERT_MAX_BYTES];
    uint8_t key[8], pos[12], b[CHAIN_BLOCK_CAP], rec[1 + BCKM_ENVELOPE_BYTES];
    uint64_t h = 5;
    while (ch.n_txs[h - 1] == 0) h++; /* a block with transactions */
    bckm_put_u64(key, h);
    bckm_put_u64(pos, h);
    bckm_put_u32(pos + 8, 0);
    switch (t) {
    case T_FLIP_BLOCK:
        memcpy(b, ch.blk[h - 1], ch.blk_len[h - 1]);
        b[ch.blk_len[h - 1] - 5] ^= 0x20;
        return raw_put("blocks", key, 8, b, ch.blk_len[h - 1]);
    case T_OTHER_BLOCK: {
        struct bckm_envelope envs[CHAIN_MAX_TXS];
        uint8_t hash[32];
        size_t bl, cl;
        uint32_t n;
        /* A validly certified block for this height, but not a child of h-1. */
        if (chain_make(&ch.keys, h, (uint8_t[32]){ 9 }, 2, 0xF, envs, &n, blk, sizeof blk, &bl,
                       cert, sizeof cert, &cl, hash) != BCKM_OK)
            return 0;
        return raw_put("blocks", key, 8, blk, bl) && raw_put("certs", key, 8, cert, cl);
    }
    case T_GAP: return raw_del("blocks", key, 8, NULL, 0);
    case T_NO_CERT: return raw_del("certs", key, 8, NULL, 0);
    case T_BAD_CERT: {
        memcpy(cert, ch.cert[h - 1], ch.cert_len[h - 1]);
        cert[ch.cert_len[h - 1] - 1] ^= 1;
        return raw_put("certs", key, 8, cert, ch.cert_len[h - 1]);
    }
    case T_LAST_CERT: bckm_put_u64(key, 10); return raw_del("certs", key, 8, NULL, 0);
    case T_TX_RECORD:
        memset(rec, 0, sizeof rec);
        if (bckm_envelope_encode(&ch.envs[h - 1][0], rec + 1) != BCKM_OK) return 0;
        rec[1 + 20] ^= 1; /* the set ID inside the stored transaction */
        return raw_put("txs", pos, 12, rec, sizeof rec);
    case T_TX_EXTRA:
        bckm_put_u32(pos + 8, 77);
        memset(rec, 0, sizeof rec);
        if (bckm_envelope_encode(&ch.envs[h - 1][0], rec + 1) != BCKM_OK) return 0;
        return raw_put("txs", pos, 12, rec, sizeof rec);
    case T_NODE_MISSING: {
        uint8_t nk[4];
        bckm_put_u32(nk, ch.envs[h - 1][0].tx.node_id);
        return raw_del("by_node", nk, 4, pos, 12);
    }
    case T_NODE_EXTRA: {
        uint8_t nk[4];
        bckm_put_u32(nk, 0x0100ABCDu);
        return raw_put("by_node", nk, 4, pos, 12);
    }
    case T_CODE_MISSING: return raw_del("by_code", ch.envs[h - 1][0].tx.code_hash, 32, pos, 12);
    case T_FORMAT: return raw_put("meta", "format", 6, "bckm-ledger-v0", 14);
    case T_EXTRA_CERT:
        bckm_put_u64(key, 11);
        return raw_put("certs", key, 8, ch.cert[10], ch.cert_len[10]);
    case T_FORMAT_V1: return raw_put("meta", "format", 6, "bckm-ledger-v1", 14);
    case T_FORMAT_OPAQUE: return raw_put("meta", "format", 6, "bckm-ledger-v2-opaque", 21);
    case T_NO_STATUS: return raw_del("status", key, 8, NULL, 0);
    case T_STATUS_LEN: {
        uint8_t st[CHAIN_MAX_TXS + 1] = { 0 };
        return raw_put("status", key, 8, st, ch.n_txs[h - 1] + 1u);
    }
    case T_EXTRA_STATUS: bckm_put_u64(key, 11); return raw_put("status", key, 8, "", 0);
    case T_COUNT: break;
    }
    return 0;
}

static void lmdb_tampered_store_is_corrupt(void) {
    REQUIRE(chain_ready(60));
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    for (int t = 0; t < T_COUNT; t++) {
        bckm_ledger *l = NULL;
        REQUIRE(fresh_dir());
        REQUIRE(bckm_ledger_open_lmdb(tmpdir, &cfg, &l) == BCKM_OK);
        for (uint64_t h = 1; h <= 10; h++) REQUIRE(chain_append(l, &ch, h) == BCKM_OK);
        bckm_ledger_close(l);
        size_t blocks_before = raw_count("blocks");
        REQUIRE(apply_tamper((enum tamper)t));
        size_t blocks_after_tamper = raw_count("blocks");
        l = NULL;
        int r = bckm_ledger_open_lmdb(tmpdir, &cfg, &l);
        if (r != BCKM_ERR_CORRUPT) fprintf(stderr, "tamper %d: open returned %d\n", t, r);
        CHECK_EQ(r, BCKM_ERR_CORRUPT);
        CHECK(l == NULL);
        if (l != NULL) bckm_ledger_close(l);
        /* The store was not repaired or truncated by the failed open. */
        CHECK_EQ(raw_count("blocks"), blocks_after_tamper);
        CHECK(blocks_before == 10);
        rm_store(tmpdir);
    }
}

static void lmdb_wrong_keys_is_corrupt(void) {
    REQUIRE(chain_ready(60));
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    struct chain_keys other = ch.keys;
    bckm_ledger *l = NULL;
    REQUIRE(fresh_dir());
    REQUIRE(bckm_ledger_open_lmdb(tmpdir, &cfg, &l) == BCKM_OK);
    for (uint64_t h = 1; h <= 8; h++) REQUIRE(chain_append(l, &ch, h) == BCKM_OK);
    bckm_ledger_close(l);
    /* BP 2's key replaced: the certificates it signed no longer verify. */
    memcpy(other.pk[1], other.pk[0], 32);
    struct bckm_ledger_config bad = chain_config(&other);
    CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &bad, &l), BCKM_ERR_CORRUPT);
    /* An impossible quorum (f = 2 with four BPs) is refused before the store is touched. */
    struct bckm_ledger_config strict = cfg;
    strict.f = 2;
    CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &strict, &l), BCKM_ERR_ARG);
    /* With the right table everything is still there. */
    REQUIRE(bckm_ledger_open_lmdb(tmpdir, &cfg, &l) == BCKM_OK);
    CHECK_EQ(bckm_ledger_height(l), 8);
    bckm_ledger_close(l);
    rm_store(tmpdir);
}

static void lmdb_open_errors(void) {
    REQUIRE(chain_ready(60));
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    bckm_ledger *l = NULL;
    char path[96];
    REQUIRE(fresh_dir());
    /* a regular file where the directory should be */
    snprintf(path, sizeof path, "%s/file", tmpdir);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs("not a ledger", f);
    fclose(f);
    CHECK_EQ(bckm_ledger_open_lmdb(path, &cfg, &l), BCKM_ERR_IO);
    unlink(path);
    /* garbage in data.mdb */
    snprintf(path, sizeof path, "%s/data.mdb", tmpdir);
    f = fopen(path, "w");
    REQUIRE(f != NULL);
    for (int i = 0; i < 20000; i++) fputc(i * 7 & 0xFF, f);
    fclose(f);
    int r = bckm_ledger_open_lmdb(tmpdir, &cfg, &l);
    CHECK(r == BCKM_ERR_CORRUPT || r == BCKM_ERR_IO);
    CHECK(l == NULL);
    /* arguments */
    CHECK_EQ(bckm_ledger_open_lmdb(NULL, &cfg, &l), BCKM_ERR_ARG);
    CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, NULL, &l), BCKM_ERR_ARG);
    struct bckm_ledger_config c2 = cfg;
    c2.n_bps = 0;
    CHECK_EQ(bckm_ledger_open_memory(&c2, &l), BCKM_ERR_ARG);
    c2 = cfg;
    c2.bp_pk = NULL;
    CHECK_EQ(bckm_ledger_open_memory(&c2, &l), BCKM_ERR_ARG);
    rm_store(tmpdir);
}

/* A process killed while LMDB creates a store can leave data.mdb with no
 * bytes at all (created, its first two meta pages not yet written): that
 * file holds nothing, so the open treats it as a new store and goes on. A
 * file with some bytes but no valid meta page is refused and left alone. */
static void lmdb_empty_file_is_new_store(void) {
    REQUIRE(chain_ready(60));
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    bckm_ledger *l = NULL;
    char path[96];
    struct stat st;
    REQUIRE(fresh_dir());
    snprintf(path, sizeof path, "%s/data.mdb", tmpdir);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fclose(f);
    CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &cfg, &l), BCKM_OK);
    REQUIRE(l != NULL);
    CHECK_EQ(bckm_ledger_height(l), 0);
    CHECK_EQ(chain_append(l, &ch, 1), BCKM_OK);
    bckm_ledger_close(l);
    l = NULL;
    CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &cfg, &l), BCKM_OK);
    REQUIRE(l != NULL);
    CHECK_EQ(bckm_ledger_height(l), 1);
    bckm_ledger_close(l);
    rm_store(tmpdir);
    /* 100 bytes: a torn header, not an empty file */
    REQUIRE(fresh_dir());
    snprintf(path, sizeof path, "%s/data.mdb", tmpdir);
    f = fopen(path, "w");
    REQUIRE(f != NULL);
    for (int i = 0; i < 100; i++) fputc(0, f);
    fclose(f);
    l = NULL;
    int r = bckm_ledger_open_lmdb(tmpdir, &cfg, &l);
    CHECK(r == BCKM_ERR_CORRUPT || r == BCKM_ERR_IO);
    CHECK(l == NULL);
    CHECK(stat(path, &st) == 0 && st.st_size == 100);
    rm_store(tmpdir);
}

/* Random damage to LMDB's own pages (as a disk fault would do): the open
 * never crashes the process (the probe child takes the risk), says OK,
 * CORRUPT or IO, and when it says OK the ledger is a verified prefix of the
 * chain that still takes the next block or refuses it with an error. */
static void lmdb_damaged_pages_never_crash(void) {
    static uint8_t pristine[1u << 20], damaged[1u << 20];
    REQUIRE(chain_ready(60));
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    bckm_ledger *l = NULL;
    char path[128];
    uint64_t rng = 0x70616765ull;
    int trials = check_small() ? 40 : 300, opened = 0, refused = 0, bad = 0;
    REQUIRE(fresh_dir());
    REQUIRE(bckm_ledger_open_lmdb(tmpdir, &cfg, &l) == BCKM_OK);
    for (uint64_t h = 1; h <= 10; h++) REQUIRE(chain_append(l, &ch, h) == BCKM_OK);
    bckm_ledger_close(l);
    snprintf(path, sizeof path, "%s/data.mdb", tmpdir);
    FILE *f = fopen(path, "rb");
    REQUIRE(f != NULL);
    size_t len = fread(pristine, 1, sizeof pristine, f);
    fclose(f);
    REQUIRE(len > 4096 && len < sizeof pristine);
    for (int t = 0; t < trials; t++) {
        memcpy(damaged, pristine, len);
        int patches = 1 + (int)(rng % 4);
        for (int i = 0; i < patches; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t off = (size_t)(rng >> 33) % len;
            damaged[off] ^= (uint8_t)(1u + (rng >> 8) % 255u);
        }
        char lock[128];
        snprintf(lock, sizeof lock, "%s/lock.mdb", tmpdir);
        unlink(lock);
        f = fopen(path, "wb");
        REQUIRE(f != NULL);
        REQUIRE(fwrite(damaged, 1, len, f) == len);
        fclose(f);
        l = NULL;
        int r = bckm_ledger_open_lmdb(tmpdir, &cfg, &l);
        if (r == BCKM_OK) {
            opened++;
            uint64_t h = bckm_ledger_height(l);
            uint8_t buf[CHAIN_BLOCK_CAP];
            size_t bl;
            if (h > 10) bad++;
            for (uint64_t i = 1; i <= h && i <= 10; i++)
                if (bckm_ledger_get_block(l, i, buf, sizeof buf, &bl) != BCKM_OK ||
                    bl != ch.blk_len[i - 1] || memcmp(buf, ch.blk[i - 1], bl) != 0)
                    bad++;
            if (h < 60) (void)chain_append(l, &ch, h + 1);
            bckm_ledger_close(l);
        } else if (r == BCKM_ERR_CORRUPT || r == BCKM_ERR_IO) {
            refused++;
            if (l != NULL) bad++;
        } else {
            fprintf(stderr, "trial %d: open returned %d\n", t, r);
            bad++;
        }
    }
    printf("damaged stores: %d opened, %d refused\n", opened, refused);
    CHECK_EQ(bad, 0);
    CHECK_EQ(opened + refused, trials);
    CHECK(refused > 0);
    rm_store(tmpdir);
}

/* A store remembers its kind and format: an envelope store opened as
 * opaque, an opaque store opened as envelopes, and a store with the v1
 * marker are refused as CORRUPT and left as they are. */
static void lmdb_kind_and_format(void) {
    REQUIRE(opaque_ready());
    struct bckm_ledger_config env_cfg = chain_config(&ch.keys), op_cfg = opaque_config();
    bckm_ledger *l = NULL;
    char fmt[64];
    long fl;

    /* an envelope store */
    REQUIRE(fresh_dir());
    REQUIRE(bckm_ledger_open_lmdb(tmpdir, &env_cfg, &l) == BCKM_OK);
    for (uint64_t h = 1; h <= 10; h++) REQUIRE(chain_append(l, &ch, h) == BCKM_OK);
    bckm_ledger_close(l);
    fl = raw_get("meta", "format", 6, fmt, sizeof fmt);
    CHECK(fl == 14 && memcmp(fmt, "bckm-ledger-v2", 14) == 0);
    CHECK_EQ(raw_count("status"), 10);
    l = NULL;
    CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &op_cfg, &l), BCKM_ERR_CORRUPT);
    CHECK(l == NULL);
    CHECK_EQ(raw_count("blocks"), 10);
    REQUIRE(bckm_ledger_open_lmdb(tmpdir, &env_cfg, &l) == BCKM_OK);
    CHECK_EQ(bckm_ledger_height(l), 10);
    bckm_ledger_close(l);
    /* the v1 marker, on a store of blocks, is refused as either kind */
    REQUIRE(raw_put("meta", "format", 6, "bckm-ledger-v1", 14));
    l = NULL;
    CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &env_cfg, &l), BCKM_ERR_CORRUPT);
    CHECK(l == NULL);
    CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &op_cfg, &l), BCKM_ERR_CORRUPT);
    CHECK(l == NULL);
    fl = raw_get("meta", "format", 6, fmt, sizeof fmt);
    CHECK(fl == 14 && memcmp(fmt, "bckm-ledger-v1", 14) == 0); /* not rewritten */
    CHECK_EQ(raw_count("blocks"), 10);
    rm_store(tmpdir);

    /* an opaque store */
    REQUIRE(fresh_dir());
    REQUIRE(bckm_ledger_open_lmdb(tmpdir, &op_cfg, &l) == BCKM_OK);
    for (uint64_t h = 1; h <= 8; h++) REQUIRE(op_append(l, h) == BCKM_OK);
    bckm_ledger_close(l);
    fl = raw_get("meta", "format", 6, fmt, sizeof fmt);
    CHECK(fl == 21 && memcmp(fmt, "bckm-ledger-v2-opaque", 21) == 0);
    CHECK_EQ(raw_count("status"), 8);
    CHECK_EQ(raw_count("txs"), 0);
    CHECK_EQ(raw_count("by_node"), 0);
    CHECK_EQ(raw_count("by_code"), 0);
    l = NULL;
    CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &env_cfg, &l), BCKM_ERR_CORRUPT);
    CHECK(l == NULL);
    REQUIRE(bckm_ledger_open_lmdb(tmpdir, &op_cfg, &l) == BCKM_OK);
    check_opaque_store(l, 8);
    bckm_ledger_close(l);
    /* tampered: a transaction record an opaque store never has, a status
     * entry missing or of the wrong length */
    {
        uint8_t pos[12], key[8], st[16] = { 0 };
        bckm_put_u64(pos, 3);
        bckm_put_u32(pos + 8, 0);
        REQUIRE(raw_put("txs", pos, 12, "x", 1));
        l = NULL;
        CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &op_cfg, &l), BCKM_ERR_CORRUPT);
        CHECK(l == NULL);
        REQUIRE(raw_del("txs", pos, 12, NULL, 0));
        REQUIRE(bckm_ledger_open_lmdb(tmpdir, &op_cfg, &l) == BCKM_OK);
        bckm_ledger_close(l);
        uint64_t h = 1;
        while (op_n[h - 1] == 0) h++;
        bckm_put_u64(key, h);
        REQUIRE(raw_put("status", key, 8, st, op_n[h - 1] - 1u));
        l = NULL;
        CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &op_cfg, &l), BCKM_ERR_CORRUPT);
        REQUIRE(raw_del("status", key, 8, NULL, 0));
        CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &op_cfg, &l), BCKM_ERR_CORRUPT);
        CHECK(l == NULL);
    }
    rm_store(tmpdir);

    /* a store without blocks is given its kind at creation */
    REQUIRE(fresh_dir());
    REQUIRE(bckm_ledger_open_lmdb(tmpdir, &op_cfg, &l) == BCKM_OK);
    bckm_ledger_close(l);
    l = NULL;
    CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &env_cfg, &l), BCKM_ERR_CORRUPT);
    REQUIRE(raw_put("meta", "format", 6, "bckm-ledger-v1", 14));
    CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &op_cfg, &l), BCKM_ERR_CORRUPT);
    CHECK(l == NULL);
    rm_store(tmpdir);
}

static void cleanup(void) {
    chain_free(&ch);
    CHECK(ch.len == 0);
}

/* The application state stored with a block (bckm_ledger_append_state):
 * none before the first, then always the latest with its height, kept by
 * reopening; a refused append stores no state; a state record naming a
 * height the store does not hold, or empty, makes the store corrupt. */
static void application_state(void) {
    REQUIRE(chain_ready(60));
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    for (int bi = 0; bi < 2; bi++) {
        bckm_ledger *l = NULL;
        uint8_t buf[64], st[3] = { 7, 8, 9 };
        uint64_t sh = 0;
        size_t len = 0;
        if (backends[bi].durable) REQUIRE(fresh_dir());
        REQUIRE(open_backend(&backends[bi], &cfg, &l) == BCKM_OK);
        CHECK_EQ(bckm_ledger_get_state(l, &sh, buf, sizeof buf, &len), BCKM_ERR_UNKNOWN);
        CHECK_EQ(bckm_ledger_append_state(l, ch.blk[0], ch.blk_len[0], ch.cert[0], ch.cert_len[0],
                                          NULL, st, 0),
                 BCKM_ERR_ARG);
        CHECK_EQ(bckm_ledger_height(l), 0);
        REQUIRE(bckm_ledger_append_state(l, ch.blk[0], ch.blk_len[0], ch.cert[0], ch.cert_len[0],
                                         NULL, st, 3) == BCKM_OK);
        REQUIRE(chain_append(l, &ch, 2) == BCKM_OK); /* no state: the one of height 1 stays */
        CHECK_EQ(bckm_ledger_get_state(l, &sh, buf, sizeof buf, &len), BCKM_OK);
        CHECK_EQ(sh, 1);
        CHECK_EQ(len, 3);
        CHECK_MEM(buf, st, 3);
        st[0] = 70;
        /* A refused block (height 2 again) stores nothing. */
        CHECK(bckm_ledger_append_state(l, ch.blk[1], ch.blk_len[1], ch.cert[1], ch.cert_len[1],
                                       NULL, st, 2) != BCKM_OK);
        CHECK_EQ(bckm_ledger_get_state(l, &sh, buf, sizeof buf, &len), BCKM_OK);
        CHECK_EQ(sh, 1);
        REQUIRE(bckm_ledger_append_state(l, ch.blk[2], ch.blk_len[2], ch.cert[2], ch.cert_len[2],
                                         NULL, st, 2) == BCKM_OK);
        CHECK_EQ(bckm_ledger_get_state(l, &sh, buf, 1, &len), BCKM_ERR_NOMEM);
        CHECK_EQ(len, 2);
        CHECK_EQ(bckm_ledger_get_state(l, &sh, buf, sizeof buf, &len), BCKM_OK);
        CHECK_EQ(sh, 3);
        CHECK_EQ(buf[0], 70);
        bckm_ledger_close(l);
        if (!backends[bi].durable) continue;
        /* Reopened: the same state. */
        REQUIRE(bckm_ledger_open_lmdb(tmpdir, &cfg, &l) == BCKM_OK);
        CHECK_EQ(bckm_ledger_get_state(l, &sh, buf, sizeof buf, &len), BCKM_OK);
        CHECK_EQ(sh, 3);
        CHECK_EQ(len, 2);
        bckm_ledger_close(l);
        /* A record for a height the store does not hold, or with no state. */
        uint8_t rec[10], orig[64];
        long ol = raw_get("appstate", "state", 5, orig, sizeof orig);
        REQUIRE(ol == 10);
        memcpy(rec, orig, 10);
        bckm_put_u64(rec, 4);
        REQUIRE(raw_put("appstate", "state", 5, rec, 10));
        l = NULL;
        CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &cfg, &l), BCKM_ERR_CORRUPT);
        CHECK(l == NULL);
        REQUIRE(raw_put("appstate", "state", 5, orig, 8));
        CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &cfg, &l), BCKM_ERR_CORRUPT);
        REQUIRE(raw_put("appstate", "state", 5, orig, (size_t)ol));
        CHECK_EQ(bckm_ledger_open_lmdb(tmpdir, &cfg, &l), BCKM_OK);
        bckm_ledger_close(l);
        rm_store(tmpdir);
    }
}

CHECK_CASES(CASE(empty_ledger), CASE(append_and_read), CASE(append_rejects_bad_input),
            CASE(genesis_needs_zero_parent), CASE(queries_match_blocks), CASE(lmdb_reopen_persists),
            CASE(lmdb_tampered_store_is_corrupt), CASE(lmdb_wrong_keys_is_corrupt),
            CASE(lmdb_open_errors), CASE(lmdb_empty_file_is_new_store), CASE(opaque_ledger),
            CASE(lmdb_kind_and_format), CASE(lmdb_damaged_pages_never_crash),
            CASE(application_state), CASE(cleanup))
