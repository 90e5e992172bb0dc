/*
 * Shared between the ledger front end (ledger.c) and its backends
 * (ledger_mem.c, ledger_lmdb.c); not a public header.
 *
 * The front end owns validation: a backend is only ever asked to store a
 * block that bckm_ledger_check_next accepted, and to answer queries. So the rules
 * live in one place and both backends enforce the same ones.
 */
#ifndef BCKM_LEDGER_INTERNAL_H
#define BCKM_LEDGER_INTERNAL_H

#include "bckm/ledger.h"

/* Size of one stored transaction record: status || envelope, the envelope
 * at its version's length (134 or 198 bytes); LEDGER_REC_BYTES bounds it. */
#define LEDGER_REC_BYTES (1u + BCKM_ENVELOPE_MAX_BYTES)
/* Size of an encoded position: u64 height || u32 index (sorts in commit order). */
#define LEDGER_POS_BYTES 12u

enum ledger_query { LEDGER_Q_NODE, LEDGER_Q_CODE, LEDGER_Q_ALL };

/* A validated block, ready to store. */
struct ledger_put {
    uint64_t height;
    const uint8_t *block;
    size_t block_len;
    const uint8_t *cert;
    size_t cert_len;
    const struct bckm_envelope *envs;
    uint32_t n; /* envelopes to index (0: opaque ledger) */
    uint32_t n_txs;
    const uint8_t *status; /* n_txs bytes, never NULL */
    const uint8_t *state;  /* the application's state after it, or NULL */
    size_t state_len;
};

struct ledger_ops {
    /* Stores p atomically: all of it or nothing. */
    int (*put)(bckm_ledger *l, const struct ledger_put *p);
    /* which: 0 block, 1 certificate, 2 status bytes. height is in 1..l->height. */
    int (*get)(bckm_ledger *l, int which, uint64_t height, uint8_t *out, size_t cap, size_t *len);
    /* key: 4-byte big-endian node ID, 32-byte code hash, or NULL. */
    int (*query)(bckm_ledger *l, enum ledger_query q, const uint8_t *key,
                 struct bckm_ledger_pos after, struct bckm_ledger_entry *out, size_t cap,
                 size_t *n);
    /* The application state stored with the latest block that had one. */
    int (*get_state)(bckm_ledger *l, uint64_t *height, uint8_t *out, size_t cap, size_t *len);
    /* Replaces the state record with (height, state) alone. */
    int (*put_state)(bckm_ledger *l, uint64_t height, const uint8_t *state, size_t len);
    void (*close)(bckm_ledger *l);
};

struct bckm_ledger {
    const struct ledger_ops *ops;
    void *impl;
    uint8_t (*bp_pk)[BCKM_SIGN_PK_BYTES]; /* copy of the configured table */
    uint32_t n_bps, f;
    int opaque;      /* BCKM_LEDGER_OPAQUE: no envelope decoding, no indexes */
    uint64_t height; /* tip, after the last successful put */
    uint8_t tip_hash[BCKM_HASH_BYTES];
    struct bckm_envelope *envs; /* workspace: BCKM_BLOCK_MAX_TXS */
    struct bckm_cert cert;      /* workspace */
};

/* Allocates a handle with the configuration copied and workspaces ready. */
int bckm_ledger_handle_new(const struct bckm_ledger_config *cfg, bckm_ledger **out);
/* Frees what bckm_ledger_handle_new allocated (not the backend). */
void bckm_ledger_handle_free(bckm_ledger *l);

/* Validates (block, cert) as the successor of the current tip (l->height,
 * l->tip_hash). On success *n_txs holds the block's transaction count, hash
 * the block hash and, unless the ledger is opaque, l->envs the decoded
 * envelopes. */
int bckm_ledger_check_next(bckm_ledger *l, const uint8_t *block, size_t block_len,
                           const uint8_t *cert, size_t cert_len, uint32_t *n_txs,
                           uint8_t hash[BCKM_HASH_BYTES]);

void bckm_ledger_pos_encode(struct bckm_ledger_pos p, uint8_t out[LEDGER_POS_BYTES]);
struct bckm_ledger_pos bckm_ledger_pos_decode(const uint8_t in[LEDGER_POS_BYTES]);
/* -1, 0, 1 as a is before, equal to, after b. */
int bckm_ledger_pos_cmp(struct bckm_ledger_pos a, struct bckm_ledger_pos b);

/* Record = status || envelope encoding. */
int bckm_ledger_rec_encode(uint8_t status, const struct bckm_envelope *env,
                           uint8_t out[LEDGER_REC_BYTES], size_t *out_len);
int bckm_ledger_rec_decode(const uint8_t *buf, size_t len, struct bckm_ledger_pos pos,
                           struct bckm_ledger_entry *out);

#endif
