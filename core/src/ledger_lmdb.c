/*
 * LMDB ledger backend: durable storage of the committed chain.
 *
 * One environment (a directory) with six named databases:
 *   meta     "format" -> "bckm-ledger-v1"
 *   blocks   u64 height -> block encoding
 *   certs    u64 height -> certificate encoding
 *   txs      position (u64 height || u32 index) -> status || envelope
 *   by_node  u32 node ID -> positions (sorted duplicates, fixed size)
 *   by_code  32-byte code hash -> positions (sorted duplicates, fixed size)
 * Keys are big-endian, so LMDB's byte order is commit order.
 *
 * An append is one write transaction committed with LMDB's default
 * durability (fsync before mdb_txn_commit returns); LMDB's copy-on-write
 * B-trees and double meta page mean that a crash leaves either the previous
 * committed state or the new one, never a mix. Opening re-verifies the
 * whole chain and the indexes (ledger.h).
 */
#include "ledger_internal.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FORMAT_KEY "format"
#define FORMAT_VALUE "bckm-ledger-v1"

struct lm {
    MDB_env *env;
    MDB_dbi meta, blocks, certs, txs, by_node, by_code;
};

static int map_err(int rc) {
    if (rc == MDB_SUCCESS) return BCKM_OK;
    if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL || rc == ENOMEM) return BCKM_ERR_NOMEM;
    if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
        rc == MDB_VERSION_MISMATCH || rc == MDB_BAD_VALSIZE || rc == MDB_INCOMPATIBLE)
        return BCKM_ERR_CORRUPT;
    return BCKM_ERR_IO;
}

static MDB_val val(const void *p, size_t n) {
    MDB_val v;
    v.mv_data = (void *)(uintptr_t)p;  /* LMDB's API is not const-correct; it never writes keys */
    v.mv_size = n;
    return v;
}

static int lm_put(bckm_ledger *l, const struct ledger_put *p) {
    struct lm *s = l->impl;
    MDB_txn *txn = NULL;
    uint8_t hkey[8], pos[LEDGER_POS_BYTES], nkey[4], rec[LEDGER_REC_BYTES];
    MDB_val k, v;
    int rc, ret;

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != MDB_SUCCESS) return map_err(rc);
    bckm_put_u64(hkey, p->height);
    k = val(hkey, sizeof hkey);
    v = val(p->block, p->block_len);
    /* NOOVERWRITE: the front end's height check and the store must agree. */
    if ((rc = mdb_put(txn, s->blocks, &k, &v, MDB_NOOVERWRITE)) != MDB_SUCCESS) goto fail;
    v = val(p->cert, p->cert_len);
    if ((rc = mdb_put(txn, s->certs, &k, &v, MDB_NOOVERWRITE)) != MDB_SUCCESS) goto fail;
    for (uint32_t i = 0; i < p->n; i++) {
        struct bckm_ledger_pos ps = { p->height, i };
        bckm_ledger_pos_encode(ps, pos);
        ret = bckm_ledger_rec_encode(p->status[i], &p->envs[i], rec);
        if (ret != BCKM_OK) { mdb_txn_abort(txn); return ret; }
        k = val(pos, sizeof pos);
        v = val(rec, sizeof rec);
        if ((rc = mdb_put(txn, s->txs, &k, &v, MDB_NOOVERWRITE)) != MDB_SUCCESS) goto fail;
        bckm_put_u32(nkey, p->envs[i].tx.node_id);
        k = val(nkey, sizeof nkey);
        v = val(pos, sizeof pos);
        if ((rc = mdb_put(txn, s->by_node, &k, &v, MDB_NODUPDATA)) != MDB_SUCCESS) goto fail;
        k = val(p->envs[i].tx.code_hash, BCKM_HASH_BYTES);
        if ((rc = mdb_put(txn, s->by_code, &k, &v, MDB_NODUPDATA)) != MDB_SUCCESS) goto fail;
    }
    rc = mdb_txn_commit(txn);
    return map_err(rc);

fail:
    mdb_txn_abort(txn);
    /* A key that already exists means the store and the tip disagree. */
    return rc == MDB_KEYEXIST ? BCKM_ERR_CORRUPT : map_err(rc);
}

static int lm_get(bckm_ledger *l, int which, uint64_t height, uint8_t *out, size_t cap,
                  size_t *len) {
    struct lm *s = l->impl;
    MDB_txn *txn = NULL;
    uint8_t hkey[8];
    MDB_val k, v;
    int rc, ret = BCKM_OK;

    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) return map_err(rc);
    bckm_put_u64(hkey, height);
    k = val(hkey, sizeof hkey);
    rc = mdb_get(txn, which == 0 ? s->blocks : s->certs, &k, &v);
    /* Every height up to the tip was there when the store was verified. */
    if (rc == MDB_NOTFOUND) { ret = BCKM_ERR_CORRUPT; goto out; }
    if (rc != MDB_SUCCESS) { ret = map_err(rc); goto out; }
    *len = v.mv_size;
    if (v.mv_size > cap) { ret = BCKM_ERR_NOMEM; goto out; }
    memcpy(out, v.mv_data, v.mv_size);

out:
    mdb_txn_abort(txn);
    return ret;
}

/* Reads the record at an encoded position into *e. */
static int load_entry(struct lm *s, MDB_txn *txn, const uint8_t pos[LEDGER_POS_BYTES],
                      struct bckm_ledger_entry *e) {
    MDB_val k = val(pos, LEDGER_POS_BYTES), v;
    int rc = mdb_get(txn, s->txs, &k, &v);
    if (rc == MDB_NOTFOUND) return BCKM_ERR_CORRUPT;  /* index entry without its record */
    if (rc != MDB_SUCCESS) return map_err(rc);
    return bckm_ledger_rec_decode(v.mv_data, v.mv_size, bckm_ledger_pos_decode(pos), e);
}

static int lm_query(bckm_ledger *l, enum ledger_query q, const uint8_t *key,
                    struct bckm_ledger_pos after, struct bckm_ledger_entry *out, size_t cap,
                    size_t *n) {
    struct lm *s = l->impl;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    uint8_t apos[LEDGER_POS_BYTES];
    MDB_val k, v;
    size_t got = 0;
    int rc, ret = BCKM_OK;

    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) return map_err(rc);
    bckm_ledger_pos_encode(after, apos);
    if (q == LEDGER_Q_ALL) {
        if ((rc = mdb_cursor_open(txn, s->txs, &cur)) != MDB_SUCCESS) { ret = map_err(rc); goto out; }
        k = val(apos, sizeof apos);
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        while (rc == MDB_SUCCESS && got < cap) {
            if (k.mv_size != LEDGER_POS_BYTES) { ret = BCKM_ERR_CORRUPT; goto out; }
            if (memcmp(k.mv_data, apos, LEDGER_POS_BYTES) != 0) {  /* strictly after */
                ret = bckm_ledger_rec_decode(v.mv_data, v.mv_size, bckm_ledger_pos_decode(k.mv_data), &out[got]);
                if (ret != BCKM_OK) goto out;
                got++;
            }
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
    } else {
        MDB_dbi dbi = q == LEDGER_Q_NODE ? s->by_node : s->by_code;
        size_t klen = q == LEDGER_Q_NODE ? 4u : BCKM_HASH_BYTES;
        if ((rc = mdb_cursor_open(txn, dbi, &cur)) != MDB_SUCCESS) { ret = map_err(rc); goto out; }
        k = val(key, klen);
        v = val(apos, sizeof apos);
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
        while (rc == MDB_SUCCESS && got < cap) {
            if (v.mv_size != LEDGER_POS_BYTES) { ret = BCKM_ERR_CORRUPT; goto out; }
            if (memcmp(v.mv_data, apos, LEDGER_POS_BYTES) != 0) {
                uint8_t pos[LEDGER_POS_BYTES];
                memcpy(pos, v.mv_data, sizeof pos);
                ret = load_entry(s, txn, pos, &out[got]);
                if (ret != BCKM_OK) goto out;
                got++;
            }
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
        }
    }
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) { ret = map_err(rc); goto out; }
    *n = got;

out:
    if (cur != NULL) mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return ret;
}

static void lm_close(bckm_ledger *l) {
    struct lm *s = l->impl;
    if (s == NULL) return;
    if (s->env != NULL) mdb_env_close(s->env);
    free(s);
    l->impl = NULL;
}

static const struct ledger_ops lm_ops = { lm_put, lm_get, lm_query, lm_close };

/* Creates the databases when missing and checks the format marker. */
static int lm_init_dbs(struct lm *s) {
    MDB_txn *txn = NULL;
    MDB_val k = val(FORMAT_KEY, sizeof FORMAT_KEY - 1u), v;
    int rc, ret = BCKM_OK;
    const unsigned dup = MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED;

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != MDB_SUCCESS) return map_err(rc);
    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != MDB_SUCCESS ||
        (rc = mdb_dbi_open(txn, "blocks", MDB_CREATE, &s->blocks)) != MDB_SUCCESS ||
        (rc = mdb_dbi_open(txn, "certs", MDB_CREATE, &s->certs)) != MDB_SUCCESS ||
        (rc = mdb_dbi_open(txn, "txs", MDB_CREATE, &s->txs)) != MDB_SUCCESS ||
        (rc = mdb_dbi_open(txn, "by_node", dup, &s->by_node)) != MDB_SUCCESS ||
        (rc = mdb_dbi_open(txn, "by_code", dup, &s->by_code)) != MDB_SUCCESS) {
        /* A database opened with other flags than it was created with. */
        ret = rc == MDB_INCOMPATIBLE ? BCKM_ERR_CORRUPT : map_err(rc);
        goto fail;
    }
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        MDB_stat st;
        /* Only a store without blocks may be given its marker now. */
        if ((rc = mdb_stat(txn, s->blocks, &st)) != MDB_SUCCESS) { ret = map_err(rc); goto fail; }
        if (st.ms_entries != 0) { ret = BCKM_ERR_CORRUPT; goto fail; }
        v = val(FORMAT_VALUE, sizeof FORMAT_VALUE - 1u);
        if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != MDB_SUCCESS) { ret = map_err(rc); goto fail; }
    } else if (rc != MDB_SUCCESS) {
        ret = map_err(rc);
        goto fail;
    } else if (v.mv_size != sizeof FORMAT_VALUE - 1u ||
               memcmp(v.mv_data, FORMAT_VALUE, v.mv_size) != 0) {
        ret = BCKM_ERR_CORRUPT;
        goto fail;
    }
    rc = mdb_txn_commit(txn);
    return map_err(rc);

fail:
    mdb_txn_abort(txn);
    return ret;
}

/* Checks that the records and both index entries of one block's
 * transactions are present and equal to the block's envelopes. */
static int verify_block_txs(bckm_ledger *l, MDB_txn *txn, MDB_cursor *cn, MDB_cursor *cc,
                            uint64_t height, uint32_t n) {
    struct lm *s = l->impl;
    uint8_t pos[LEDGER_POS_BYTES], nkey[4], enc[BCKM_ENVELOPE_BYTES];
    MDB_val k, v;
    int rc;

    for (uint32_t i = 0; i < n; i++) {
        struct bckm_ledger_pos ps = { height, i };
        bckm_ledger_pos_encode(ps, pos);
        k = val(pos, sizeof pos);
        rc = mdb_get(txn, s->txs, &k, &v);
        if (rc == MDB_NOTFOUND) return BCKM_ERR_CORRUPT;
        if (rc != MDB_SUCCESS) return map_err(rc);
        if (bckm_envelope_encode(&l->envs[i], enc) != BCKM_OK) return BCKM_ERR_CORRUPT;
        if (v.mv_size != LEDGER_REC_BYTES ||
            memcmp((const uint8_t *)v.mv_data + 1, enc, sizeof enc) != 0) return BCKM_ERR_CORRUPT;
        bckm_put_u32(nkey, l->envs[i].tx.node_id);
        k = val(nkey, sizeof nkey);
        v = val(pos, sizeof pos);
        rc = mdb_cursor_get(cn, &k, &v, MDB_GET_BOTH);
        if (rc == MDB_NOTFOUND) return BCKM_ERR_CORRUPT;
        if (rc != MDB_SUCCESS) return map_err(rc);
        k = val(l->envs[i].tx.code_hash, BCKM_HASH_BYTES);
        v = val(pos, sizeof pos);
        rc = mdb_cursor_get(cc, &k, &v, MDB_GET_BOTH);
        if (rc == MDB_NOTFOUND) return BCKM_ERR_CORRUPT;
        if (rc != MDB_SUCCESS) return map_err(rc);
    }
    return BCKM_OK;
}

/* Replays every stored block through the append checks, from height 1,
 * then checks that the certificate and index databases hold nothing else. */
static int lm_verify(bckm_ledger *l) {
    struct lm *s = l->impl;
    MDB_txn *txn = NULL;
    MDB_cursor *cb = NULL, *cn = NULL, *cc = NULL;
    MDB_val k, v, cv;
    MDB_stat st;
    uint64_t total_txs = 0;
    int rc, ret = BCKM_OK;

    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) return map_err(rc);
    if ((rc = mdb_cursor_open(txn, s->blocks, &cb)) != MDB_SUCCESS ||
        (rc = mdb_cursor_open(txn, s->by_node, &cn)) != MDB_SUCCESS ||
        (rc = mdb_cursor_open(txn, s->by_code, &cc)) != MDB_SUCCESS) { ret = map_err(rc); goto out; }
    rc = mdb_cursor_get(cb, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
        uint8_t hash[BCKM_HASH_BYTES];
        uint32_t n = 0;
        /* Heights contiguous from 1: the i-th key must be i. */
        if (k.mv_size != 8 || bckm_get_u64(k.mv_data) != l->height + 1u) { ret = BCKM_ERR_CORRUPT; goto out; }
        rc = mdb_get(txn, s->certs, &k, &cv);
        if (rc == MDB_NOTFOUND) { ret = BCKM_ERR_CORRUPT; goto out; }
        if (rc != MDB_SUCCESS) { ret = map_err(rc); goto out; }
        if (bckm_ledger_check_next(l, v.mv_data, v.mv_size, cv.mv_data, cv.mv_size, &n, hash) != BCKM_OK) {
            ret = BCKM_ERR_CORRUPT;
            goto out;
        }
        ret = verify_block_txs(l, txn, cn, cc, l->height + 1u, n);
        if (ret != BCKM_OK) goto out;
        total_txs += n;
        l->height++;
        memcpy(l->tip_hash, hash, BCKM_HASH_BYTES);
        rc = mdb_cursor_get(cb, &k, &v, MDB_NEXT);
    }
    if (rc != MDB_NOTFOUND) { ret = map_err(rc); goto out; }
    /* Every expected entry exists; equal counts mean there is nothing more. */
    if ((rc = mdb_stat(txn, s->certs, &st)) != MDB_SUCCESS) { ret = map_err(rc); goto out; }
    if (st.ms_entries != l->height) { ret = BCKM_ERR_CORRUPT; goto out; }
    if ((rc = mdb_stat(txn, s->txs, &st)) != MDB_SUCCESS) { ret = map_err(rc); goto out; }
    if (st.ms_entries != total_txs) { ret = BCKM_ERR_CORRUPT; goto out; }
    if ((rc = mdb_stat(txn, s->by_node, &st)) != MDB_SUCCESS) { ret = map_err(rc); goto out; }
    if (st.ms_entries != total_txs) { ret = BCKM_ERR_CORRUPT; goto out; }
    if ((rc = mdb_stat(txn, s->by_code, &st)) != MDB_SUCCESS) { ret = map_err(rc); goto out; }
    if (st.ms_entries != total_txs) { ret = BCKM_ERR_CORRUPT; goto out; }

out:
    if (cb != NULL) mdb_cursor_close(cb);
    if (cn != NULL) mdb_cursor_close(cn);
    if (cc != NULL) mdb_cursor_close(cc);
    mdb_txn_abort(txn);
    return ret;
}

int bckm_ledger_open_lmdb(const char *dir, const struct bckm_ledger_config *cfg, bckm_ledger **out) {
    bckm_ledger *l = NULL;
    struct lm *s = NULL;
    int rc, ret, dead = 0;

    if (dir == NULL || out == NULL || cfg == NULL) return BCKM_ERR_ARG;
    ret = bckm_ledger_handle_new(cfg, &l);
    if (ret != BCKM_OK) return ret;
    s = calloc(1, sizeof *s);
    if (s == NULL) { ret = BCKM_ERR_NOMEM; goto fail; }
    l->impl = s;
    l->ops = &lm_ops;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) { ret = BCKM_ERR_IO; goto fail; }
    if ((rc = mdb_env_create(&s->env)) != MDB_SUCCESS) { ret = map_err(rc); goto fail; }
    if ((rc = mdb_env_set_maxdbs(s->env, 8)) != MDB_SUCCESS ||
        (rc = mdb_env_set_mapsize(s->env, (size_t)(cfg->map_bytes != 0 ? cfg->map_bytes
                                                   : BCKM_LEDGER_DEFAULT_MAP_BYTES))) != MDB_SUCCESS) {
        ret = map_err(rc);
        goto fail;
    }
    /* Default flags: every commit is synced to disk before it returns. */
    if ((rc = mdb_env_open(s->env, dir, 0, 0600)) != MDB_SUCCESS) { ret = map_err(rc); goto fail; }
    /* Reader slots left by a process that died are freed. */
    (void)mdb_reader_check(s->env, &dead);
    ret = lm_init_dbs(s);
    if (ret != BCKM_OK) goto fail;
    ret = lm_verify(l);
    if (ret != BCKM_OK) goto fail;
    *out = l;
    return BCKM_OK;

fail:
    bckm_ledger_close(l);
    return ret;
}
