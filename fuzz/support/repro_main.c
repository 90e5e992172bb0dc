/*
 * Plain reproducer: replays the files named on the command line (and every
 * regular file inside a named directory, in sorted order) through the
 * harness's LLVMFuzzerTestOneInput, once each, without any fuzzer runtime.
 *
 *   build/fuzz/repro/tx fuzz/corpus/tx fuzz/regressions/tx crash-file
 *
 * Exit status 0 when every input ran; a crash or a failed oracle aborts, and
 * the input being replayed is named on stderr first so it can be found.
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* The path being replayed, for the fatal-signal handler. */
static char repro_current[4096];

static void repro_on_fatal(int sig) {
    /* Only async-signal-safe calls here: write, then let the default
     * action (core dump / abort status) happen. */
    static const char prefix[] = "repro: fatal signal while replaying ";
    ssize_t ignored = write(2, prefix, sizeof prefix - 1);
    ignored = write(2, repro_current, strlen(repro_current));
    ignored = write(2, "\n", 1);
    (void)ignored;
    signal(sig, SIG_DFL);
    raise(sig);
}

static int repro_file(const char *path, unsigned long *count) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "repro: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    for (;;) {
        if (len == cap) {
            uint8_t *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        fprintf(stderr, "repro: read error on %s\n", path);
        return -1;
    }
    snprintf(repro_current, sizeof repro_current, "%s", path);
    if (getenv("FUZZ_VERBOSE") != NULL) fprintf(stderr, "repro: %s (%zu bytes)\n", path, len);
    /* Exactly the bytes of the file: a heap copy of its size, so an
     * out-of-bounds read by the harness is caught by ASan builds. */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact == NULL) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    (void)LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    (*count)++;
    return 0;
}

static int repro_skip_name(const struct dirent *e) {
    /* Dot files (.gitkeep, editor droppings) and AFL's README are not inputs. */
    return e->d_name[0] != '.' && strcmp(e->d_name, "README.txt") != 0;
}

static int repro_path(const char *path, unsigned long *count) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "repro: no such file %s\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) return repro_file(path, count);
    struct dirent **names = NULL;
    int n = scandir(path, &names, repro_skip_name, alphasort);
    if (n < 0) {
        fprintf(stderr, "repro: cannot list %s\n", path);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, names[i]->d_name);
        struct stat cst;
        if (rc == 0 && stat(child, &cst) == 0 && S_ISREG(cst.st_mode))
            rc = repro_file(child, count);
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv) {
    signal(SIGABRT, repro_on_fatal);
    signal(SIGSEGV, repro_on_fatal);
    signal(SIGBUS, repro_on_fatal);
    signal(SIGFPE, repro_on_fatal);
    signal(SIGILL, repro_on_fatal);
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    unsigned long count = 0;
    for (int i = 1; i < argc; i++) {
        if (repro_path(argv[i], &count) != 0) return 1;
    }
    printf("repro: %lu inputs replayed, no failure\n", count);
    return 0;
}
