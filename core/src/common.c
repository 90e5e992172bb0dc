#include "bckm/common.h"
#include "bckm/assert.h"

#include <sodium.h>

const char *bckm_strerror(int err) {
    switch (err) {
    case BCKM_OK: return "ok";
    case BCKM_ERR_ARG: return "invalid argument";
    case BCKM_ERR_NOMEM: return "out of memory or capacity";
    case BCKM_ERR_AUTH: return "authentication failed";
    case BCKM_ERR_REPLAY: return "replayed or out-of-order epoch";
    case BCKM_ERR_FORMAT: return "malformed encoding";
    case BCKM_ERR_TRUNCATED: return "truncated input";
    case BCKM_ERR_UNKNOWN: return "unknown node, set or BP";
    case BCKM_ERR_EXISTS: return "identifier or code hash already used";
    case BCKM_ERR_MISMATCH: return "fields disagree with the replicated state";
    case BCKM_ERR_PERM: return "not permitted";
    case BCKM_ERR_STATE: return "invalid in the current state";
    case BCKM_ERR_CRYPTO: return "cryptographic primitive failed";
    case BCKM_ERR_IO: return "storage error";
    case BCKM_ERR_CORRUPT: return "stored data is corrupt";
    default: return "unknown error";
    }
}

void bckm_wipe(void *p, size_t len) {
    if (p != NULL && len > 0) sodium_memzero(p, len);
}

int bckm_ct_equal(const uint8_t *a, const uint8_t *b, size_t len) {
    return sodium_memcmp(a, b, len) == 0;
}

int bckm_init(void) { return sodium_init() < 0 ? BCKM_ERR_CRYPTO : BCKM_OK; }

#ifndef __FRAMAC__
#include <stdio.h>
#include <stdlib.h>

void bckm_assert_fail(const char *cond, const char *why, const char *file, int line) {
    /* No secret ever reaches an assertion message: cond is source text and
     * why a literal. */
    (void)fprintf(stderr, "bckm: assertion failed at %s:%d: %s (%s)\n", file, line, cond, why);
    abort();
}
#endif
