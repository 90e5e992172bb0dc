/* The replica's cache of verified envelopes: exact bytes only, bounded,
 * oldest forgotten first. */
#include <string.h>

#include "bckm/common.h"
#include "check.h"
#include "sim/sigcache.h"

static void fill(uint8_t *b, size_t len, uint32_t i) {
    memset(b, 0, len);
    bckm_put_u32(b, i);
}

static void test_exact_bytes(void) {
    bckm_sim_sigcache c;
    uint8_t a[121], b[121];
    REQUIRE(bckm_sim_sigcache_init(&c, 16) == BCKM_OK);
    fill(a, sizeof a, 1);
    CHECK(!bckm_sim_sigcache_has(&c, a, sizeof a));
    bckm_sim_sigcache_add(&c, a, sizeof a);
    CHECK(bckm_sim_sigcache_has(&c, a, sizeof a));
    /* Any other byte string, even one bit or one byte shorter, is unknown. */
    memcpy(b, a, sizeof a);
    b[120] ^= 1;
    CHECK(!bckm_sim_sigcache_has(&c, b, sizeof b));
    CHECK(!bckm_sim_sigcache_has(&c, a, sizeof a - 1));
    /* Adding twice keeps one entry. */
    bckm_sim_sigcache_add(&c, a, sizeof a);
    CHECK_EQ(c.len, 1);
    bckm_sim_sigcache_free(&c);
    CHECK_EQ(bckm_sim_sigcache_init(&c, 0), BCKM_ERR_ARG);
}

static void test_bounded_oldest_first(void) {
    bckm_sim_sigcache c;
    uint8_t x[64];
    const uint32_t cap = 8;
    REQUIRE(bckm_sim_sigcache_init(&c, cap) == BCKM_OK);
    for (uint32_t i = 0; i < 3 * cap; i++) {
        fill(x, sizeof x, i);
        bckm_sim_sigcache_add(&c, x, sizeof x);
        CHECK(c.len <= cap);
        CHECK(c.index.len <= cap);
        /* The last cap added are all there; the one before them is gone. */
        for (uint32_t k = 0; k <= i; k++) {
            fill(x, sizeof x, k);
            CHECK_EQ(bckm_sim_sigcache_has(&c, x, sizeof x), k + cap > i ? 1 : 0);
        }
    }
    bckm_sim_sigcache_free(&c);
}

CHECK_CASES(CASE(test_exact_bytes), CASE(test_bounded_oldest_first))
