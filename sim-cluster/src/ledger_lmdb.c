/*
 * The LMDB backend of the BP's ledger (sim/ledger.h). One environment per
 * BP, one unnamed database in it:
 *   key "bckm-sim-ledger" -> format version (4) | BP count (4), written when
 *                            the store is created
 *   key height (8, big-endian) -> the entry's stored form (ledger.c)
 * LMDB orders keys bytewise, so heights come back in order; the meta key
 * (15 bytes, first byte 0x62) sorts after every height a run can reach.
 *
 * Each append is one write transaction, committed (and synced) before the
 * append returns: LMDB's copy-on-write commit leaves either the old tree or
 * the new one, so the store holds a prefix of the appended entries.
 */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bckm/common.h"
#include "ledger_store.h"

#define META_KEY "bckm-sim-ledger"
#define META_VERSION 1u
/* Address space only (the file grows as written): room for any run. */
#define MAP_BYTES ((size_t)1 << 30)

struct bckm_sim_store {
    MDB_env *env;
    MDB_dbi dbi;
};

static MDB_val mval(const void *p, size_t n) {
    MDB_val v;
    v.mv_data = (void *)(uintptr_t)p;
    v.mv_size = n;
    return v;
}

static int map_rc(int rc) {
    if (rc == MDB_SUCCESS) return BCKM_OK;
    if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL || rc == ENOMEM) return BCKM_ERR_NOMEM;
    if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH ||
        rc == MDB_INCOMPATIBLE || rc == MDB_BAD_VALSIZE)
        return BCKM_ERR_CORRUPT;
    return BCKM_ERR_IO;
}

int bckm_sim_store_put(struct bckm_sim_store *s, uint64_t h, const uint8_t *buf, size_t len) {
    uint8_t kb[8];
    bckm_put_u64(kb, h);
    MDB_val k = mval(kb, 8), v = mval(buf, len);
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != MDB_SUCCESS) return map_rc(rc);
    rc = mdb_put(txn, s->dbi, &k, &v, MDB_NOOVERWRITE);
    if (rc != MDB_SUCCESS) {
        mdb_txn_abort(txn);
        return rc == MDB_KEYEXIST ? BCKM_ERR_CORRUPT : map_rc(rc);
    }
    return map_rc(mdb_txn_commit(txn));
}

void bckm_sim_store_close(struct bckm_sim_store *s) {
    if (s == NULL) return;
    mdb_env_close(s->env);
    free(s);
}

static int say(char *err, size_t cap, int ret, const char *dir, const char *what) {
    if (err != NULL && cap > 0) snprintf(err, cap, "ledger store %s: %s", dir, what);
    return ret;
}

/* LMDB reads its pages through a mapping: a data file shorter than the
 * pages its meta page claims would fault on access, so it is refused here. */
static int check_size(struct bckm_sim_store *s, const char *dir) {
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(s->env, &info) != MDB_SUCCESS || mdb_env_stat(s->env, &st) != MDB_SUCCESS)
        return BCKM_ERR_IO;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/data.mdb", dir) >= sizeof path) return BCKM_ERR_ARG;
    struct stat fs;
    if (stat(path, &fs) != 0) return BCKM_ERR_IO;
    uint64_t need = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    return (uint64_t)fs.st_size < need ? BCKM_ERR_CORRUPT : BCKM_OK;
}

/* Reads every entry back in height order, verifying each against the one
 * before it, into l. */
static int load(bckm_sim_ledger *l, MDB_txn *txn, MDB_dbi dbi, uint32_t nbps, int *has_meta,
                char *why, size_t whycap) {
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != MDB_SUCCESS) return map_rc(rc);
    MDB_val k, v;
    uint8_t prev[32] = { 0 };
    int ret = BCKM_OK;
    *has_meta = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size == sizeof META_KEY - 1 && memcmp(k.mv_data, META_KEY, k.mv_size) == 0) {
            if (v.mv_size != 8 || bckm_get_u32(v.mv_data) != META_VERSION ||
                bckm_get_u32((const uint8_t *)v.mv_data + 4) != nbps) {
                snprintf(why, whycap, "format version or BP count differs from this cluster's");
                ret = BCKM_ERR_CORRUPT;
                break;
            }
            *has_meta = 1;
            continue;
        }
        uint64_t h = l->len + 1;
        if (k.mv_size != 8 || bckm_get_u64(k.mv_data) != h) {
            snprintf(why, whycap, "unexpected key where height %llu should be", (unsigned long long)h);
            ret = BCKM_ERR_CORRUPT;
            break;
        }
        bckm_sim_entry e;
        ret = bckm_sim_entry_decode(v.mv_data, v.mv_size, h, prev, nbps, &e);
        if (ret != BCKM_OK) {
            snprintf(why, whycap, "entry at height %llu fails verification", (unsigned long long)h);
            break;
        }
        memcpy(prev, e.digest, 32);
        if ((ret = bckm_sim_ledger_push_loaded(l, &e)) != BCKM_OK) {
            bckm_sim_block_free(e.block);
            free(e.results);
            snprintf(why, whycap, "out of memory");
            break;
        }
    }
    if (ret == BCKM_OK && rc != MDB_NOTFOUND) {
        ret = map_rc(rc);
        snprintf(why, whycap, "%s", mdb_strerror(rc));
    }
    mdb_cursor_close(cur);
    return ret;
}

int bckm_sim_ledger_open(bckm_sim_ledger *l, const char *dir, uint32_t nbps, int fresh,
                         char *err, size_t errcap) {
    if (l == NULL || dir == NULL || nbps == 0 || nbps > BCKM_SIM_MAX_BPS || l->len != 0 || l->store != NULL)
        return say(err, errcap, BCKM_ERR_ARG, dir ? dir : "(null)", "bad arguments");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return say(err, errcap, BCKM_ERR_IO, dir, strerror(errno));
    struct bckm_sim_store *s = calloc(1, sizeof *s);
    if (s == NULL) return say(err, errcap, BCKM_ERR_NOMEM, dir, "out of memory");
    char why[160] = "";
    int ret;
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&s->env);
    if (rc != MDB_SUCCESS) { free(s); return say(err, errcap, map_rc(rc), dir, mdb_strerror(rc)); }
    if ((rc = mdb_env_set_mapsize(s->env, MAP_BYTES)) != MDB_SUCCESS ||
        (rc = mdb_env_open(s->env, dir, 0, 0600)) != MDB_SUCCESS) {
        ret = map_rc(rc);
        snprintf(why, sizeof why, "%s", mdb_strerror(rc));
        goto fail;
    }
    if ((ret = check_size(s, dir)) != BCKM_OK) {
        snprintf(why, sizeof why, "data file shorter than its pages (truncated)");
        goto fail;
    }
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != MDB_SUCCESS ||
        (rc = mdb_dbi_open(txn, NULL, 0, &s->dbi)) != MDB_SUCCESS) {
        ret = map_rc(rc);
        snprintf(why, sizeof why, "%s", mdb_strerror(rc));
        goto fail;
    }
    int has_meta;
    if ((ret = load(l, txn, s->dbi, nbps, &has_meta, why, sizeof why)) != BCKM_OK) goto fail;
    if (fresh && l->len != 0) {
        ret = BCKM_ERR_STATE;
        snprintf(why, sizeof why, "holds %llu entries of another run (use an empty directory)",
                 (unsigned long long)l->len);
        goto fail;
    }
    if (!has_meta) {
        /* Only a store this code just created lacks it; one that lost it
         * (e.g. a data file truncated to nothing, which LMDB re-creates)
         * must not pass for an empty ledger. */
        if (!fresh || l->len != 0) {
            ret = BCKM_ERR_CORRUPT;
            snprintf(why, sizeof why, "no ledger header (damaged or not a ledger store)");
            goto fail;
        }
        uint8_t mv[8];
        bckm_put_u32(mv, META_VERSION);
        bckm_put_u32(mv + 4, nbps);
        MDB_val k = mval(META_KEY, sizeof META_KEY - 1), v = mval(mv, 8);
        if ((rc = mdb_put(txn, s->dbi, &k, &v, 0)) != MDB_SUCCESS) {
            ret = map_rc(rc);
            snprintf(why, sizeof why, "%s", mdb_strerror(rc));
            goto fail;
        }
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != MDB_SUCCESS) {
        ret = map_rc(rc);
        snprintf(why, sizeof why, "%s", mdb_strerror(rc));
        goto fail;
    }
    l->store = s;
    return BCKM_OK;
fail:
    if (txn != NULL) mdb_txn_abort(txn);
    mdb_env_close(s->env);
    free(s);
    bckm_sim_ledger_free(l);
    return say(err, errcap, ret, dir, why);
}
