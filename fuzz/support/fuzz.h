/*
 * bckm fuzz harness support.
 *
 * Every harness in fuzz/ is one function `static int fuzz_<name>(data, size)`
 * followed by FUZZ_ENTRY(fuzz_<name>). Built on its own, FUZZ_ENTRY defines
 * LLVMFuzzerTestOneInput, which AFL++'s libFuzzer-compatible driver and the
 * plain reproducer (support/repro_main.c) call. tests/test_fuzz_regress.c
 * defines FUZZ_EMBEDDED and includes every harness into one translation unit,
 * so there FUZZ_ENTRY expands to nothing and the test calls the static
 * functions by name. Helpers inside a harness therefore carry the harness's
 * name as a prefix, to stay distinct when the harnesses share one unit.
 *
 * FUZZ_CHECK states an oracle beyond "no crash" (round trips, state left
 * unchanged on rejection, peers still agreeing). A violated oracle aborts,
 * which AFL++ records as a crash and the test reports as a failure.
 */
#ifndef BCKM_FUZZ_H
#define BCKM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_EMBEDDED
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#define FUZZ_ENTRY(fn)                                                                             \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fn(data, size); }
#else
#define FUZZ_ENTRY(fn)
#endif

/* Aborts on purpose: every fuzz flavour must turn a broken oracle into a
 * crash that AFL++ saves, whatever the build's NDEBUG setting. */
static inline void fuzz_fail(const char *file, int line, const char *what) {
    fprintf(stderr, "%s:%d: fuzz oracle failed: %s\n", file, line, what);
    fflush(stderr);
    abort();
}

#ifdef FUZZ_EMBEDDED
/* Inside the test binary every oracle evaluated counts as one check
 * (tests/check.h), so the test's tally shows how much was verified. */
extern int check_count_;
#define FUZZ_COUNT_CHECK() (check_count_++)
#else
#define FUZZ_COUNT_CHECK() ((void)0)
#endif

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        int fuzz_ok_ = (cond) ? 1 : 0;                                                             \
        FUZZ_COUNT_CHECK();                                                                        \
        if (!fuzz_ok_) fuzz_fail(__FILE__, __LINE__, #cond);                                       \
    } while (0)

/* Reads a big-endian integer from the front of the input, advancing it;
 * returns the fallback once the input is used up, so harnesses that draw
 * choices from the input never read past it. */
static inline uint32_t fuzz_take_u8(const uint8_t **data, size_t *size, uint32_t fallback) {
    if (*size < 1) return fallback;
    uint32_t v = (*data)[0];
    *data += 1;
    *size -= 1;
    return v;
}

static inline uint32_t fuzz_take_u32(const uint8_t **data, size_t *size, uint32_t fallback) {
    if (*size < 4) return fallback;
    uint32_t v = ((uint32_t)(*data)[0] << 24) | ((uint32_t)(*data)[1] << 16) |
                 ((uint32_t)(*data)[2] << 8) | (uint32_t)(*data)[3];
    *data += 4;
    *size -= 4;
    return v;
}

#endif
