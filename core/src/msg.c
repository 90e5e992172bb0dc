#include "bckm/msg.h"

#include <sodium.h>
#include <string.h>

static void header_encode(const struct bckm_msg_header *h, uint8_t out[BCKM_MSG_HEADER_BYTES]) {
    out[0] = BCKM_MSG_VERSION;
    out[1] = h->kind;
    out[2] = h->kek_type;
    out[3] = h->sender;
    bckm_put_u32(out + 4, h->recipient);
    bckm_put_u64(out + 8, h->epoch);
    memcpy(out + 16, h->nonce, BCKM_MSG_NONCE_BYTES);
    memcpy(out + 40, h->challenge, BCKM_MSG_CHALLENGE_BYTES);
    bckm_put_u32(out + 56, h->body_len);
}

static int all_zero(const uint8_t *p, size_t n) {
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= p[i];
    return acc == 0;
}

/* The header fields alone: every reserved value refused. */
static int header_fields_ok(const uint8_t *buf) {
    uint8_t kind = buf[1], kek = buf[2], sender = buf[3];
    if (buf[0] != BCKM_MSG_VERSION) return 0;
    if (kind != BCKM_MSG_UPDATE && kind != BCKM_MSG_BUNDLE && kind != BCKM_MSG_HANDOVER) return 0;
    if (kek != BCKM_KEK_NODE && kek != BCKM_KEK_SET) return 0;
    if (kind != BCKM_MSG_UPDATE && kek != BCKM_KEK_NODE) return 0; /* bundle, handover: node KEK */
    if ((kind == BCKM_MSG_HANDOVER) != (sender == 0)) return 0;    /* BP 1..255 sends 1, 2 */
    if ((kind == BCKM_MSG_HANDOVER || kek == BCKM_KEK_SET) &&
        !all_zero(buf + 40, BCKM_MSG_CHALLENGE_BYTES))
        return 0;
    return 1;
}

int bckm_msg_header_decode(const uint8_t *buf, size_t len, struct bckm_msg_header *h) {
    if (buf == NULL || h == NULL) return BCKM_ERR_ARG;
    if (len < BCKM_MSG_HEADER_BYTES + BCKM_MSG_TAG_BYTES) return BCKM_ERR_TRUNCATED;
    if (!header_fields_ok(buf)) return BCKM_ERR_FORMAT;
    uint32_t body = bckm_get_u32(buf + 56);
    size_t room = len - BCKM_MSG_HEADER_BYTES - BCKM_MSG_TAG_BYTES;
    if (body > room) return BCKM_ERR_TRUNCATED;
    size_t sealed = BCKM_MSG_HEADER_BYTES + (size_t)body + BCKM_MSG_TAG_BYTES, rest = len - sealed;
    if (buf[1] == BCKM_MSG_HANDOVER) {
        if (rest != 0) return BCKM_ERR_FORMAT;
    } else {
        /* Exactly one trailer, as long as its depth byte says. */
        if (rest < BCKM_MSG_TRAILER_FIXED) return BCKM_ERR_TRUNCATED;
        uint8_t depth = buf[sealed + 8];
        if (depth > BCKM_MSG_MAX_DEPTH || rest != BCKM_MSG_TRAILER_BYTES(depth))
            return BCKM_ERR_FORMAT;
    }
    h->kind = buf[1];
    h->kek_type = buf[2];
    h->sender = buf[3];
    h->recipient = bckm_get_u32(buf + 4);
    h->epoch = bckm_get_u64(buf + 8);
    memcpy(h->nonce, buf + 16, BCKM_MSG_NONCE_BYTES);
    memcpy(h->challenge, buf + 40, BCKM_MSG_CHALLENGE_BYTES);
    h->body_len = body;
    h->sealed_len = sealed;
    if (h->recipient == BCKM_ID_NONE || h->epoch == 0) return BCKM_ERR_FORMAT;
    return BCKM_OK;
}

int bckm_msg_seal(const struct bckm_msg_header *h, const uint8_t kek[BCKM_KEY_BYTES],
                  const uint8_t *body, size_t body_len, uint8_t *out, size_t out_cap,
                  size_t *out_len) {
    if (h == NULL || kek == NULL || out == NULL || out_len == NULL ||
        (body == NULL && body_len > 0))
        return BCKM_ERR_ARG;
    if (body_len > UINT32_MAX - BCKM_MSG_HEADER_BYTES - BCKM_MSG_TAG_BYTES) return BCKM_ERR_ARG;
    if (out_cap < BCKM_MSG_HEADER_BYTES ||
        out_cap - BCKM_MSG_HEADER_BYTES < body_len + BCKM_MSG_TAG_BYTES)
        return BCKM_ERR_NOMEM;
    struct bckm_msg_header hh = *h;
    hh.body_len = (uint32_t)body_len;
    header_encode(&hh, out);
    /* Refuse to produce what no receiver accepts. */
    if (!header_fields_ok(out) || h->recipient == BCKM_ID_NONE || h->epoch == 0)
        return BCKM_ERR_ARG;
    unsigned long long clen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + BCKM_MSG_HEADER_BYTES, &clen, body,
                                                   body_len, out, BCKM_MSG_HEADER_BYTES, NULL,
                                                   h->nonce, kek) != 0)
        return BCKM_ERR_CRYPTO;
    *out_len = BCKM_MSG_HEADER_BYTES + (size_t)clen;
    return BCKM_OK;
}

int bckm_msg_open(uint8_t *buf, size_t len, const uint8_t kek[BCKM_KEY_BYTES],
                  struct bckm_msg_header *h) {
    int e = bckm_msg_header_decode(buf, len, h);
    if (e != BCKM_OK) return e;
    unsigned long long mlen = 0;
    uint8_t *c = buf + BCKM_MSG_HEADER_BYTES;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(c, &mlen, NULL, c,
                                                   h->sealed_len - BCKM_MSG_HEADER_BYTES, buf,
                                                   BCKM_MSG_HEADER_BYTES, h->nonce, kek) != 0)
        return BCKM_ERR_AUTH;
    return mlen == h->body_len ? BCKM_OK : BCKM_ERR_FORMAT;
}

/* ---- body parsing --------------------------------------------------------- */

struct reader {
    const uint8_t *p;
    size_t left;
    int err;
};

static const uint8_t *take(struct reader *r, size_t n) {
    if (r->err) return NULL; /* keep the first error */
    if (n > r->left) {
        r->err = BCKM_ERR_TRUNCATED;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

/* A counted list of entries whose first 4 bytes are strictly increasing,
 * nonzero IDs (canonical: sorted, no duplicates). */
static void take_list(struct reader *r, uint32_t stride, struct bckm_msg_list *l) {
    const uint8_t *c = take(r, 2);
    if (c == NULL) return;
    uint32_t n = bckm_get_u16(c);
    const uint8_t *p = take(r, (size_t)n * stride);
    if (p == NULL) return;
    uint32_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = bckm_get_u32(p + (size_t)i * stride);
        if (id <= prev) {
            r->err = BCKM_ERR_FORMAT;
            return;
        }
        prev = id;
    }
    l->p = p;
    l->n = n;
}

int bckm_msg_parse_update(const uint8_t *body, size_t len, struct bckm_update_view *v) {
    struct reader r = { body, len, 0 };
    if (body == NULL || v == NULL) return BCKM_ERR_ARG;
    memset(v, 0, sizeof *v);
    const uint8_t *p = take(&r, 1 + 4 + 1 + BCKM_REFRESH_BYTES);
    if (p == NULL) return r.err;
    v->op = p[0];
    v->subject = bckm_get_u32(p + 1);
    v->has_set_refresh = p[5];
    v->set_refresh = p + 6;
    take_list(&r, 4, &v->changed);
    take_list(&r, 4, &v->retired);
    take_list(&r, 4, &v->joined);
    take_list(&r, 4, &v->left);
    take_list(&r, BCKM_MSG_KEYED_ENTRY_BYTES, &v->newkeys);
    take_list(&r, BCKM_MSG_REFRESH_ENTRY_BYTES, &v->pairs);
    if (r.err) return r.err;
    if (r.left != 0) return BCKM_ERR_FORMAT;
    if (v->op < 1 || v->op > 3 || v->subject == BCKM_ID_NONE || v->has_set_refresh > 1)
        return BCKM_ERR_FORMAT;
    /* Canonical: an absent set refresh is all zero. */
    if (!v->has_set_refresh && !all_zero(v->set_refresh, BCKM_REFRESH_BYTES))
        return BCKM_ERR_FORMAT;
    return BCKM_OK;
}

int bckm_msg_parse_bundle(const uint8_t *body, size_t len, struct bckm_bundle_view *v) {
    struct reader r = { body, len, 0 };
    if (body == NULL || v == NULL) return BCKM_ERR_ARG;
    memset(v, 0, sizeof *v);
    const uint8_t *p = take(&r, 4 + 4 + 1 + 3 * BCKM_KEY_BYTES);
    if (p == NULL) return r.err;
    v->node_id = bckm_get_u32(p);
    v->set_id = bckm_get_u32(p + 4);
    v->has_code = p[8];
    v->code = p + 9;
    v->seed = p + 9 + BCKM_KEY_BYTES;
    v->set_kek = p + 9 + 2 * (size_t)BCKM_KEY_BYTES;
    take_list(&r, BCKM_MSG_KEYED_ENTRY_BYTES, &v->setkeys);
    take_list(&r, BCKM_MSG_KEYED_ENTRY_BYTES, &v->peers);
    if (r.err) return r.err;
    if (r.left != 0) return BCKM_ERR_FORMAT;
    if (v->node_id == BCKM_ID_NONE || v->set_id == BCKM_ID_NONE || v->has_code > 1)
        return BCKM_ERR_FORMAT;
    /* Canonical: an absent code is all zero. */
    if (!v->has_code && !all_zero(v->code, BCKM_CODE_BYTES)) return BCKM_ERR_FORMAT;
    return BCKM_OK;
}

/* ---- writer ---------------------------------------------------------------- */

void bckm_writer_init(struct bckm_writer *w, uint8_t *buf, size_t cap) {
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->err = 0;
}

void bckm_writer_bytes(struct bckm_writer *w, const uint8_t *p, size_t n) {
    if (w->err || n > w->cap - w->len) {
        w->err = BCKM_ERR_NOMEM;
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void bckm_writer_u8(struct bckm_writer *w, uint8_t v) { bckm_writer_bytes(w, &v, 1); }
void bckm_writer_u16(struct bckm_writer *w, uint16_t v) {
    uint8_t b[2];
    bckm_put_u16(b, v);
    bckm_writer_bytes(w, b, 2);
}
void bckm_writer_u32(struct bckm_writer *w, uint32_t v) {
    uint8_t b[4];
    bckm_put_u32(b, v);
    bckm_writer_bytes(w, b, 4);
}
