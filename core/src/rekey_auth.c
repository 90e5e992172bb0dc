#include "bckm/rekey_auth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define NODE BCKM_MSG_PATH_NODE_BYTES
#define SIGNED_BYTES (BCKM_REKEY_BATCH_LABEL_BYTES + 1u + 4u + NODE)

uint32_t bckm_rekey_depth(uint32_t index, uint32_t count) {
    uint32_t depth = 0;
    uint64_t i = index, w = count;
    while (w > 1) {
        if ((i ^ 1u) < w) depth++;
        i >>= 1;
        w = (w + 1) / 2;
    }
    return depth;
}

static void leaf_hash(const uint8_t *msg, size_t len, uint8_t out[NODE]) {
    crypto_generichash_state st;
    static const uint8_t tag = 0x00;
    crypto_generichash_init(&st, NULL, 0, NODE);
    crypto_generichash_update(&st, &tag, 1);
    crypto_generichash_update(&st, msg, len);
    crypto_generichash_final(&st, out, NODE);
}

static void inner_hash(const uint8_t left[NODE], const uint8_t right[NODE], uint8_t out[NODE]) {
    uint8_t buf[1 + 2 * NODE];
    buf[0] = 0x01;
    memcpy(buf + 1, left, NODE);
    memcpy(buf + 1 + NODE, right, NODE);
    crypto_generichash(out, NODE, buf, sizeof buf, NULL, 0);
}

static void signed_message(uint8_t bp, uint32_t count, const uint8_t root[NODE],
                           uint8_t out[SIGNED_BYTES]) {
    memcpy(out, BCKM_REKEY_BATCH_LABEL, BCKM_REKEY_BATCH_LABEL_BYTES);
    out[BCKM_REKEY_BATCH_LABEL_BYTES] = bp;
    bckm_put_u32(out + BCKM_REKEY_BATCH_LABEL_BYTES + 1, count);
    memcpy(out + BCKM_REKEY_BATCH_LABEL_BYTES + 5, root, NODE);
}

/* A sealed message without trailer: header || ciphertext || tag, kind 1/2. */
static int unsigned_ok(const uint8_t *p, size_t len, uint32_t bp) {
    if (len < BCKM_MSG_HEADER_BYTES + BCKM_MSG_TAG_BYTES) return 0;
    if (p[0] != BCKM_MSG_VERSION || (p[1] != BCKM_MSG_UPDATE && p[1] != BCKM_MSG_BUNDLE) ||
        p[3] != bp)
        return 0;
    return len == BCKM_MSG_HEADER_BYTES + (size_t)bckm_get_u32(p + 56) + BCKM_MSG_TAG_BYTES;
}

/* Checks that [first, m->n) is a signable batch at the tail of m; its leaf
 * count, where it starts and the trailer bytes it will gain. */
static int batch_shape(const struct bckm_msgs *m, uint32_t first, uint32_t bp, uint32_t *count,
                       size_t *base, size_t *extra) {
    uint32_t c = m->n - first;
    size_t b = m->refs[first].off, x = 0;
    for (uint32_t i = 0; i < c; i++) {
        const struct bckm_msg_ref *r = &m->refs[first + i];
        size_t want = i == 0 ? b : m->refs[first + i - 1].off + m->refs[first + i - 1].len;
        if (r->off != want || !unsigned_ok(m->buf + r->off, r->len, bp)) return BCKM_ERR_FORMAT;
        x += BCKM_MSG_TRAILER_BYTES(bckm_rekey_depth(i, c));
    }
    const struct bckm_msg_ref *last = &m->refs[m->n - 1];
    if (last->off + last->len != m->len) return BCKM_ERR_FORMAT;
    *count = c;
    *base = b;
    *extra = x;
    return BCKM_OK;
}

/* Tree levels, bottom up, one after the other: widths c, ceil(c/2), ..., 1
 * sum to less than 2c + 33 nodes. */
static size_t tree_bytes(uint32_t c) { return ((size_t)2 * c + 33) * NODE; }

static uint32_t ceil_log2(uint32_t c) {
    uint32_t d = 0;
    while (d < 32 && ((uint64_t)1 << d) < c) d++;
    return d;
}

size_t bckm_rekey_batch_trailer_bytes(uint32_t count) {
    return (size_t)count * BCKM_MSG_TRAILER_BYTES(ceil_log2(count));
}

size_t bckm_rekey_batch_work_bytes(uint32_t count, size_t bytes) {
    return tree_bytes(count) + bytes + bckm_rekey_batch_trailer_bytes(count);
}

/* The signing itself, with the tree and the rebuilt region in caller memory
 * (tree: tree_bytes(c), region: region_len). Fails (m unchanged) only on a
 * signature error or when m's buffer has no room for the trailers and
 * may_grow is 0. */
static int sign_batch(struct bckm_msgs *m, uint32_t first, uint32_t bp,
                      const uint8_t sk[BCKM_MSG_SIG_BYTES], uint32_t c, size_t base,
                      uint8_t (*tree)[NODE], uint8_t *region, size_t region_len, int may_grow) {
    for (uint32_t i = 0; i < c; i++)
        leaf_hash(m->buf + m->refs[first + i].off, m->refs[first + i].len, tree[i]);
    size_t lvl = 0, w = c, top = c; /* level starts at tree[lvl], width w; next free slot top */
    while (w > 1) {
        size_t nw = (w + 1) / 2;
        for (size_t j = 0; j < nw; j++) {
            if (2 * j + 1 < w)
                inner_hash(tree[lvl + 2 * j], tree[lvl + 2 * j + 1], tree[top + j]);
            else
                memcpy(tree[top + j], tree[lvl + 2 * j], NODE);
        }
        lvl = top;
        top += nw;
        w = nw;
    }
    uint8_t msg[SIGNED_BYTES], sig[BCKM_MSG_SIG_BYTES];
    signed_message((uint8_t)bp, c, tree[lvl], msg);
    if (crypto_sign_detached(sig, NULL, msg, sizeof msg, sk) != 0) return BCKM_ERR_CRYPTO;
    /* Rebuild the batch region with trailers. */
    size_t at = 0;
    for (uint32_t i = 0; i < c; i++) {
        const struct bckm_msg_ref *r = &m->refs[first + i];
        memcpy(region + at, m->buf + r->off, r->len);
        at += r->len;
        uint32_t depth = bckm_rekey_depth(i, c);
        bckm_put_u32(region + at, i);
        bckm_put_u32(region + at + 4, c);
        region[at + 8] = (uint8_t)depth;
        at += BCKM_MSG_TRAILER_FIXED;
        size_t idx = i, off = 0, width = c;
        while (width > 1) {
            if ((idx ^ 1u) < width) {
                memcpy(region + at, tree[off + (idx ^ 1u)], NODE);
                at += NODE;
            }
            off += width;
            idx >>= 1;
            width = (width + 1) / 2;
        }
        memcpy(region + at, sig, sizeof sig);
        at += sizeof sig;
    }
    (void)region_len;
    if (m->cap - base < at) {
        if (!may_grow) return BCKM_ERR_NOMEM;
        uint8_t *b = realloc(m->buf, base + at);
        if (b == NULL) return BCKM_ERR_NOMEM;
        m->buf = b;
        m->cap = base + at;
    }
    /* Commit: nothing below can fail. */
    memcpy(m->buf + base, region, at);
    at = base;
    for (uint32_t i = 0; i < c; i++) {
        struct bckm_msg_ref *r = &m->refs[first + i];
        r->off = at;
        r->len += BCKM_MSG_TRAILER_BYTES(bckm_rekey_depth(i, c));
        at += r->len;
    }
    m->len = at;
    return BCKM_OK;
}

int bckm_rekey_batch_sign(struct bckm_msgs *m, uint32_t first, uint32_t bp,
                          const uint8_t sk[BCKM_MSG_SIG_BYTES]) {
    if (m == NULL || sk == NULL || first > m->n || bp == 0 || bp > BCKM_MAX_BPS)
        return BCKM_ERR_ARG;
    if (first == m->n) return BCKM_OK;
    uint32_t c;
    size_t base, extra;
    int e = batch_shape(m, first, bp, &c, &base, &extra);
    if (e != BCKM_OK) return e;
    uint8_t(*tree)[NODE] = malloc(tree_bytes(c));
    size_t region_len = m->len - base + extra;
    uint8_t *region = malloc(region_len);
    e = BCKM_ERR_NOMEM;
    if (tree != NULL && region != NULL)
        e = sign_batch(m, first, bp, sk, c, base, tree, region, region_len, 1);
    free(tree);
    if (region != NULL) {
        bckm_wipe(region, region_len);
        free(region);
    }
    return e;
}

int bckm_rekey_batch_sign_in(struct bckm_msgs *m, uint32_t first, uint32_t bp,
                             const uint8_t sk[BCKM_MSG_SIG_BYTES], uint8_t *work, size_t work_len) {
    if (m == NULL || sk == NULL || work == NULL || first > m->n || bp == 0 || bp > BCKM_MAX_BPS)
        return BCKM_ERR_ARG;
    if (first == m->n) return BCKM_OK;
    uint32_t c;
    size_t base, extra;
    int e = batch_shape(m, first, bp, &c, &base, &extra);
    if (e != BCKM_OK) return e;
    size_t region_len = m->len - base + extra;
    if (work_len < tree_bytes(c) || work_len - tree_bytes(c) < region_len) return BCKM_ERR_NOMEM;
    if (m->cap - base < region_len) return BCKM_ERR_NOMEM;
    e = sign_batch(m, first, bp, sk, c, base, (uint8_t(*)[NODE])work, work + tree_bytes(c),
                   region_len, 0);
    bckm_wipe(work, tree_bytes(c) + region_len);
    return e;
}

int bckm_rekey_auth_verify(const uint8_t *msg, size_t len, const uint8_t pk[32]) {
    if (msg == NULL || pk == NULL) return BCKM_ERR_ARG;
    struct bckm_msg_header h;
    int e = bckm_msg_header_decode(msg, len, &h);
    if (e != BCKM_OK) return e;
    if (h.kind != BCKM_MSG_UPDATE && h.kind != BCKM_MSG_BUNDLE) return BCKM_ERR_FORMAT;
    const uint8_t *t = msg + h.sealed_len;
    uint32_t index = bckm_get_u32(t), count = bckm_get_u32(t + 4), depth = t[8];
    if (count == 0 || index >= count || depth != bckm_rekey_depth(index, count))
        return BCKM_ERR_FORMAT;
    /* (the header decode checked the length against depth) */
    uint8_t node[NODE];
    leaf_hash(msg, h.sealed_len, node);
    const uint8_t *path = t + BCKM_MSG_TRAILER_FIXED;
    uint64_t i = index, w = count;
    while (w > 1) {
        if ((i ^ 1u) < w) {
            if (i & 1u)
                inner_hash(path, node, node);
            else
                inner_hash(node, path, node);
            path += NODE;
        }
        i >>= 1;
        w = (w + 1) / 2;
    }
    uint8_t sm[SIGNED_BYTES];
    signed_message(h.sender, count, node, sm);
    if (crypto_sign_verify_detached(path, sm, sizeof sm, pk) != 0) return BCKM_ERR_AUTH;
    return BCKM_OK;
}
