/*
 * bckm block: block header, block body (length-prefixed opaque transactions
 * that the application decodes; the key application's are signed
 * envelopes), block hash, transaction root and the commit certificate
 * stored beside each block.
 *
 * Normative layout: spec/layer2-formats.md. Same rules as tx.h: decoders take
 * (buf, len), check every count against its maximum and every length
 * against what remains before reading, accept only canonical encodings and
 * write their outputs only on success (the envelope array of a body decode
 * excepted: see there). The codecs use no allocation and no pointer casts;
 * hashing and signatures (libsodium) live in separate functions.
 */
#ifndef BCKM_BLOCK_H
#define BCKM_BLOCK_H

#include "bckm/common.h"
#include "bckm/tx.h"

#define BCKM_BLOCK_VERSION 2u
/* Most transactions in one block: bounds every body buffer a caller allocates. */
#define BCKM_BLOCK_MAX_TXS 1024u
/* Longest transaction a body carries (a record is u16 length || bytes). */
#define BCKM_BLOCK_TX_MAX_BYTES 1024u
#define BCKM_BLOCK_TX_PREFIX_BYTES 2u
/* version 1 || height 8 || prev hash 32 || proposer 4 || time 8 ||
 * tx root 32 || state hash 32 || transaction count 4 */
#define BCKM_BLOCK_HEADER_BYTES 121u
/* A whole block as the ledger stores it: header || body. */
#define BCKM_BLOCK_MAX_BYTES                                                                       \
    (BCKM_BLOCK_HEADER_BYTES +                                                                     \
     BCKM_BLOCK_MAX_TXS * (BCKM_BLOCK_TX_PREFIX_BYTES + BCKM_BLOCK_TX_MAX_BYTES))

#define BCKM_CERT_VERSION 2u
/* At most one signature per BP. */
#define BCKM_CERT_MAX_SIGS BCKM_MAX_BPS
/* version 1 || height 8 || view 8 || block hash 32 || count 2 */
#define BCKM_CERT_FIXED_BYTES 51u
/* BP ID 4 || Ed25519 signature 64 */
#define BCKM_CERT_ENTRY_BYTES 68u
#define BCKM_CERT_MAX_BYTES (BCKM_CERT_FIXED_BYTES + BCKM_CERT_MAX_SIGS * BCKM_CERT_ENTRY_BYTES)

/* Domain-separation labels (ASCII, no terminator). Their first six bytes
 * differ ("bckm-b", "bckm-t", "bckm-c", and "bckm-e" for envelopes), so no
 * input of one hash or signature can be read as an input of another. */
#define BCKM_BLOCK_LABEL "bckm-block-v2"
#define BCKM_BLOCK_LABEL_BYTES 13u
#define BCKM_TXROOT_LABEL "bckm-txroot-v2"
#define BCKM_TXROOT_LABEL_BYTES 14u
#define BCKM_COMMIT_LABEL "bckm-commit-v2"
#define BCKM_COMMIT_LABEL_BYTES 14u
/* label || u64 height || u64 view || block hash */
#define BCKM_COMMIT_MSG_BYTES (BCKM_COMMIT_LABEL_BYTES + 8u + 8u + BCKM_HASH_BYTES)

struct bckm_block_header {
    uint8_t version;                    /* BCKM_BLOCK_VERSION */
    uint64_t height;                    /* 1 for the first block */
    uint8_t prev_hash[BCKM_HASH_BYTES]; /* all zero at height 1 */
    uint32_t proposer;                  /* BP ID, 1..BCKM_MAX_BPS */
    uint64_t time;                      /* virtual microseconds */
    uint8_t tx_root[BCKM_HASH_BYTES];   /* bckm_block_tx_root of the body */
    /* The application state before this block: after executing block
     * height-1 (the genesis state at height 1), as Tendermint's app hash.
     * The proposer knows it when it proposes. */
    uint8_t state_hash[BCKM_HASH_BYTES];
    uint32_t n_txs; /* 0..BCKM_BLOCK_MAX_TXS */
};

struct bckm_cert_sig {
    uint32_t bp;                 /* signer, 1..BCKM_MAX_BPS */
    uint8_t sig[BCKM_SIG_BYTES]; /* Ed25519 over the commit message */
};

/* Commit certificate: 2f+1 commit signatures, sorted by BP ID, no duplicate. */
struct bckm_cert {
    uint8_t version; /* BCKM_CERT_VERSION */
    uint64_t height;
    uint64_t view; /* consensus view/round; signed */
    uint8_t block_hash[BCKM_HASH_BYTES];
    uint32_t count; /* 1..BCKM_CERT_MAX_SIGS */
    struct bckm_cert_sig sigs[BCKM_CERT_MAX_SIGS];
};

/* ---- header ------------------------------------------------------------ */

/* The header fields the decoder accepts, and the encoding as a relation
 * between a header (read at label V) and 121 bytes (read at label B), as
 * bckm_tx_encodes in tx.h: encoder and decoder both state their result with
 * it, so decode(encode(h)) == h (lemma bckm_block_header_roundtrip). */
/*@ predicate bckm_block_header_fields_ok{L}(struct bckm_block_header *h) =
        h->version == BCKM_BLOCK_VERSION && h->height != 0 &&
        1 <= h->proposer <= BCKM_MAX_BPS && h->n_txs <= BCKM_BLOCK_MAX_TXS;

    predicate bckm_block_header_encodes{V, B}(struct bckm_block_header *h, uint8_t *b) =
        \at(b[0], B) == \at(h->version, V) &&
        bckm_be64(\at(b[1], B), \at(b[2], B), \at(b[3], B), \at(b[4], B),
                  \at(b[5], B), \at(b[6], B), \at(b[7], B), \at(b[8], B)) == \at(h->height, V) &&
        (\forall integer i; 0 <= i < BCKM_HASH_BYTES ==>
            \at(b[9 + i], B) == \at(h->prev_hash[i], V)) &&
        bckm_be32(\at(b[41], B), \at(b[42], B), \at(b[43], B), \at(b[44], B)) == \at(h->proposer, V) &&
        bckm_be64(\at(b[45], B), \at(b[46], B), \at(b[47], B), \at(b[48], B),
                  \at(b[49], B), \at(b[50], B), \at(b[51], B), \at(b[52], B)) == \at(h->time, V) &&
        (\forall integer i; 0 <= i < BCKM_HASH_BYTES ==>
            \at(b[53 + i], B) == \at(h->tx_root[i], V)) &&
        (\forall integer i; 0 <= i < BCKM_HASH_BYTES ==>
            \at(b[85 + i], B) == \at(h->state_hash[i], V)) &&
        bckm_be32(\at(b[117], B), \at(b[118], B), \at(b[119], B), \at(b[120], B)) == \at(h->n_txs, V);

    predicate bckm_block_header_same{X, Y}(struct bckm_block_header *x, struct bckm_block_header *y) =
        \at(x->version, X) == \at(y->version, Y) && \at(x->height, X) == \at(y->height, Y) &&
        (\forall integer i; 0 <= i < BCKM_HASH_BYTES ==>
            \at(x->prev_hash[i], X) == \at(y->prev_hash[i], Y)) &&
        \at(x->proposer, X) == \at(y->proposer, Y) && \at(x->time, X) == \at(y->time, Y) &&
        (\forall integer i; 0 <= i < BCKM_HASH_BYTES ==>
            \at(x->tx_root[i], X) == \at(y->tx_root[i], Y)) &&
        (\forall integer i; 0 <= i < BCKM_HASH_BYTES ==>
            \at(x->state_hash[i], X) == \at(y->state_hash[i], Y)) &&
        \at(x->n_txs, X) == \at(y->n_txs, Y);

    // Two headers held by the same bytes are the same header.
    lemma bckm_block_header_roundtrip{X, Y, B}:
        \forall struct bckm_block_header *x, *y, uint8_t *b;
            bckm_block_header_encodes{X, B}(x, b) && bckm_block_header_encodes{Y, B}(y, b) ==>
            bckm_block_header_same{X, Y}(x, y);
 */

/* 1 when the decoder accepts these header fields, 0 otherwise. */
/*@ requires \valid_read(h);
    assigns \nothing;
    ensures \result == 1 <==> bckm_block_header_fields_ok((struct bckm_block_header *)h);
    ensures \result == 0 || \result == 1;
 */
int bckm_block_header_is_valid(const struct bckm_block_header *h);

/* Writes the 121-byte encoding of h. BCKM_ERR_ARG when a field is out of
 * range. */
/*@ requires \valid_read(h) && \valid(out + (0 .. BCKM_BLOCK_HEADER_BYTES - 1));
    requires \separated(h, out + (0 .. BCKM_BLOCK_HEADER_BYTES - 1));
    assigns out[0 .. BCKM_BLOCK_HEADER_BYTES - 1];
    ensures \result == BCKM_OK || \result == BCKM_ERR_ARG;
    ensures \result == BCKM_OK <==> bckm_block_header_fields_ok((struct bckm_block_header *)h);
    ensures \result == BCKM_OK ==>
              bckm_block_header_encodes{Pre, Post}((struct bckm_block_header *)h, out);
 */
int bckm_block_header_encode(const struct bckm_block_header *h,
                             uint8_t out[BCKM_BLOCK_HEADER_BYTES]) BCKM_MUST_CHECK;

/* Decodes exactly BCKM_BLOCK_HEADER_BYTES bytes. TRUNCATED when short; FORMAT
 * when long, for an unknown version, height 0, a proposer outside 1..255 or
 * more than BCKM_BLOCK_MAX_TXS envelopes. out written only on success. */
/*@ requires len == 0 || \valid_read(buf + (0 .. len - 1));
    requires \valid(out) && \separated(buf + (0 .. len - 1), out);
    assigns *out;
    ensures \result == BCKM_OK ==> bckm_block_header_fields_ok(out);
    ensures \result == BCKM_OK ==> bckm_block_header_encodes{Post, Pre}(out, (uint8_t *)buf);
    // With the two above: for 121 bytes, success exactly on these bytes.
    ensures len == BCKM_BLOCK_HEADER_BYTES ==>
              (\result == BCKM_OK <==>
               \old(buf[0] == BCKM_BLOCK_VERSION &&
                    bckm_be64(buf[1], buf[2], buf[3], buf[4], buf[5], buf[6], buf[7], buf[8]) != 0 &&
                    1 <= bckm_be32(buf[41], buf[42], buf[43], buf[44]) <= BCKM_MAX_BPS &&
                    bckm_be32(buf[117], buf[118], buf[119], buf[120]) <= BCKM_BLOCK_MAX_TXS));
    ensures \result != BCKM_ERR_ARG ==> \result == BCKM_OK || \result == BCKM_ERR_TRUNCATED ||
                                       \result == BCKM_ERR_FORMAT;
    ensures \result != BCKM_OK ==> *out == \old(*out);
 */
int bckm_block_header_decode(const uint8_t *buf, size_t len,
                             struct bckm_block_header *out) BCKM_MUST_CHECK;

/* BLAKE2b-256(BCKM_BLOCK_LABEL || header encoding). */
int bckm_block_hash(const struct bckm_block_header *h,
                    uint8_t out[BCKM_HASH_BYTES]) BCKM_MUST_CHECK;

/* ---- body -------------------------------------------------------------- */

/* A body is n_txs records, each u16 length || that many bytes, the length in
 * 1..BCKM_BLOCK_TX_MAX_BYTES, and nothing after the last. What the bytes
 * are is the application's business (bckm_block_body_decode reads them as
 * envelopes). */

/* Appends one record at out + *pos (cap bytes in all) and advances *pos.
 * BCKM_ERR_ARG for a length outside 1..BCKM_BLOCK_TX_MAX_BYTES, NOMEM when
 * it does not fit (nothing written). */
int bckm_block_body_put(uint8_t *out, size_t cap, size_t *pos, const uint8_t *tx,
                        size_t len) BCKM_MUST_CHECK;

/* Reads the record at *pos: 1 with *tx, *tx_len set and *pos advanced; 0 at
 * the end (*pos == len); TRUNCATED or FORMAT (length 0 or over the maximum)
 * for a malformed record. */
int bckm_block_body_next(const uint8_t *body, size_t len, size_t *pos, const uint8_t **tx,
                         size_t *tx_len);

/* The transaction root of a body of n records: BLAKE2b-256(BCKM_TXROOT_LABEL
 * || u32 n || body). The framing is checked first: exactly n well-formed
 * records filling len bytes, else TRUNCATED or FORMAT. */
int bckm_block_body_root(const uint8_t *body, size_t len, uint32_t n,
                         uint8_t out[BCKM_HASH_BYTES]) BCKM_MUST_CHECK;

/* bckm_block_body_root of (body, len, hdr->n_txs), then MISMATCH when it is
 * not hdr->tx_root. */
int bckm_block_body_check(const struct bckm_block_header *hdr, const uint8_t *body,
                          size_t len) BCKM_MUST_CHECK;

/* The root of the body that holds these n envelopes (bckm_block_body_encode),
 * n <= BCKM_BLOCK_MAX_TXS. */
int bckm_block_tx_root(const struct bckm_envelope *envs, uint32_t n,
                       uint8_t out[BCKM_HASH_BYTES]) BCKM_MUST_CHECK;

/* Writes the body of the n envelopes into out (cap bytes): one record per
 * envelope, at its own length (134 or 198, tx.h); *out_len gets the total. BCKM_ERR_ARG when n is over the maximum or an
 * envelope is invalid, BCKM_ERR_NOMEM when cap is too small. */
/*@ requires n <= BCKM_BLOCK_MAX_TXS;
    requires n == 0 || \valid_read(envs + (0 .. n - 1));
    requires cap == 0 || \valid(out + (0 .. cap - 1));
    requires \valid(out_len);
    requires n == 0 || cap == 0 || \separated(envs + (0 .. n - 1), out + (0 .. cap - 1));
    requires cap == 0 || \separated(out_len, out + (0 .. cap - 1));
    assigns out[0 .. cap - 1], *out_len;
 */
int bckm_block_body_encode(const struct bckm_envelope *envs, uint32_t n, uint8_t *out, size_t cap,
                           size_t *out_len) BCKM_MUST_CHECK;

/* Checks the body (bckm_block_body_check) and decodes each of its hdr->n_txs
 * transactions as an envelope into envs (room for cap). TRUNCATED or FORMAT
 * for bad framing, FORMAT for a transaction that is not exactly one
 * envelope, NOMEM when cap is too small, MISMATCH when the root differs. On error envs[0 .. cap-1] may have been
 * overwritten (never beyond cap). */
int bckm_block_body_decode(const struct bckm_block_header *hdr, const uint8_t *buf, size_t len,
                           struct bckm_envelope *envs, uint32_t cap) BCKM_MUST_CHECK;

/* A whole block: header encoding || body encoding. hdr->n_txs must equal n
 * and hdr->tx_root the root of envs (BCKM_ERR_ARG otherwise). */
int bckm_block_encode(const struct bckm_block_header *hdr, const struct bckm_envelope *envs,
                      uint32_t n, uint8_t *out, size_t cap, size_t *out_len) BCKM_MUST_CHECK;

/* Decodes a whole block: header, then the body with its root check. hdr is
 * written only on success; envs as in bckm_block_body_decode. */
int bckm_block_decode(const uint8_t *buf, size_t len, struct bckm_block_header *hdr,
                      struct bckm_envelope *envs, uint32_t cap) BCKM_MUST_CHECK;

/* Fills hdr->n_txs and hdr->tx_root from envs (a convenience for proposers). */
int bckm_block_seal(struct bckm_block_header *hdr, const struct bckm_envelope *envs,
                    uint32_t n) BCKM_MUST_CHECK;

/* ---- commit certificate ----------------------------------------------- */

/* Encoded size of a certificate with count signatures (count <= max); 0
 * when count is over the maximum. */
/*@ assigns \nothing;
    ensures count <= BCKM_CERT_MAX_SIGS ==>
              \result == BCKM_CERT_FIXED_BYTES + count * BCKM_CERT_ENTRY_BYTES;
    ensures count > BCKM_CERT_MAX_SIGS ==> \result == 0;
 */
size_t bckm_cert_encoded_len(uint32_t count);

/* BCKM_ERR_ARG for an unknown version, height 0, count outside
 * 1..BCKM_CERT_MAX_SIGS, a BP ID outside 1..255 or signers not strictly
 * increasing; BCKM_ERR_NOMEM when cap is too small. */
/*@ requires \valid_read(c) && \valid(out_len);
    requires cap == 0 || \valid(out + (0 .. cap - 1));
    requires cap == 0 || \separated(c, out_len, out + (0 .. cap - 1));
    requires \separated(c, out_len);
    assigns out[0 .. cap - 1], *out_len;
    ensures \result == BCKM_OK || \result == BCKM_ERR_ARG || \result == BCKM_ERR_NOMEM;
    ensures \result == BCKM_OK ==>
              *out_len == BCKM_CERT_FIXED_BYTES + c->count * BCKM_CERT_ENTRY_BYTES &&
              *out_len <= cap;
 */
int bckm_cert_encode(const struct bckm_cert *c, uint8_t *out, size_t cap,
                     size_t *out_len) BCKM_MUST_CHECK;

/* TRUNCATED when len is shorter than the count says; FORMAT when longer, for
 * an unknown version, height 0, count 0 or over the maximum, a BP ID outside
 * 1..255, signers out of order or repeated. out written only on success. */
/*@ requires len == 0 || \valid_read(buf + (0 .. len - 1));
    requires \valid(out) && \separated(buf + (0 .. len - 1), out);
    assigns *out;
    ensures \result == BCKM_OK ==> 1 <= out->count <= BCKM_CERT_MAX_SIGS;
    ensures \result != BCKM_ERR_ARG ==> \result == BCKM_OK || \result == BCKM_ERR_TRUNCATED ||
                                       \result == BCKM_ERR_FORMAT;
    ensures \result != BCKM_OK ==> *out == \old(*out);
 */
int bckm_cert_decode(const uint8_t *buf, size_t len, struct bckm_cert *out) BCKM_MUST_CHECK;

/* The commit message of (height, view, block_hash): BCKM_COMMIT_LABEL ||
 * u64 height || u64 view || block hash. The view is signed so that a commit
 * vote of one view cannot be counted in another (PBFT counts commits per
 * view, as Tendermint counts precommits per round). */
void bckm_commit_message(uint64_t height, uint64_t view, const uint8_t block_hash[BCKM_HASH_BYTES],
                         uint8_t msg[BCKM_COMMIT_MSG_BYTES]);

/* The Ed25519 signature of BP sk on the commit message of (height, view,
 * block_hash). */
int bckm_commit_sign(uint64_t height, uint64_t view, const uint8_t block_hash[BCKM_HASH_BYTES],
                     const uint8_t sk[BCKM_SIGN_SK_BYTES],
                     uint8_t sig[BCKM_SIG_BYTES]) BCKM_MUST_CHECK;

/* BCKM_OK or BCKM_ERR_AUTH. */
int bckm_commit_verify(uint64_t height, uint64_t view, const uint8_t block_hash[BCKM_HASH_BYTES],
                       const uint8_t pk[BCKM_SIGN_PK_BYTES],
                       const uint8_t sig[BCKM_SIG_BYTES]) BCKM_MUST_CHECK;

/* Checks a certificate for block_hash: the hash matches (else MISMATCH),
 * every signature is over the commit message of (c->height, c->view, hash),
 * the signers are canonical (else FORMAT), each signer is a BP of the table
 * (BP ID b has key bp_pk[b-1], b <= n_bps; else UNKNOWN), every signature is
 * valid (else AUTH) and there are at least 2f+1 distinct signers (else AUTH).
 * BCKM_ERR_ARG when 2f+1 > n_bps. A certificate never carries a signature
 * that fails: the consensus engine drops bad commits before building it. */
int bckm_cert_verify(const struct bckm_cert *c, const uint8_t block_hash[BCKM_HASH_BYTES],
                     const uint8_t (*bp_pk)[BCKM_SIGN_PK_BYTES], uint32_t n_bps,
                     uint32_t f) BCKM_MUST_CHECK;

#endif
