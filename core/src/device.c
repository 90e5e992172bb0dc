#include "bckm/device.h"
#include "bckm/kdf.h"
#include "bckm/msg.h"
#include "bckm/rekey_auth.h"
#include "bckm/sets.h"

#include <string.h>

void bckm_device_caps(uint32_t max_nodes, uint32_t max_bps, uint32_t *cap_peers,
                      uint32_t *cap_sets) {
    uint32_t s = bckm_sets_target(max_nodes);
    *cap_peers = s; /* a set never exceeds s(n_max) members */
    *cap_sets = s + 2 * max_bps + 1;
}

int bckm_device_init(void *mem, size_t mem_len, uint32_t cap_peers, uint32_t cap_sets,
                     const uint8_t kek[BCKM_KEY_BYTES], uint32_t bp_id, const uint8_t bp_pk[32],
                     const uint8_t bps_root[32], struct bckm_device **out) {
    if (mem == NULL || kek == NULL || bp_pk == NULL || bps_root == NULL || out == NULL)
        return BCKM_ERR_ARG;
    if (bp_id == 0 || bp_id > BCKM_MAX_BPS) return BCKM_ERR_ARG;
    if (((uintptr_t)mem % _Alignof(struct bckm_device)) != 0) return BCKM_ERR_ARG;
    if (cap_peers > BCKM_MSG_MAX_LIST || cap_sets > BCKM_MSG_MAX_LIST) return BCKM_ERR_ARG;
    if (mem_len < BCKM_DEVICE_BYTES(cap_peers, cap_sets)) return BCKM_ERR_NOMEM;
    struct bckm_device *d = mem;
    memset(d, 0, BCKM_DEVICE_BYTES(cap_peers, cap_sets));
    memcpy(d->kek, kek, BCKM_KEY_BYTES);
    d->bp_id = (uint8_t)bp_id;
    memcpy(d->bp_pk, bp_pk, sizeof d->bp_pk);
    memcpy(d->bps_root, bps_root, sizeof d->bps_root);
    d->cap_peers = cap_peers;
    d->cap_sets = cap_sets;
    *out = d;
    return BCKM_OK;
}

static struct bckm_device_key *peers(struct bckm_device *d) { return d->keys; }
static struct bckm_device_key *setkeys(struct bckm_device *d) { return d->keys + d->cap_peers; }

/* Binary search in a sorted key table: 1 and the index if found, else 0 and
 * the insertion point. */
static int table_find(const struct bckm_device_key *t, uint32_t n, uint32_t id, uint32_t *at) {
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return lo < n && t[lo].id == id;
}

static void table_insert(struct bckm_device_key *t, uint32_t *n, uint32_t id,
                         const uint8_t key[BCKM_KEY_BYTES]) {
    uint32_t at;
    if (table_find(t, *n, id, &at)) {
        memcpy(t[at].key, key, BCKM_KEY_BYTES);
        return;
    }
    memmove(&t[at + 1], &t[at], (size_t)(*n - at) * sizeof *t);
    t[at].id = id;
    memcpy(t[at].key, key, BCKM_KEY_BYTES);
    (*n)++;
}

static void table_remove(struct bckm_device_key *t, uint32_t *n, uint32_t id) {
    uint32_t at;
    if (!table_find(t, *n, id, &at)) return;
    bckm_wipe(t[at].key, BCKM_KEY_BYTES);
    memmove(&t[at], &t[at + 1], (size_t)(*n - at - 1) * sizeof *t);
    (*n)--;
    bckm_wipe(&t[*n], sizeof *t);
}

static int list_has(const struct bckm_msg_list *l, uint32_t stride, uint32_t id) {
    uint32_t lo = 0, hi = l->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t v = bckm_msg_list_id(l, mid, stride);
        if (v == id) return 1;
        if (v < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* The refresh value a list of (set ID, 16 bytes) entries holds for id, or NULL. */
static const uint8_t *pair_refresh_of(const struct bckm_msg_list *l, uint32_t id) {
    uint32_t lo = 0, hi = l->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t x = bckm_msg_list_id(l, mid, BCKM_MSG_REFRESH_ENTRY_BYTES);
        if (x == id) return l->p + (size_t)mid * BCKM_MSG_REFRESH_ENTRY_BYTES + 4;
        if (x < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Checks everything an update needs before any byte of the store changes. */
static int update_check(struct bckm_device *d, const struct bckm_update_view *v) {
    int own_changed = list_has(&v->changed, 4, d->set_id);
    if (list_has(&v->retired, 4, d->set_id)) return BCKM_ERR_STATE;
    /* Refresh material (spec 5): r_S exactly when S changed, and one pair
     * refresh for each other changed set, no more, no fewer. */
    if (v->has_set_refresh != own_changed) return BCKM_ERR_STATE;
    if (v->pairs.n != v->changed.n - (uint32_t)own_changed) return BCKM_ERR_STATE;
    for (uint32_t i = 0; i < v->pairs.n; i++) {
        uint32_t id = bckm_msg_list_id(&v->pairs, i, BCKM_MSG_REFRESH_ENTRY_BYTES);
        if (id == d->set_id || !list_has(&v->changed, 4, id)) return BCKM_ERR_STATE;
    }
    if (!own_changed && (v->joined.n > 0 || v->left.n > 0)) return BCKM_ERR_STATE;
    uint32_t at, sets_after = d->n_sets, peers_after = d->n_peers;
    for (uint32_t i = 0; i < v->retired.n; i++) {
        uint32_t id = bckm_msg_list_id(&v->retired, i, 4);
        if (list_has(&v->changed, 4, id)) return BCKM_ERR_STATE;
        if (table_find(setkeys(d), d->n_sets, id, &at)) sets_after--;
    }
    for (uint32_t i = 0; i < v->newkeys.n; i++) {
        uint32_t id = bckm_msg_list_id(&v->newkeys, i, BCKM_MSG_KEYED_ENTRY_BYTES);
        if (id == d->set_id || list_has(&v->retired, 4, id)) return BCKM_ERR_STATE;
        if (table_find(setkeys(d), d->n_sets, id, &at)) return BCKM_ERR_STATE;
        sets_after++;
    }
    for (uint32_t i = 0; i < v->left.n; i++) {
        uint32_t id = bckm_msg_list_id(&v->left, i, 4);
        if (id == d->node_id) return BCKM_ERR_STATE;
        if (table_find(peers(d), d->n_peers, id, &at)) peers_after--;
    }
    for (uint32_t i = 0; i < v->joined.n; i++) {
        uint32_t id = bckm_msg_list_id(&v->joined, i, 4);
        if (id == d->node_id || list_has(&v->left, 4, id)) return BCKM_ERR_STATE;
        if (table_find(peers(d), d->n_peers, id, &at)) return BCKM_ERR_STATE;
        peers_after++;
    }
    if (sets_after > d->cap_sets || peers_after > d->cap_peers) return BCKM_ERR_NOMEM;
    return BCKM_OK;
}

static void update_apply(struct bckm_device *d, const struct bckm_update_view *v, uint64_t epoch) {
    int own_changed = list_has(&v->changed, 4, d->set_id);
    struct bckm_device_key *st = setkeys(d);
    for (uint32_t i = 0; i < v->retired.n; i++)
        table_remove(st, &d->n_sets, bckm_msg_list_id(&v->retired, i, 4));
    /* Update every pair key that touches a changed set, then add the keys of
     * new sets, which arrive already updated. This side's pair refresh
     * derives from r_S; the other side's arrives in the update. */
    uint8_t mine[BCKM_REFRESH_BYTES];
    for (uint32_t i = 0; i < d->n_sets; i++) {
        const uint8_t *theirs = pair_refresh_of(&v->pairs, st[i].id);
        if (!own_changed && theirs == NULL) continue;
        if (own_changed) bckm_kdf_pair_refresh(v->set_refresh, st[i].id, mine);
        bckm_kdf_setpair_advance(st[i].key, d->set_id, own_changed ? mine : NULL, st[i].id, theirs,
                                 epoch, st[i].key);
    }
    bckm_wipe(mine, sizeof mine);
    for (uint32_t i = 0; i < v->newkeys.n; i++) {
        const uint8_t *e = v->newkeys.p + (size_t)i * BCKM_MSG_KEYED_ENTRY_BYTES;
        table_insert(st, &d->n_sets, bckm_get_u32(e), e + 4);
    }
    if (own_changed) {
        bckm_kdf_set_update(d->set_kek, v->set_refresh, d->set_id, epoch, d->set_kek);
        for (uint32_t i = 0; i < v->left.n; i++)
            table_remove(peers(d), &d->n_peers, bckm_msg_list_id(&v->left, i, 4));
        for (uint32_t i = 0; i < v->joined.n; i++) {
            uint8_t k[BCKM_KEY_BYTES];
            uint32_t w = bckm_msg_list_id(&v->joined, i, 4);
            /* This device was in the set first, so its seed derives the key. */
            bckm_kdf_pair_node(d->seed, d->node_id, w, k);
            table_insert(peers(d), &d->n_peers, w, k);
            bckm_wipe(k, sizeof k);
        }
    }
    d->epoch = epoch;
}

static int bundle_check(const struct bckm_device *d, const struct bckm_msg_header *h,
                        const struct bckm_bundle_view *v) {
    if (v->node_id != h->recipient) return BCKM_ERR_FORMAT;
    if (v->setkeys.n > d->cap_sets || v->peers.n > d->cap_peers) return BCKM_ERR_NOMEM;
    if (list_has(&v->setkeys, BCKM_MSG_KEYED_ENTRY_BYTES, v->set_id)) return BCKM_ERR_FORMAT;
    if (list_has(&v->peers, BCKM_MSG_KEYED_ENTRY_BYTES, v->node_id)) return BCKM_ERR_FORMAT;
    if (d->node_id == BCKM_ID_NONE && !v->has_code)
        return BCKM_ERR_STATE; /* a joiner needs its code */
    return BCKM_OK;
}

static void bundle_apply(struct bckm_device *d, const struct bckm_bundle_view *v, uint64_t epoch) {
    d->node_id = v->node_id;
    d->set_id = v->set_id;
    if (v->has_code) {
        memcpy(d->code, v->code, BCKM_CODE_BYTES);
        d->has_code = 1;
    }
    memcpy(d->seed, v->seed, BCKM_KEY_BYTES);
    memcpy(d->set_kek, v->set_kek, BCKM_KEY_BYTES);
    bckm_wipe(d->keys, ((size_t)d->cap_peers + d->cap_sets) * sizeof d->keys[0]);
    d->n_peers = 0;
    d->n_sets = 0;
    /* The lists are sorted (checked by the parser): append in order. */
    for (uint32_t i = 0; i < v->setkeys.n; i++) {
        const uint8_t *e = v->setkeys.p + (size_t)i * BCKM_MSG_KEYED_ENTRY_BYTES;
        setkeys(d)[i].id = bckm_get_u32(e);
        memcpy(setkeys(d)[i].key, e + 4, BCKM_KEY_BYTES);
    }
    d->n_sets = v->setkeys.n;
    for (uint32_t i = 0; i < v->peers.n; i++) {
        const uint8_t *e = v->peers.p + (size_t)i * BCKM_MSG_KEYED_ENTRY_BYTES;
        peers(d)[i].id = bckm_get_u32(e);
        memcpy(peers(d)[i].key, e + 4, BCKM_KEY_BYTES);
    }
    d->n_peers = v->peers.n;
    d->epoch = epoch;
    d->resync = 0;
    bckm_wipe(d->challenge, sizeof d->challenge);
}

static int is_zero16(const uint8_t c[16]) {
    static const uint8_t zero[16] = { 0 };
    return bckm_ct_equal(c, zero, 16);
}

int bckm_device_apply(struct bckm_device *d, uint8_t *msg, size_t len) {
    struct bckm_msg_header h;
    if (d == NULL || msg == NULL) return BCKM_ERR_ARG;
    int e = bckm_msg_header_decode(msg, len, &h);
    if (e != BCKM_OK) return e;
    /* Direction: BP -> device only, from this device's serving BP. */
    if (h.kind != BCKM_MSG_UPDATE && h.kind != BCKM_MSG_BUNDLE) return BCKM_ERR_PERM;
    if (h.sender != d->bp_id) return BCKM_ERR_PERM;
    const uint8_t *kek;
    if (h.kek_type == BCKM_KEK_NODE) {
        /* Before its first bundle a device does not know its ID yet. */
        if (d->node_id != BCKM_ID_NONE && h.recipient != d->node_id) return BCKM_ERR_UNKNOWN;
        kek = d->kek;
    } else {
        if (d->node_id == BCKM_ID_NONE || h.recipient != d->set_id) return BCKM_ERR_UNKNOWN;
        kek = d->set_kek;
    }
    if (h.kind == BCKM_MSG_UPDATE && d->node_id == BCKM_ID_NONE) return BCKM_ERR_STATE;
    /* Freshness. A message answering a resync carries the device's current
     * challenge; any other nonzero challenge answers an older one. Exactly
     * the next epoch; in resync also a bundle at the device's epoch or later
     * that answers the challenge; a joiner takes the epoch its bundle names. */
    int zero = is_zero16(h.challenge);
    int answers = !zero && d->resync && !is_zero16(d->challenge) &&
                  bckm_ct_equal(h.challenge, d->challenge, 16);
    if (!zero && !answers) return BCKM_ERR_REPLAY;
    if (d->node_id != BCKM_ID_NONE && h.epoch != d->epoch + 1 &&
        !(answers && h.kind == BCKM_MSG_BUNDLE && h.epoch >= d->epoch))
        return BCKM_ERR_REPLAY;
    /* Origin: one signature verification, before the AEAD. */
    e = bckm_rekey_auth_verify(msg, len, d->bp_pk);
    if (e != BCKM_OK) return e;
    e = bckm_msg_open(msg, len, kek, &h);
    if (e != BCKM_OK) return e;
    const uint8_t *body = msg + BCKM_MSG_HEADER_BYTES;
    if (h.kind == BCKM_MSG_UPDATE) {
        struct bckm_update_view v;
        e = bckm_msg_parse_update(body, h.body_len, &v);
        if (e == BCKM_OK) e = update_check(d, &v);
        if (e == BCKM_OK) update_apply(d, &v, h.epoch);
    } else {
        struct bckm_bundle_view v;
        e = bckm_msg_parse_bundle(body, h.body_len, &v);
        if (e == BCKM_OK) e = bundle_check(d, &h, &v);
        if (e == BCKM_OK) bundle_apply(d, &v, h.epoch);
    }
    bckm_wipe(msg + BCKM_MSG_HEADER_BYTES, h.body_len);
    return e;
}

int bckm_device_key_for(const struct bckm_device *d, uint32_t peer, uint32_t peer_set,
                        uint8_t out[BCKM_KEY_BYTES]) {
    uint32_t at;
    if (d == NULL || out == NULL || d->node_id == BCKM_ID_NONE || peer == d->node_id)
        return BCKM_ERR_ARG;
    if (peer_set == d->set_id) {
        if (!table_find(d->keys, d->n_peers, peer, &at)) return BCKM_ERR_UNKNOWN;
        memcpy(out, d->keys[at].key, BCKM_KEY_BYTES);
        return BCKM_OK;
    }
    const struct bckm_device_key *st = d->keys + d->cap_peers;
    if (!table_find(st, d->n_sets, peer_set, &at)) return BCKM_ERR_UNKNOWN;
    memcpy(out, st[at].key, BCKM_KEY_BYTES);
    return BCKM_OK;
}

uint32_t bckm_device_key_count(const struct bckm_device *d) {
    if (d->node_id == BCKM_ID_NONE) return 1;
    return 2 + d->n_peers + d->n_sets;
}

int bckm_device_rejoin(struct bckm_device *d, const uint8_t kek[BCKM_KEY_BYTES], uint32_t bp_id,
                       const uint8_t bp_pk[32], const uint8_t challenge[16]) {
    if (d == NULL || kek == NULL || bp_pk == NULL || challenge == NULL) return BCKM_ERR_ARG;
    if (bp_id == 0 || bp_id > BCKM_MAX_BPS || d->node_id == BCKM_ID_NONE) return BCKM_ERR_ARG;
    memcpy(d->kek, kek, BCKM_KEY_BYTES);
    d->bp_id = (uint8_t)bp_id;
    memcpy(d->bp_pk, bp_pk, sizeof d->bp_pk);
    bckm_device_begin_resync(d, challenge);
    return BCKM_OK;
}

void bckm_device_begin_resync(struct bckm_device *d, const uint8_t challenge[16]) {
    memcpy(d->challenge, challenge, sizeof d->challenge);
    d->resync = 1;
}

int bckm_device_export(const struct bckm_device *d, const uint8_t nonce[24], uint8_t *out,
                       size_t cap, size_t *out_len) {
    if (d == NULL || nonce == NULL || out == NULL || out_len == NULL || d->node_id == BCKM_ID_NONE)
        return BCKM_ERR_ARG;
    size_t body_len = 4 + 4 + 1 + 3 * BCKM_KEY_BYTES + 4 +
                      ((size_t)d->n_sets + d->n_peers) * BCKM_MSG_KEYED_ENTRY_BYTES;
    if (cap < BCKM_MSG_HEADER_BYTES + BCKM_MSG_TAG_BYTES ||
        cap - BCKM_MSG_HEADER_BYTES - BCKM_MSG_TAG_BYTES < body_len)
        return BCKM_ERR_NOMEM;
    /* Build the body in the output buffer's ciphertext area, then seal in place. */
    uint8_t *body = out + BCKM_MSG_HEADER_BYTES;
    struct bckm_writer w;
    static const uint8_t zero[BCKM_CODE_BYTES] = { 0 };
    bckm_writer_init(&w, body, body_len);
    bckm_writer_u32(&w, d->node_id);
    bckm_writer_u32(&w, d->set_id);
    bckm_writer_u8(&w, 0); /* the code never leaves the device */
    bckm_writer_bytes(&w, zero, BCKM_CODE_BYTES);
    bckm_writer_bytes(&w, d->seed, BCKM_KEY_BYTES);
    bckm_writer_bytes(&w, d->set_kek, BCKM_KEY_BYTES);
    bckm_writer_u16(&w, (uint16_t)d->n_sets);
    for (uint32_t i = 0; i < d->n_sets; i++) {
        bckm_writer_u32(&w, d->keys[d->cap_peers + i].id);
        bckm_writer_bytes(&w, d->keys[d->cap_peers + i].key, BCKM_KEY_BYTES);
    }
    bckm_writer_u16(&w, (uint16_t)d->n_peers);
    for (uint32_t i = 0; i < d->n_peers; i++) {
        bckm_writer_u32(&w, d->keys[i].id);
        bckm_writer_bytes(&w, d->keys[i].key, BCKM_KEY_BYTES);
    }
    if (w.err) return w.err;
    struct bckm_msg_header h;
    memset(&h, 0, sizeof h);
    h.kind = BCKM_MSG_HANDOVER;
    h.kek_type = BCKM_KEK_NODE;
    h.sender = 0;
    h.recipient = d->node_id;
    h.epoch = d->epoch;
    memcpy(h.nonce, nonce, 24);
    /* bckm_msg_seal reads the body before writing the ciphertext over it
     * (libsodium allows in-place encryption). */
    return bckm_msg_seal(&h, d->kek, body, w.len, out, cap, out_len);
}

void bckm_device_wipe(struct bckm_device *d) {
    if (d != NULL) bckm_wipe(d, BCKM_DEVICE_BYTES(d->cap_peers, d->cap_sets));
}
