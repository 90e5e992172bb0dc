/*
 * A BP that survives its own restart (spec/protocol.md section 12). A child
 * process plays BP 1: it applies a seeded sequence of changes with its key
 * manager and, for every change, appends a certified block to its LMDB
 * ledger together with its sealed key manager state, in one transaction
 * (bckm_ledger_append_state). The parent kills it with SIGKILL at a random
 * moment, at least 100 times in the normal run (20 under the sanitizers),
 * and after every kill checks that:
 *   - the store opens and verifies, and holds every acknowledged height;
 *   - the stored key state belongs to exactly the ledger's height;
 *   - it opens, and its digest equals that of a reference key manager that
 *     applied the same prefix without ever crashing;
 * and every child that restarts from the store goes on with byte-identical
 * rekey messages and ends with its devices agreeing with their peers. When
 * the chain is complete the store is removed and the run starts over.
 */
#include "check.h"
#include "kill_support.h"
#include "l1world.h"
#include "ledger_chain.h"

#include "bckm/km_store.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORLD_SEED 41u
#define BP 1u

static struct chain ch;
static char dir[64];
static uint64_t rng_state;
static const uint8_t storage_key[32] = { 0xA5, 0x17 };

/* The reference: a world that applied changes 1..h and never crashed. */
static int world_at(struct l1world *w, uint64_t h) {
    int e = l1_init(w, 3, BCKM_POLICY_OWNED, 512, WORLD_SEED);
    if (e == BCKM_OK) e = l1_genesis(w, 16);
    for (uint64_t k = 1; k <= h && e == BCKM_OK; k++) e = l1_step(w);
    return e;
}

/* The stored key state: it must belong to the ledger's height. */
static int stored_km(bckm_ledger *l, const struct l1world *w, struct bckm_km **km) {
    static uint8_t buf[4u << 20];
    uint64_t sh = 0;
    size_t len = 0;
    struct bckm_km_config c = l1_km_config(w, BP);
    int e = bckm_ledger_get_state(l, &sh, buf, sizeof buf, &len);
    if (e != BCKM_OK) return e;
    if (sh != bckm_ledger_height(l)) return BCKM_ERR_MISMATCH;
    return bckm_km_state_open(&c, sh, storage_key, buf, len, km);
}

/* Exit codes: 0 done, 3.. what failed. */
static void child_run(int fd) {
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    bckm_ledger *l = NULL;
    struct l1world w;
    if (bckm_ledger_open_lmdb(dir, &cfg, &l) != BCKM_OK) _exit(3);
    uint64_t h0 = bckm_ledger_height(l);
    if (world_at(&w, h0) != BCKM_OK) _exit(4);
    if (h0 > 0) {
        /* The restart: BP 1's key manager comes from the store. */
        struct bckm_km *km = NULL;
        uint8_t d1[32], d2[32];
        if (stored_km(l, &w, &km) != BCKM_OK) _exit(5);
        if (bckm_km_state_digest(km, d1) != BCKM_OK ||
            bckm_km_state_digest(w.fleet.km[BP], d2) != BCKM_OK || memcmp(d1, d2, 32) != 0)
            _exit(6);
        bckm_km_free(w.fleet.km[BP]);
        w.fleet.km[BP] = km;
    }
    for (uint64_t h = h0 + 1; h <= ch.len; h++) {
        uint8_t *blob = NULL;
        size_t len = 0;
        if (l1_step(&w) != BCKM_OK) _exit(7);
        if (bckm_km_state_seal(w.fleet.km[BP], h, storage_key, &blob, &len) != BCKM_OK) _exit(8);
        int e = bckm_ledger_append_state(l, ch.blk[h - 1], ch.blk_len[h - 1], ch.cert[h - 1],
                                         ch.cert_len[h - 1], NULL, blob, len);
        bckm_km_state_release(blob, len);
        if (e != BCKM_OK) _exit(9);
        uint8_t ack[8];
        bckm_put_u64(ack, h);
        if (write(fd, ack, sizeof ack) != (ssize_t)sizeof ack) _exit(10);
    }
    /* The devices served by the restarted key manager agree with everyone. */
    if (l1_check(&w, 256) != 0) _exit(11);
    bckm_ledger_close(l);
    _exit(0);
}

/* The store after a kill, against the reference; its height, or
 * UINT64_MAX when a check failed. */
static uint64_t verify_store(uint64_t must_have) {
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    bckm_ledger *l = NULL;
    int r = bckm_ledger_open_lmdb(dir, &cfg, &l);
    CHECK_EQ(r, BCKM_OK);
    if (r != BCKM_OK) return UINT64_MAX;
    uint64_t h = bckm_ledger_height(l);
    int bad = h < must_have;
    if (h > 0) {
        struct l1world ref;
        struct bckm_km *km = NULL;
        uint8_t d1[32], d2[32];
        int e = world_at(&ref, h);
        CHECK_EQ(e, BCKM_OK);
        if (e == BCKM_OK) e = stored_km(l, &ref, &km);
        CHECK_EQ(e, BCKM_OK);
        if (e != BCKM_OK || bckm_km_state_digest(km, d1) != BCKM_OK ||
            bckm_km_state_digest(ref.fleet.km[BP], d2) != BCKM_OK || memcmp(d1, d2, 32) != 0)
            bad++;
        bckm_km_free(km);
        l1_free(&ref);
    }
    bckm_ledger_close(l);
    CHECK_EQ(bad, 0);
    return bad ? UINT64_MAX : h;
}

static void kill_and_restart(void) {
    const int kills = check_small() ? 20 : 100;
    const size_t len = check_small() ? 40 : 90;
    int signaled = 0, failures = 0, completed = 0;
    uint64_t seen = 0, restored_total = 0;
    const char *s = getenv("BCKM_SEED");
    rng_state = s != NULL ? strtoull(s, NULL, 0) : 0x6b6d7374ull;
    printf("seed 0x%llx (set BCKM_SEED to choose), %d kills\n", (unsigned long long)rng_state,
           kills);
    REQUIRE(chain_build(&ch, len) == BCKM_OK);
    strcpy(dir, "/tmp/bckm-km-crash-XXXXXX");
    REQUIRE(mkdtemp(dir) != NULL);
    fflush(NULL);
    for (int it = 0; it < kills && failures == 0; it++) {
        int fds[2];
        REQUIRE(pipe(fds) == 0);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_run(fds[1]);
        }
        close(fds[1]);
        uint64_t acked = 0, a;
        unsigned wait_acks = (unsigned)(kill_rng_next(&rng_state) % 8u);
        long delay = (long)(kill_rng_next(&rng_state) % 3000u);
        for (unsigned i = 0; i < wait_acks && (a = kill_read_ack(fds[0])) != 0; i++) acked = a;
        kill_sleep_us(delay);
        kill(pid, SIGKILL);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        while ((a = kill_read_ack(fds[0])) != 0) acked = a;
        close(fds[0]);
        if (WIFSIGNALED(st))
            signaled++;
        else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "kill %d: child exited with %d\n", it,
                    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            failures++;
        }
        uint64_t h = verify_store(acked > seen ? acked : seen);
        if (h == UINT64_MAX) {
            failures++;
            break;
        }
        restored_total += h;
        seen = h;
        if (h == ch.len) {
            /* A full chain: start over, so later kills land in writers again. */
            completed++;
            kill_rm_store(dir);
            REQUIRE(mkdir(dir, 0700) == 0);
            seen = 0;
        }
    }
    CHECK_EQ(failures, 0);
    CHECK(signaled >= kills / 2);
    CHECK(restored_total > 0);
    printf("%d kills hit a running BP, %d chains completed\n", signaled, completed);
    kill_rm_store(dir);
    chain_free(&ch);
}

CHECK_CASES(CASE(kill_and_restart))
