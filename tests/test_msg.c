/* Rekey messages v2: a signed known answer (spec/vectors/rekey.txt), header
 * validation, the batch trailer, canonical bodies. BCKM_GEN_VECTORS=1
 * prints the vectors. */
#include "check.h"

#include "bckm/msg.h"
#include "bckm/rekey_auth.h"

#include <sodium.h>

/* The vector's BP: ID 1, Ed25519 key from the seed c0..df. */
static void vector_key(uint8_t pk[32], uint8_t sk[64]) {
    uint8_t seed[32];
    for (int i = 0; i < 32; i++) seed[i] = (uint8_t)(0xc0 + i);
    crypto_sign_seed_keypair(pk, sk, seed);
}

/* Appends one sealed message (no trailer) to m. */
static int append(struct bckm_msgs *m, const struct bckm_msg_header *h, const uint8_t kek[32],
                  const uint8_t *body, size_t body_len) {
    size_t need = BCKM_MSG_HEADER_BYTES + body_len + BCKM_MSG_TAG_BYTES, len = 0;
    uint8_t *b = realloc(m->buf, m->len + need);
    struct bckm_msg_ref *r = realloc(m->refs, (m->n + 1) * sizeof *r);
    if (b != NULL) m->buf = b;
    if (r != NULL) m->refs = r;
    if (b == NULL || r == NULL) return BCKM_ERR_NOMEM;
    m->cap = m->len + need;
    m->refs_cap = m->n + 1;
    int e = bckm_msg_seal(h, kek, body, body_len, m->buf + m->len, need, &len);
    if (e != BCKM_OK) return e;
    m->refs[m->n++] = (struct bckm_msg_ref){ h->kind, h->kek_type, h->recipient, m->len, len };
    m->len += len;
    return BCKM_OK;
}

/* The vector batch: the update of the v1 vector (under K_S, a0..bf) and two
 * more messages, signed as one batch of three. */
static int sample_unsigned(struct bckm_msgs *m) {
    struct bckm_msg_header h;
    uint8_t kek[32], body[128];
    struct bckm_writer w;
    memset(&h, 0, sizeof h);
    for (int i = 0; i < 32; i++) kek[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < 24; i++) h.nonce[i] = (uint8_t)i;
    h.kind = BCKM_MSG_UPDATE;
    h.kek_type = BCKM_KEK_SET;
    h.sender = 1;
    h.recipient = 0x01000002;
    h.epoch = 7;
    bckm_writer_init(&w, body, sizeof body);
    uint8_t r[16];
    for (int i = 0; i < 16; i++) r[i] = (uint8_t)(0x40 + i);
    bckm_writer_u8(&w, 1);
    bckm_writer_u32(&w, 0x01000009);
    bckm_writer_u8(&w, 1);
    bckm_writer_bytes(&w, r, 16); /* r_S: S changed */
    bckm_writer_u16(&w, 2);
    bckm_writer_u32(&w, 0x01000002);
    bckm_writer_u32(&w, 0x01000005); /* changed */
    bckm_writer_u16(&w, 0);          /* retired */
    bckm_writer_u16(&w, 1);
    bckm_writer_u32(&w, 0x01000009); /* joined */
    bckm_writer_u16(&w, 0);
    bckm_writer_u16(&w, 0); /* left, new keys */
    for (int i = 0; i < 16; i++) r[i] = (uint8_t)(0x60 + i);
    bckm_writer_u16(&w, 1);
    bckm_writer_u32(&w, 0x01000005);
    bckm_writer_bytes(&w, r, 16); /* r_X,S */
    if (w.err) return BCKM_ERR_NOMEM;
    int e = append(m, &h, kek, body, w.len);
    /* the same body to node 0x01000005 under its node KEK, answering a challenge */
    h.kek_type = BCKM_KEK_NODE;
    h.recipient = 0x01000005;
    h.nonce[0] = 0x80;
    for (int i = 0; i < 16; i++) h.challenge[i] = (uint8_t)(0x60 + i);
    if (e == BCKM_OK) e = append(m, &h, kek, body, w.len);
    h.recipient = 0x01000006;
    h.nonce[0] = 0x81;
    if (e == BCKM_OK) e = append(m, &h, kek, body, w.len);
    return e;
}

static int sample_batch(struct bckm_msgs *m) {
    uint8_t pk[32], sk[64];
    int e = sample_unsigned(m);
    vector_key(pk, sk);
    if (e == BCKM_OK) e = bckm_rekey_batch_sign(m, 0, 1, sk);
    sodium_memzero(sk, sizeof sk);
    return e;
}

/* Signing into a caller's workspace (what an all-or-nothing commit uses)
 * gives the same bytes as signing with its own, and refuses a short
 * workspace or a buffer without room for the trailers before changing m. */
static void sign_in_workspace(void) {
    struct bckm_msgs a, b;
    uint8_t pk[32], sk[64];
    bckm_msgs_init(&a);
    bckm_msgs_init(&b);
    REQUIRE(sample_unsigned(&a) == BCKM_OK && sample_unsigned(&b) == BCKM_OK);
    vector_key(pk, sk);
    size_t work_len = bckm_rekey_batch_work_bytes(b.n, b.len);
    uint8_t *work = malloc(work_len);
    REQUIRE(work != NULL);
    /* no room in b for the trailers yet (append sized it exactly) */
    size_t len0 = b.len;
    CHECK_EQ(bckm_rekey_batch_sign_in(&b, 0, 1, sk, work, work_len), BCKM_ERR_NOMEM);
    CHECK_EQ(b.len, len0);
    uint8_t *grown = realloc(b.buf, b.len + bckm_rekey_batch_trailer_bytes(b.n));
    REQUIRE(grown != NULL);
    b.buf = grown;
    b.cap = b.len + bckm_rekey_batch_trailer_bytes(b.n);
    CHECK_EQ(bckm_rekey_batch_sign_in(&b, 0, 1, sk, work,
                                      work_len - bckm_rekey_batch_trailer_bytes(b.n)),
             BCKM_ERR_NOMEM);
    CHECK_EQ(b.len, len0);
    CHECK_EQ(bckm_rekey_batch_sign_in(&b, 0, 1, sk, work, work_len), BCKM_OK);
    CHECK_EQ(bckm_rekey_batch_sign(&a, 0, 1, sk), BCKM_OK);
    CHECK_EQ(a.len, b.len);
    CHECK(a.len == b.len && memcmp(a.buf, b.buf, a.len) == 0);
    for (uint32_t i = 0; i < b.n; i++)
        CHECK_EQ(bckm_rekey_auth_verify(b.buf + b.refs[i].off, b.refs[i].len, pk), BCKM_OK);
    free(work);
    sodium_memzero(sk, sizeof sk);
    bckm_msgs_free(&a);
    bckm_msgs_free(&b);
}

static void known_answer(void) {
    struct bckm_msgs m;
    uint8_t want[512], kek[32], pk[32], sk[64], got[512];
    bckm_msgs_init(&m);
    REQUIRE(sample_batch(&m) == BCKM_OK);
    REQUIRE(m.n == 3);
    if (getenv("BCKM_GEN_VECTORS") != NULL) {
        printf("update_signed = ");
        for (size_t i = 0; i < m.refs[0].len; i++) printf("%02x", m.buf[m.refs[0].off + i]);
        printf("\nupdate_signed_2 = ");
        for (size_t i = 0; i < m.refs[2].len; i++) printf("%02x", m.buf[m.refs[2].off + i]);
        printf("\n");
    }
    long wn = check_vector("spec/vectors/rekey.txt", "update_signed", want, sizeof want);
    CHECK_EQ(wn, (long)m.refs[0].len);
    CHECK_MEM(m.buf + m.refs[0].off, want, m.refs[0].len);
    wn = check_vector("spec/vectors/rekey.txt", "update_signed_2", want, sizeof want);
    CHECK_EQ(wn, (long)m.refs[2].len);
    CHECK_MEM(m.buf + m.refs[2].off, want, m.refs[2].len);
    /* leaf 0 of 3 has two path entries, leaf 2 one (promoted at level 0) */
    CHECK_EQ(m.refs[0].len,
             BCKM_MSG_HEADER_BYTES + 66 + BCKM_MSG_TAG_BYTES + BCKM_MSG_TRAILER_BYTES(2));
    CHECK_EQ(m.refs[2].len,
             BCKM_MSG_HEADER_BYTES + 66 + BCKM_MSG_TAG_BYTES + BCKM_MSG_TRAILER_BYTES(1));
    vector_key(pk, sk);
    for (uint32_t i = 0; i < m.n; i++)
        CHECK_EQ(bckm_rekey_auth_verify(m.buf + m.refs[i].off, m.refs[i].len, pk), BCKM_OK);
    for (int i = 0; i < 32; i++) kek[i] = (uint8_t)(0xa0 + i);
    struct bckm_msg_header h;
    memcpy(got, m.buf + m.refs[0].off, m.refs[0].len);
    CHECK_EQ(bckm_msg_open(got, m.refs[0].len, kek, &h), BCKM_OK);
    CHECK_EQ(h.sender, 1);
    struct bckm_update_view v;
    CHECK_EQ(bckm_msg_parse_update(got + BCKM_MSG_HEADER_BYTES, h.body_len, &v), BCKM_OK);
    CHECK_EQ(v.subject, 0x01000009);
    CHECK_EQ(v.changed.n, 2);
    CHECK_EQ(v.joined.n, 1);
    CHECK_EQ(v.has_set_refresh, 1);
    CHECK_EQ(v.set_refresh[0], 0x40);
    CHECK_EQ(v.pairs.n, 1);
    CHECK_EQ(bckm_msg_list_id(&v.pairs, 0, BCKM_MSG_REFRESH_ENTRY_BYTES), 0x01000005);
    CHECK_EQ(v.pairs.p[4], 0x60);
    sodium_memzero(sk, sizeof sk);
    bckm_msgs_free(&m);
}

static void malformed_headers(void) {
    struct bckm_msgs m;
    uint8_t c[512];
    struct bckm_msg_header h;
    bckm_msgs_init(&m);
    REQUIRE(sample_batch(&m) == BCKM_OK);
    const uint8_t *msg = m.buf + m.refs[0].off;
    size_t n = m.refs[0].len;
    CHECK_EQ(bckm_msg_header_decode(msg, n, &h), BCKM_OK);
    /* every truncation and one byte more are rejected */
    uint32_t bad = 0;
    for (size_t k = 0; k < n; k++)
        if (bckm_msg_header_decode(msg, k, &h) == BCKM_OK) bad++;
    memcpy(c, msg, n);
    c[n] = 0;
    if (bckm_msg_header_decode(c, n + 1, &h) == BCKM_OK) bad++;
    CHECK_EQ(bad, 0);
    /* version, kind, kek type, sender, body length, trailer depth */
    static const size_t pos[] = { 0, 1, 2, 56, 59 };
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
        memcpy(c, msg, n);
        c[pos[i]] ^= 0x55;
        CHECK(bckm_msg_header_decode(c, n, &h) != BCKM_OK);
    }
    size_t tr = BCKM_MSG_HEADER_BYTES + 66 + BCKM_MSG_TAG_BYTES;
    memcpy(c, msg, n);
    c[tr + 8] = 3; /* depth says one more entry */
    CHECK(bckm_msg_header_decode(c, n, &h) != BCKM_OK);
    memcpy(c, msg, n);
    c[3] = 0; /* kind 1 from sender 0 */
    CHECK_EQ(bckm_msg_header_decode(c, n, &h), BCKM_ERR_FORMAT);
    memcpy(c, msg, n);
    c[40] = 1; /* a set-KEK message answering a challenge */
    CHECK_EQ(bckm_msg_header_decode(c, n, &h), BCKM_ERR_FORMAT);
    memcpy(c, msg, n);
    c[1] = BCKM_MSG_BUNDLE; /* a bundle under a set KEK */
    CHECK_EQ(bckm_msg_header_decode(c, n, &h), BCKM_ERR_FORMAT);
    memcpy(c, msg, n);
    c[1] = BCKM_MSG_HANDOVER; /* a handover with a trailer, from a BP */
    CHECK_EQ(bckm_msg_header_decode(c, n, &h), BCKM_ERR_FORMAT);
    memcpy(c, msg, n);
    memset(c + 8, 0, 8); /* epoch 0 */
    CHECK_EQ(bckm_msg_header_decode(c, n, &h), BCKM_ERR_FORMAT);
    /* a flipped header byte that still parses fails authentication */
    uint8_t kek[32];
    for (int i = 0; i < 32; i++) kek[i] = (uint8_t)(0xa0 + i);
    memcpy(c, msg, n);
    c[7] ^= 1;
    CHECK_EQ(bckm_msg_open(c, n, kek, &h), BCKM_ERR_AUTH);
    /* seal refuses to produce a non-canonical header */
    struct bckm_msg_header bad_h;
    size_t ol;
    memset(&bad_h, 0, sizeof bad_h);
    bad_h.kind = BCKM_MSG_UPDATE;
    bad_h.kek_type = BCKM_KEK_NODE;
    bad_h.sender = 0;
    bad_h.recipient = 5;
    bad_h.epoch = 1;
    CHECK_EQ(bckm_msg_seal(&bad_h, kek, NULL, 0, c, sizeof c, &ol), BCKM_ERR_ARG);
    bckm_msgs_free(&m);
}

/* Every byte of a signed message is covered: any flip fails verification
 * or decoding, and the signer refuses what is not its own unsigned batch. */
static void trailer_covered(void) {
    struct bckm_msgs m;
    uint8_t c[512], pk[32], sk[64];
    bckm_msgs_init(&m);
    REQUIRE(sample_batch(&m) == BCKM_OK);
    vector_key(pk, sk);
    uint32_t bad = 0;
    for (uint32_t k = 0; k < m.n; k++) {
        size_t n = m.refs[k].len;
        for (size_t i = 0; i < n; i++) {
            memcpy(c, m.buf + m.refs[k].off, n);
            c[i] ^= 0x01;
            if (bckm_rekey_auth_verify(c, n, pk) == BCKM_OK) bad++;
        }
    }
    CHECK_EQ(bad, 0);
    /* another key */
    uint8_t pk2[32], sk2[64];
    crypto_sign_keypair(pk2, sk2);
    CHECK_EQ(bckm_rekey_auth_verify(m.buf, m.refs[0].len, pk2), BCKM_ERR_AUTH);
    /* signing again: the messages now carry trailers */
    CHECK_EQ(bckm_rekey_batch_sign(&m, 0, 1, sk), BCKM_ERR_FORMAT);
    CHECK_EQ(bckm_rekey_batch_sign(&m, m.n, 1, sk), BCKM_OK); /* empty batch */
    CHECK_EQ(bckm_rekey_batch_sign(&m, m.n + 1, 1, sk), BCKM_ERR_ARG);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(sk2, sizeof sk2);
    bckm_msgs_free(&m);
}

static void depth_rule(void) {
    CHECK_EQ(bckm_rekey_depth(0, 1), 0);
    CHECK_EQ(bckm_rekey_depth(0, 2), 1);
    CHECK_EQ(bckm_rekey_depth(2, 3), 1);
    CHECK_EQ(bckm_rekey_depth(0, 3), 2);
    CHECK_EQ(bckm_rekey_depth(4, 5), 1);
    CHECK_EQ(bckm_rekey_depth(3, 5), 3);
    CHECK_EQ(bckm_rekey_depth(1023, 1024), 10);
    CHECK_EQ(bckm_rekey_depth(0, 0xFFFFFFFFu), 32);
}

static void canonical_bodies(void) {
    uint8_t b[64];
    struct bckm_update_view v;
    struct bckm_writer w;
    uint8_t r[16] = { 0 };
    /* unsorted list */
    bckm_writer_init(&w, b, sizeof b);
    bckm_writer_u8(&w, 2);
    bckm_writer_u32(&w, 5);
    bckm_writer_u8(&w, 0);
    bckm_writer_bytes(&w, r, 16);
    bckm_writer_u16(&w, 2);
    bckm_writer_u32(&w, 9);
    bckm_writer_u32(&w, 3);
    bckm_writer_u16(&w, 0);
    bckm_writer_u16(&w, 0);
    bckm_writer_u16(&w, 0);
    bckm_writer_u16(&w, 0);
    bckm_writer_u16(&w, 0);
    CHECK_EQ(bckm_msg_parse_update(b, w.len, &v), BCKM_ERR_FORMAT);
    /* sorted, then one trailing byte too many */
    bckm_put_u32(b + 24, 3);
    bckm_put_u32(b + 28, 9);
    CHECK_EQ(bckm_msg_parse_update(b, w.len, &v), BCKM_OK);
    CHECK_EQ(bckm_msg_parse_update(b, w.len + 1, &v), BCKM_ERR_FORMAT);
    CHECK(bckm_msg_parse_update(b, w.len - 1, &v) != BCKM_OK);
    /* the set-refresh flag is 0 or 1; an absent set refresh is all zero */
    b[5] = 2;
    CHECK_EQ(bckm_msg_parse_update(b, w.len, &v), BCKM_ERR_FORMAT);
    b[5] = 0;
    b[6 + 15] = 1;
    CHECK_EQ(bckm_msg_parse_update(b, w.len, &v), BCKM_ERR_FORMAT);
    b[5] = 1;
    CHECK_EQ(bckm_msg_parse_update(b, w.len, &v), BCKM_OK);
    b[5] = 0;
    b[6 + 15] = 0;
    /* unknown op */
    b[0] = 4;
    CHECK_EQ(bckm_msg_parse_update(b, w.len, &v), BCKM_ERR_FORMAT);
}

CHECK_CASES(CASE(known_answer), CASE(sign_in_workspace), CASE(malformed_headers),
            CASE(trailer_covered), CASE(depth_rule), CASE(canonical_bodies))
