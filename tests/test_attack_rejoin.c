/*
 * Issue 14, attacks 2, 3 (first half), 4 and 7 and credential reuse: one
 * regression each, every one failing against 766d119's behaviour.
 *   2  catch-up from an epoch before the requester joined hands out old
 *      refresh keys; resync requests are MACed under the node KEK;
 *   3  a rogue without a BP key of the trusted table cannot complete the
 *      rejoin handshake, and the node sends nothing secret to it;
 *   4  a forged handover cannot overwrite keys the adopting BP holds, and a
 *      refused handover leaves the key manager unchanged;
 *   7  no generator state in a key manager reproduces a code it issued;
 *      in real use there is no generator at all;
 *   credentials are single-use: a spent serial cannot enrol again.
 */
#include "check.h"
#include "l1world.h"

#include "bckm/credstore.h"
#include "bckm/enrol.h"
#include "bckm/rejoin.h"
#include "bckm/resync.h"

#include <sodium.h>

static uint32_t live_member(struct l1world *w, uint32_t bp) {
    for (uint32_t i = 0; i < w->fleet.ndevs; i++)
        if (w->fleet.devs[i].live && !w->fleet.devs[i].asleep && w->fleet.devs[i].bp == bp)
            return w->fleet.devs[i].node_id;
    return 0;
}

/* Does any message of m, opened under kek, carry these 16 refresh bytes? */
static int leaks_refresh(const struct bckm_msgs *m, const uint8_t kek[32],
                         const uint8_t refresh[16]) {
    int found = 0;
    for (uint32_t i = 0; i < m->n; i++) {
        uint8_t *copy = malloc(m->refs[i].len);
        struct bckm_msg_header h;
        if (copy == NULL) return 1;
        memcpy(copy, m->buf + m->refs[i].off, m->refs[i].len);
        if (bckm_msg_open(copy, m->refs[i].len, kek, &h) == BCKM_OK) {
            const uint8_t *b = copy + BCKM_MSG_HEADER_BYTES;
            for (uint32_t k = 0; k + 16 <= h.body_len; k++)
                if (memcmp(b + k, refresh, 16) == 0) found = 1;
        }
        sodium_memzero(copy, m->refs[i].len);
        free(copy);
    }
    return found;
}

/* Attack 2: a node evicted at epoch E comes back as a new node (fresh
 * credential), then asks to catch up from before E. */
static void catch_up_before_join(void) {
    struct l1world w;
    struct bckm_credstore *cs;
    REQUIRE(l1_init(&w, 2, BCKM_POLICY_OWNED, 400, 41) == 0);
    REQUIRE(bckm_credstore_new(&cs) == BCKM_OK);
    REQUIRE(l1_genesis(&w, 80) == BCKM_OK);
    for (int k = 0; k < 6; k++) REQUIRE(l1_join(&w, 1 + (uint32_t)k % 2, NULL) == BCKM_OK);
    uint32_t victim = live_member(&w, 1);
    uint64_t before = bckm_sets_epoch(w.reg);
    REQUIRE(l1_leave(&w, victim, BCKM_OP_EVICT) == BCKM_OK);
    uint8_t evict_refresh[16];
    memcpy(evict_refresh, w.last.refresh, 16);
    /* Re-join at the same BP with a new credential, into an existing set
     * (a join that opened a new set already got a bundle in the old code). */
    uint32_t y = 0;
    uint8_t psk[32];
    for (uint32_t serial = 1000; serial < 1040; serial++) {
        randombytes_buf(psk, sizeof psk);
        REQUIRE(bckm_credstore_add(cs, serial, psk) == BCKM_OK);
        REQUIRE(l1_enrol_join(&w, cs, 1, serial, psk, &y) == BCKM_OK);
        if (w.plan.created_set == 0) break;
    }
    REQUIRE(w.plan.created_set == 0);
    struct bckm_device *dy = l1_device(&w, y);
    /* Its resync request, MACed under its own KEK, naming an epoch before
     * its join. */
    uint8_t chal[16] = { 1, 2, 3 }, req[BCKM_RESYNC_REQUEST_BYTES], got_ch[16];
    uint32_t node = 0;
    uint64_t last = 0;
    REQUIRE(bckm_resync_request_make(dy->kek, y, before, chal, req) == BCKM_OK);
    CHECK_EQ(bckm_km_open_resync(w.fleet.km[1], req, sizeof req, &node, &last, got_ch), BCKM_OK);
    CHECK_EQ(node, y);
    CHECK_EQ(last, before);
    struct bckm_msgs m;
    bckm_msgs_init(&m);
    CHECK_EQ(bckm_km_catch_up(w.fleet.km[1], w.reg, node, last, got_ch, &m), BCKM_OK);
    /* At most a bundle of its current keys, never the eviction's refresh. */
    CHECK(m.n <= 1);
    for (uint32_t i = 0; i < m.n; i++) CHECK_EQ(m.refs[i].kind, BCKM_MSG_BUNDLE);
    CHECK(!leaks_refresh(&m, dy->kek, evict_refresh));
    bckm_msgs_free(&m);
    /* A request from a node awake since its join is still answered by replay. */
    uint64_t ep = bckm_sets_epoch(w.reg);
    REQUIRE(l1_join(&w, 2, NULL) == BCKM_OK);
    bckm_msgs_init(&m);
    CHECK_EQ(bckm_km_catch_up(w.fleet.km[1], w.reg, y, ep, NULL, &m), BCKM_OK);
    CHECK_EQ(m.n, 1);
    if (m.n == 1) CHECK_EQ(m.refs[0].kind, BCKM_MSG_UPDATE);
    bckm_msgs_free(&m);
    bckm_credstore_free(cs);
    l1_free(&w);
}

/* Only the node itself can ask: a request under another node's KEK, a
 * tampered one, and one naming an evicted node are refused. */
static void resync_request_authenticated(void) {
    uint8_t kek[32], chal[16], req[BCKM_RESYNC_REQUEST_BYTES], want[BCKM_RESYNC_REQUEST_BYTES],
        got[16];
    uint32_t node = 0;
    uint64_t last = 0;
    long kl = check_vector("spec/vectors/resync.txt", "kek", kek, sizeof kek);
    long cl = check_vector("spec/vectors/resync.txt", "challenge", chal, sizeof chal);
    long rl = check_vector("spec/vectors/resync.txt", "request", want, sizeof want);
    REQUIRE(kl == 32 && cl == 16 && rl == BCKM_RESYNC_REQUEST_BYTES);
    REQUIRE(bckm_resync_request_make(kek, 0x01000007, 41, chal, req) == BCKM_OK);
    CHECK_MEM(req, want, sizeof req);
    CHECK_EQ(bckm_resync_request_open(kek, req, &node, &last, got), BCKM_OK);
    CHECK_EQ(node, 0x01000007);
    CHECK_EQ(last, 41);
    CHECK_MEM(got, chal, 16);
    for (size_t i = 0; i < sizeof req; i++) {
        req[i] ^= 0x10;
        node = 0;
        CHECK_EQ(bckm_resync_request_open(kek, req, &node, &last, got), BCKM_ERR_AUTH);
        CHECK_EQ(node, 0);
        req[i] ^= 0x10;
    }
    /* In a world: y's KEK cannot make a request for z. */
    struct l1world w;
    REQUIRE(l1_init(&w, 1, BCKM_POLICY_OWNED, 200, 42) == 0);
    REQUIRE(l1_genesis(&w, 30) == BCKM_OK);
    uint32_t y = w.fleet.devs[0].node_id, z = w.fleet.devs[1].node_id;
    REQUIRE(bckm_resync_request_make(l1_device(&w, y)->kek, z, 0, chal, req) == BCKM_OK);
    CHECK_EQ(bckm_km_open_resync(w.fleet.km[1], req, sizeof req, &node, &last, got), BCKM_ERR_AUTH);
    CHECK_EQ(bckm_km_open_resync(w.fleet.km[1], req, sizeof req - 1, &node, &last, got),
             BCKM_ERR_FORMAT);
    REQUIRE(bckm_resync_request_make(l1_device(&w, y)->kek, y, 0, chal, req) == BCKM_OK);
    REQUIRE(l1_leave(&w, y, BCKM_OP_EVICT) == BCKM_OK);
    CHECK_EQ(bckm_km_open_resync(w.fleet.km[1], req, sizeof req, &node, &last, got),
             BCKM_ERR_UNKNOWN);
    l1_free(&w);
}

static int all_zero(const uint8_t *p, size_t n) {
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= p[i];
    return acc == 0;
}

/* Attack 3: rejoin against a rogue. The node trusts the table with BPs 1 and
 * 2; the rogue has no BP key of it. In every case the node refuses before it
 * signs: the proof buffer is untouched and no KEK exists on its side. */
static void rogue_bp_refused(void) {
    struct bckm_bp_table bps, forged;
    uint8_t sk[3][64], rogue_pk[32], rogue_sk[64], root[32], code[32] = { 3 };
    memset(&bps, 0, sizeof bps);
    for (uint32_t b = 1; b <= 2; b++) {
        crypto_sign_keypair(bps.pk[b], sk[b]);
        bps.has[b] = 1;
    }
    crypto_sign_keypair(rogue_pk, rogue_sk);
    bckm_bps_root(&bps, root);
    struct {
        const char *what;
        uint32_t claim; /* the BP ID the rogue claims */
        int table;      /* 0 genuine, 1 key of 1 replaced, 2 rogue added as 3 */
        int want;
    } cases[] = {
        { "genuine table, rogue signs as BP 1", 1, 0, BCKM_ERR_AUTH },
        { "rogue key in BP 1's place", 1, 1, BCKM_ERR_AUTH },
        { "rogue added to the table as BP 3", 3, 2, BCKM_ERR_AUTH },
        { "BP 3 not in the trusted table", 3, 0, BCKM_ERR_UNKNOWN },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct bckm_rejoin_node ns;
        struct bckm_rejoin_bp rs;
        uint8_t hello[BCKM_REJOIN_HELLO_BYTES], chal[BCKM_REJOIN_CHALLENGE_BYTES], proof[64],
            pk[32];
        uint32_t got = 0;
        forged = bps;
        if (cases[k].table == 1) memcpy(forged.pk[1], rogue_pk, 32);
        if (cases[k].table == 2) {
            memcpy(forged.pk[3], rogue_pk, 32);
            forged.has[3] = 1;
        }
        REQUIRE(bckm_rejoin_node_hello(&ns, 0x02000005, NULL, hello) == BCKM_OK);
        /* The rogue runs the BP side with its own key. */
        REQUIRE(bckm_rejoin_bp_challenge(&rs, cases[k].claim, rogue_sk, hello, NULL, chal) ==
                BCKM_OK);
        memset(proof, 0xee, sizeof proof);
        memset(pk, 0xee, sizeof pk);
        int e = bckm_rejoin_node_prove(&ns, root, &forged, code, chal, proof, &got, pk);
        if (e != cases[k].want) fprintf(stderr, "case: %s\n", cases[k].what);
        CHECK_EQ(e, cases[k].want);
        int untouched = 1;
        for (size_t i = 0; i < sizeof proof; i++)
            if (proof[i] != 0xee || pk[i % 32] != 0xee) untouched = 0;
        CHECK(untouched);
        CHECK_EQ(got, 0);
        CHECK(all_zero(ns.kek, sizeof ns.kek));
        CHECK(all_zero(ns.sk, sizeof ns.sk));
    }
    /* A challenge tampered in transit (the genuine BP 2's) fails the same way. */
    struct bckm_rejoin_node ns;
    struct bckm_rejoin_bp bs;
    uint8_t hello[BCKM_REJOIN_HELLO_BYTES], chal[BCKM_REJOIN_CHALLENGE_BYTES], proof[64], pk[32];
    uint32_t got = 0;
    REQUIRE(bckm_rejoin_node_hello(&ns, 0x02000005, NULL, hello) == BCKM_OK);
    REQUIRE(bckm_rejoin_bp_challenge(&bs, 2, sk[2], hello, NULL, chal) == BCKM_OK);
    chal[40] ^= 1; /* the nonce */
    CHECK_EQ(bckm_rejoin_node_prove(&ns, root, &bps, code, chal, proof, &got, pk), BCKM_ERR_AUTH);
    /* and the genuine one succeeds, returning the BP the node must install */
    REQUIRE(bckm_rejoin_node_hello(&ns, 0x02000005, NULL, hello) == BCKM_OK);
    REQUIRE(bckm_rejoin_bp_challenge(&bs, 2, sk[2], hello, NULL, chal) == BCKM_OK);
    CHECK_EQ(bckm_rejoin_node_prove(&ns, root, &bps, code, chal, proof, &got, pk), BCKM_OK);
    CHECK_EQ(got, 2);
    CHECK_MEM(pk, bps.pk[2], 32);
    CHECK_MEM(ns.kek, bs.kek, 32);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(rogue_sk, sizeof rogue_sk);
}

/* A snapshot of what BP 1 holds about set s and node u. */
struct snap {
    uint8_t knows, has_node;
    uint8_t pair[64][32];
    uint8_t has_pair[64];
    size_t bytes;
};

static void take(struct l1world *w, uint32_t s, uint32_t u, struct snap *sn) {
    memset(sn, 0, sizeof *sn);
    sn->knows = (uint8_t)bckm_km_knows_set(w->fleet.km[1], s);
    sn->has_node = (uint8_t)bckm_km_has_node(w->fleet.km[1], u);
    const struct bckm_set_info *tab = bckm_sets_table(w->reg);
    for (uint32_t i = 0; i < bckm_sets_count(w->reg) && i < 64; i++)
        sn->has_pair[i] = bckm_km_pair_key(w->fleet.km[1], s, tab[i].id, sn->pair[i]) == BCKM_OK;
    sn->bytes = bckm_km_bytes(w->fleet.km[1]);
}

/* Opens a handover, lets edit change its body, seals it again. */
static size_t reseal(uint8_t *msg, size_t len, const uint8_t kek[32],
                     void (*edit)(uint8_t *body, uint32_t blen)) {
    struct bckm_msg_header h;
    uint8_t *body = malloc(len);
    size_t out = 0;
    if (body == NULL || bckm_msg_open(msg, len, kek, &h) != BCKM_OK) {
        free(body);
        return 0;
    }
    memcpy(body, msg + BCKM_MSG_HEADER_BYTES, h.body_len);
    edit(body, h.body_len);
    if (bckm_msg_seal(&h, kek, body, h.body_len, msg, len, &out) != BCKM_OK) out = 0;
    sodium_memzero(body, len);
    free(body);
    return out;
}

/* The set-pair list's count is at 105: node 4 | set 4 | has code 1 |
 * code 32 | seed 32 | set KEK 32 | u16 count | entries. */
static void edit_dead_set(uint8_t *body, uint32_t blen) {
    uint32_t n = bckm_get_u16(body + 105);
    (void)blen;
    if (n > 0) bckm_put_u32(body + 107 + (size_t)(n - 1) * 36, 0xfe00ffffu); /* stays sorted */
}

static void edit_code(uint8_t *body, uint32_t blen) {
    (void)blen;
    body[8] = 1;
}

/* Attack 4: BP 2 fails; an orphan of it (an insider) hands BP 1 forged
 * values for the pair keys of its set with BP 1's own sets. */
static void handover_poisoning(void) {
    struct l1world w;
    REQUIRE(l1_init(&w, 2, BCKM_POLICY_OWNED, 400, 44) == 0);
    l1_delivery_errors = 0;
    REQUIRE(l1_genesis(&w, 80) == BCKM_OK);
    w.dead[2] = 1;
    for (uint32_t i = 0; i < w.fleet.ndevs; i++)
        if (w.fleet.devs[i].bp == 2) w.fleet.devs[i].asleep = 1;
    for (int k = 0; k < 4; k++) REQUIRE(l1_join(&w, 1, NULL) == BCKM_OK);
    uint32_t u = 0, ui = 0;
    for (uint32_t i = 0; i < w.fleet.ndevs && u == 0; i++)
        if (w.fleet.devs[i].live && w.fleet.devs[i].bp == 2) {
            u = w.fleet.devs[i].node_id;
            ui = i;
        }
    REQUIRE(u != 0);
    struct bckm_device *d = w.fleet.devs[ui].dev;
    uint32_t s = d->set_id;
    uint8_t kek[32], ch[16], hand[65536], nonce[24] = { 4 };
    size_t hl = 0;
    REQUIRE(l1_rejoin(&w, u, 1, kek, ch) == BCKM_OK);
    struct snap before, after;
    take(&w, s, u, &before);

    /* Refused handovers change nothing: a pair key naming a set that does
     * not exist, a handover carrying a code, one under a wrong KEK. */
    struct bckm_msgs m;
    bckm_msgs_init(&m);
    REQUIRE(bckm_device_export(d, nonce, hand, sizeof hand, &hl) == BCKM_OK);
    REQUIRE(reseal(hand, hl, kek, edit_dead_set) == hl);
    CHECK_EQ(bckm_km_import_handover(w.fleet.km[1], w.reg, u, kek, hand, hl, &m), BCKM_ERR_FORMAT);
    REQUIRE(bckm_device_export(d, nonce, hand, sizeof hand, &hl) == BCKM_OK);
    REQUIRE(reseal(hand, hl, kek, edit_code) == hl);
    CHECK_EQ(bckm_km_import_handover(w.fleet.km[1], w.reg, u, kek, hand, hl, &m), BCKM_ERR_FORMAT);
    /* under a KEK other than the handshake's */
    uint8_t wrong[32];
    memcpy(wrong, kek, 32);
    wrong[0] ^= 1;
    REQUIRE(bckm_device_export(d, nonce, hand, sizeof hand, &hl) == BCKM_OK);
    CHECK_EQ(bckm_km_import_handover(w.fleet.km[1], w.reg, u, wrong, hand, hl, &m), BCKM_ERR_AUTH);
    CHECK_EQ(m.n, 0);
    take(&w, s, u, &after);
    CHECK_MEM(&before, &after, sizeof before);
    /* A node of BP 1's own set cannot hand BP 1 keys at all. */
    uint32_t own = live_member(&w, 1);
    struct bckm_device *dn = l1_device(&w, own);
    REQUIRE(bckm_device_export(dn, nonce, hand, sizeof hand, &hl) == BCKM_OK);
    CHECK_EQ(bckm_km_import_handover(w.fleet.km[1], w.reg, own, dn->kek, hand, hl, &m),
             BCKM_ERR_PERM);

    /* The forgery: every pair key of u's set with a BP 1 set replaced by a
     * value the forger picks. */
    uint8_t evil[32];
    memset(evil, 0x66, sizeof evil);
    uint32_t forged = 0;
    for (uint32_t k = 0; k < d->n_sets; k++)
        if (bckm_id_bp(d->keys[d->cap_peers + k].id) == 1) {
            memcpy(d->keys[d->cap_peers + k].key, evil, 32);
            forged++;
        }
    REQUIRE(forged > 0);
    REQUIRE(bckm_device_export(d, nonce, hand, sizeof hand, &hl) == BCKM_OK);
    CHECK_EQ(bckm_km_import_handover(w.fleet.km[1], w.reg, u, kek, hand, hl, &m), BCKM_OK);
    w.fleet.devs[ui].bp = 1;
    w.fleet.devs[ui].asleep = 0;
    l1_deliver(&w, 1, &m);
    /* BP 1's own pair keys are untouched: never the forger's value. */
    const struct bckm_set_info *tab = bckm_sets_table(w.reg);
    uint32_t kept = 0, poisoned = 0;
    for (uint32_t i = 0; i < bckm_sets_count(w.reg) && i < 64; i++) {
        uint8_t k[32];
        if (bckm_id_bp(tab[i].id) != 1 || !before.has_pair[i]) continue;
        REQUIRE(bckm_km_pair_key(w.fleet.km[1], s, tab[i].id, k) == BCKM_OK);
        if (memcmp(k, before.pair[i], 32) == 0) kept++;
        if (memcmp(k, evil, 32) == 0) poisoned++;
    }
    CHECK_EQ(kept, forged);
    CHECK_EQ(poisoned, 0);
    CHECK(bckm_km_knows_set(w.fleet.km[1], s));
    bckm_msgs_free(&m);
    /* The next joiners at BP 1 agree with everyone but the forger's own
     * (self-inflicted) links. */
    for (int k = 0; k < 4; k++) REQUIRE(l1_join(&w, 1, NULL) == BCKM_OK);
    w.fleet.devs[ui].live = 0; /* leave the forger out of the agreement check */
    uint32_t bad = 0;
    for (uint32_t i = 0; i < w.fleet.ndevs; i++) {
        if (!w.fleet.devs[i].live || w.fleet.devs[i].asleep || w.fleet.devs[i].bp != 1 || i == ui)
            continue;
        uint32_t v = w.fleet.devs[i].node_id;
        struct bckm_device *dv = w.fleet.devs[i].dev;
        for (uint32_t j = w.fleet.ndevs - 4; j < w.fleet.ndevs; j++) {
            struct bckm_device *dj = w.fleet.devs[j].dev;
            uint8_t a[32], b[32];
            if (j == i) continue;
            if (bckm_device_key_for(dj, v, dv->set_id, a) != BCKM_OK ||
                bckm_device_key_for(dv, w.fleet.devs[j].node_id, dj->set_id, b) != BCKM_OK ||
                memcmp(a, b, 32) != 0)
                bad++;
        }
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(l1_delivery_errors, 0);
    l1_free(&w);
}

/* Attack 7: the code a key manager issued cannot be recomputed from its
 * generator state; in real use there is no generator state. */
static void codes_not_recomputable(void) {
    struct l1world w;
    REQUIRE(l1_init(&w, 1, BCKM_POLICY_GLOBAL, 200, 47) == 0);
    REQUIRE(l1_genesis(&w, 20) == BCKM_OK);
    uint32_t y = 0;
    REQUIRE(l1_join(&w, 1, &y) == BCKM_OK);
    struct bckm_device *d = l1_device(&w, y);
    REQUIRE(d->has_code);
    struct bckm_drbg g, probe;
    REQUIRE(bckm_km_generator(w.fleet.km[1], &g) == BCKM_OK);
    REQUIRE(g.counter > 0);
    /* Every earlier counter under the current key, and the next outputs. */
    uint32_t hits = 0;
    uint8_t out[BCKM_CODE_BYTES];
    for (uint64_t c = 0; c <= g.counter + 64; c++) {
        probe = g;
        probe.counter = c;
        bckm_drbg_fill(&probe, out, sizeof out);
        if (memcmp(out, d->code, sizeof out) == 0) hits++;
    }
    CHECK_EQ(hits, 0);
    sodium_memzero(&g, sizeof g);
    sodium_memzero(&probe, sizeof probe);
    l1_free(&w);
    /* Real use: no seed, no generator. */
    struct bckm_km *km;
    struct bckm_km_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.bp_id = 1;
    cfg.policy = BCKM_POLICY_GLOBAL;
    REQUIRE(bckm_km_new(&km, &cfg) == BCKM_OK);
    CHECK_EQ(bckm_km_generator(km, &g), BCKM_ERR_STATE);
    bckm_km_free(km);
    /* The generator itself is forward secure: its state after an output
     * does not give that output again. */
    uint8_t seed[32] = { 7 }, first[32], again[32];
    struct bckm_drbg a;
    bckm_drbg_init(&a, seed);
    bckm_drbg_fill(&a, first, sizeof first);
    probe = a;
    probe.counter = 0;
    bckm_drbg_fill(&probe, again, sizeof again);
    CHECK(memcmp(first, again, 32) != 0);
    CHECK(!all_zero(a.key, sizeof a.key));
    CHECK(memcmp(a.key, seed, 32) != 0);
}

/* Credentials are single-use: after its node is evicted, the credential
 * cannot enrol again; a new one can. */
static void credential_single_use(void) {
    struct l1world w;
    struct bckm_credstore *cs;
    uint8_t psk[32], psk2[32], tmp[32];
    REQUIRE(l1_init(&w, 1, BCKM_POLICY_OWNED, 200, 48) == 0);
    REQUIRE(bckm_credstore_new(&cs) == BCKM_OK);
    REQUIRE(l1_genesis(&w, 20) == BCKM_OK);
    randombytes_buf(psk, sizeof psk);
    randombytes_buf(psk2, sizeof psk2);
    REQUIRE(bckm_credstore_add(cs, 7, psk) == BCKM_OK);
    REQUIRE(bckm_credstore_add(cs, 8, psk2) == BCKM_OK);
    CHECK_EQ(bckm_credstore_add(cs, 7, psk2), BCKM_ERR_EXISTS);
    uint32_t u = 0;
    REQUIRE(l1_enrol_join(&w, cs, 1, 7, psk, &u) == BCKM_OK);
    CHECK(bckm_credstore_is_spent(cs, 7));
    CHECK_EQ(bckm_credstore_get(cs, 7, tmp), BCKM_ERR_PERM);
    REQUIRE(l1_leave(&w, u, BCKM_OP_EVICT) == BCKM_OK);
    uint32_t nodes = bckm_sets_nodes(w.reg), again = 0;
    uint64_t ep = bckm_sets_epoch(w.reg);
    CHECK_EQ(l1_enrol_join(&w, cs, 1, 7, psk, &again), BCKM_ERR_PERM);
    CHECK_EQ(again, 0);
    CHECK_EQ(bckm_sets_nodes(w.reg), nodes);
    CHECK_EQ(bckm_sets_epoch(w.reg), ep);
    /* A spent serial cannot be provisioned back either. */
    CHECK_EQ(bckm_credstore_add(cs, 7, psk), BCKM_ERR_EXISTS);
    CHECK_EQ(bckm_credstore_get(cs, 9, tmp), BCKM_ERR_UNKNOWN);
    /* A new credential enrols. */
    CHECK_EQ(l1_enrol_join(&w, cs, 1, 8, psk2, &again), BCKM_OK);
    CHECK(again != 0 && again != u);
    CHECK_EQ(l1_check(&w, 100), 0);
    bckm_credstore_free(cs);
    l1_free(&w);
}

CHECK_CASES(CASE(catch_up_before_join), CASE(resync_request_authenticated), CASE(rogue_bp_refused),
            CASE(handover_poisoning), CASE(codes_not_recomputable), CASE(credential_single_use))
