/*
 * The cluster's ledger backends (sim/ledger.h): the stored form of an entry,
 * the LMDB store read back after a crash, damaged stores refused at open,
 * and the same run with either backend.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bckm/common.h"
#include "check.h"
#include "sim/cluster.h"
#include "sim/ledger.h"

/* ---- helpers -------------------------------------------------------------- */

static void rm_tree(const char *path) {
    DIR *d = opendir(path);
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            rm_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static char *temp_dir(char buf[64]) {
    strcpy(buf, "/tmp/bckm-sim-ledger-XXXXXX");
    return mkdtemp(buf);
}

/* A block at height h after prev with ntx distinct txs. */
static bckm_sim_block *make_block(uint64_t h, const uint8_t prev[32], uint32_t ntx) {
    bckm_sim_block *b = calloc(1, sizeof *b);
    if (b == NULL) exit(1);
    b->height = h;
    memcpy(b->prev, prev, 32);
    b->proposer = (uint32_t)(h % 4);
    for (uint32_t k = 0; k < ntx; k++) {
        uint8_t tx[40];
        memset(tx, (int)(k + 1), sizeof tx);
        bckm_put_u64(tx, h);
        if (bckm_sim_block_add_tx(b, tx, 10 + k) != BCKM_OK) exit(1);
    }
    return b;
}

static void make_cert(bckm_sim_cert *c, uint64_t h, uint32_t count) {
    memset(c, 0, sizeof *c);
    c->view = h / 3;
    c->count = count;
    for (uint32_t i = 0; i < count; i++) {
        c->signer[i] = (i * 3 + 1) % 4;
        memset(c->sig[i], (int)(0x40 + i + h), BCKM_SIM_SIG_BYTES);
    }
}

/* Appends heights 1..n to l (ntx txs each); the state hash of height h is
 * 32 bytes of (0x80 + h). */
static int fill(bckm_sim_ledger *l, uint64_t n) {
    uint8_t prev[32] = { 0 };
    for (uint64_t h = 1; h <= n; h++) {
        bckm_sim_block *b = make_block(h, prev, (uint32_t)(h % 3));
        bckm_sim_cert cert;
        make_cert(&cert, h, 3);
        uint8_t digest[32], state[32];
        bckm_sim_block_digest(b, digest);
        memset(state, (int)(0x80 + h), 32);
        uint8_t *res = calloc(b->ntx ? b->ntx : 1, 1);
        if (res == NULL) exit(1);
        for (uint32_t k = 0; k < b->ntx; k++) res[k] = (uint8_t)(k * 7);
        int e = bckm_sim_ledger_append(l, b, &cert, digest, state, res, 1000 * h);
        if (e != BCKM_OK) return e;
        memcpy(prev, digest, 32);
    }
    return BCKM_OK;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static unsigned char *read_all(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)*len + 1);
    if (buf == NULL || fread(buf, 1, (size_t)*len, f) != (size_t)*len) { free(buf); fclose(f); return NULL; }
    fclose(f);
    return buf;
}

static int write_all(const char *path, const unsigned char *buf, long len) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) return -1;
    int ok = fwrite(buf, 1, (size_t)len, f) == (size_t)len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* ---- the stored form ------------------------------------------------------ */

static void test_entry_round_trip(void) {
    uint8_t prev[32];
    memset(prev, 0x11, sizeof prev);
    bckm_sim_entry e;
    e.block = make_block(7, prev, 3);
    make_cert(&e.cert, 7, 3);
    bckm_sim_block_digest(e.block, e.digest);
    memset(e.state_hash, 0x5A, 32);
    uint8_t results[3] = { 0, 3, 254 };
    e.results = results;
    e.commit_us = 0x0102030405060708ull;
    size_t n = bckm_sim_entry_encoded_len(&e);
    unsigned char *buf = malloc(n);
    REQUIRE(buf != NULL);
    bckm_sim_entry_encode(&e, buf);
    /* Big-endian height first. */
    CHECK_EQ(buf[7], 7);
    CHECK_EQ(buf[0], 0);
    unsigned char *exact = check_exact_copy(buf, n);
    bckm_sim_entry d;
    memset(&d, 0, sizeof d);
    REQUIRE(bckm_sim_entry_decode(exact, n, 7, prev, 4, &d) == BCKM_OK);
    CHECK_EQ(d.block->height, 7);
    CHECK_MEM(d.block->prev, prev, 32);
    CHECK_EQ(d.block->proposer, e.block->proposer);
    CHECK_EQ(d.block->ntx, 3);
    CHECK_EQ(d.block->data_len, e.block->data_len);
    CHECK_MEM(d.block->data, e.block->data, e.block->data_len);
    CHECK_EQ(d.cert.view, e.cert.view);
    CHECK_EQ(d.cert.count, 3);
    for (uint32_t i = 0; i < 3; i++) {
        CHECK_EQ(d.cert.signer[i], e.cert.signer[i]);
        CHECK_MEM(d.cert.sig[i], e.cert.sig[i], BCKM_SIM_SIG_BYTES);
    }
    CHECK_MEM(d.digest, e.digest, 32);
    CHECK_MEM(d.state_hash, e.state_hash, 32);
    CHECK_MEM(d.results, results, 3);
    CHECK_EQ(d.commit_us, e.commit_us);
    /* Re-encoding gives the same bytes. */
    unsigned char *again = malloc(n);
    REQUIRE(again != NULL);
    REQUIRE(bckm_sim_entry_encoded_len(&d) == n);
    bckm_sim_entry_encode(&d, again);
    CHECK_MEM(again, buf, n);
    bckm_sim_block_free(d.block);
    free(d.results);
    /* Wrong place in the chain, wrong cluster size, every truncation and
     * every single-bit flip are refused. */
    uint8_t other[32];
    memset(other, 0x12, sizeof other);
    CHECK_EQ(bckm_sim_entry_decode(exact, n, 8, prev, 4, &d), BCKM_ERR_CORRUPT);
    CHECK_EQ(bckm_sim_entry_decode(exact, n, 7, other, 4, &d), BCKM_ERR_CORRUPT);
    CHECK_EQ(bckm_sim_entry_decode(exact, n, 7, prev, 3, &d), BCKM_ERR_CORRUPT);
    int bad_ok = 0;
    for (size_t cut = 0; cut < n; cut++) {
        unsigned char *t = check_exact_copy(buf, cut);
        if (bckm_sim_entry_decode(t, cut, 7, prev, 4, &d) != BCKM_ERR_CORRUPT) bad_ok++;
        free(t);
    }
    CHECK_EQ(bad_ok, 0);
    for (size_t i = 0; i < n; i++) {
        exact[i] ^= 0x01;
        if (bckm_sim_entry_decode(exact, n, 7, prev, 4, &d) != BCKM_ERR_CORRUPT) bad_ok++;
        exact[i] ^= 0x01;
    }
    CHECK_EQ(bad_ok, 0);
    free(again);
    free(exact);
    free(buf);
    bckm_sim_block_free(e.block);
}

/* An entry whose check is intact but whose certificate names a signer
 * outside the cluster, or the same signer twice, is refused too. */
static void test_entry_cert_range(void) {
    uint8_t prev[32] = { 0 };
    bckm_sim_entry e;
    e.block = make_block(1, prev, 1);
    make_cert(&e.cert, 1, 3);
    bckm_sim_block_digest(e.block, e.digest);
    memset(e.state_hash, 1, 32);
    uint8_t res[1] = { 0 };
    e.results = res;
    e.commit_us = 5;
    unsigned char buf[1024];
    bckm_sim_entry d;
    REQUIRE(bckm_sim_entry_encoded_len(&e) <= sizeof buf);
    bckm_sim_entry_encode(&e, buf);
    CHECK_EQ(bckm_sim_entry_decode(buf, bckm_sim_entry_encoded_len(&e), 1, prev, 4, &d), BCKM_OK);
    bckm_sim_block_free(d.block);
    free(d.results);
    e.cert.signer[1] = 4;
    bckm_sim_entry_encode(&e, buf);
    CHECK_EQ(bckm_sim_entry_decode(buf, bckm_sim_entry_encoded_len(&e), 1, prev, 4, &d), BCKM_ERR_CORRUPT);
    e.cert.signer[1] = e.cert.signer[0];
    bckm_sim_entry_encode(&e, buf);
    CHECK_EQ(bckm_sim_entry_decode(buf, bckm_sim_entry_encoded_len(&e), 1, prev, 4, &d), BCKM_ERR_CORRUPT);
    e.cert.signer[1] = 2;
    e.cert.count = 5;
    bckm_sim_entry_encode(&e, buf);
    CHECK_EQ(bckm_sim_entry_decode(buf, bckm_sim_entry_encoded_len(&e), 1, prev, 4, &d), BCKM_ERR_CORRUPT);
    bckm_sim_block_free(e.block);
}

/* ---- the LMDB store ------------------------------------------------------- */

static void test_store_reopen(void) {
    char tmp[64], dir[128], err[256];
    REQUIRE(temp_dir(tmp) != NULL);
    snprintf(dir, sizeof dir, "%s/bp-0", tmp);
    bckm_sim_ledger l;
    bckm_sim_ledger_init(&l);
    REQUIRE(bckm_sim_ledger_open(&l, dir, 4, 1, err, sizeof err) == BCKM_OK);
    CHECK_EQ(fill(&l, 12), BCKM_OK);
    /* A height out of order is refused and not stored. */
    uint8_t z[32] = { 0 };
    bckm_sim_cert cert;
    make_cert(&cert, 20, 3);
    CHECK_EQ(bckm_sim_ledger_append(&l, make_block(20, z, 1), &cert, z, z, calloc(1, 1), 1), BCKM_ERR_STATE);
    uint8_t digests[12][32];
    for (uint64_t h = 1; h <= 12; h++) memcpy(digests[h - 1], bckm_sim_ledger_get(&l, h)->digest, 32);
    bckm_sim_ledger_close(&l);
    CHECK_EQ(bckm_sim_ledger_height(&l), 0);
    CHECK(bckm_sim_ledger_get(&l, 1) == NULL);
    /* Read back: everything that was appended, in order. */
    REQUIRE(bckm_sim_ledger_open(&l, dir, 4, 0, err, sizeof err) == BCKM_OK);
    CHECK_EQ(bckm_sim_ledger_height(&l), 12);
    for (uint64_t h = 1; h <= 12 && h <= bckm_sim_ledger_height(&l); h++) {
        const bckm_sim_entry *e = bckm_sim_ledger_get(&l, h);
        CHECK_MEM(e->digest, digests[h - 1], 32);
        CHECK_EQ(e->commit_us, 1000 * h);
        CHECK_EQ(e->state_hash[0], 0x80 + h);
        CHECK_EQ(e->block->ntx, h % 3);
    }
    /* Appending continues the chain after a reopen. */
    const bckm_sim_entry *top = bckm_sim_ledger_get(&l, 12);
    bckm_sim_block *b = make_block(13, top->digest, 2);
    uint8_t d13[32];
    bckm_sim_block_digest(b, d13);
    make_cert(&cert, 13, 3);
    CHECK_EQ(bckm_sim_ledger_append(&l, b, &cert, d13, d13, calloc(2, 1), 13000), BCKM_OK);
    bckm_sim_ledger_free(&l);
    REQUIRE(bckm_sim_ledger_open(&l, dir, 4, 0, err, sizeof err) == BCKM_OK);
    CHECK_EQ(bckm_sim_ledger_height(&l), 13);
    bckm_sim_ledger_free(&l);
    /* A new run refuses it; a store for another cluster size is refused. */
    CHECK_EQ(bckm_sim_ledger_open(&l, dir, 4, 1, err, sizeof err), BCKM_ERR_STATE);
    CHECK(strstr(err, "another run") != NULL);
    CHECK_EQ(bckm_sim_ledger_open(&l, dir, 5, 0, err, sizeof err), BCKM_ERR_CORRUPT);
    CHECK_EQ(bckm_sim_ledger_height(&l), 0);
    rm_tree(tmp);
}

/* A byte flipped inside a stored entry, a truncated data file, and one
 * truncated to nothing are all reported at open. */
static void test_store_damaged(void) {
    char tmp[64], dir[128], data[160], err[256];
    REQUIRE(temp_dir(tmp) != NULL);
    snprintf(dir, sizeof dir, "%s/bp-0", tmp);
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    bckm_sim_ledger l;
    bckm_sim_ledger_init(&l);
    REQUIRE(bckm_sim_ledger_open(&l, dir, 4, 1, err, sizeof err) == BCKM_OK);
    /* Enough entries for the tree to span several pages. */
    REQUIRE(fill(&l, 200) == BCKM_OK);
    bckm_sim_ledger_free(&l);
    long len = 0;
    unsigned char *orig = read_all(data, &len);
    REQUIRE(orig != NULL && len > 0);
    /* The state hash of height 9 (32 bytes of 0x89) sits in its entry;
     * copy-on-write may have left stale copies in free pages, so every
     * copy is damaged. */
    unsigned char *bad = malloc((size_t)len);
    REQUIRE(bad != NULL);
    memcpy(bad, orig, (size_t)len);
    int copies = 0;
    for (long i = 0; i + 32 <= len; i++) {
        long k = 0;
        while (k < 32 && orig[i + k] == 0x89) k++;
        if (k == 32) {
            bad[i + 5] ^= 0x20;
            copies++;
            i += 31;
        }
    }
    REQUIRE(copies > 0);
    REQUIRE(write_all(data, bad, len) == 0);
    CHECK_EQ(bckm_sim_ledger_open(&l, dir, 4, 0, err, sizeof err), BCKM_ERR_CORRUPT);
    CHECK(strstr(err, "height 9") != NULL);
    CHECK_EQ(bckm_sim_ledger_height(&l), 0);
    CHECK(l.store == NULL);
    /* Intact again: opens. */
    REQUIRE(write_all(data, orig, len) == 0);
    REQUIRE(bckm_sim_ledger_open(&l, dir, 4, 0, err, sizeof err) == BCKM_OK);
    CHECK_EQ(bckm_sim_ledger_height(&l), 200);
    bckm_sim_ledger_free(&l);
    /* Truncated to half. */
    REQUIRE(truncate(data, len / 2) == 0);
    CHECK_EQ(file_size(data), len / 2);
    CHECK_EQ(bckm_sim_ledger_open(&l, dir, 4, 0, err, sizeof err), BCKM_ERR_CORRUPT);
    CHECK_EQ(bckm_sim_ledger_height(&l), 0);
    /* Truncated to nothing: LMDB would start a new empty store, which must
     * not pass for this BP's ledger. */
    REQUIRE(truncate(data, 0) == 0);
    CHECK(bckm_sim_ledger_open(&l, dir, 4, 0, err, sizeof err) != BCKM_OK);
    CHECK_EQ(bckm_sim_ledger_height(&l), 0);
    free(bad);
    free(orig);
    rm_tree(tmp);
}

/* ---- the cluster with the store ------------------------------------------- */

static void crash_params(bckm_sim_params *p, uint32_t victim) {
    bckm_sim_params_default(p);
    p->seed = 31 + victim;
    p->requests = check_small() ? 40 : 80;
    p->checkpoint_interval = 3;
    p->plan_len = 1;
    p->plan[0] = (bckm_sim_plan){ BCKM_SIM_PLAN_CRASH, victim, 60000, 200000 };
}

/* A BP crashes and comes back from its LMDB store: nothing committed is
 * lost and its stored ledger equals every other BP's. */
static void test_cluster_lmdb_restart(void) {
    for (uint32_t victim = 0; victim < 2; victim++) {
        char tmp[64], err[256];
        REQUIRE(temp_dir(tmp) != NULL);
        bckm_sim_params p;
        bckm_sim_result r;
        crash_params(&p, victim);
        p.ledger = BCKM_SIM_LEDGER_LMDB;
        p.ledger_dir = tmp;
        REQUIRE(bckm_sim_run(&p, &r) == BCKM_OK);
        CHECK_EQ(r.outcome, BCKM_SIM_OK);
        if (r.outcome != BCKM_SIM_OK) fprintf(stderr, "%s\n", r.violation);
        CHECK_EQ(r.restarts, 1);
        CHECK_EQ(r.lost, 0);
        CHECK_EQ(r.committed, p.requests);
        CHECK_EQ(r.bp_height[victim], r.max_height);
        CHECK_EQ(r.min_height, r.max_height);
        /* The stores on disk: all at the same height with the same entries. */
        bckm_sim_ledger l[4];
        int opened = 0;
        for (uint32_t i = 0; i < 4; i++) {
            char dir[128];
            snprintf(dir, sizeof dir, "%s/bp-%u", tmp, i);
            bckm_sim_ledger_init(&l[i]);
            if (bckm_sim_ledger_open(&l[i], dir, 4, 0, err, sizeof err) == BCKM_OK) opened++;
            else fprintf(stderr, "%s\n", err);
        }
        CHECK_EQ(opened, 4);
        CHECK(bckm_sim_ledger_height(&l[victim]) > 0);
        for (uint32_t i = 0; i < 4; i++) {
            CHECK_EQ(bckm_sim_ledger_height(&l[i]), r.max_height);
            for (uint64_t h = 1; h <= bckm_sim_ledger_height(&l[i]) && h <= bckm_sim_ledger_height(&l[0]); h++) {
                const bckm_sim_entry *a = bckm_sim_ledger_get(&l[0], h), *b = bckm_sim_ledger_get(&l[i], h);
                if (memcmp(a->digest, b->digest, 32) != 0 || memcmp(a->state_hash, b->state_hash, 32) != 0 ||
                    a->block->ntx != b->block->ntx || memcmp(a->results, b->results, a->block->ntx) != 0) {
                    CHECK(!"stored ledgers differ");
                    break;
                }
            }
        }
        for (uint32_t i = 0; i < 4; i++) bckm_sim_ledger_free(&l[i]);
        /* The same directory again: refused before anything runs. */
        CHECK_EQ(bckm_sim_run(&p, &r), BCKM_ERR_STATE);
        CHECK(strstr(r.violation, "another run") != NULL);
        rm_tree(tmp);
    }
}

/* With the model cost, the backend changes nothing the run can see: the
 * model charges a restart's replay the same for both (the memory ledger
 * stands for the disk), so even the trace hash is equal. */
static void test_cluster_mem_equals_lmdb(void) {
    char tmp[64];
    REQUIRE(temp_dir(tmp) != NULL);
    bckm_sim_params p;
    bckm_sim_result a, b;
    crash_params(&p, 1);
    REQUIRE(bckm_sim_run(&p, &a) == BCKM_OK);
    p.ledger = BCKM_SIM_LEDGER_LMDB;
    p.ledger_dir = tmp;
    REQUIRE(bckm_sim_run(&p, &b) == BCKM_OK);
    CHECK_EQ(a.outcome, BCKM_SIM_OK);
    CHECK_EQ(b.outcome, BCKM_SIM_OK);
    CHECK_EQ(a.restarts, 1);
    CHECK_EQ(b.restarts, 1);
    CHECK_EQ(a.committed, b.committed);
    CHECK_EQ(a.max_height, b.max_height);
    CHECK_EQ(a.bp_cpu_us, b.bp_cpu_us);
    CHECK_EQ(a.end_us, b.end_us);
    for (uint32_t i = 0; i < 4; i++) CHECK_EQ(a.bp_height[i], b.bp_height[i]);
    CHECK_MEM(a.trace_hash, b.trace_hash, 32);
    rm_tree(tmp);
}

/* The restart's replay and catch-up are charged to the BP's CPU, in
 * proportion to what it replays; a run without a crash charges none. */
static void test_restart_is_charged(void) {
    bckm_sim_params p;
    bckm_sim_result a, b, none;
    crash_params(&p, 2);
    p.checkpoint_interval = 0;  /* no snapshot: the restart replays the whole ledger */
    REQUIRE(bckm_sim_run(&p, &a) == BCKM_OK);
    CHECK_EQ(a.outcome, BCKM_SIM_OK);
    CHECK_EQ(a.restarts, 1);
    CHECK(a.restart_cpu_us > 0);
    CHECK(a.restart_cpu_us < a.bp_cpu_us);
    /* A later crash has more to replay. */
    p.plan[0].start_us = 150000;
    p.plan[0].end_us = 290000;
    REQUIRE(bckm_sim_run(&p, &b) == BCKM_OK);
    CHECK_EQ(b.outcome, BCKM_SIM_OK);
    CHECK_EQ(b.restarts, 1);
    CHECK(b.restart_cpu_us > a.restart_cpu_us);
    p.plan_len = 0;
    REQUIRE(bckm_sim_run(&p, &none) == BCKM_OK);
    CHECK_EQ(none.outcome, BCKM_SIM_OK);
    CHECK_EQ(none.restart_cpu_us, 0);
}

CHECK_CASES(CASE(test_entry_round_trip), CASE(test_entry_cert_range), CASE(test_store_reopen),
            CASE(test_store_damaged), CASE(test_cluster_lmdb_restart), CASE(test_cluster_mem_equals_lmdb),
            CASE(test_restart_is_charged))
