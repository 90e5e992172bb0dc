/* bckm_msgs_route: who applies which message of a batch. */
#include <string.h>

#include "bckm/km.h"
#include "bckm/msg.h"
#include "check.h"
#include "l1world.h"

struct seen {
    uint32_t node[64];
    uint8_t tag[64];
    uint32_t n;
    uint32_t stop_after; /* 0: never */
};

static int record(void *ctx, uint32_t node, const uint8_t *msg, size_t len) {
    struct seen *s = ctx;
    if (s->n >= 64 || len != 1) return BCKM_ERR_ARG;
    s->node[s->n] = node;
    s->tag[s->n] = msg[0];
    s->n++;
    return s->stop_after && s->n == s->stop_after ? BCKM_ERR_STATE : BCKM_OK;
}

static void add(struct bckm_msgs *m, uint8_t kind, uint8_t kek, uint32_t recipient, uint8_t tag) {
    m->buf[m->len] = tag;
    m->refs[m->n] = (struct bckm_msg_ref){ kind, kek, recipient, m->len, 1 };
    m->len++;
    m->n++;
}

static uint32_t count_for(const struct seen *s, uint32_t node, uint8_t tag) {
    uint32_t c = 0;
    for (uint32_t i = 0; i < s->n; i++) c += s->node[i] == node && s->tag[i] == tag;
    return c;
}

static void routes_by_the_rule(void) {
    struct l1world w;
    REQUIRE(l1_init(&w, 1, BCKM_POLICY_OWNED, 64, 3) == 0);
    REQUIRE(l1_genesis(&w, 9) == BCKM_OK);
    const struct bckm_set_info *tab = bckm_sets_table(w.reg);
    REQUIRE(bckm_sets_count(w.reg) >= 2);
    uint32_t s0 = tab[0].id, s1 = tab[1].id, n0, n1;
    const uint32_t *m0 = bckm_sets_members(w.reg, s0, &n0);
    const uint32_t *m1 = bckm_sets_members(w.reg, s1, &n1);
    REQUIRE(n0 >= 2 && n1 >= 1);
    uint8_t buf[16];
    struct bckm_msg_ref refs[8];
    struct bckm_msgs m = { buf, 0, sizeof buf, refs, 0, 8 };
    add(&m, BCKM_MSG_UPDATE, BCKM_KEK_SET, s0, 'A');     /* set s0's members ... */
    add(&m, BCKM_MSG_BUNDLE, BCKM_KEK_NODE, m0[1], 'B'); /* ... but m0[1] is bundled */
    add(&m, BCKM_MSG_UPDATE, BCKM_KEK_NODE, m1[0], 'C'); /* one node of s1 */
    struct seen s;
    memset(&s, 0, sizeof s);
    CHECK_EQ(bckm_msgs_route(&m, w.reg, record, &s), BCKM_OK);
    CHECK_EQ(s.n, n0 - 1 + 1 + 1);
    for (uint32_t k = 0; k < n0; k++) CHECK_EQ(count_for(&s, m0[k], 'A'), k == 1 ? 0u : 1u);
    CHECK_EQ(count_for(&s, m0[1], 'B'), 1);
    CHECK_EQ(count_for(&s, m1[0], 'C'), 1);
    for (uint32_t k = 1; k < n1; k++) CHECK_EQ(count_for(&s, m1[k], 'C'), 0);
    /* In batch order: every 'A' before the 'B', the 'C' last. */
    CHECK_EQ(s.tag[s.n - 1], 'C');
    CHECK_EQ(s.tag[s.n - 2], 'B');
    /* The callback's error stops the walk and is returned. */
    memset(&s, 0, sizeof s);
    s.stop_after = 1;
    CHECK_EQ(bckm_msgs_route(&m, w.reg, record, &s), BCKM_ERR_STATE);
    CHECK_EQ(s.n, 1);
    CHECK_EQ(bckm_msgs_route(NULL, w.reg, record, &s), BCKM_ERR_ARG);
    CHECK_EQ(bckm_msgs_route(&m, w.reg, NULL, &s), BCKM_ERR_ARG);
    l1_free(&w);
}

CHECK_CASES(CASE(routes_by_the_rule))
