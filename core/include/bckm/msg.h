/*
 * Rekey messages: what a BP sends its devices after a change commits.
 *
 *   header (60 bytes, the AEAD's associated data)
 *     0  version   1   = 2
 *     1  kind      1   1 = update, 2 = bundle (BP -> device); 3 = handover
 *                      (device -> BP)
 *     2  kek type  1   1 = node KEK (recipient is a node), 2 = set KEK (a set)
 *     3  sender    1   the sending BP's ID 1..255 (kinds 1, 2); 0 (kind 3)
 *     4  recipient 4   node or set ID
 *     8  epoch     8   the key epoch the message moves the device to
 *    16  nonce     24  XChaCha20-Poly1305 nonce
 *    40  challenge 16  all zero, or the resync challenge this message answers
 *    56  body len  4   plaintext length
 *   ciphertext (body len bytes) || tag (16 bytes)
 *   kinds 1, 2 only: the batch trailer (bckm/rekey_auth.h)
 *
 * Canonical headers: a bundle and a handover are under a node KEK; a
 * handover has sender 0 and a zero challenge; a set-KEK message has a zero
 * challenge; recipient and epoch are nonzero.
 *
 * Bodies (big-endian, every list sorted by strictly increasing ID):
 *   update: op 1 | subject node 4 | has set refresh 1 | set refresh r_S 16
 *           | changed sets (u16 count, 4 each) | retired sets (u16, 4)
 *           | joined members (u16, 4) | left members (u16, 4)
 *           | new set-pair keys (u16, 4 + 32 each)
 *           | pair refreshes (u16, 4 + 16 each: X, r_X,S for each changed X != S)
 *   bundle: node 4 | set 4 | has code 1 | code 32 | pair seed 32 | set KEK 32
 *           | set-pair keys (u16, 4 + 32) | pairwise node keys (u16, 4 + 32)
 * Normative text: spec/protocol.md, "Rekey messages".
 */
#ifndef BCKM_MSG_H
#define BCKM_MSG_H

#include "bckm/common.h"

#define BCKM_MSG_VERSION 2u
#define BCKM_MSG_HEADER_BYTES 60u
#define BCKM_MSG_CHALLENGE_BYTES 16u
#define BCKM_MSG_NONCE_BYTES 24u
#define BCKM_MSG_TAG_BYTES 16u
#define BCKM_MSG_MAX_LIST 65535u
#define BCKM_MSG_KEYED_ENTRY_BYTES 36u
#define BCKM_MSG_REFRESH_ENTRY_BYTES 20u /* u32 set || 16-byte refresh */
/* Batch trailer (kinds 1, 2): u32 leaf index | u32 leaf count | u8 depth |
 * depth x 32-byte path | 64-byte Ed25519 signature (bckm/rekey_auth.h). */
#define BCKM_MSG_TRAILER_FIXED 9u
#define BCKM_MSG_PATH_NODE_BYTES 32u
#define BCKM_MSG_MAX_DEPTH 32u
#define BCKM_MSG_SIG_BYTES 64u
#define BCKM_MSG_TRAILER_BYTES(depth)                                                              \
    (BCKM_MSG_TRAILER_FIXED + (size_t)(depth)*BCKM_MSG_PATH_NODE_BYTES + BCKM_MSG_SIG_BYTES)

enum { BCKM_MSG_UPDATE = 1, BCKM_MSG_BUNDLE = 2, BCKM_MSG_HANDOVER = 3 };
enum { BCKM_KEK_NODE = 1, BCKM_KEK_SET = 2 };

struct bckm_msg_header {
    uint8_t kind;
    uint8_t kek_type;
    uint8_t sender; /* BP ID (kinds 1, 2), 0 (kind 3) */
    uint32_t recipient;
    uint64_t epoch;
    uint8_t nonce[BCKM_MSG_NONCE_BYTES];
    uint8_t challenge[BCKM_MSG_CHALLENGE_BYTES];
    uint32_t body_len;
    size_t sealed_len; /* header + body + tag (decode only) */
};

/* A list inside a decrypted body: n entries of `stride` bytes, IDs first. */
struct bckm_msg_list {
    const uint8_t *p;
    uint32_t n;
};

struct bckm_update_view {
    uint8_t op;
    uint32_t subject;
    uint8_t has_set_refresh;                             /* 1: the recipient's set changed */
    const uint8_t *set_refresh;                          /* r_S, 16 bytes (all zero when absent) */
    struct bckm_msg_list changed, retired, joined, left; /* 4-byte IDs */
    struct bckm_msg_list newkeys;                        /* (ID, key) entries, 36 bytes */
    struct bckm_msg_list pairs;                          /* (X, r_X,S) entries, 20 bytes */
};

struct bckm_bundle_view {
    uint32_t node_id, set_id;
    uint8_t has_code;
    const uint8_t *code, *seed, *set_kek; /* 32 bytes each */
    struct bckm_msg_list setkeys, peers;  /* (ID, key) entries, 36 bytes */
};

/* Parses and checks a header: version, kind, kek type, sender, the
 * canonical rules above, and that len is exactly header + body + tag (kind
 * 3) or header + body + tag + a trailer whose length matches its own depth
 * byte (kinds 1, 2; the trailer's contents are checked by
 * bckm_rekey_auth_verify). */
int bckm_msg_header_decode(const uint8_t *buf, size_t len,
                           struct bckm_msg_header *h) BCKM_MUST_CHECK;

/* Seals body under kek into out (header || ciphertext || tag), without the
 * trailer: a kind 1 or 2 message is complete once bckm_rekey_batch_sign has
 * appended it. */
int bckm_msg_seal(const struct bckm_msg_header *h, const uint8_t kek[BCKM_KEY_BYTES],
                  const uint8_t *body, size_t body_len, uint8_t *out, size_t out_cap,
                  size_t *out_len) BCKM_MUST_CHECK;

/* Opens a message in place (the trailer, if any, is not checked here): on
 * success the body is at buf + BCKM_MSG_HEADER_BYTES for h->body_len bytes. */
int bckm_msg_open(uint8_t *buf, size_t len, const uint8_t kek[BCKM_KEY_BYTES],
                  struct bckm_msg_header *h) BCKM_MUST_CHECK;

/* Body parsers: accept only canonical bodies (exact length, sorted lists). */
int bckm_msg_parse_update(const uint8_t *body, size_t len,
                          struct bckm_update_view *v) BCKM_MUST_CHECK;
int bckm_msg_parse_bundle(const uint8_t *body, size_t len,
                          struct bckm_bundle_view *v) BCKM_MUST_CHECK;

/* ID of entry i of a list (stride 4 or 36). */
static inline uint32_t bckm_msg_list_id(const struct bckm_msg_list *l, uint32_t i,
                                        uint32_t stride) {
    return bckm_get_u32(l->p + (size_t)i * stride);
}

/* A bounded writer for building bodies. `err` latches the first overflow. */
struct bckm_writer {
    uint8_t *buf;
    size_t cap, len;
    int err;
};
void bckm_writer_init(struct bckm_writer *w, uint8_t *buf, size_t cap);
void bckm_writer_bytes(struct bckm_writer *w, const uint8_t *p, size_t n);
void bckm_writer_u8(struct bckm_writer *w, uint8_t v);
void bckm_writer_u16(struct bckm_writer *w, uint16_t v);
void bckm_writer_u32(struct bckm_writer *w, uint32_t v);

#endif
