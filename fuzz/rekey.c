/*
 * Harness: a device key store fed attacker-chosen rekey messages
 * (bckm_device_apply, and through it bckm_msg_header_decode / open /
 * parse_update / parse_bundle).
 *
 * A small network is set up once from genuine bundles (epoch 1): nodes A and
 * B in set S, node C in set T. The input is a sequence of records
 *   mode (1) || length (2, big-endian) || payload (length bytes, or the rest)
 * each delivered to device A:
 *   mode % 3 == 0  raw: the payload is the whole message (header || ciphertext
 *                  || tag), as an outsider without keys could send it;
 *   mode % 3 == 1  sealed: the payload picks header fields (kind, KEK type,
 *                  recipient, epoch offset, which key seals it, a nonce byte;
 *                  bit 7 of the recipient selector: sent and signed by BP 2,
 *                  not A's BP 1; bit 6: a nonzero challenge) and the rest is
 *                  the plaintext body, sealed and batch-signed by the harness
 *                  with a fixed test key (random bytes never pass the
 *                  signature), so the body parsers and the update/bundle
 *                  checks are reached as if a BP (or a stolen key) had sent it;
 *   mode % 3 == 2  replay: the last message A accepted, byte for byte.
 * Oracles:
 *   - a rejected message leaves A's whole store byte-for-byte unchanged
 *     (snapshot of the caller-owned memory), and a replay is always rejected;
 *   - an accepted message moves A exactly one epoch forward (a joiner: to the
 *     bundle's epoch) and leaves its key tables sorted, free of its own IDs
 *     and within capacity;
 *   - while A has rejected everything, it still agrees with its peers (the
 *     pairwise key with B, the set KEK of S, the set-pair key with C), and
 *     after a genuine rekey of S sent to everyone, all three accept it and
 *     still agree.
 */
#include "support/fuzz.h"

#include "bckm/device.h"
#include "bckm/kdf.h"
#include "bckm/msg.h"
#include "bckm/rekey_auth.h"

#include <sodium.h>

#define FUZZ_RK_A 0x01000011u
#define FUZZ_RK_B 0x01000012u
#define FUZZ_RK_C 0x01000021u
#define FUZZ_RK_S 0x01000001u
#define FUZZ_RK_T 0x01000002u
#define FUZZ_RK_CAP_PEERS 4u
#define FUZZ_RK_CAP_SETS 9u
/* Rounded up so that each row of the arrays below stays aligned. */
#define FUZZ_RK_DEV_BYTES                                                                          \
    ((BCKM_DEVICE_BYTES(FUZZ_RK_CAP_PEERS, FUZZ_RK_CAP_SETS) + 63u) & ~(size_t)63u)
#define FUZZ_RK_MSG_CAP                                                                            \
    (BCKM_MSG_HEADER_BYTES + 65536u + BCKM_MSG_TAG_BYTES + BCKM_MSG_TRAILER_BYTES(0))
#define FUZZ_RK_MAX_RECORDS 8

/* Device memory: three live stores, their post-genesis images, a snapshot. */
static _Alignas(max_align_t) uint8_t fuzz_rk_mem[3][FUZZ_RK_DEV_BYTES];
static _Alignas(max_align_t) uint8_t fuzz_rk_genesis[3][FUZZ_RK_DEV_BYTES];
static uint8_t fuzz_rk_snap[FUZZ_RK_DEV_BYTES];
static uint8_t fuzz_rk_msg[FUZZ_RK_MSG_CAP];
static uint8_t fuzz_rk_last[FUZZ_RK_MSG_CAP];
static size_t fuzz_rk_last_len;
static uint8_t fuzz_rk_kek[3][BCKM_KEY_BYTES]; /* node KEKs of A, B, C */
static int fuzz_rk_trace;                      /* FUZZ_TRACE set: print each verdict */
/* Fixed test signing keys of BP 1 (A, B and C's BP) and BP 2 (another BP). */
static uint8_t fuzz_rk_pk[3][32], fuzz_rk_sk[3][64];
static struct bckm_msgs fuzz_rk_batch;

static void fuzz_rk_fill(uint8_t *p, size_t n, uint8_t base) {
    for (size_t j = 0; j < n; j++) p[j] = (uint8_t)(base + j);
}

/* Seals body under kek for recipient at epoch into fuzz_rk_msg. */
static size_t fuzz_rk_seal_as(uint8_t kind, uint8_t kek_type, uint32_t recipient, uint64_t epoch,
                              uint8_t nonce0, const uint8_t kek[BCKM_KEY_BYTES],
                              const uint8_t *body, size_t body_len, uint8_t bp, uint8_t chal) {
    struct bckm_msg_header h;
    size_t out_len = 0;
    memset(&h, 0, sizeof h);
    h.kind = kind;
    h.kek_type = kek_type;
    h.sender = bp;
    h.recipient = recipient;
    h.epoch = epoch;
    h.nonce[0] = nonce0;
    h.nonce[1] = (uint8_t)epoch;
    memset(h.challenge, chal, sizeof h.challenge);
    /* A header no BP would produce (reserved values) is sent unsigned. */
    if (bckm_msg_seal(&h, kek, body, body_len, fuzz_rk_msg, sizeof fuzz_rk_msg, &out_len) !=
        BCKM_OK) {
        memset(fuzz_rk_msg, 0, BCKM_MSG_HEADER_BYTES);
        return BCKM_MSG_HEADER_BYTES;
    }
    /* Sign it as a batch of one, with the real signer. */
    struct bckm_msgs *m = &fuzz_rk_batch;
    bckm_msgs_clear(m);
    if (m->cap < sizeof fuzz_rk_msg) {
        uint8_t *b = realloc(m->buf, sizeof fuzz_rk_msg);
        FUZZ_CHECK(b != NULL);
        m->buf = b;
        m->cap = sizeof fuzz_rk_msg;
    }
    if (m->refs_cap < 1) {
        struct bckm_msg_ref *r = realloc(m->refs, sizeof *r);
        FUZZ_CHECK(r != NULL);
        m->refs = r;
        m->refs_cap = 1;
    }
    memcpy(m->buf, fuzz_rk_msg, out_len);
    m->refs[0] = (struct bckm_msg_ref){ kind, kek_type, recipient, 0, out_len };
    m->n = 1;
    m->len = out_len;
    FUZZ_CHECK(bckm_rekey_batch_sign(m, 0, bp, fuzz_rk_sk[bp]) == BCKM_OK);
    FUZZ_CHECK(m->refs[0].len <= sizeof fuzz_rk_msg);
    memcpy(fuzz_rk_msg, m->buf, m->refs[0].len);
    return m->refs[0].len;
}

static size_t fuzz_rk_seal(uint8_t kind, uint8_t kek_type, uint32_t recipient, uint64_t epoch,
                           uint8_t nonce0, const uint8_t kek[BCKM_KEY_BYTES], const uint8_t *body,
                           size_t body_len) {
    return fuzz_rk_seal_as(kind, kek_type, recipient, epoch, nonce0, kek, body, body_len, 1, 0);
}

static void fuzz_rk_keyed(struct bckm_writer *w, uint32_t id, const uint8_t key[BCKM_KEY_BYTES]) {
    bckm_writer_u32(w, id);
    bckm_writer_bytes(w, key, BCKM_KEY_BYTES);
}

/* A genuine bundle for a node, sealed under its node KEK at epoch 1. */
static void fuzz_rk_bundle(struct bckm_device *d, uint32_t node, uint32_t set, uint8_t code_base,
                           const uint8_t seed[BCKM_KEY_BYTES],
                           const uint8_t set_kek[BCKM_KEY_BYTES], uint32_t other_set,
                           const uint8_t setpair[BCKM_KEY_BYTES], uint32_t peer,
                           const uint8_t *peer_key) {
    uint8_t body[512], code[BCKM_CODE_BYTES];
    struct bckm_writer w;
    bckm_writer_init(&w, body, sizeof body);
    fuzz_rk_fill(code, sizeof code, code_base);
    bckm_writer_u32(&w, node);
    bckm_writer_u32(&w, set);
    bckm_writer_u8(&w, 1);
    bckm_writer_bytes(&w, code, sizeof code);
    bckm_writer_bytes(&w, seed, BCKM_KEY_BYTES);
    bckm_writer_bytes(&w, set_kek, BCKM_KEY_BYTES);
    bckm_writer_u16(&w, 1);
    fuzz_rk_keyed(&w, other_set, setpair);
    bckm_writer_u16(&w, peer_key != NULL ? 1 : 0);
    if (peer_key != NULL) fuzz_rk_keyed(&w, peer, peer_key);
    FUZZ_CHECK(w.err == 0);
    size_t n = fuzz_rk_seal(BCKM_MSG_BUNDLE, BCKM_KEK_NODE, node, 1, 0, d->kek, body, w.len);
    FUZZ_CHECK(bckm_device_apply(d, fuzz_rk_msg, n) == BCKM_OK);
}

static struct bckm_device *fuzz_rk_dev(int i) {
    return (struct bckm_device *)(void *)fuzz_rk_mem[i];
}

static void fuzz_rk_setup(void) {
    static int ready;
    if (ready) return;
    FUZZ_CHECK(bckm_init() == BCKM_OK);
    fuzz_rk_trace = getenv("FUZZ_TRACE") != NULL;
    for (int b = 1; b <= 2; b++) {
        uint8_t ks[32];
        fuzz_rk_fill(ks, sizeof ks, (uint8_t)(0xE0 + 0x10 * b));
        crypto_sign_seed_keypair(fuzz_rk_pk[b], fuzz_rk_sk[b], ks);
    }
    uint8_t root[32];
    fuzz_rk_fill(root, sizeof root, 0x07);
    uint8_t seed_a[BCKM_KEY_BYTES], seed_b[BCKM_KEY_BYTES], seed_c[BCKM_KEY_BYTES];
    uint8_t k_s[BCKM_KEY_BYTES], k_t[BCKM_KEY_BYTES], k_st[BCKM_KEY_BYTES], k_ab[BCKM_KEY_BYTES];
    fuzz_rk_fill(seed_a, sizeof seed_a, 0x10);
    fuzz_rk_fill(seed_b, sizeof seed_b, 0x30);
    fuzz_rk_fill(seed_c, sizeof seed_c, 0x50);
    fuzz_rk_fill(k_s, sizeof k_s, 0x70);
    fuzz_rk_fill(k_t, sizeof k_t, 0x90);
    fuzz_rk_fill(k_st, sizeof k_st, 0xB0);
    /* A entered S first, so its seed derives the pair key with B. */
    bckm_kdf_pair_node(seed_a, FUZZ_RK_A, FUZZ_RK_B, k_ab);
    for (int i = 0; i < 3; i++) {
        struct bckm_device *d = NULL;
        fuzz_rk_fill(fuzz_rk_kek[i], BCKM_KEY_BYTES, (uint8_t)(0xD0 + 8 * i));
        FUZZ_CHECK(bckm_device_init(fuzz_rk_mem[i], FUZZ_RK_DEV_BYTES, FUZZ_RK_CAP_PEERS,
                                    FUZZ_RK_CAP_SETS, fuzz_rk_kek[i], 1, fuzz_rk_pk[1], root,
                                    &d) == BCKM_OK);
        FUZZ_CHECK(d == fuzz_rk_dev(i));
    }
    fuzz_rk_bundle(fuzz_rk_dev(0), FUZZ_RK_A, FUZZ_RK_S, 0x01, seed_a, k_s, FUZZ_RK_T, k_st,
                   FUZZ_RK_B, k_ab);
    fuzz_rk_bundle(fuzz_rk_dev(1), FUZZ_RK_B, FUZZ_RK_S, 0x41, seed_b, k_s, FUZZ_RK_T, k_st,
                   FUZZ_RK_A, k_ab);
    fuzz_rk_bundle(fuzz_rk_dev(2), FUZZ_RK_C, FUZZ_RK_T, 0x81, seed_c, k_t, FUZZ_RK_S, k_st, 0,
                   NULL);
    memcpy(fuzz_rk_genesis, fuzz_rk_mem, sizeof fuzz_rk_mem);
    ready = 1;
}

/* Structural invariants of any store after an accepted message. */
static void fuzz_rk_sane(const struct bckm_device *d) {
    FUZZ_CHECK(d->n_peers <= d->cap_peers && d->n_sets <= d->cap_sets);
    FUZZ_CHECK(d->cap_peers == FUZZ_RK_CAP_PEERS && d->cap_sets == FUZZ_RK_CAP_SETS);
    for (uint32_t i = 0; i < d->n_peers; i++) {
        FUZZ_CHECK(d->keys[i].id != BCKM_ID_NONE && d->keys[i].id != d->node_id);
        if (i > 0) FUZZ_CHECK(d->keys[i - 1].id < d->keys[i].id);
    }
    const struct bckm_device_key *st = d->keys + d->cap_peers;
    for (uint32_t i = 0; i < d->n_sets; i++) {
        FUZZ_CHECK(st[i].id != BCKM_ID_NONE && st[i].id != d->set_id);
        if (i > 0) FUZZ_CHECK(st[i - 1].id < st[i].id);
    }
    FUZZ_CHECK(bckm_device_key_count(d) == 2u + d->n_peers + d->n_sets);
}

/* A, B, C agree on every key they share. */
static void fuzz_rk_agree(void) {
    const struct bckm_device *a = fuzz_rk_dev(0), *b = fuzz_rk_dev(1), *c = fuzz_rk_dev(2);
    uint8_t x[BCKM_KEY_BYTES], y[BCKM_KEY_BYTES];
    FUZZ_CHECK(a->epoch == b->epoch && b->epoch == c->epoch);
    FUZZ_CHECK(memcmp(a->set_kek, b->set_kek, BCKM_KEY_BYTES) == 0);
    FUZZ_CHECK(bckm_device_key_for(a, FUZZ_RK_B, FUZZ_RK_S, x) == BCKM_OK);
    FUZZ_CHECK(bckm_device_key_for(b, FUZZ_RK_A, FUZZ_RK_S, y) == BCKM_OK);
    FUZZ_CHECK(memcmp(x, y, sizeof x) == 0);
    FUZZ_CHECK(bckm_device_key_for(a, FUZZ_RK_C, FUZZ_RK_T, x) == BCKM_OK);
    FUZZ_CHECK(bckm_device_key_for(c, FUZZ_RK_A, FUZZ_RK_S, y) == BCKM_OK);
    FUZZ_CHECK(memcmp(x, y, sizeof x) == 0);
    FUZZ_CHECK(bckm_device_key_for(b, FUZZ_RK_C, FUZZ_RK_T, x) == BCKM_OK);
    FUZZ_CHECK(memcmp(x, y, sizeof x) == 0);
}

/* The BP's genuine rekey of S (someone left): an update under K_S for A
 * and B, the same change under K_T for C. Everyone must take it. */
static void fuzz_rk_honest_round(void) {
    uint8_t body[128], tbody[128], refresh[BCKM_REFRESH_BYTES], r_s[BCKM_REFRESH_BYTES];
    uint8_t r_st[BCKM_REFRESH_BYTES], zero[BCKM_REFRESH_BYTES] = { 0 };
    struct bckm_writer w, wt;
    uint64_t epoch = fuzz_rk_dev(0)->epoch + 1;
    fuzz_rk_fill(refresh, sizeof refresh, (uint8_t)(0x21 + epoch));
    bckm_kdf_set_refresh(refresh, FUZZ_RK_S, epoch, r_s);
    bckm_kdf_pair_refresh(r_s, FUZZ_RK_T, r_st);
    /* S's members get r_S; T's only r_S,T (spec 5). */
    bckm_writer_init(&w, body, sizeof body);
    bckm_writer_init(&wt, tbody, sizeof tbody);
    bckm_writer_u8(&w, 2);
    bckm_writer_u8(&wt, 2);
    bckm_writer_u32(&w, 0x01000099u);
    bckm_writer_u32(&wt, 0x01000099u);
    bckm_writer_u8(&w, 1);
    bckm_writer_u8(&wt, 0);
    bckm_writer_bytes(&w, r_s, sizeof r_s);
    bckm_writer_bytes(&wt, zero, sizeof zero);
    bckm_writer_u16(&w, 1);
    bckm_writer_u16(&wt, 1);
    bckm_writer_u32(&w, FUZZ_RK_S);
    bckm_writer_u32(&wt, FUZZ_RK_S);
    for (int k = 0; k < 4; k++) {
        bckm_writer_u16(&w, 0);
        bckm_writer_u16(&wt, 0);
    } /* retired, joined, left, new keys */
    bckm_writer_u16(&w, 0);
    bckm_writer_u16(&wt, 1);
    bckm_writer_u32(&wt, FUZZ_RK_S);
    bckm_writer_bytes(&wt, r_st, sizeof r_st);
    FUZZ_CHECK(w.err == 0 && wt.err == 0);
    uint8_t k_s[BCKM_KEY_BYTES], k_t[BCKM_KEY_BYTES];
    memcpy(k_s, fuzz_rk_dev(1)->set_kek, sizeof k_s); /* B's copy: A's is under test */
    memcpy(k_t, fuzz_rk_dev(2)->set_kek, sizeof k_t);
    for (int i = 0; i < 2; i++) {
        size_t n =
            fuzz_rk_seal(BCKM_MSG_UPDATE, BCKM_KEK_SET, FUZZ_RK_S, epoch, 0xEE, k_s, body, w.len);
        FUZZ_CHECK(bckm_device_apply(fuzz_rk_dev(i), fuzz_rk_msg, n) == BCKM_OK);
    }
    size_t n =
        fuzz_rk_seal(BCKM_MSG_UPDATE, BCKM_KEK_SET, FUZZ_RK_T, epoch, 0xEE, k_t, tbody, wt.len);
    FUZZ_CHECK(bckm_device_apply(fuzz_rk_dev(2), fuzz_rk_msg, n) == BCKM_OK);
    for (int i = 0; i < 3; i++) fuzz_rk_sane(fuzz_rk_dev(i));
    fuzz_rk_agree();
}

/* Builds the message of one sealed-mode record into fuzz_rk_msg. */
static size_t fuzz_rk_sealed(const uint8_t *p, size_t n) {
    const struct bckm_device *a = fuzz_rk_dev(0);
    uint8_t kind = (uint8_t)fuzz_take_u8(&p, &n, BCKM_MSG_UPDATE);
    uint8_t kek_type = (uint8_t)fuzz_take_u8(&p, &n, BCKM_KEK_SET);
    uint32_t rsel = fuzz_take_u8(&p, &n, 1);
    uint32_t recipient = (rsel & 3u) == 0   ? FUZZ_RK_A
                         : (rsel & 3u) == 1 ? FUZZ_RK_S
                         : (rsel & 3u) == 2 ? FUZZ_RK_T
                                            : fuzz_take_u32(&p, &n, 0);
    int8_t delta = (int8_t)(uint8_t)fuzz_take_u8(&p, &n, 0);
    uint64_t epoch = a->epoch + 1u + (uint64_t)(int64_t)delta;
    uint32_t ksel = fuzz_take_u8(&p, &n, 0);
    uint8_t nonce0 = (uint8_t)fuzz_take_u8(&p, &n, 0);
    const uint8_t *kek;
    switch (ksel & 3u) {
    case 0: kek = kek_type == BCKM_KEK_NODE ? a->kek : a->set_kek; break;
    case 1: kek = fuzz_rk_kek[1]; break;          /* B's node KEK */
    case 2: kek = fuzz_rk_dev(2)->set_kek; break; /* K_T */
    default: kek = a->kek; break;
    }
    if (n > 65536u) n = 65536u;
    /* kek may point into A's store, which the seal only reads. */
    return fuzz_rk_seal_as(kind, kek_type, recipient, epoch, nonce0, kek, p, n,
                           (rsel & 0x80u) ? 2 : 1, (rsel & 0x40u) ? 0x5a : 0);
}

static int fuzz_rekey(const uint8_t *data, size_t size) {
    fuzz_rk_setup();
    memcpy(fuzz_rk_mem, fuzz_rk_genesis, sizeof fuzz_rk_mem);
    fuzz_rk_last_len = 0;
    struct bckm_device *a = fuzz_rk_dev(0);
    int tainted = 0; /* A accepted something its peers never saw */

    for (int r = 0; r < FUZZ_RK_MAX_RECORDS && size > 0; r++) {
        uint32_t mode = fuzz_take_u8(&data, &size, 0) % 3u;
        size_t len = fuzz_take_u8(&data, &size, 0) << 8;
        len |= fuzz_take_u8(&data, &size, 0);
        if (len > size) len = size;
        const uint8_t *payload = data;
        data += len;
        size -= len;

        size_t msg_len;
        if (mode == 0) {
            if (len > sizeof fuzz_rk_msg) len = sizeof fuzz_rk_msg;
            memcpy(fuzz_rk_msg, payload, len);
            msg_len = len;
        } else if (mode == 1) {
            msg_len = fuzz_rk_sealed(payload, len);
        } else {
            if (fuzz_rk_last_len == 0) continue;
            memcpy(fuzz_rk_msg, fuzz_rk_last, fuzz_rk_last_len);
            msg_len = fuzz_rk_last_len;
        }
        memcpy(fuzz_rk_snap, fuzz_rk_mem[0], sizeof fuzz_rk_snap);
        uint8_t copy_needed = mode != 2;
        static uint8_t pending[FUZZ_RK_MSG_CAP];
        if (copy_needed) memcpy(pending, fuzz_rk_msg, msg_len);
        uint32_t node_before = a->node_id, set_before = a->set_id;
        uint64_t epoch_before = a->epoch;
        uint8_t kind = msg_len > 1 ? fuzz_rk_msg[1] : 0;
        int rc = bckm_device_apply(a, fuzz_rk_msg, msg_len);
        if (fuzz_rk_trace)
            fprintf(stderr, "rekey: record %d mode %u, %zu bytes: %s\n", r, (unsigned)mode, msg_len,
                    bckm_strerror(rc));
        if (rc != BCKM_OK) {
            FUZZ_CHECK(rc < 0 && rc >= BCKM_ERR_CORRUPT);
            FUZZ_CHECK(memcmp(fuzz_rk_snap, fuzz_rk_mem[0], sizeof fuzz_rk_snap) == 0);
            if (!tainted) fuzz_rk_agree();
            continue;
        }
        /* Only an authentic-looking message gets here: never a replay. */
        FUZZ_CHECK(mode != 2);
        FUZZ_CHECK(mode == 1 || msg_len >= BCKM_MSG_HEADER_BYTES + BCKM_MSG_TAG_BYTES);
        FUZZ_CHECK(a->epoch == epoch_before + 1u);
        if (kind == BCKM_MSG_UPDATE) {
            FUZZ_CHECK(a->node_id == node_before && a->set_id == set_before);
        } else {
            FUZZ_CHECK(kind == BCKM_MSG_BUNDLE);
            FUZZ_CHECK(a->node_id == bckm_get_u32(pending + 4));
        }
        fuzz_rk_sane(a);
        memcpy(fuzz_rk_last, pending, msg_len);
        fuzz_rk_last_len = msg_len;
        tainted = 1;
    }
    if (!tainted) fuzz_rk_honest_round();
    return 0;
}

FUZZ_ENTRY(fuzz_rekey)
