/* Key derivation: known answers from an independent implementation
 * (spec/vectors/gen_kdf.py), domain separation, in-place updates. */
#include "check.h"

#include "bckm/kdf.h"

#define VEC "spec/vectors/kdf.txt"

static void load(const char *name, uint8_t *out, size_t n) {
    long got = check_vector(VEC, name, out, n);
    CHECK_EQ(got, (long)n);
}

static void known_answers(void) {
    uint8_t key[32], refresh[16], dom[32], want[32], got[32];
    load("key", key, 32);
    load("refresh", refresh, 16);
    load("domain", dom, 32);
    bckm_kdf_set_update(key, refresh, 7, 42, got);
    load("set_update", want, 32);
    CHECK_MEM(got, want, 32);
    bckm_kdf_setpair_update(key, refresh, 0x02000005, 0x01000002, 42, got);
    load("setpair_update", want, 32);
    CHECK_MEM(got, want, 32);
    bckm_kdf_pair_node(key, 0x01000001, 0x01000009, got);
    load("pair_node", want, 32);
    CHECK_MEM(got, want, 32);
    bckm_kdf_set_init(dom, 0x01000003, got);
    load("set_init", want, 32);
    CHECK_MEM(got, want, 32);
    bckm_kdf_setpair_init(dom, 0x02000001, 0x01000003, got);
    load("setpair_init", want, 32);
    CHECK_MEM(got, want, 32);
    bckm_kdf_pair_seed(dom, 0x01000001, got);
    load("pair_seed", want, 32);
    CHECK_MEM(got, want, 32);
    /* Refresh material: r_S, r_S,T, and a pair key moved by both sides. */
    uint8_t rs[16], rst[16], rt[16], rts[16];
    bckm_kdf_set_refresh(refresh, 0x01000002, 42, rs);
    load("set_refresh", want, 16);
    CHECK_MEM(rs, want, 16);
    bckm_kdf_pair_refresh(rs, 0x02000005, rst);
    load("pair_refresh", want, 16);
    CHECK_MEM(rst, want, 16);
    bckm_kdf_set_refresh(refresh, 0x02000005, 42, rt);
    bckm_kdf_pair_refresh(rt, 0x01000002, rts);
    load("setpair_advance", want, 32);
    bckm_kdf_setpair_advance(key, 0x01000002, rst, 0x02000005, rts, 42, got);
    CHECK_MEM(got, want, 32);
    /* The same from the other side's point of view. */
    bckm_kdf_setpair_advance(key, 0x02000005, rts, 0x01000002, rst, 42, got);
    CHECK_MEM(got, want, 32);
    /* One changed side: exactly one set-pair update. */
    uint8_t one[32];
    bckm_kdf_setpair_update(key, rst, 0x01000002, 0x02000005, 42, one);
    bckm_kdf_setpair_advance(key, 0x02000005, NULL, 0x01000002, rst, 42, got);
    CHECK_MEM(got, one, 32);
    /* r_S,T is not r_S, and differs per T. */
    CHECK(memcmp(rs, rst, 16) != 0);
    bckm_kdf_pair_refresh(rs, 0x02000006, rt);
    CHECK(memcmp(rt, rst, 16) != 0);
}

static void labels_separate_domains(void) {
    uint8_t key[32] = { 1 }, a[32], b[32], r[16] = { 0 };
    /* The same fields under two labels give different keys. */
    uint8_t f[8] = { 0, 0, 0, 1, 0, 0, 0, 2 };
    CHECK_EQ(bckm_kdf_derive(key, BCKM_KDF_PAIR_NODE, f, 8, a), BCKM_OK);
    CHECK_EQ(bckm_kdf_derive(key, BCKM_KDF_SETPAIR_INIT, f, 8, b), BCKM_OK);
    CHECK(memcmp(a, b, 32) != 0);
    /* Epochs, sets and refresh keys each change the output. */
    bckm_kdf_set_update(key, r, 1, 1, a);
    bckm_kdf_set_update(key, r, 1, 2, b);
    CHECK(memcmp(a, b, 32) != 0);
    bckm_kdf_set_update(key, r, 2, 1, b);
    CHECK(memcmp(a, b, 32) != 0);
    r[15] = 1;
    bckm_kdf_set_update(key, r, 1, 1, b);
    CHECK(memcmp(a, b, 32) != 0);
    /* The pair is unordered; the pair-node key is ordered (first derives). */
    bckm_kdf_setpair_init(key, 5, 9, a);
    bckm_kdf_setpair_init(key, 9, 5, b);
    CHECK_MEM(a, b, 32);
    bckm_kdf_pair_node(key, 5, 9, a);
    bckm_kdf_pair_node(key, 9, 5, b);
    CHECK(memcmp(a, b, 32) != 0);
    /* Oversized field input is refused. */
    uint8_t big[BCKM_KDF_MAX_FIELDS + 1] = { 0 };
    CHECK_EQ(bckm_kdf_derive(key, 1, big, sizeof big, a), BCKM_ERR_ARG);
}

static void in_place_update(void) {
    uint8_t k[32], copy[32], out[32], r[16] = { 9 };
    for (int i = 0; i < 32; i++) k[i] = (uint8_t)(i * 7);
    memcpy(copy, k, 32);
    bckm_kdf_set_update(copy, r, 3, 4, out);
    bckm_kdf_set_update(k, r, 3, 4, k);
    CHECK_MEM(k, out, 32);
}

static void drbg_reproducible(void) {
    struct bckm_drbg a, b;
    uint8_t seed[32] = { 42 }, x[64], y[64];
    bckm_drbg_init(&a, seed);
    bckm_drbg_init(&b, seed);
    bckm_drbg_fill(&a, x, 64);
    bckm_drbg_fill(&b, y, 64);
    CHECK_MEM(x, y, 64);
    bckm_drbg_fill(&a, x, 64);
    CHECK(memcmp(x, y, 64) != 0);
}

CHECK_CASES(CASE(known_answers), CASE(labels_separate_domains), CASE(in_place_update),
            CASE(drbg_reproducible))
