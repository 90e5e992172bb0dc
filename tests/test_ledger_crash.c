/*
 * LMDB ledger crash safety. A child process appends the blocks of a fixed
 * chain and reports each height whose append returned through a pipe; the
 * parent kills it with SIGKILL at a random moment (while it opens and
 * verifies the store, between appends, inside an append's commit), then
 * reopens the store and checks that:
 *   - it opens and verifies (chain and certificates),
 *   - it holds exactly a prefix of the chain, byte for byte,
 *   - every acknowledged height is there, and nothing previously seen is lost,
 *   - every block's status bytes are there, one per transaction,
 *   - the transaction index holds exactly the prefix's transactions.
 * Then the next child continues from where the store stands. 50 kills in the
 * normal run, 10 in the sanitizer run. The seed is printed; timing still
 * varies from run to run, which is the point: kills land at new places.
 */
#include "check.h"
#include "kill_support.h"
#include "ledger_chain.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct chain ch;
static char dir[64];
static uint64_t rng_state;

/* The child: open (verifying), then append until the chain ends. Exit
 * codes other than 0 say what failed; _exit skips the parent's atexit work. */
static void child_run(int fd) {
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    bckm_ledger *l = NULL;
    if (bckm_ledger_open_lmdb(dir, &cfg, &l) != BCKM_OK) _exit(3);
    for (uint64_t h = bckm_ledger_height(l) + 1; h <= ch.len; h++) {
        if (chain_append(l, &ch, h) != BCKM_OK) _exit(4);
        uint8_t ack[8];
        bckm_put_u64(ack, h);
        if (write(fd, ack, sizeof ack) != (ssize_t)sizeof ack) _exit(5);
    }
    bckm_ledger_close(l);
    _exit(0);
}

/* Opens the store in this process and checks it against the chain. Returns
 * the height found, or UINT64_MAX when a check failed. */
static uint64_t verify_store(uint64_t must_have) {
    static uint8_t buf[CHAIN_BLOCK_CAP + CHAIN_CERT_CAP];
    static struct bckm_ledger_entry ents[64];
    struct bckm_ledger_config cfg = chain_config(&ch.keys);
    bckm_ledger *l = NULL;
    uint64_t height, txs = 0, counted = 0;
    int bad = 0;

    int r = bckm_ledger_open_lmdb(dir, &cfg, &l);
    CHECK_EQ(r, BCKM_OK);
    if (r != BCKM_OK) return UINT64_MAX;
    height = bckm_ledger_height(l);
    if (height < must_have) {
        fprintf(stderr, "store at height %llu, but %llu was acknowledged\n",
                (unsigned long long)height, (unsigned long long)must_have);
        bad++;
    }
    if (height > ch.len) bad++;
    for (uint64_t h = 1; h <= height && h <= ch.len; h++) {
        size_t len = 0;
        if (bckm_ledger_get_block(l, h, buf, sizeof buf, &len) != BCKM_OK ||
            len != ch.blk_len[h - 1] || memcmp(buf, ch.blk[h - 1], len) != 0)
            bad++;
        if (bckm_ledger_get_cert(l, h, buf, sizeof buf, &len) != BCKM_OK ||
            len != ch.cert_len[h - 1] || memcmp(buf, ch.cert[h - 1], len) != 0)
            bad++;
        /* one status byte per transaction (all "executed": appended with NULL) */
        if (bckm_ledger_get_status(l, h, buf, sizeof buf, &len) != BCKM_OK ||
            len != ch.n_txs[h - 1])
            bad++;
        else
            for (size_t k = 0; k < len; k++)
                if (buf[k] != 0) bad++;
        txs += ch.n_txs[h - 1];
    }
    /* The position index holds exactly the prefix's transactions. */
    struct bckm_ledger_pos after = BCKM_LEDGER_POS_START;
    for (;;) {
        size_t n = 0;
        if (bckm_ledger_txs_after(l, after, ents, 64, &n) != BCKM_OK) {
            bad++;
            break;
        }
        counted += n;
        if (n < 64) break;
        after = ents[n - 1].pos;
    }
    if (counted != txs) bad++;
    bckm_ledger_close(l);
    CHECK_EQ(bad, 0);
    return bad == 0 ? height : UINT64_MAX;
}

static void kill_and_reopen(void) {
    const int kills = check_small() ? 10 : 50;
    const size_t len = check_small() ? 600 : 2000;
    uint64_t seen = 0; /* highest height any reopen has shown */
    int signaled = 0, mid_append = 0, failures = 0;
    const char *s = getenv("BCKM_SEED");
    rng_state = s != NULL ? strtoull(s, NULL, 0) : 0x6c656467ull;
    printf("seed 0x%llx (set BCKM_SEED to choose), %d kills\n", (unsigned long long)rng_state,
           kills);

    REQUIRE(chain_build(&ch, len) == BCKM_OK);
    strcpy(dir, "/tmp/bckm-ledger-crash-XXXXXX");
    REQUIRE(mkdtemp(dir) != NULL);
    fflush(NULL); /* nothing buffered is duplicated into the children */

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
        /* Kill after a random number of acknowledgements plus a random delay,
         * so the kill falls anywhere: during the open, between appends, or
         * inside an append and its commit. */
        uint64_t acked = 0, a;
        unsigned wait_acks = (unsigned)(kill_rng_next(&rng_state) % 6u);
        long delay = (long)(kill_rng_next(&rng_state) % 4000u);
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
        uint64_t must = acked > seen ? acked : seen;
        uint64_t h = verify_store(must);
        if (h == UINT64_MAX) {
            failures++;
            break;
        }
        if (h > acked && WIFSIGNALED(st)) mid_append++; /* committed, killed before the ack */
        seen = h;
    }
    CHECK_EQ(failures, 0);
    /* The kills really interrupted writers that had work left. */
    CHECK(signaled >= kills / 2);
    CHECK(seen > 0);
    printf(
        "final height %llu, %d kills hit a running writer, %d after a commit but before its ack\n",
        (unsigned long long)seen, signaled, mid_append);
    kill_rm_store(dir);
    chain_free(&ch);
}

CHECK_CASES(CASE(kill_and_reopen))
