/* Rekey messages: a sealed known answer (spec/vectors/rekey.txt), header
 * validation, canonical bodies. BCKM_GEN_VECTORS=1 prints the vector. */
#include "check.h"

#include "bckm/msg.h"

static size_t sample(uint8_t *out, size_t cap) {
    struct bckm_msg_header h;
    uint8_t kek[32], body[128];
    struct bckm_writer w;
    memset(&h, 0, sizeof h);
    for (int i = 0; i < 32; i++) kek[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < 24; i++) h.nonce[i] = (uint8_t)i;
    h.kind = BCKM_MSG_UPDATE; h.kek_type = BCKM_KEK_SET; h.recipient = 0x01000002; h.epoch = 7;
    bckm_writer_init(&w, body, sizeof body);
    uint8_t r[16];
    for (int i = 0; i < 16; i++) r[i] = (uint8_t)(0x40 + i);
    bckm_writer_u8(&w, 1); bckm_writer_u32(&w, 0x01000009);
    bckm_writer_u8(&w, 1); bckm_writer_bytes(&w, r, 16);       /* r_S: S changed */
    bckm_writer_u16(&w, 2); bckm_writer_u32(&w, 0x01000002); bckm_writer_u32(&w, 0x01000005); /* changed */
    bckm_writer_u16(&w, 0);                                     /* retired */
    bckm_writer_u16(&w, 1); bckm_writer_u32(&w, 0x01000009);   /* joined */
    bckm_writer_u16(&w, 0); bckm_writer_u16(&w, 0);             /* left, new keys */
    for (int i = 0; i < 16; i++) r[i] = (uint8_t)(0x60 + i);
    bckm_writer_u16(&w, 1); bckm_writer_u32(&w, 0x01000005); bckm_writer_bytes(&w, r, 16); /* r_X,S */
    size_t len = 0;
    if (w.err || bckm_msg_seal(&h, kek, body, w.len, out, cap, &len) != BCKM_OK) return 0;
    return len;
}

static void known_answer(void) {
    uint8_t got[256], want[256], kek[32];
    size_t n = sample(got, sizeof got);
    REQUIRE(n > 0);
    if (getenv("BCKM_GEN_VECTORS") != NULL) {
        printf("update_sealed = ");
        for (size_t i = 0; i < n; i++) printf("%02x", got[i]);
        printf("\n");
    }
    long wn = check_vector("spec/vectors/rekey.txt", "update_sealed", want, sizeof want);
    CHECK_EQ(wn, (long)n);
    CHECK_MEM(got, want, n);
    for (int i = 0; i < 32; i++) kek[i] = (uint8_t)(0xa0 + i);
    struct bckm_msg_header h;
    CHECK_EQ(bckm_msg_open(got, n, kek, &h), BCKM_OK);
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
}

static void malformed_headers(void) {
    uint8_t m[256], c[256];
    struct bckm_msg_header h;
    size_t n = sample(m, sizeof m);
    REQUIRE(n > 0);
    /* every truncation is rejected */
    uint32_t bad = 0;
    for (size_t k = 0; k < n; k++) if (bckm_msg_header_decode(m, k, &h) == BCKM_OK) bad++;
    CHECK_EQ(bad, 0);
    static const size_t pos[] = { 0, 1, 2, 3, 40 };
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
        memcpy(c, m, n);
        c[pos[i]] ^= 0x55;
        CHECK(bckm_msg_header_decode(c, n, &h) != BCKM_OK);
    }
    memcpy(c, m, n);
    memset(c + 8, 0, 8);  /* epoch 0 */
    CHECK_EQ(bckm_msg_header_decode(c, n, &h), BCKM_ERR_FORMAT);
    /* a flipped header byte that still parses fails authentication */
    uint8_t kek[32];
    for (int i = 0; i < 32; i++) kek[i] = (uint8_t)(0xa0 + i);
    memcpy(c, m, n);
    c[7] ^= 1;
    CHECK_EQ(bckm_msg_open(c, n, kek, &h), BCKM_ERR_AUTH);
}

static void canonical_bodies(void) {
    uint8_t b[64];
    struct bckm_update_view v;
    struct bckm_writer w;
    uint8_t r[16] = {0};
    /* unsorted list */
    bckm_writer_init(&w, b, sizeof b);
    bckm_writer_u8(&w, 2); bckm_writer_u32(&w, 5); bckm_writer_u8(&w, 0); bckm_writer_bytes(&w, r, 16);
    bckm_writer_u16(&w, 2); bckm_writer_u32(&w, 9); bckm_writer_u32(&w, 3);
    bckm_writer_u16(&w, 0); bckm_writer_u16(&w, 0); bckm_writer_u16(&w, 0); bckm_writer_u16(&w, 0);
    bckm_writer_u16(&w, 0);
    CHECK_EQ(bckm_msg_parse_update(b, w.len, &v), BCKM_ERR_FORMAT);
    /* sorted, then one trailing byte too many */
    bckm_put_u32(b + 24, 3); bckm_put_u32(b + 28, 9);
    CHECK_EQ(bckm_msg_parse_update(b, w.len, &v), BCKM_OK);
    CHECK_EQ(bckm_msg_parse_update(b, w.len + 1, &v), BCKM_ERR_FORMAT);
    CHECK(bckm_msg_parse_update(b, w.len - 1, &v) != BCKM_OK);
    /* the set-refresh flag is 0 or 1; an absent set refresh is all zero */
    b[5] = 2;
    CHECK_EQ(bckm_msg_parse_update(b, w.len, &v), BCKM_ERR_FORMAT);
    b[5] = 0; b[6 + 15] = 1;
    CHECK_EQ(bckm_msg_parse_update(b, w.len, &v), BCKM_ERR_FORMAT);
    b[5] = 1;
    CHECK_EQ(bckm_msg_parse_update(b, w.len, &v), BCKM_OK);
    b[5] = 0; b[6 + 15] = 0;
    /* unknown op */
    b[0] = 4;
    CHECK_EQ(bckm_msg_parse_update(b, w.len, &v), BCKM_ERR_FORMAT);
}

CHECK_CASES(CASE(known_answer), CASE(malformed_headers), CASE(canonical_bodies))
