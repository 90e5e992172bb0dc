/*
 * LMDB ledger backend: durable storage of the committed chain.
 *
 * One environment (a directory) with seven named databases:
 *   meta     "format" -> "bckm-ledger-v2" (envelopes) or "bckm-ledger-v2-opaque"
 *   blocks   u64 height -> block encoding
 *   certs    u64 height -> certificate encoding
 *   status   u64 height -> one status byte per transaction
 *   appstate "state" -> u64 height || the application's state after that
 *            block (bckm_ledger_append_state; absent until the first one)
 *   txs      position (u64 height || u32 index) -> status || envelope
 *   by_node  u32 node ID -> positions (sorted duplicates, fixed size)
 *   by_code  32-byte code hash -> positions (sorted duplicates, fixed size)
 * Keys are big-endian, so LMDB's byte order is commit order. An opaque
 * ledger (BCKM_LEDGER_OPAQUE) leaves txs, by_node and by_code empty. A store
 * of another format (v1 included) is refused as BCKM_ERR_CORRUPT.
 *
 * An append is one write transaction committed with LMDB's default
 * durability (fsync before mdb_txn_commit returns); LMDB's copy-on-write
 * B-trees and double meta page mean that a crash leaves either the previous
 * committed state or the new one, never a mix. Opening re-verifies the
 * whole chain and the indexes (ledger.h).
 *
 * LMDB trusts its own pages: a damaged B-tree or free-list page can crash
 * the process inside liblmdb, during the open or at the next write, before
 * any check of ours runs. So unless the caller opts out
 * (BCKM_LEDGER_TRUST_FILE), an existing store is first probed in a child
 * process (probe_body): it verifies the original read-only, rebuilds it
 * block by block into a fresh store and verifies that to the same height.
 * A child that crashes or fails means BCKM_ERR_CORRUPT (or its error) and
 * the original is never mapped by this process; on success the copy
 * replaces the original (swap_in) and is opened for real.
 */
#include "ledger_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORMAT_KEY "format"
#define STATE_KEY "state"
#define FORMAT_ENVELOPES "bckm-ledger-v2"
#define FORMAT_OPAQUE "bckm-ledger-v2-opaque"

struct lm {
    MDB_env *env;
    MDB_dbi meta, blocks, certs, status, appstate, txs, by_node, by_code;
};

static const char *format_value(const bckm_ledger *l) {
    return l->opaque ? FORMAT_OPAQUE : FORMAT_ENVELOPES;
}

static int format_is(const bckm_ledger *l, const MDB_val *v) {
    const char *f = format_value(l);
    return v->mv_size == strlen(f) && memcmp(v->mv_data, f, v->mv_size) == 0;
}

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
    v.mv_data = (void *)(uintptr_t)p; /* LMDB's API is not const-correct; it never writes keys */
    v.mv_size = n;
    return v;
}

/* Writes the one state record (height || state) inside txn. */
static int put_state_record(struct lm *s, MDB_txn *txn, uint64_t height, const uint8_t *state,
                            size_t len) {
    MDB_val k = val(STATE_KEY, sizeof STATE_KEY - 1u), v;
    v.mv_size = 8u + len;
    v.mv_data = NULL;
    int rc = mdb_put(txn, s->appstate, &k, &v, MDB_RESERVE);
    if (rc != MDB_SUCCESS) return rc;
    bckm_put_u64(v.mv_data, height);
    memcpy((uint8_t *)v.mv_data + 8, state, len);
    return MDB_SUCCESS;
}

static int lm_put(bckm_ledger *l, const struct ledger_put *p) {
    struct lm *s = l->impl;
    MDB_txn *txn = NULL;
    uint8_t hkey[8], pos[LEDGER_POS_BYTES], nkey[4], rec[LEDGER_REC_BYTES];
    size_t rec_len = 0;
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
    v = val(p->status, p->n_txs);
    if ((rc = mdb_put(txn, s->status, &k, &v, MDB_NOOVERWRITE)) != MDB_SUCCESS) goto fail;
    if (p->state != NULL) {
        /* In the same transaction as the block: the stored state is always
         * that of a stored block. */
        if ((rc = put_state_record(s, txn, p->height, p->state, p->state_len)) != MDB_SUCCESS)
            goto fail;
    }
    for (uint32_t i = 0; i < p->n; i++) {
        struct bckm_ledger_pos ps = { p->height, i };
        bckm_ledger_pos_encode(ps, pos);
        ret = bckm_ledger_rec_encode(p->status[i], &p->envs[i], rec, &rec_len);
        if (ret != BCKM_OK) {
            mdb_txn_abort(txn);
            return ret;
        }
        k = val(pos, sizeof pos);
        v = val(rec, rec_len);
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
    rc = mdb_get(txn, which == 0 ? s->blocks : which == 1 ? s->certs : s->status, &k, &v);
    /* Every height up to the tip was there when the store was verified. */
    if (rc == MDB_NOTFOUND) {
        ret = BCKM_ERR_CORRUPT;
        goto out;
    }
    if (rc != MDB_SUCCESS) {
        ret = map_err(rc);
        goto out;
    }
    *len = v.mv_size;
    if (v.mv_size > cap) {
        ret = BCKM_ERR_NOMEM;
        goto out;
    }
    if (v.mv_size > 0) memcpy(out, v.mv_data, v.mv_size);

out:
    mdb_txn_abort(txn);
    return ret;
}

/* Reads the record at an encoded position into *e. */
static int load_entry(struct lm *s, MDB_txn *txn, const uint8_t pos[LEDGER_POS_BYTES],
                      struct bckm_ledger_entry *e) {
    MDB_val k = val(pos, LEDGER_POS_BYTES), v;
    int rc = mdb_get(txn, s->txs, &k, &v);
    if (rc == MDB_NOTFOUND) return BCKM_ERR_CORRUPT; /* index entry without its record */
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
        if ((rc = mdb_cursor_open(txn, s->txs, &cur)) != MDB_SUCCESS) {
            ret = map_err(rc);
            goto out;
        }
        k = val(apos, sizeof apos);
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        while (rc == MDB_SUCCESS && got < cap) {
            if (k.mv_size != LEDGER_POS_BYTES) {
                ret = BCKM_ERR_CORRUPT;
                goto out;
            }
            if (memcmp(k.mv_data, apos, LEDGER_POS_BYTES) != 0) { /* strictly after */
                ret = bckm_ledger_rec_decode(v.mv_data, v.mv_size,
                                             bckm_ledger_pos_decode(k.mv_data), &out[got]);
                if (ret != BCKM_OK) goto out;
                got++;
            }
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
    } else {
        MDB_dbi dbi = q == LEDGER_Q_NODE ? s->by_node : s->by_code;
        size_t klen = q == LEDGER_Q_NODE ? 4u : BCKM_HASH_BYTES;
        if ((rc = mdb_cursor_open(txn, dbi, &cur)) != MDB_SUCCESS) {
            ret = map_err(rc);
            goto out;
        }
        k = val(key, klen);
        v = val(apos, sizeof apos);
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
        while (rc == MDB_SUCCESS && got < cap) {
            if (v.mv_size != LEDGER_POS_BYTES) {
                ret = BCKM_ERR_CORRUPT;
                goto out;
            }
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
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
        ret = map_err(rc);
        goto out;
    }
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

static int lm_get_state(bckm_ledger *l, uint64_t *height, uint8_t *out, size_t cap, size_t *len) {
    struct lm *s = l->impl;
    MDB_txn *txn = NULL;
    MDB_val k = val(STATE_KEY, sizeof STATE_KEY - 1u), v;
    int rc, ret = BCKM_OK;

    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) return map_err(rc);
    rc = mdb_get(txn, s->appstate, &k, &v);
    if (rc == MDB_NOTFOUND)
        ret = BCKM_ERR_UNKNOWN;
    else if (rc != MDB_SUCCESS)
        ret = map_err(rc);
    else if (v.mv_size <= 8)
        ret = BCKM_ERR_CORRUPT; /* checked at open */
    else {
        *height = bckm_get_u64(v.mv_data);
        *len = v.mv_size - 8;
        if (*len > cap)
            ret = BCKM_ERR_NOMEM;
        else
            memcpy(out, (const uint8_t *)v.mv_data + 8, *len);
    }
    mdb_txn_abort(txn);
    return ret;
}

static int lm_put_state(bckm_ledger *l, uint64_t height, const uint8_t *state, size_t len) {
    struct lm *s = l->impl;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != MDB_SUCCESS) return map_err(rc);
    if ((rc = put_state_record(s, txn, height, state, len)) != MDB_SUCCESS) {
        mdb_txn_abort(txn);
        return map_err(rc);
    }
    return map_err(mdb_txn_commit(txn));
}

static const struct ledger_ops lm_ops = { lm_put,       lm_get,       lm_query,
                                          lm_get_state, lm_put_state, lm_close };

/* Creates the databases when missing and checks the format marker. */
static int lm_init_dbs(bckm_ledger *l) {
    struct lm *s = l->impl;
    MDB_txn *txn = NULL;
    MDB_val k = val(FORMAT_KEY, sizeof FORMAT_KEY - 1u), v;
    int rc, ret = BCKM_OK;
    const unsigned dup = MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED;

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != MDB_SUCCESS) return map_err(rc);
    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != MDB_SUCCESS ||
        (rc = mdb_dbi_open(txn, "blocks", MDB_CREATE, &s->blocks)) != MDB_SUCCESS ||
        (rc = mdb_dbi_open(txn, "certs", MDB_CREATE, &s->certs)) != MDB_SUCCESS ||
        (rc = mdb_dbi_open(txn, "status", MDB_CREATE, &s->status)) != MDB_SUCCESS ||
        (rc = mdb_dbi_open(txn, "appstate", MDB_CREATE, &s->appstate)) != MDB_SUCCESS ||
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
        if ((rc = mdb_stat(txn, s->blocks, &st)) != MDB_SUCCESS) {
            ret = map_err(rc);
            goto fail;
        }
        if (st.ms_entries != 0) {
            ret = BCKM_ERR_CORRUPT;
            goto fail;
        }
        v = val(format_value(l), strlen(format_value(l)));
        if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != MDB_SUCCESS) {
            ret = map_err(rc);
            goto fail;
        }
    } else if (rc != MDB_SUCCESS) {
        ret = map_err(rc);
        goto fail;
    } else if (!format_is(l, &v)) {
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
    uint8_t pos[LEDGER_POS_BYTES], nkey[4], enc[BCKM_ENVELOPE_MAX_BYTES];
    size_t enc_len = 0;
    MDB_val k, v;
    int rc;

    for (uint32_t i = 0; i < n; i++) {
        struct bckm_ledger_pos ps = { height, i };
        bckm_ledger_pos_encode(ps, pos);
        k = val(pos, sizeof pos);
        rc = mdb_get(txn, s->txs, &k, &v);
        if (rc == MDB_NOTFOUND) return BCKM_ERR_CORRUPT;
        if (rc != MDB_SUCCESS) return map_err(rc);
        if (bckm_envelope_encode_to(&l->envs[i], enc, sizeof enc, &enc_len) != BCKM_OK)
            return BCKM_ERR_CORRUPT;
        if (v.mv_size != 1 + enc_len || memcmp((const uint8_t *)v.mv_data + 1, enc, enc_len) != 0)
            return BCKM_ERR_CORRUPT;
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

/* BCKM_OK when database dbi holds exactly want entries, else CORRUPT (or
 * LMDB's error). */
static int count_is(MDB_txn *txn, MDB_dbi dbi, uint64_t want) {
    MDB_stat st;
    int rc = mdb_stat(txn, dbi, &st);
    if (rc != MDB_SUCCESS) return map_err(rc);
    return st.ms_entries == want ? BCKM_OK : BCKM_ERR_CORRUPT;
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
        (rc = mdb_cursor_open(txn, s->by_code, &cc)) != MDB_SUCCESS) {
        ret = map_err(rc);
        goto out;
    }
    rc = mdb_cursor_get(cb, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
        uint8_t hash[BCKM_HASH_BYTES];
        uint32_t n = 0;
        /* Heights contiguous from 1: the i-th key must be i. */
        if (k.mv_size != 8 || bckm_get_u64(k.mv_data) != l->height + 1u) {
            ret = BCKM_ERR_CORRUPT;
            goto out;
        }
        rc = mdb_get(txn, s->certs, &k, &cv);
        if (rc == MDB_NOTFOUND) {
            ret = BCKM_ERR_CORRUPT;
            goto out;
        }
        if (rc != MDB_SUCCESS) {
            ret = map_err(rc);
            goto out;
        }
        if (bckm_ledger_check_next(l, v.mv_data, v.mv_size, cv.mv_data, cv.mv_size, &n, hash) !=
            BCKM_OK) {
            ret = BCKM_ERR_CORRUPT;
            goto out;
        }
        {
            MDB_val sv;
            rc = mdb_get(txn, s->status, &k, &sv);
            if (rc == MDB_NOTFOUND || (rc == MDB_SUCCESS && sv.mv_size != n)) {
                ret = BCKM_ERR_CORRUPT;
                goto out;
            }
            if (rc != MDB_SUCCESS) {
                ret = map_err(rc);
                goto out;
            }
        }
        if (!l->opaque) {
            ret = verify_block_txs(l, txn, cn, cc, l->height + 1u, n);
            if (ret != BCKM_OK) goto out;
            total_txs += n;
        }
        l->height++;
        memcpy(l->tip_hash, hash, BCKM_HASH_BYTES);
        rc = mdb_cursor_get(cb, &k, &v, MDB_NEXT);
    }
    if (rc != MDB_NOTFOUND) {
        ret = map_err(rc);
        goto out;
    }
    /* Every expected entry exists; equal counts mean there is nothing more. */
    if ((ret = count_is(txn, s->certs, l->height)) != BCKM_OK) goto out;
    if ((ret = count_is(txn, s->status, l->height)) != BCKM_OK) goto out;
    /* At most the one state record, of a stored block. */
    if ((rc = mdb_stat(txn, s->appstate, &st)) != MDB_SUCCESS) {
        ret = map_err(rc);
        goto out;
    }
    if (st.ms_entries > 0) {
        MDB_val sk = val(STATE_KEY, sizeof STATE_KEY - 1u), sv;
        rc = mdb_get(txn, s->appstate, &sk, &sv);
        if (st.ms_entries != 1 || rc != MDB_SUCCESS || sv.mv_size <= 8 ||
            sv.mv_size - 8 > BCKM_LEDGER_STATE_MAX_BYTES || bckm_get_u64(sv.mv_data) > l->height) {
            ret = rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? BCKM_ERR_CORRUPT : map_err(rc);
            goto out;
        }
    }
    if ((ret = count_is(txn, s->txs, total_txs)) != BCKM_OK) goto out;
    if ((ret = count_is(txn, s->by_node, total_txs)) != BCKM_OK) goto out;
    if ((ret = count_is(txn, s->by_code, total_txs)) != BCKM_OK) goto out;

out:
    if (cb != NULL) mdb_cursor_close(cb);
    if (cn != NULL) mdb_cursor_close(cn);
    if (cc != NULL) mdb_cursor_close(cc);
    mdb_txn_abort(txn);
    return ret;
}

/* ---- probe in a child process ------------------------------------------ */

#define PROBE_PREFIX ".probe-"
/* The child exits with PROBE_EXIT_BASE - err (100..114), so that no other
 * exit status (a sanitizer's 1, a handler's) can pass for a result. */
#define PROBE_EXIT_BASE 100

/* Removes dir/name and the LMDB files in it (a probe directory). */
static void rm_probe_dir(const char *path) {
    char p[4096];
    if (snprintf(p, sizeof p, "%s/data.mdb", path) < (int)sizeof p) unlink(p);
    if (snprintf(p, sizeof p, "%s/lock.mdb", path) < (int)sizeof p) unlink(p);
    rmdir(path);
}

/* Probe directories left by a process that died while probing. */
static void rm_stale_probes(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[4096];
    if (d == NULL) return;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, PROBE_PREFIX, sizeof PROBE_PREFIX - 1u) != 0) continue;
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p) rm_probe_dir(p);
    }
    closedir(d);
}

static int lm_env_open(struct lm *s, const char *dir, uint64_t map_bytes, unsigned flags) {
    int rc;
    if ((rc = mdb_env_create(&s->env)) != MDB_SUCCESS) {
        s->env = NULL;
        return map_err(rc);
    }
    if ((rc = mdb_env_set_maxdbs(s->env, 8)) != MDB_SUCCESS ||
        (rc = mdb_env_set_mapsize(
             s->env, (size_t)(map_bytes != 0 ? map_bytes : BCKM_LEDGER_DEFAULT_MAP_BYTES))) !=
            MDB_SUCCESS)
        return map_err(rc);
    /* flags 0: every commit is synced to disk before it returns. */
    if ((rc = mdb_env_open(s->env, dir, flags, 0600)) != MDB_SUCCESS) return map_err(rc);
    return BCKM_OK;
}

/* Opens the six databases of an existing store in a read-only environment.
 * *empty is set when the store has none yet (a crash before the first
 * commit of lm_init_dbs). */
static int lm_open_dbs_ro(bckm_ledger *l, int *empty) {
    struct lm *s = l->impl;
    static const char *const names[8] = { "meta",     "blocks", "certs",   "status",
                                          "appstate", "txs",    "by_node", "by_code" };
    MDB_dbi *dbis[8] = { &s->meta,     &s->blocks, &s->certs,   &s->status,
                         &s->appstate, &s->txs,    &s->by_node, &s->by_code };
    MDB_txn *txn = NULL;
    int rc;

    *empty = 0;
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) return map_err(rc);
    for (int i = 0; i < 8; i++) {
        unsigned fl = i >= 6 ? (MDB_DUPSORT | MDB_DUPFIXED) : 0u;
        rc = mdb_dbi_open(txn, names[i], fl, dbis[i]);
        if (rc == MDB_NOTFOUND && i == 0) {
            *empty = 1;
            mdb_txn_abort(txn);
            return BCKM_OK;
        }
        if (rc != MDB_SUCCESS) {
            mdb_txn_abort(txn);
            return rc == MDB_NOTFOUND ? BCKM_ERR_CORRUPT : map_err(rc);
        }
    }
    /* The same format rule as lm_init_dbs: a marker, and the right one,
     * on any store that has blocks. */
    {
        MDB_val k = val(FORMAT_KEY, sizeof FORMAT_KEY - 1u), v;
        MDB_stat st;
        rc = mdb_get(txn, s->meta, &k, &v);
        if (rc == MDB_NOTFOUND) {
            if ((rc = mdb_stat(txn, s->blocks, &st)) != MDB_SUCCESS) {
                mdb_txn_abort(txn);
                return map_err(rc);
            }
            if (st.ms_entries != 0) {
                mdb_txn_abort(txn);
                return BCKM_ERR_CORRUPT;
            }
        } else if (rc != MDB_SUCCESS) {
            mdb_txn_abort(txn);
            return map_err(rc);
        } else if (!format_is(l, &v)) {
            mdb_txn_abort(txn);
            return BCKM_ERR_CORRUPT;
        }
    }
    /* Committing a read-only transaction keeps the handles for later ones. */
    return map_err(mdb_txn_commit(txn));
}

/* A ledger handle with an LMDB backend but no environment yet. */
static int lm_handle(const struct bckm_ledger_config *cfg, bckm_ledger **out) {
    bckm_ledger *l = NULL;
    struct lm *s;
    int ret = bckm_ledger_handle_new(cfg, &l);
    if (ret != BCKM_OK) return ret;
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        bckm_ledger_handle_free(l);
        return BCKM_ERR_NOMEM;
    }
    l->impl = s;
    l->ops = &lm_ops;
    *out = l;
    return BCKM_OK;
}

/* Copies blocks 1..height of the verified store `from` into the empty store
 * `to` through the ordinary append path (lm_put), so every LMDB structure of
 * `to` is built afresh and only the ledger's own, verified content crosses. */
static int rebuild(bckm_ledger *from, bckm_ledger *to, uint64_t height) {
    struct lm *so = from->impl;
    struct bckm_block_header h;
    MDB_txn *txn = NULL;
    uint8_t hkey[8];
    MDB_val k, v, cv, sv, stv;
    MDB_val stk = val(STATE_KEY, sizeof STATE_KEY - 1u);
    uint64_t state_height = 0;
    int has_state = 0;
    int rc, ret = BCKM_OK;

    if ((rc = mdb_txn_begin(so->env, NULL, MDB_RDONLY, &txn)) != MDB_SUCCESS) return map_err(rc);
    /* The state record (verified with the store) goes with its block. */
    if (mdb_get(txn, so->appstate, &stk, &stv) == MDB_SUCCESS && stv.mv_size > 8)
        state_height = bckm_get_u64(stv.mv_data), has_state = 1;
    for (uint64_t ht = 1; ht <= height && ret == BCKM_OK; ht++) {
        struct ledger_put p;
        bckm_put_u64(hkey, ht);
        k = val(hkey, sizeof hkey);
        if (mdb_get(txn, so->blocks, &k, &v) != MDB_SUCCESS ||
            mdb_get(txn, so->certs, &k, &cv) != MDB_SUCCESS ||
            mdb_get(txn, so->status, &k, &sv) != MDB_SUCCESS) {
            ret = BCKM_ERR_CORRUPT;
            break;
        }
        if (v.mv_size < BCKM_BLOCK_HEADER_BYTES ||
            bckm_block_header_decode(v.mv_data, BCKM_BLOCK_HEADER_BYTES, &h) != BCKM_OK ||
            sv.mv_size != h.n_txs) {
            ret = BCKM_ERR_CORRUPT;
            break;
        }
        if (!from->opaque && bckm_block_decode(v.mv_data, v.mv_size, &h, from->envs,
                                               BCKM_BLOCK_MAX_TXS) != BCKM_OK) {
            ret = BCKM_ERR_CORRUPT;
            break;
        }
        p.height = ht;
        p.block = v.mv_data;
        p.block_len = v.mv_size;
        p.cert = cv.mv_data;
        p.cert_len = cv.mv_size;
        p.envs = from->opaque ? NULL : from->envs;
        p.n = from->opaque ? 0 : h.n_txs;
        p.n_txs = h.n_txs;
        p.status = sv.mv_data;
        p.state = has_state && ht == state_height ? (const uint8_t *)stv.mv_data + 8 : NULL;
        p.state_len = ht == state_height ? stv.mv_size - 8 : 0;
        ret = lm_put(to, &p);
    }
    /* A state saved before the first block has no block to go with. */
    if (ret == BCKM_OK && has_state && state_height == 0)
        ret = lm_put_state(to, 0, (const uint8_t *)stv.mv_data + 8, stv.mv_size - 8);
    mdb_txn_abort(txn);
    if (ret == BCKM_OK) ret = map_err(mdb_env_sync(((struct lm *)to->impl)->env, 1));
    return ret;
}

/* What the child runs; returns a bckm_err. Never writes to the original:
 *   1. open the original read-only and verify it (height H);
 *   2. rebuild it into the private directory `copy` through the ordinary
 *      append path: the new file's B-trees, free list and database records
 *      are all made afresh by LMDB, so no damage in LMDB's own pages of the
 *      original (which our checks cannot see, and which can crash a later
 *      write) is carried over;
 *   3. open the rebuilt store and verify it to the same height H.
 * The parent then puts the rebuilt file in place of the original. */
static int probe_body(const char *dir, const char *copy, const struct bckm_ledger_config *cfg) {
    bckm_ledger *lo = NULL, *lc = NULL;
    uint64_t height0 = 0;
    int ret, empty = 0;

    if ((ret = lm_handle(cfg, &lo)) != BCKM_OK) return ret;
    if ((ret = lm_handle(cfg, &lc)) != BCKM_OK) {
        bckm_ledger_close(lo);
        return ret;
    }
    ret = lm_env_open(lo->impl, dir, cfg->map_bytes, MDB_RDONLY);
    if (ret == BCKM_OK) ret = lm_open_dbs_ro(lo, &empty);
    if (ret == BCKM_OK && !empty) ret = lm_verify(lo);
    height0 = lo->height;
    if (ret == BCKM_OK) ret = lm_env_open(lc->impl, copy, cfg->map_bytes, MDB_NOSYNC);
    if (ret == BCKM_OK) ret = lm_init_dbs(lc);
    if (ret == BCKM_OK) ret = rebuild(lo, lc, height0);
    bckm_ledger_close(lo);
    bckm_ledger_close(lc);
    lc = NULL;
    if (ret != BCKM_OK) return ret;

    if ((ret = lm_handle(cfg, &lc)) != BCKM_OK) return ret;
    ret = lm_env_open(lc->impl, copy, cfg->map_bytes, 0);
    if (ret == BCKM_OK) ret = lm_init_dbs(lc);
    if (ret == BCKM_OK) ret = lm_verify(lc);
    if (ret == BCKM_OK && lc->height != height0) ret = BCKM_ERR_CORRUPT;
    bckm_ledger_close(lc);
    return ret;
}

/* Syncs a file or directory by path. */
static int sync_path(const char *path, int dir) {
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    int ok;
    if (fd < 0) return BCKM_ERR_IO;
    ok = fsync(fd) == 0;
    close(fd);
    return ok ? BCKM_OK : BCKM_ERR_IO;
}

/* Puts the rebuilt store in place of the original: synced first, then one
 * rename, so a crash leaves either file, both complete and verified. The
 * old lock file goes too: it describes the old file, and LMDB recreates it. */
static int swap_in(const char *dir, const char *copy) {
    char from[4096], to[4096], lock[4096];
    if (snprintf(from, sizeof from, "%s/data.mdb", copy) >= (int)sizeof from ||
        snprintf(to, sizeof to, "%s/data.mdb", dir) >= (int)sizeof to ||
        snprintf(lock, sizeof lock, "%s/lock.mdb", dir) >= (int)sizeof lock)
        return BCKM_ERR_ARG;
    if (sync_path(from, 0) != BCKM_OK) return BCKM_ERR_IO;
    if (unlink(lock) != 0 && errno != ENOENT) return BCKM_ERR_IO;
    if (rename(from, to) != 0) return BCKM_ERR_IO;
    return sync_path(dir, 1);
}

/* Runs probe_body in a child on an existing store. */
static int lm_probe(const char *dir, const struct bckm_ledger_config *cfg) {
    char path[4096], copy[4096];
    struct stat st;
    pid_t pid;
    int status = 0, ret;

    if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int)sizeof path) return BCKM_ERR_ARG;
    if (stat(path, &st) != 0) return errno == ENOENT ? BCKM_OK : BCKM_ERR_IO; /* nothing yet */
    /* No bytes at all: a process died after LMDB created the file and
     * before it wrote the meta pages. Nothing was ever committed to it (a
     * commit needs them), and a read-write open initialises such a file as
     * LMDB does a new one; a read-only probe cannot, so it is skipped. */
    if (S_ISREG(st.st_mode) && st.st_size == 0) return BCKM_OK;
    rm_stale_probes(dir);
    if (snprintf(copy, sizeof copy, "%s/" PROBE_PREFIX "XXXXXX", dir) >= (int)sizeof copy)
        return BCKM_ERR_ARG;
    if (mkdtemp(copy) == NULL) return BCKM_ERR_IO;
    fflush(NULL); /* nothing buffered is written twice */
    pid = fork();
    if (pid < 0) {
        rm_probe_dir(copy);
        return BCKM_ERR_IO;
    }
    if (pid == 0) {
        static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
        /* Dies with its parent, so no probe outlives the open it serves. */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1) _exit(PROBE_EXIT_BASE - BCKM_ERR_IO);
        /* A crash must show as a signal, not go through handlers the
         * parent installed (a sanitizer's, a test harness's). */
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) (void)signal(fatal[i], SIG_DFL);
        _exit(PROBE_EXIT_BASE - probe_body(dir, copy, cfg));
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            rm_probe_dir(copy);
            return BCKM_ERR_IO;
        }
    }
    /* Killed by a signal (liblmdb crashed on the file) or ended in any way
     * other than our own exit codes: the file is not to be trusted. */
    if (!WIFEXITED(status))
        ret = BCKM_ERR_CORRUPT;
    else {
        ret = PROBE_EXIT_BASE - WEXITSTATUS(status);
        if (ret < BCKM_ERR_CORRUPT || ret > BCKM_OK) ret = BCKM_ERR_CORRUPT;
    }
    if (ret == BCKM_OK) ret = swap_in(dir, copy);
    rm_probe_dir(copy);
    return ret;
}

int bckm_ledger_open_lmdb(const char *dir, const struct bckm_ledger_config *cfg,
                          bckm_ledger **out) {
    bckm_ledger *l = NULL;
    struct lm *s = NULL;
    int ret, dead = 0;

    if (dir == NULL || out == NULL || cfg == NULL) return BCKM_ERR_ARG;
    ret = bckm_ledger_handle_new(cfg, &l);
    if (ret != BCKM_OK) return ret;
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        ret = BCKM_ERR_NOMEM;
        goto fail;
    }
    l->impl = s;
    l->ops = &lm_ops;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        ret = BCKM_ERR_IO;
        goto fail;
    }
    if (!(cfg->flags & BCKM_LEDGER_TRUST_FILE)) {
        ret = lm_probe(dir, cfg);
        if (ret != BCKM_OK) goto fail;
    }
    ret = lm_env_open(s, dir, cfg->map_bytes, 0);
    if (ret != BCKM_OK) goto fail;
    /* Reader slots left by a process that died are freed. */
    (void)mdb_reader_check(s->env, &dead);
    ret = lm_init_dbs(l);
    if (ret != BCKM_OK) goto fail;
    ret = lm_verify(l);
    if (ret != BCKM_OK) goto fail;
    *out = l;
    return BCKM_OK;

fail:
    bckm_ledger_close(l);
    return ret;
}
