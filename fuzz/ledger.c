/*
 * Harness: opening the ledger on an arbitrary file, and appending
 * arbitrary blocks (bckm_ledger_open_lmdb, bckm_ledger_append).
 *
 * A golden chain of three blocks, each with a commit certificate signed by
 * BPs 1..3 of the four in support/bp_keys.h, is built once; the first two are
 * stored in an LMDB ledger whose data.mdb is kept as a template. Byte 0 of
 * the input picks a mode (% 5):
 *   0  raw: the rest of the input is data.mdb;
 *   1  patched: the template with (u32 offset, xor byte) patches applied
 *      to LMDB's own pages (FUZZ_LEDGER_NO_PAGES=1 skips this mode; the
 *      ledger checks an existing store in a child process, so liblmdb's
 *      trust in its pages no longer crashes the caller);
 *   2  edited: the template with LMDB-level edits (u8 op, u8 database,
 *      u8 key length, key, u16 value length, value): put, delete, or flip one
 *      byte of a stored value, in any of the ledger's seven databases;
 *   3  append: an in-memory ledger holding golden block 1 is offered a block
 *      and a certificate, each a golden one (bit-flipped where the input
 *      says) or raw bytes;
 *   4  opaque append: an opaque in-memory ledger (BCKM_LEDGER_OPAQUE)
 *      holding golden block 1 is offered block 2 with the body given by the
 *      input (u8 count, u8 status seed, then the body bytes), a genuine
 *      header over it (its root is the body's when the framing allows one)
 *      and a genuine certificate.
 * Oracles:
 *   - open returns OK, CORRUPT, IO or NOMEM, never crashes; on OK the ledger
 *     holds exactly a prefix of the golden chain: no signatures can be
 *     forged, so every block it serves must be byte-equal to the golden block
 *     of that height, the transactions it lists are those blocks' envelopes
 *     in order, and the next golden block appends;
 *   - every stored block has one status byte per transaction;
 *   - a rejected append changes nothing (height, tip hash, stored block, the
 *     transaction list), and the genuine next block still appends after it;
 *   - opaque: the append succeeds exactly when bckm_block_body_root accepts
 *     the body with that count, and otherwise fails with its error; on
 *     success the block and the status bytes read back as given, and the
 *     queries say STATE.
 * The store lives in a private directory under $TMPDIR (default /dev/shm
 * when present, else /tmp), removed at exit.
 */
#include "support/fuzz.h"

#include <dirent.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bckm/block.h"
#include "bckm/ledger.h"
#include "support/bp_keys.h"

#define FUZZ_LG_BLOCKS 3
#define FUZZ_LG_TXS 2

static uint8_t fuzz_lg_block[FUZZ_LG_BLOCKS]
                            [BCKM_BLOCK_HEADER_BYTES +
                             FUZZ_LG_TXS * (BCKM_BLOCK_TX_PREFIX_BYTES + BCKM_ENVELOPE_BYTES)];
static size_t fuzz_lg_block_len[FUZZ_LG_BLOCKS];
static uint8_t fuzz_lg_cert[FUZZ_LG_BLOCKS][BCKM_CERT_MAX_BYTES];
static size_t fuzz_lg_cert_len[FUZZ_LG_BLOCKS];
static struct bckm_envelope fuzz_lg_envs[FUZZ_LG_BLOCKS][FUZZ_LG_TXS];
static char fuzz_lg_dir[256];
static char fuzz_lg_data[300], fuzz_lg_lock[300];
static uint8_t *fuzz_lg_template;
static size_t fuzz_lg_template_len;
static struct bckm_ledger_config fuzz_lg_cfg;
static struct bckm_ledger_entry fuzz_lg_entries[FUZZ_LG_BLOCKS * FUZZ_LG_TXS + 1];

static void fuzz_lg_cleanup(void) {
    unlink(fuzz_lg_data);
    unlink(fuzz_lg_lock);
    rmdir(fuzz_lg_dir);
}

/* Golden block h (1-based): proposer 1, one or two envelopes from BPs 1..2. */
static void fuzz_lg_make_chain(void) {
    uint8_t prev[BCKM_HASH_BYTES] = { 0 };
    for (int b = 0; b < FUZZ_LG_BLOCKS; b++) {
        struct bckm_block_header h;
        memset(&h, 0, sizeof h);
        h.version = BCKM_BLOCK_VERSION;
        h.height = (uint64_t)b + 1u;
        memcpy(h.prev_hash, prev, sizeof prev);
        h.proposer = 1;
        h.time = 1000000u * (uint64_t)(b + 1);
        memset(h.state_hash, 0x30 + b, sizeof h.state_hash);
        uint32_t n = b == 1 ? 1u : 2u;
        for (uint32_t i = 0; i < n; i++) {
            struct bckm_envelope *e = &fuzz_lg_envs[b][i];
            memset(e, 0, sizeof *e);
            e->version = BCKM_ENVELOPE_VERSION;
            e->bp = 1u + i;
            e->seq = (uint64_t)(10 * b + (int)i + 1);
            e->tx.op = BCKM_TX_OP_JOIN;
            e->tx.node_id = 0x01000100u + (uint32_t)(2 * b) + i;
            e->tx.set_id = 0x01000001u;
            memset(e->tx.code_hash, 0x40 + 2 * b + (int)i, BCKM_HASH_BYTES);
            memset(e->tx.refresh, 0x80 + b, BCKM_REFRESH_BYTES);
            FUZZ_CHECK(bckm_envelope_sign(e, fuzz_bp_sk[i]) == BCKM_OK);
        }
        FUZZ_CHECK(bckm_block_seal(&h, fuzz_lg_envs[b], n) == BCKM_OK);
        FUZZ_CHECK(bckm_block_encode(&h, fuzz_lg_envs[b], n, fuzz_lg_block[b],
                                     sizeof fuzz_lg_block[b], &fuzz_lg_block_len[b]) == BCKM_OK);
        FUZZ_CHECK(bckm_block_hash(&h, prev) == BCKM_OK);
        struct bckm_cert c;
        memset(&c, 0, sizeof c);
        c.version = BCKM_CERT_VERSION;
        c.height = h.height;
        c.view = 0;
        memcpy(c.block_hash, prev, sizeof prev);
        c.count = 3;
        for (uint32_t i = 0; i < 3; i++) {
            c.sigs[i].bp = i + 1u;
            FUZZ_CHECK(bckm_commit_sign(c.height, c.view, c.block_hash, fuzz_bp_sk[i],
                                        c.sigs[i].sig) == BCKM_OK);
        }
        FUZZ_CHECK(bckm_cert_encode(&c, fuzz_lg_cert[b], sizeof fuzz_lg_cert[b],
                                    &fuzz_lg_cert_len[b]) == BCKM_OK);
    }
}

static void fuzz_lg_write_file(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(p, 1, n, f) == n);
    FUZZ_CHECK(fclose(f) == 0);
}

static void fuzz_lg_setup(void) {
    static int ready;
    if (ready) return;
    fuzz_bp_keys_setup();
    fuzz_lg_make_chain();
    memset(&fuzz_lg_cfg, 0, sizeof fuzz_lg_cfg);
    fuzz_lg_cfg.bp_pk = (const uint8_t(*)[BCKM_SIGN_PK_BYTES])fuzz_bp_pk;
    fuzz_lg_cfg.n_bps = FUZZ_N_BPS;
    fuzz_lg_cfg.f = FUZZ_F;
    fuzz_lg_cfg.map_bytes = 1u << 22;

    const char *tmp = getenv("TMPDIR");
    struct stat st;
    if (tmp == NULL) tmp = stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fuzz_lg_dir, sizeof fuzz_lg_dir, "%s/bckm-fuzz-ledger-XXXXXX", tmp);
    FUZZ_CHECK(mkdtemp(fuzz_lg_dir) != NULL);
    snprintf(fuzz_lg_data, sizeof fuzz_lg_data, "%s/data.mdb", fuzz_lg_dir);
    snprintf(fuzz_lg_lock, sizeof fuzz_lg_lock, "%s/lock.mdb", fuzz_lg_dir);
    atexit(fuzz_lg_cleanup);

    /* The template: a genuine store holding golden blocks 1 and 2. */
    bckm_ledger *l = NULL;
    FUZZ_CHECK(bckm_ledger_open_lmdb(fuzz_lg_dir, &fuzz_lg_cfg, &l) == BCKM_OK);
    for (int b = 0; b < 2; b++)
        FUZZ_CHECK(bckm_ledger_append(l, fuzz_lg_block[b], fuzz_lg_block_len[b], fuzz_lg_cert[b],
                                      fuzz_lg_cert_len[b], NULL) == BCKM_OK);
    bckm_ledger_close(l);
    FILE *f = fopen(fuzz_lg_data, "rb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fseek(f, 0, SEEK_END) == 0);
    long len = ftell(f);
    FUZZ_CHECK(len > 0);
    FUZZ_CHECK(fseek(f, 0, SEEK_SET) == 0);
    fuzz_lg_template = malloc((size_t)len);
    FUZZ_CHECK(fuzz_lg_template != NULL);
    FUZZ_CHECK(fread(fuzz_lg_template, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    fuzz_lg_template_len = (size_t)len;
    ready = 1;
}

/* The ledger must hold golden blocks 1..height exactly and, when `write`
 * is set, accept the next golden block (when there is one). */
static void fuzz_lg_check_prefix(bckm_ledger *l, int write) {
    static uint8_t buf[BCKM_BLOCK_MAX_BYTES];
    uint64_t h = bckm_ledger_height(l);
    FUZZ_CHECK(h <= FUZZ_LG_BLOCKS);
    size_t total = 0;
    for (uint64_t i = 1; i <= h; i++) {
        size_t len = 0;
        FUZZ_CHECK(bckm_ledger_get_block(l, i, buf, sizeof buf, &len) == BCKM_OK);
        FUZZ_CHECK(len == fuzz_lg_block_len[i - 1]);
        FUZZ_CHECK(memcmp(buf, fuzz_lg_block[i - 1], len) == 0);
        total += i == 2 ? 1u : 2u;
        /* Status bytes are covered by no hash (any value may be found), but
         * there is one per transaction. */
        FUZZ_CHECK(bckm_ledger_get_status(l, i, buf, sizeof buf, &len) == BCKM_OK);
        FUZZ_CHECK(len == (i == 2 ? 1u : 2u));
    }
    size_t n = 0;
    FUZZ_CHECK(bckm_ledger_txs_after(l, BCKM_LEDGER_POS_START, fuzz_lg_entries,
                                     sizeof fuzz_lg_entries / sizeof fuzz_lg_entries[0],
                                     &n) == BCKM_OK);
    FUZZ_CHECK(n == total);
    size_t k = 0;
    for (uint64_t i = 1; i <= h && k < n; i++) {
        for (uint32_t t = 0; t < (i == 2 ? 1u : 2u); t++, k++) {
            uint8_t a[BCKM_ENVELOPE_BYTES], b[BCKM_ENVELOPE_BYTES];
            FUZZ_CHECK(fuzz_lg_entries[k].pos.height == i && fuzz_lg_entries[k].pos.index == t);
            FUZZ_CHECK(bckm_envelope_encode(&fuzz_lg_entries[k].env, a) == BCKM_OK);
            FUZZ_CHECK(bckm_envelope_encode(&fuzz_lg_envs[i - 1][t], b) == BCKM_OK);
            FUZZ_CHECK(memcmp(a, b, sizeof a) == 0);
        }
    }
    if (write && h < FUZZ_LG_BLOCKS) {
        int rc = bckm_ledger_append(l, fuzz_lg_block[h], fuzz_lg_block_len[h], fuzz_lg_cert[h],
                                    fuzz_lg_cert_len[h], NULL);
        if (getenv("FUZZ_TRACE") != NULL)
            fprintf(stderr, "ledger: append golden %llu: %s\n", (unsigned long long)h + 1,
                    bckm_strerror(rc));
        FUZZ_CHECK(rc == BCKM_OK);
        FUZZ_CHECK(bckm_ledger_height(l) == h + 1);
    }
}

static void fuzz_lg_open_and_check(int write) {
    bckm_ledger *l = NULL;
    unlink(fuzz_lg_lock);
    int rc = bckm_ledger_open_lmdb(fuzz_lg_dir, &fuzz_lg_cfg, &l);
    if (getenv("FUZZ_TRACE") != NULL)
        fprintf(stderr, "ledger: open %s, height %llu\n", bckm_strerror(rc),
                (unsigned long long)(rc == BCKM_OK ? bckm_ledger_height(l) : 0));
    if (rc != BCKM_OK) {
        FUZZ_CHECK(l == NULL);
        FUZZ_CHECK(rc == BCKM_ERR_CORRUPT || rc == BCKM_ERR_IO || rc == BCKM_ERR_NOMEM);
        return;
    }
    fuzz_lg_check_prefix(l, write);
    bckm_ledger_close(l);
}

/* LMDB-level edits on the template store, as a tool or a disk error could
 * make them; errors from LMDB itself (bad sizes, missing keys) are fine. */
static void fuzz_lg_edit(const uint8_t *p, size_t n) {
    static const char *const names[7] = { "meta", "blocks",  "certs",  "status",
                                          "txs",  "by_node", "by_code" };
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi[7];
    FUZZ_CHECK(mdb_env_create(&env) == MDB_SUCCESS);
    FUZZ_CHECK(mdb_env_set_maxdbs(env, 8) == MDB_SUCCESS);
    FUZZ_CHECK(mdb_env_set_mapsize(env, fuzz_lg_cfg.map_bytes) == MDB_SUCCESS);
    if (mdb_env_open(env, fuzz_lg_dir, MDB_NOSYNC, 0600) != MDB_SUCCESS) goto out;
    if (mdb_txn_begin(env, NULL, 0, &txn) != MDB_SUCCESS) goto out;
    for (int i = 0; i < 7; i++) {
        unsigned flags = i >= 5 ? (MDB_DUPSORT | MDB_DUPFIXED) : 0;
        FUZZ_CHECK(mdb_dbi_open(txn, names[i], flags, &dbi[i]) == MDB_SUCCESS);
    }
    for (int e = 0; e < 8 && n > 0; e++) {
        uint32_t op = fuzz_take_u8(&p, &n, 0) % 3u;
        MDB_dbi d = dbi[fuzz_take_u8(&p, &n, 1) % 7u];
        uint8_t key[64], value[512];
        size_t kl = fuzz_take_u8(&p, &n, 8) % sizeof key;
        for (size_t i = 0; i < kl; i++) key[i] = (uint8_t)fuzz_take_u8(&p, &n, 0);
        MDB_val k = { kl, key }, v;
        if (op == 0) {
            size_t vl = ((fuzz_take_u8(&p, &n, 0) << 8) | fuzz_take_u8(&p, &n, 0)) % sizeof value;
            for (size_t i = 0; i < vl; i++) value[i] = (uint8_t)fuzz_take_u8(&p, &n, 0);
            v.mv_size = vl;
            v.mv_data = value;
            (void)mdb_put(txn, d, &k, &v, 0);
        } else if (op == 1) {
            (void)mdb_del(txn, d, &k, NULL);
        } else {
            uint32_t off = (fuzz_take_u8(&p, &n, 0) << 8) | fuzz_take_u8(&p, &n, 0);
            uint8_t x = (uint8_t)fuzz_take_u8(&p, &n, 1);
            if (mdb_get(txn, d, &k, &v) == MDB_SUCCESS && v.mv_size > 0 &&
                v.mv_size <= sizeof value) {
                memcpy(value, v.mv_data, v.mv_size);
                value[off % v.mv_size] ^= x;
                v.mv_data = value;
                if (d == dbi[5] || d == dbi[6]) (void)mdb_del(txn, d, &k, NULL);
                (void)mdb_put(txn, d, &k, &v, 0);
            }
        }
    }
    (void)mdb_txn_commit(txn);
    txn = NULL;
out:
    if (txn != NULL) mdb_txn_abort(txn);
    mdb_env_close(env);
}

/* One operand of an append: a golden block/cert with bit flips, or raw. */
static const uint8_t *fuzz_lg_operand(const uint8_t **p, size_t *n, int cert, uint8_t *buf,
                                      size_t cap, size_t *len) {
    uint32_t sel = fuzz_take_u8(p, n, 1);
    if (sel & 1u) {
        int b = (int)((sel >> 1) % FUZZ_LG_BLOCKS);
        *len = cert ? fuzz_lg_cert_len[b] : fuzz_lg_block_len[b];
        memcpy(buf, cert ? fuzz_lg_cert[b] : fuzz_lg_block[b], *len);
        uint32_t flips = (sel >> 3) & 3u;
        for (uint32_t i = 0; i < flips; i++) {
            uint32_t off = (fuzz_take_u8(p, n, 0) << 8) | fuzz_take_u8(p, n, 0);
            buf[off % *len] ^= (uint8_t)fuzz_take_u8(p, n, 1);
        }
        if (sel & 0x20u) *len -= 1; /* one byte short */
        return buf;
    }
    size_t want = (fuzz_take_u8(p, n, 0) << 8) | fuzz_take_u8(p, n, 0);
    if (want > *n) want = *n;
    if (want > cap) want = cap;
    memcpy(buf, *p, want);
    *p += want;
    *n -= want;
    *len = want;
    return buf;
}

static void fuzz_lg_append(const uint8_t *p, size_t n) {
    static uint8_t blk[BCKM_BLOCK_MAX_BYTES], crt[BCKM_CERT_MAX_BYTES], buf[BCKM_BLOCK_MAX_BYTES];
    bckm_ledger *l = NULL;
    FUZZ_CHECK(bckm_ledger_open_memory(&fuzz_lg_cfg, &l) == BCKM_OK);
    FUZZ_CHECK(bckm_ledger_append(l, fuzz_lg_block[0], fuzz_lg_block_len[0], fuzz_lg_cert[0],
                                  fuzz_lg_cert_len[0], NULL) == BCKM_OK);
    size_t bl = 0, cl = 0;
    fuzz_lg_operand(&p, &n, 0, blk, sizeof blk, &bl);
    fuzz_lg_operand(&p, &n, 1, crt, sizeof crt, &cl);
    uint8_t status[BCKM_BLOCK_MAX_TXS];
    memset(status, 0, sizeof status);
    if (n > 0) status[0] = (uint8_t)fuzz_take_u8(&p, &n, 0);

    uint8_t tip_before[BCKM_HASH_BYTES], tip[BCKM_HASH_BYTES];
    FUZZ_CHECK(bckm_ledger_tip_hash(l, tip_before) == BCKM_OK);
    int rc = bckm_ledger_append(l, blk, bl, crt, cl, status);
    if (getenv("FUZZ_TRACE") != NULL)
        fprintf(stderr, "ledger: append %zu + %zu bytes: %s\n", bl, cl, bckm_strerror(rc));
    if (rc == BCKM_OK) {
        /* Only the genuine successor carries a certificate that verifies. */
        FUZZ_CHECK(bl == fuzz_lg_block_len[1] && memcmp(blk, fuzz_lg_block[1], bl) == 0);
        FUZZ_CHECK(bckm_ledger_height(l) == 2);
    } else {
        FUZZ_CHECK(rc < 0 && rc >= BCKM_ERR_CORRUPT);
        FUZZ_CHECK(bckm_ledger_height(l) == 1);
        FUZZ_CHECK(bckm_ledger_tip_hash(l, tip) == BCKM_OK);
        FUZZ_CHECK(memcmp(tip, tip_before, sizeof tip) == 0);
        size_t len = 0;
        FUZZ_CHECK(bckm_ledger_get_block(l, 1, buf, sizeof buf, &len) == BCKM_OK);
        FUZZ_CHECK(len == fuzz_lg_block_len[0] && memcmp(buf, fuzz_lg_block[0], len) == 0);
        FUZZ_CHECK(bckm_ledger_get_block(l, 2, buf, sizeof buf, &len) == BCKM_ERR_ARG);
        size_t got = 0;
        FUZZ_CHECK(bckm_ledger_txs_after(l, BCKM_LEDGER_POS_START, fuzz_lg_entries,
                                         sizeof fuzz_lg_entries / sizeof fuzz_lg_entries[0],
                                         &got) == BCKM_OK);
        FUZZ_CHECK(got == 2);
    }
    fuzz_lg_check_prefix(l, 1);
    bckm_ledger_close(l);
}

/* Mode 4: block 2 of arbitrary opaque transactions on an opaque ledger. */
static void fuzz_lg_opaque(const uint8_t *p, size_t n) {
    static uint8_t blk[BCKM_BLOCK_MAX_BYTES], crt[BCKM_CERT_MAX_BYTES], buf[BCKM_BLOCK_MAX_BYTES];
    static struct bckm_cert c;
    struct bckm_ledger_config cfg = fuzz_lg_cfg;
    struct bckm_block_header h;
    uint8_t prev[BCKM_HASH_BYTES], hash[BCKM_HASH_BYTES], status[BCKM_BLOCK_MAX_TXS];
    bckm_ledger *l = NULL;
    size_t cl = 0;

    uint32_t count = fuzz_take_u8(&p, &n, 1);
    uint32_t seed = fuzz_take_u8(&p, &n, 0);
    if (n > sizeof blk - BCKM_BLOCK_HEADER_BYTES) n = sizeof blk - BCKM_BLOCK_HEADER_BYTES;
    for (uint32_t i = 0; i < BCKM_BLOCK_MAX_TXS; i++) status[i] = (uint8_t)(seed + 31u * i);

    cfg.flags = BCKM_LEDGER_OPAQUE;
    FUZZ_CHECK(bckm_ledger_open_memory(&cfg, &l) == BCKM_OK);
    /* Golden block 1's envelopes are opaque transactions as good as any. */
    FUZZ_CHECK(bckm_ledger_append(l, fuzz_lg_block[0], fuzz_lg_block_len[0], fuzz_lg_cert[0],
                                  fuzz_lg_cert_len[0], NULL) == BCKM_OK);
    FUZZ_CHECK(bckm_ledger_tip_hash(l, prev) == BCKM_OK);

    memset(&h, 0, sizeof h);
    h.version = BCKM_BLOCK_VERSION;
    h.height = 2;
    memcpy(h.prev_hash, prev, sizeof prev);
    h.proposer = 2;
    h.time = 2000000u;
    memset(h.state_hash, 0x77, sizeof h.state_hash);
    h.n_txs = count;
    int want = bckm_block_body_root(p, n, count, h.tx_root);
    if (want != BCKM_OK) memset(h.tx_root, 0x5E, sizeof h.tx_root);
    FUZZ_CHECK(bckm_block_header_encode(&h, blk) == BCKM_OK);
    if (n > 0) memcpy(blk + BCKM_BLOCK_HEADER_BYTES, p, n);
    FUZZ_CHECK(bckm_block_hash(&h, hash) == BCKM_OK);
    memset(&c, 0, sizeof c);
    c.version = BCKM_CERT_VERSION;
    c.height = 2;
    c.view = seed;
    memcpy(c.block_hash, hash, sizeof hash);
    c.count = 3;
    for (uint32_t i = 0; i < 3; i++) {
        c.sigs[i].bp = i + 1u;
        FUZZ_CHECK(bckm_commit_sign(c.height, c.view, c.block_hash, fuzz_bp_sk[i], c.sigs[i].sig) ==
                   BCKM_OK);
    }
    FUZZ_CHECK(bckm_cert_encode(&c, crt, sizeof crt, &cl) == BCKM_OK);

    int rc = bckm_ledger_append(l, blk, BCKM_BLOCK_HEADER_BYTES + n, crt, cl, status);
    if (getenv("FUZZ_TRACE") != NULL)
        fprintf(stderr, "ledger: opaque append of %u txs, %zu body bytes: %s\n", count, n,
                bckm_strerror(rc));
    FUZZ_CHECK(rc == want);
    size_t len = 0;
    if (rc == BCKM_OK) {
        FUZZ_CHECK(bckm_ledger_height(l) == 2);
        FUZZ_CHECK(bckm_ledger_get_block(l, 2, buf, sizeof buf, &len) == BCKM_OK);
        FUZZ_CHECK(len == BCKM_BLOCK_HEADER_BYTES + n && memcmp(buf, blk, len) == 0);
        FUZZ_CHECK(bckm_ledger_get_status(l, 2, buf, sizeof buf, &len) == BCKM_OK);
        FUZZ_CHECK(len == count && (count == 0 || memcmp(buf, status, count) == 0));
    } else {
        FUZZ_CHECK(bckm_ledger_height(l) == 1);
        FUZZ_CHECK(bckm_ledger_get_block(l, 2, buf, sizeof buf, &len) == BCKM_ERR_ARG);
    }
    FUZZ_CHECK(bckm_ledger_get_status(l, 1, buf, sizeof buf, &len) == BCKM_OK && len == 2);
    size_t got = 99;
    FUZZ_CHECK(bckm_ledger_txs_after(l, BCKM_LEDGER_POS_START, fuzz_lg_entries, 1, &got) ==
               BCKM_ERR_STATE);
    FUZZ_CHECK(got == 0);
    bckm_ledger_close(l);
}

static int fuzz_ledger(const uint8_t *data, size_t size) {
    fuzz_lg_setup();
    uint32_t mode = fuzz_take_u8(&data, &size, 1) % 5u;
    if (mode == 3) {
        fuzz_lg_append(data, size);
        return 0;
    }
    if (mode == 4) {
        fuzz_lg_opaque(data, size);
        return 0;
    }
    unlink(fuzz_lg_lock);
    if (mode == 0) {
        fuzz_lg_write_file(fuzz_lg_data, data, size);
    } else if (mode == 1) {
        static int pages = -1;
        if (pages < 0) pages = getenv("FUZZ_LEDGER_NO_PAGES") == NULL;
        if (!pages) return 0;
        static uint8_t *file;
        if (file == NULL) file = malloc(fuzz_lg_template_len);
        FUZZ_CHECK(file != NULL);
        memcpy(file, fuzz_lg_template, fuzz_lg_template_len);
        for (int i = 0; i < 64 && size >= 5; i++) {
            uint32_t off = fuzz_take_u32(&data, &size, 0);
            file[off % fuzz_lg_template_len] ^= (uint8_t)fuzz_take_u8(&data, &size, 0);
        }
        fuzz_lg_write_file(fuzz_lg_data, file, fuzz_lg_template_len);
    } else {
        fuzz_lg_write_file(fuzz_lg_data, fuzz_lg_template, fuzz_lg_template_len);
        fuzz_lg_edit(data, size);
    }
    /* Modes 0 and 1 may corrupt LMDB's own pages, which liblmdb trusts: a
     * write after such an open can crash inside liblmdb (fuzz/README.md,
     * "Known limits"), so those modes check the open and the reads only. */
    fuzz_lg_open_and_check(mode == 2);
    return 0;
}

FUZZ_ENTRY(fuzz_ledger)
