/*
 * Replays every fuzz input kept in the tree through the harnesses' own
 * logic, plain and (in the sanitizer test build) under ASan+UBSan:
 *   fuzz/corpus/<harness>/       the seed corpus (must not be empty), and
 *   fuzz/regressions/<harness>/  each input that once crashed a harness or
 *                                broke one of its oracles (may be empty).
 * The harness files are included here with FUZZ_EMBEDDED, so the oracles
 * (round trips, unchanged state on rejection, peers agreeing) are the same
 * code the fuzzers run. A broken oracle aborts with the harness's message;
 * the last "replay" line printed names the input.
 *
 * Run from the repository root (make does); BCKM_FUZZ_DIR overrides "fuzz".
 */
#define FUZZ_EMBEDDED 1

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"

#include "../fuzz/tx.c"
#include "../fuzz/envelope.c"
#include "../fuzz/block.c"
#include "../fuzz/cert.c"
#include "../fuzz/rekey.c"
#include "../fuzz/pbft.c"
#include "../fuzz/faults.c"
#include "../fuzz/ledger.c"
#include "../fuzz/contract.c"

typedef int (*fuzz_regress_fn)(const uint8_t *data, size_t size);

static const char *fuzz_regress_root(void) {
    const char *d = getenv("BCKM_FUZZ_DIR");
    return d != NULL ? d : "fuzz";
}

static int fuzz_regress_skip(const struct dirent *e) {
    return e->d_name[0] != '.' && strcmp(e->d_name, "README.txt") != 0;
}

/* Replays every regular file of dir; returns how many, or -1 when the
 * directory is missing. Each file is copied into a heap buffer of exactly
 * its size, so an over-read is visible to ASan. */
static long fuzz_regress_dir(const char *dir, fuzz_regress_fn fn) {
    struct dirent **names = NULL;
    int n = scandir(dir, &names, fuzz_regress_skip, alphasort);
    if (n < 0) return -1;
    long replayed = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        free(names[i]);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        FILE *f = fopen(path, "rb");
        CHECK(f != NULL);
        if (f == NULL) continue;
        size_t len = (size_t)st.st_size;
        uint8_t *buf = malloc(len ? len : 1);
        CHECK(buf != NULL);
        if (buf == NULL) {
            fclose(f);
            continue;
        }
        CHECK_EQ(fread(buf, 1, len, f), len);
        fclose(f);
        printf("replay %s (%zu bytes)\n", path, len);
        fflush(stdout);
        CHECK_EQ(fn(buf, len), 0);
        free(buf);
        replayed++;
    }
    free(names);
    return replayed;
}

static void fuzz_regress_harness(const char *name, fuzz_regress_fn fn) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/corpus/%s", fuzz_regress_root(), name);
    long seeds = fuzz_regress_dir(dir, fn);
    /* An empty or missing corpus would make this test vacuous. */
    REQUIRE(seeds > 0);
    snprintf(dir, sizeof dir, "%s/regressions/%s", fuzz_regress_root(), name);
    long regs = fuzz_regress_dir(dir, fn);
    printf("%s: %ld seeds, %ld regression inputs\n", name, seeds, regs < 0 ? 0 : regs);
}

#define FUZZ_REGRESS_CASE(name)                                                                    \
    static void test_fuzz_##name(void) { fuzz_regress_harness(#name, fuzz_##name); }

FUZZ_REGRESS_CASE(tx)
FUZZ_REGRESS_CASE(envelope)
FUZZ_REGRESS_CASE(block)
FUZZ_REGRESS_CASE(cert)
FUZZ_REGRESS_CASE(rekey)
FUZZ_REGRESS_CASE(pbft)
FUZZ_REGRESS_CASE(faults)
FUZZ_REGRESS_CASE(ledger)
FUZZ_REGRESS_CASE(contract)

CHECK_CASES(CASE(test_fuzz_tx), CASE(test_fuzz_envelope), CASE(test_fuzz_block),
            CASE(test_fuzz_cert), CASE(test_fuzz_rekey), CASE(test_fuzz_pbft),
            CASE(test_fuzz_faults), CASE(test_fuzz_ledger), CASE(test_fuzz_contract))
