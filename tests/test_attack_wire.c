/*
 * Issue 14, origin authentication of rekey messages: regression tests for
 * attack 1 (a set member forges a next-epoch set update), attack 3's second
 * half (a device's own handover reflected back), attack 8 (a stale bundle
 * replayed to a device in resync), a message from another BP of the
 * cluster, tampered batch trailers, and one signature for a batch of many
 * messages. Every rejection must leave the store byte-for-byte unchanged.
 */
#include "check.h"
#include "l1world.h"

#include "bckm/assert.h"
#include "bckm/rekey_auth.h"

#include <sodium.h>

/* Applies a copy of msg to d; returns the verdict and whether the store
 * stayed byte-for-byte the same. */
static int try_apply(struct bckm_device *d, const uint8_t *msg, size_t len, int *unchanged) {
    size_t bytes = BCKM_DEVICE_BYTES(d->cap_peers, d->cap_sets);
    uint8_t *snap = malloc(bytes), *copy = malloc(len ? len : 1);
    BCKM_ASSERT(snap != NULL && copy != NULL, "a test device and one message fit in memory");
    memcpy(snap, d, bytes);
    memcpy(copy, msg, len);
    int e = bckm_device_apply(d, copy, len);
    *unchanged = memcmp(snap, d, bytes) == 0;
    free(snap);
    free(copy);
    return e;
}

/* A member of its set other than u, or 0. */
static uint32_t set_mate(struct l1world *w, uint32_t u) {
    uint32_t n;
    const uint32_t *mem = bckm_sets_members(w->reg, l1_device(w, u)->set_id, &n);
    for (uint32_t i = 0; i < n; i++)
        if (mem[i] != u && l1_device(w, mem[i]) != NULL) return mem[i];
    return 0;
}

/* Seals an update of `set` under key into m (appended), as a BP would. */
static void forge_update(struct bckm_msgs *m, uint32_t set, uint32_t subject, uint64_t epoch,
                         const uint8_t key[32], uint8_t sender) {
    uint8_t body[64], refresh[16];
    struct bckm_writer w;
    memset(refresh, 0x66, sizeof refresh); /* chosen by the forger */
    bckm_writer_init(&w, body, sizeof body);
    bckm_writer_u8(&w, BCKM_OP_EVICT);
    bckm_writer_u32(&w, subject);
    bckm_writer_bytes(&w, refresh, 16);
    bckm_writer_u16(&w, 1);
    bckm_writer_u32(&w, set); /* changed: its own set */
    for (int k = 0; k < 4; k++) bckm_writer_u16(&w, 0);
    REQUIRE(w.err == 0);
    struct bckm_msg_header h;
    memset(&h, 0, sizeof h);
    h.kind = BCKM_MSG_UPDATE;
    h.kek_type = BCKM_KEK_SET;
    h.sender = sender;
    h.recipient = set;
    h.epoch = epoch;
    randombytes_buf(h.nonce, sizeof h.nonce);
    size_t need = BCKM_MSG_HEADER_BYTES + w.len + BCKM_MSG_TAG_BYTES, len = 0;
    m->buf = realloc(m->buf, m->len + need);
    m->refs = realloc(m->refs, (m->n + 1) * sizeof *m->refs);
    REQUIRE(m->buf != NULL && m->refs != NULL);
    m->cap = m->len + need;
    m->refs_cap = m->n + 1;
    REQUIRE(bckm_msg_seal(&h, key, body, w.len, m->buf + m->len, need, &len) == BCKM_OK);
    m->refs[m->n++] = (struct bckm_msg_ref){ BCKM_MSG_UPDATE, BCKM_KEK_SET, set, m->len, len };
    m->len += len;
}

/* Attack 1: a member about to be evicted forges its set's next update. */
static void forged_set_update(void) {
    struct l1world w;
    REQUIRE(l1_init(&w, 1, BCKM_POLICY_GLOBAL, 256, 101) == 0);
    l1_delivery_errors = 0;
    REQUIRE(l1_genesis(&w, 40) == BCKM_OK);
    uint32_t u = w.fleet.devs[3].node_id, v = set_mate(&w, u);
    REQUIRE(v != 0);
    struct bckm_device *du = l1_device(&w, u), *dv = l1_device(&w, v);
    uint64_t e0 = dv->epoch;
    /* (a) signed with the forger's own key; (b) with a genuine trailer
     * copied from a real batch message; (c) no trailer at all. */
    uint8_t fpk[32], fsk[64];
    crypto_sign_keypair(fpk, fsk);
    struct bckm_msgs m;
    bckm_msgs_init(&m);
    forge_update(&m, du->set_id, u, du->epoch + 1, du->set_kek, du->bp_id);
    size_t bare = m.refs[0].len;
    uint8_t *unsigned_copy = malloc(bare);
    REQUIRE(unsigned_copy != NULL);
    memcpy(unsigned_copy, m.buf, bare);
    REQUIRE(bckm_rekey_batch_sign(&m, 0, du->bp_id, fsk) == BCKM_OK);
    int same = 0;
    CHECK_EQ(try_apply(dv, m.buf, m.refs[0].len, &same), BCKM_ERR_AUTH);
    CHECK(same);
    /* (b): the last genesis bundle's trailer (a leaf of the same BP's batch) */
    const struct bckm_msgs *g = &w.out[1];
    const struct bckm_msg_ref *gr = &g->refs[g->n - 1];
    struct bckm_msg_header gh;
    REQUIRE(bckm_msg_header_decode(g->buf + gr->off, gr->len, &gh) == BCKM_OK);
    size_t tl = gr->len - gh.sealed_len;
    uint8_t *spliced = malloc(bare + tl);
    REQUIRE(spliced != NULL);
    memcpy(spliced, unsigned_copy, bare);
    memcpy(spliced + bare, g->buf + gr->off + gh.sealed_len, tl);
    CHECK_EQ(try_apply(dv, spliced, bare + tl, &same), BCKM_ERR_AUTH);
    CHECK(same);
    CHECK(try_apply(dv, unsigned_copy, bare, &same) != BCKM_OK);
    CHECK(same);
    CHECK_EQ(dv->epoch, e0);
    /* The BP's real eviction then applies everywhere. */
    CHECK_EQ(l1_leave(&w, u, BCKM_OP_EVICT), BCKM_OK);
    CHECK_EQ(l1_delivery_errors, 0);
    CHECK_EQ(dv->epoch, e0 + 1);
    CHECK_EQ(l1_check(&w, 64), 0);
    sodium_memzero(fsk, sizeof fsk);
    free(unsigned_copy);
    free(spliced);
    bckm_msgs_free(&m);
    l1_free(&w);
}

/* Attack 3, second half: a device's handover export sent back to it. */
static void reflected_handover(void) {
    struct l1world w;
    REQUIRE(l1_init(&w, 1, BCKM_POLICY_GLOBAL, 256, 102) == 0);
    REQUIRE(l1_genesis(&w, 30) == BCKM_OK);
    struct bckm_device *d = w.fleet.devs[5].dev;
    uint8_t ch[16], nonce[24] = { 9 }, hand[8192];
    randombytes_buf(ch, sizeof ch);
    bckm_device_begin_resync(d, ch); /* the state in which it hands over */
    size_t hl = 0;
    REQUIRE(bckm_device_export(d, nonce, hand, sizeof hand, &hl) == BCKM_OK);
    CHECK_EQ(hand[1], BCKM_MSG_HANDOVER);
    CHECK_EQ(hand[3], 0);
    int same = 0;
    CHECK_EQ(try_apply(d, hand, hl, &same), BCKM_ERR_PERM);
    CHECK(same);
    /* relabelled as a bundle from its BP: the header is the AEAD's data and
     * there is no BP signature */
    hand[1] = BCKM_MSG_BUNDLE;
    hand[3] = d->bp_id;
    CHECK(try_apply(d, hand, hl, &same) != BCKM_OK);
    CHECK(same);
    l1_free(&w);
}

/* Attack 8: a recorded bundle replayed to a device in resync, before the
 * BP's real catch-up. */
static void stale_bundle_in_resync(void) {
    struct l1world w;
    REQUIRE(l1_init(&w, 1, BCKM_POLICY_GLOBAL, 256, 103) == 0);
    l1_delivery_errors = 0;
    REQUIRE(l1_genesis(&w, 40) == BCKM_OK);
    uint32_t u;
    w.hold = 1;
    REQUIRE(l1_join(&w, 1, &u) == BCKM_OK);
    /* the attacker records the joiner's bundle */
    const struct bckm_msgs *o = &w.out[1];
    uint8_t *rec = NULL;
    size_t rl = 0;
    for (uint32_t i = 0; i < o->n; i++)
        if (o->refs[i].kind == BCKM_MSG_BUNDLE && o->refs[i].recipient == u) {
            rl = o->refs[i].len;
            rec = malloc(rl);
            REQUIRE(rec != NULL);
            memcpy(rec, o->buf + o->refs[i].off, rl);
        }
    REQUIRE(rec != NULL);
    l1_deliver_all(&w);
    w.hold = 0;
    uint32_t di = l1_index(&w, u);
    struct bckm_device *d = w.fleet.devs[di].dev;
    uint64_t slept_at = d->epoch;
    w.fleet.devs[di].asleep = 1;
    for (int k = 0; k < 6; k++) REQUIRE(l1_join(&w, 1, NULL) == BCKM_OK);
    w.fleet.devs[di].asleep = 0;
    uint8_t ch[16];
    randombytes_buf(ch, sizeof ch);
    bckm_device_begin_resync(d, ch);
    int same = 0;
    CHECK_EQ(try_apply(d, rec, rl, &same), BCKM_ERR_REPLAY);
    CHECK(same);
    CHECK_EQ(d->resync, 1);
    /* an answer to an older challenge is stale too: the BP's catch-up for
     * another challenge */
    uint8_t old[16];
    randombytes_buf(old, sizeof old);
    struct bckm_msgs m;
    bckm_msgs_init(&m);
    REQUIRE(bckm_km_catch_up(w.fleet.km[1], w.reg, u, slept_at, old, &m) == BCKM_OK);
    REQUIRE(m.n > 0);
    CHECK_EQ(try_apply(d, m.buf + m.refs[0].off, m.refs[0].len, &same), BCKM_ERR_REPLAY);
    CHECK(same);
    /* the real catch-up is accepted */
    bckm_msgs_clear(&m);
    REQUIRE(bckm_km_catch_up(w.fleet.km[1], w.reg, u, slept_at, ch, &m) == BCKM_OK);
    l1_deliver(&w, 1, &m);
    CHECK_EQ(l1_delivery_errors, 0);
    CHECK_EQ(d->epoch, bckm_sets_epoch(w.reg));
    CHECK_EQ(l1_check(&w, 64), 0);
    /* and replaying it afterwards changes nothing */
    CHECK(try_apply(d, m.buf + m.refs[0].off, m.refs[0].len, &same) != BCKM_OK);
    CHECK(same);
    bckm_msgs_free(&m);
    free(rec);
    l1_free(&w);
}

/* A genuine message of another BP of the cluster is not the serving BP's. */
static void other_bp_refused(void) {
    struct l1world w;
    REQUIRE(l1_init(&w, 2, BCKM_POLICY_GLOBAL, 256, 104) == 0);
    l1_delivery_errors = 0;
    REQUIRE(l1_genesis(&w, 40) == BCKM_OK);
    w.hold = 1;
    REQUIRE(l1_leave(&w, w.fleet.devs[0].node_id, BCKM_OP_LEAVE) == BCKM_OK);
    /* a device of BP 1 whose set got a set-KEK update from BP 2 too */
    const struct bckm_msgs *o2 = &w.out[2];
    uint32_t hits = 0;
    for (uint32_t i = 0; i < o2->n; i++) {
        const struct bckm_msg_ref *r = &o2->refs[i];
        if (r->kek_type != BCKM_KEK_SET) continue;
        uint32_t n;
        const uint32_t *mem = bckm_sets_members(w.reg, r->recipient, &n);
        for (uint32_t k = 0; k < n; k++) {
            uint32_t di = l1_index(&w, mem[k]);
            if (di == UINT32_MAX || w.fleet.devs[di].bp != 1) continue;
            int same = 0;
            struct bckm_device *d = w.fleet.devs[di].dev;
            CHECK_EQ(try_apply(d, o2->buf + r->off, r->len, &same), BCKM_ERR_PERM);
            CHECK(same);
            /* claiming to be BP 1 with BP 2's signature */
            uint8_t *c = malloc(r->len);
            REQUIRE(c != NULL);
            memcpy(c, o2->buf + r->off, r->len);
            c[3] = 1;
            CHECK_EQ(try_apply(d, c, r->len, &same), BCKM_ERR_AUTH);
            CHECK(same);
            free(c);
            hits++;
            break;
        }
    }
    CHECK(hits > 0);
    l1_deliver_all(&w);
    CHECK_EQ(l1_delivery_errors, 0);
    CHECK_EQ(l1_check(&w, 64), 0);
    l1_free(&w);
}

/* Tampered trailers: index, count, depth, path, signature. */
static void tampered_trailer(void) {
    struct l1world w;
    REQUIRE(l1_init(&w, 1, BCKM_POLICY_GLOBAL, 256, 105) == 0);
    l1_delivery_errors = 0;
    REQUIRE(l1_genesis(&w, 40) == BCKM_OK);
    w.hold = 1;
    REQUIRE(l1_leave(&w, w.fleet.devs[1].node_id, BCKM_OP_LEAVE) == BCKM_OK);
    const struct bckm_msgs *o = &w.out[1];
    REQUIRE(o->n >= 2);
    uint32_t tried = 0, refused = 0, kept = 0;
    for (uint32_t i = 0; i < o->n; i++) {
        const struct bckm_msg_ref *r = &o->refs[i];
        uint32_t target = r->recipient, n;
        if (r->kek_type == BCKM_KEK_SET) target = bckm_sets_members(w.reg, r->recipient, &n)[0];
        struct bckm_device *d = l1_device(&w, target);
        if (d == NULL) continue;
        struct bckm_msg_header h;
        REQUIRE(bckm_msg_header_decode(o->buf + r->off, r->len, &h) == BCKM_OK);
        size_t t = h.sealed_len;
        uint8_t depth = o->buf[r->off + t + 8];
        size_t spots[8];
        uint32_t ns = 0;
        spots[ns++] = t + 3;                                         /* index */
        spots[ns++] = t + 7;                                         /* count */
        if (depth > 0) spots[ns++] = t + 9;                          /* first path node */
        if (depth > 0) spots[ns++] = t + 9 + 32 * (size_t)depth - 1; /* last path byte */
        spots[ns++] = r->len - 64;                                   /* signature R */
        spots[ns++] = r->len - 1;                                    /* signature s */
        uint8_t *c = malloc(r->len);
        REQUIRE(c != NULL);
        for (uint32_t s = 0; s < ns; s++) {
            memcpy(c, o->buf + r->off, r->len);
            c[spots[s]] ^= 0x01;
            int same = 0;
            tried++;
            if (try_apply(d, c, r->len, &same) != BCKM_OK) refused++;
            if (same) kept++;
        }
        /* a swapped index with a valid-length trailer: leaf i claims i ^ 1 */
        memcpy(c, o->buf + r->off, r->len);
        uint32_t idx = bckm_get_u32(c + t), cnt = bckm_get_u32(c + t + 4);
        if ((idx ^ 1u) < cnt && bckm_rekey_depth(idx ^ 1u, cnt) == depth) {
            bckm_put_u32(c + t, idx ^ 1u);
            int same = 0;
            tried++;
            if (try_apply(d, c, r->len, &same) == BCKM_ERR_AUTH) refused++;
            if (same) kept++;
        }
        free(c);
    }
    CHECK(tried > 10);
    CHECK_EQ(refused, tried);
    CHECK_EQ(kept, tried);
    /* the genuine batch is then accepted by everyone */
    l1_deliver_all(&w);
    CHECK_EQ(l1_delivery_errors, 0);
    CHECK_EQ(l1_check(&w, 64), 0);
    l1_free(&w);
}

/* One signature per batch: genesis provisions hundreds of bundles and a
 * commit many updates; every message of a batch carries the same
 * signature and the batch's size, and each verifies alone. */
static void one_signature_per_batch(void) {
    struct l1world w;
    REQUIRE(l1_init(&w, 1, BCKM_POLICY_OWNED, 1024, 106) == 0);
    l1_delivery_errors = 0;
    REQUIRE(l1_genesis(&w, 300) == BCKM_OK);
    for (int round = 0; round < 2; round++) {
        const struct bckm_msgs *o = &w.out[1];
        REQUIRE(o->n >= (round == 0 ? 300u : 2u));
        const uint8_t *sig0 = o->buf + o->refs[0].off + o->refs[0].len - 64;
        uint32_t same_sig = 0, right_count = 0, verified = 0;
        for (uint32_t i = 0; i < o->n; i++) {
            const uint8_t *p = o->buf + o->refs[i].off;
            size_t len = o->refs[i].len;
            struct bckm_msg_header h;
            REQUIRE(bckm_msg_header_decode(p, len, &h) == BCKM_OK);
            if (memcmp(p + len - 64, sig0, 64) == 0) same_sig++;
            if (bckm_get_u32(p + h.sealed_len) == i && bckm_get_u32(p + h.sealed_len + 4) == o->n)
                right_count++;
            if (bckm_rekey_auth_verify(p, len, w.fleet.bps.pk[1]) == BCKM_OK) verified++;
        }
        CHECK_EQ(same_sig, o->n);
        CHECK_EQ(right_count, o->n);
        CHECK_EQ(verified, o->n);
        w.hold = 0;
        REQUIRE(l1_leave(&w, w.fleet.devs[7 + round].node_id, BCKM_OP_LEAVE) == BCKM_OK);
    }
    CHECK_EQ(l1_delivery_errors, 0);
    CHECK_EQ(l1_check(&w, 64), 0);
    l1_free(&w);
}

/* A rejoin installs a serving BP only with a BP ID of the table's range
 * and only on a device that has joined; a refused one changes nothing. */
static void rejoin_arguments_checked(void) {
    struct l1world w;
    REQUIRE(l1_init(&w, 2, BCKM_POLICY_GLOBAL, 64, 77) == 0);
    REQUIRE(l1_genesis(&w, 8) == BCKM_OK);
    struct bckm_device *d = w.fleet.devs[0].dev;
    size_t bytes = BCKM_DEVICE_BYTES(d->cap_peers, d->cap_sets);
    uint8_t *snap = malloc(bytes), kek[32] = { 1 }, pk[32] = { 2 }, ch[16] = { 3 };
    REQUIRE(snap != NULL);
    memcpy(snap, d, bytes);
    CHECK_EQ(bckm_device_rejoin(d, kek, 0, pk, ch), BCKM_ERR_ARG);
    CHECK_EQ(bckm_device_rejoin(d, kek, BCKM_MAX_BPS + 1, pk, ch), BCKM_ERR_ARG);
    CHECK_EQ(bckm_device_rejoin(d, kek, 2, NULL, ch), BCKM_ERR_ARG);
    CHECK(memcmp(snap, d, bytes) == 0);
    CHECK_EQ(bckm_device_rejoin(d, kek, 2, pk, ch), BCKM_OK);
    CHECK_EQ(d->bp_id, 2);
    CHECK_EQ(d->resync, 1);
    free(snap);
    l1_free(&w);
}

CHECK_CASES(CASE(forged_set_update), CASE(rejoin_arguments_checked), CASE(reflected_handover),
            CASE(stale_bundle_in_resync), CASE(other_bp_refused), CASE(tampered_trailer),
            CASE(one_signature_per_batch))
