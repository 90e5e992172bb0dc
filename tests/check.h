/*
 * A minimal test harness: CHECK records a failure with its place and goes on;
 * each test binary ends with "RESULT passed=P failed=F", which
 * scripts/run-tests.sh sums into the closing "N passed, N failed" line.
 * A test passes when it made at least one check and none failed, so a test
 * that checks nothing cannot pass.
 */
#ifndef BCKM_TEST_CHECK_H
#define BCKM_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int check_failures_;
extern int check_count_;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        check_count_++;                                                                            \
        if (!(cond)) {                                                                             \
            check_failures_++;                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)
#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        check_count_++;                                                                            \
        if (a_ != b_) {                                                                            \
            check_failures_++;                                                                     \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    a_, b_);                                                                       \
        }                                                                                          \
    } while (0)
#define CHECK_MEM(a, b, n)                                                                         \
    do {                                                                                           \
        check_count_++;                                                                            \
        if (memcmp((a), (b), (n)) != 0) {                                                          \
            check_failures_++;                                                                     \
            fprintf(stderr, "%s:%d: bytes differ: %s vs %s\n", __FILE__, __LINE__, #a, #b);        \
        }                                                                                          \
    } while (0)
/* Stops the current test when a precondition of the rest of it fails. */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        check_count_++;                                                                            \
        if (!(cond)) {                                                                             \
            check_failures_++;                                                                     \
            fprintf(stderr, "%s:%d: required: %s\n", __FILE__, __LINE__, #cond);                   \
            return;                                                                                \
        }                                                                                          \
    } while (0)

typedef void (*check_fn)(void);
typedef struct {
    const char *name;
    check_fn fn;
} check_case;

/* Runs the cases, prints one line each and the RESULT line; returns the exit code. */
int check_run(const char *suite, const check_case *cases, size_t n);

/* 1 when BCKM_TEST_SCALE=small (sanitizer runs): tests shrink their sizes. */
int check_small(void);

/* A heap copy of buf[0..len) in a block of exactly len bytes (1 when len is
 * 0), so ASan catches a decoder reading past the end; free it after use.
 * Exits on allocation failure. */
unsigned char *check_exact_copy(const unsigned char *buf, size_t len);

/* Reads a hex test vector file "name = hex" lines; returns length or -1. */
long check_vector(const char *path, const char *name, unsigned char *out, size_t cap);

#define CHECK_CASES(...)                                                                           \
    static const check_case cases_[] = { __VA_ARGS__ };                                            \
    int main(void) { return check_run(__FILE__, cases_, sizeof cases_ / sizeof cases_[0]); }
#define CASE(fn)                                                                                   \
    { #fn, fn }

#endif
