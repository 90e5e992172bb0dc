/*
 * Resilience analysis: the counts by set sizes must equal a brute-force
 * count over every pair (u, v), where the key protecting u-v is read from
 * u's real device store (and must equal the one in v's store).
 */
#include "check.h"

#include "bckm/sets.h"
#include "sim/resilience.h"

#include <math.h>

struct brute {
    uint64_t total, deciphered;
    uint64_t touching; /* links with an end among the captured members */
    int stores_agree;
};

/* Every pair, through the device stores. */
static void brute_count(const struct bckm_res_world *w, int capture, struct brute *b) {
    const struct bckm_sets *reg = bckm_res_registry(w);
    const struct bckm_set_info *tab = bckm_sets_table(reg);
    uint32_t m = bckm_sets_count(reg), k = 0, n = bckm_sets_nodes(reg);
    uint32_t *ids = malloc((size_t)n * sizeof *ids), *sets = malloc((size_t)n * sizeof *sets);
    uint32_t *attach = malloc((size_t)n * sizeof *attach);
    memset(b, 0, sizeof *b);
    b->stores_agree = 1;
    if (ids == NULL || sets == NULL || attach == NULL) {
        free(ids);
        free(sets);
        free(attach);
        b->stores_agree = 0;
        return;
    }
    for (uint32_t i = 0; i < m; i++) {
        uint32_t count;
        const uint32_t *mem = bckm_sets_members(reg, tab[i].id, &count);
        for (uint32_t j = 0; j < count && k < n; j++) {
            uint32_t s, a;
            ids[k] = mem[j];
            sets[k] = tab[i].id;
            attach[k] = bckm_sets_node(reg, mem[j], &s, &a) == BCKM_OK ? a : 0;
            k++;
        }
    }
    for (uint32_t x = 0; x < k; x++)
        for (uint32_t y = x + 1; y < k; y++) {
            uint8_t kx[BCKM_KEY_BYTES], ky[BCKM_KEY_BYTES];
            const struct bckm_device *dx = bckm_res_device(w, ids[x]),
                                     *dy = bckm_res_device(w, ids[y]);
            b->total++;
            if (dx == NULL || dy == NULL ||
                bckm_device_key_for(dx, ids[y], sets[y], kx) != BCKM_OK ||
                bckm_device_key_for(dy, ids[x], sets[x], ky) != BCKM_OK ||
                memcmp(kx, ky, sizeof kx) != 0) {
                b->stores_agree = 0;
                continue;
            }
            if (bckm_res_knows(w, kx)) b->deciphered++;
            int cx = capture == BCKM_RES_CAPTURE_NODE ? bckm_res_captured_node(w, ids[x])
                                                      : bckm_res_captured_bp(w, attach[x]);
            int cy = capture == BCKM_RES_CAPTURE_NODE ? bckm_res_captured_node(w, ids[y])
                                                      : bckm_res_captured_bp(w, attach[y]);
            if (cx || cy) b->touching++;
        }
    free(ids);
    free(sets);
    free(attach);
}

static int run_case(struct bckm_res_params *p, struct bckm_res_result *r, struct brute *b) {
    struct bckm_res_world *w = NULL;
    p->all_devices = 1;
    int e = bckm_res_build(&w, p);
    if (e == BCKM_OK) e = bckm_res_run(w, r);
    if (e == BCKM_OK) brute_count(w, p->capture, b);
    bckm_res_free(w);
    return e;
}

static const uint32_t sizes_full[][2] = { { 2, 1 },  { 10, 1 },  { 10, 3 }, { 37, 4 },
                                          { 64, 1 }, { 100, 4 }, { 50, 7 }, { 40, 31 } };
static const uint32_t sizes_small[][2] = { { 2, 1 }, { 10, 3 }, { 37, 4 }, { 40, 31 } };

static void for_each_network(void (*fn)(uint32_t n, uint32_t p, bckm_policy pol, uint64_t seed)) {
    int small = check_small();
    size_t count = small ? sizeof sizes_small / sizeof sizes_small[0]
                         : sizeof sizes_full / sizeof sizes_full[0];
    for (size_t i = 0; i < count; i++) {
        const uint32_t *s = small ? sizes_small[i] : sizes_full[i];
        fn(s[0], s[1], BCKM_POLICY_OWNED, 11 + i);
        fn(s[0], s[1], BCKM_POLICY_GLOBAL, 23 + i);
    }
}

/* Node capture: the count equals the brute force, every link of a captured
 * node is deciphered, and one node's count is Lemma 1 with its set's size. */
static void node_case(uint32_t n, uint32_t p, bckm_policy pol, uint64_t seed) {
    const uint32_t ks[] = { 1, 2, 5 };
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        if (ks[i] > n) continue;
        struct bckm_res_params prm = { .nodes = n,
                                       .bps = p,
                                       .policy = pol,
                                       .capture = BCKM_RES_CAPTURE_NODE,
                                       .pick = BCKM_RES_PICK_RANDOM,
                                       .count = ks[i],
                                       .seed = seed + i };
        struct bckm_res_result r;
        struct brute b;
        REQUIRE(run_case(&prm, &r, &b) == BCKM_OK);
        CHECK(b.stores_agree);
        CHECK_EQ(r.links_total, b.total);
        CHECK_EQ(r.links_total, (uint64_t)n * (n - 1) / 2);
        CHECK_EQ(r.links_deciphered, b.deciphered);
        CHECK(b.deciphered >= b.touching);
        CHECK_EQ(r.captured, ks[i]);
        CHECK(r.dev_keys_min >= 2 && r.dev_keys_max <= 2 + (n - 1) + r.sets);
    }
}

static void test_node_capture_matches_brute_force(void) { for_each_network(node_case); }

/* One node u in a set of size s deciphers (n - 1) + (s - 1)(n - s) links
 * (Lemma 1 with the real set size). */
static void test_node_capture_lemma1(void) {
    struct bckm_res_params prm = { .nodes = 100,
                                   .bps = 1,
                                   .policy = BCKM_POLICY_OWNED,
                                   .capture = BCKM_RES_CAPTURE_NODE,
                                   .pick = BCKM_RES_PICK_RANDOM,
                                   .count = 1,
                                   .seed = 5 };
    struct bckm_res_result r;
    struct brute b;
    REQUIRE(run_case(&prm, &r, &b) == BCKM_OK);
    /* n = 100 with one BP: ten sets of ten, as Assignment fills them. */
    CHECK_EQ(r.sets, 10);
    CHECK_EQ(r.set_min, 10);
    CHECK_EQ(r.set_max, 10);
    CHECK_EQ(r.links_deciphered, 99 + 9 * 90);
    CHECK_EQ(b.deciphered, 99 + 9 * 90);
    CHECK(fabs(r.rate - bckm_res_prop1(100)) < 1e-12);
    CHECK_EQ(r.dev_keys_min, 20); /* 2 * sqrt(100) */
}

/* BP capture: owned -> exactly the links touching the captured BPs' nodes;
 * global -> every link. */
static void bp_case(uint32_t n, uint32_t p, bckm_policy pol, uint64_t seed) {
    for (uint32_t k = 1; k <= p && k <= 2; k++) {
        struct bckm_res_params prm = { .nodes = n,
                                       .bps = p,
                                       .policy = pol,
                                       .capture = BCKM_RES_CAPTURE_BP,
                                       .pick = BCKM_RES_PICK_RANDOM,
                                       .count = k,
                                       .seed = seed + k };
        struct bckm_res_result r;
        struct brute b;
        REQUIRE(run_case(&prm, &r, &b) == BCKM_OK);
        CHECK(b.stores_agree);
        CHECK_EQ(r.links_deciphered, b.deciphered);
        if (pol == BCKM_POLICY_OWNED)
            CHECK_EQ(r.links_deciphered, b.touching);
        else
            CHECK_EQ(r.links_deciphered, r.links_total);
    }
}

static void test_bp_capture_matches_brute_force(void) { for_each_network(bp_case); }

/* Prop. 3 is exact when p divides n under the owned policy. */
static void test_bp_capture_prop3(void) {
    struct bckm_res_params prm = { .nodes = 60,
                                   .bps = 3,
                                   .policy = BCKM_POLICY_OWNED,
                                   .capture = BCKM_RES_CAPTURE_BP,
                                   .pick = BCKM_RES_PICK_RANDOM,
                                   .count = 1,
                                   .seed = 9 };
    struct bckm_res_result r;
    struct brute b;
    REQUIRE(run_case(&prm, &r, &b) == BCKM_OK);
    /* 20 own nodes: C(20,2) + 20 * 40 links. */
    CHECK_EQ(r.links_deciphered, 190 + 800);
    CHECK(fabs(r.rate - bckm_res_prop3(60, 3)) < 1e-12);
}

/* Props. 2 and 4 by counting: the computed minimum deciphers everything
 * with the cover order, and one fewer does not. */
static void min_case(uint32_t n, uint32_t p, bckm_policy pol, uint64_t seed) {
    for (int cap = BCKM_RES_CAPTURE_NODE; cap <= BCKM_RES_CAPTURE_BP; cap++) {
        struct bckm_res_params prm = { .nodes = n,
                                       .bps = p,
                                       .policy = pol,
                                       .capture = cap,
                                       .pick = BCKM_RES_PICK_COVER,
                                       .count = 1,
                                       .seed = seed };
        struct bckm_res_result r;
        struct brute b;
        REQUIRE(run_case(&prm, &r, &b) == BCKM_OK);
        uint32_t min = cap == BCKM_RES_CAPTURE_NODE ? r.min_nodes_all : r.min_bps_all;
        REQUIRE(min >= 1);
        prm.count = min;
        REQUIRE(run_case(&prm, &r, &b) == BCKM_OK);
        CHECK_EQ(r.links_deciphered, r.links_total);
        CHECK_EQ(b.deciphered, b.total);
        if (min > 1) {
            prm.count = min - 1;
            REQUIRE(run_case(&prm, &r, &b) == BCKM_OK);
            CHECK(r.links_deciphered < r.links_total);
            CHECK_EQ(r.links_deciphered, b.deciphered);
        }
    }
}

static void test_smallest_full_capture(void) { for_each_network(min_case); }

static void test_rejects_bad_params(void) {
    struct bckm_res_world *w = NULL;
    struct bckm_res_params prm = { .nodes = 1,
                                   .bps = 1,
                                   .policy = BCKM_POLICY_OWNED,
                                   .capture = BCKM_RES_CAPTURE_NODE,
                                   .pick = BCKM_RES_PICK_RANDOM,
                                   .count = 1,
                                   .seed = 1 };
    CHECK_EQ(bckm_res_build(&w, &prm), BCKM_ERR_ARG);
    CHECK(w == NULL);
    prm.nodes = 10;
    prm.policy = (bckm_policy)7;
    CHECK_EQ(bckm_res_build(&w, &prm), BCKM_ERR_ARG);
    prm.policy = BCKM_POLICY_OWNED;
    prm.count = 11;
    REQUIRE(bckm_res_build(&w, &prm) == BCKM_OK);
    struct bckm_res_result r;
    CHECK_EQ(bckm_res_run(w, &r), BCKM_ERR_ARG);
    bckm_res_free(w);
}

static int main_rc(int argc, const char **argv) {
    return bckm_resilience_main(argc, (char **)(uintptr_t)argv);
}

static void test_command_flags(void) {
    const char *ok[] = {
        "resilience", "--nodes", "20",      "--bps", "2",      "--policy", "owned",
        "--capture",  "bp",      "--count", "1",     "--seed", "3",        "--json"
    };
    CHECK_EQ(main_rc(14, ok), 0);
    const char *missing[] = { "resilience", "--nodes", "20" };
    CHECK_EQ(main_rc(3, missing), 2);
    const char *badpol[] = { "resilience", "--nodes", "20",        "--bps", "2",
                             "--policy",   "mine",    "--capture", "bp",    "--count",
                             "1",          "--seed",  "3" };
    CHECK_EQ(main_rc(13, badpol), 2);
    const char *badcount[] = { "resilience", "--nodes", "20",        "--bps", "2",
                               "--policy",   "owned",   "--capture", "bp",    "--count",
                               "3",          "--seed",  "3" };
    CHECK_EQ(main_rc(13, badcount), 2);
    const char *neg[] = { "resilience", "--nodes", "-20" };
    CHECK_EQ(main_rc(3, neg), 2);
    const char *noval[] = { "resilience", "--seed" };
    CHECK_EQ(main_rc(2, noval), 2);
    const char *unknown[] = { "resilience", "--frobnicate" };
    CHECK_EQ(main_rc(2, unknown), 2);
}

CHECK_CASES(CASE(test_node_capture_matches_brute_force), CASE(test_node_capture_lemma1),
            CASE(test_bp_capture_matches_brute_force), CASE(test_bp_capture_prop3),
            CASE(test_smallest_full_capture), CASE(test_rejects_bad_params),
            CASE(test_command_flags))
