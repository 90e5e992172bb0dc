/*
 * bckm ledger: the committed blocks of one BP, each with its commit
 * certificate, and the indexes the protocol reads (transactions by node ID,
 * by secret-code hash, and in commit order).
 *
 * One interface, two backends:
 *   - memory: for the simulator (fast, gone when closed);
 *   - LMDB: durable. An append is one LMDB write transaction (block,
 *     certificate and every index entry) and is on disk when it returns, so
 *     after a crash at any instant the store holds exactly a prefix of the
 *     appended blocks, including every append that returned BCKM_OK.
 *
 * Every append is validated before anything changes: the block decodes
 * (canonically, with its transaction root; every transaction an envelope
 * unless the ledger is opaque), its height is the next one, its
 * previous hash is the hash of the current tip (all zero for height 1), the
 * certificate decodes, names this height and block hash, and verifies against
 * the BP key table with at least 2f+1 signers. A rejected append changes
 * nothing. Opening an LMDB store re-runs the same checks on every stored
 * block and checks the indexes against the blocks; any failure is
 * BCKM_ERR_CORRUPT and the store is left as it is (never truncated).
 *
 * The envelopes' own signatures are not checked here: the contract checked
 * them before the block was proposed, and the certificate now vouches for the
 * block as a whole (its hash covers the transaction root).
 *
 * A handle is not thread-safe, and one process at a time may open an LMDB
 * store (the check at open assumes no other writer).
 *
 * Storage layout: spec/layer2-formats.md, section 7.
 */
#ifndef BCKM_LEDGER_H
#define BCKM_LEDGER_H

#include "bckm/block.h"
#include "bckm/common.h"
#include "bckm/tx.h"

/* Status byte stored with each transaction: what execution made of it. */
#define BCKM_LEDGER_TX_EXECUTED 0u /* applied to the replicated state */
/* Any other value: the contract rejected it at execution (the code is the
 * caller's; e.g. the negated bckm_err). */

/* Default LMDB map size (the largest the store may grow; the file is sparse). */
#define BCKM_LEDGER_DEFAULT_MAP_BYTES (1ull << 30)

struct bckm_ledger_config {
    const uint8_t (*bp_pk)[BCKM_SIGN_PK_BYTES]; /* BP b's Ed25519 key is bp_pk[b-1] */
    uint32_t n_bps;                             /* 1..BCKM_MAX_BPS */
    uint32_t f;                                 /* certificates need 2f+1 signers; 2f+1 <= n_bps */
    uint64_t map_bytes;                         /* LMDB only; 0: BCKM_LEDGER_DEFAULT_MAP_BYTES */
    uint32_t flags;                             /* BCKM_LEDGER_* below; 0 for the defaults */
};

/* LMDB only: skip the probe of an existing store in a child process (see
 * bckm_ledger_open_lmdb). Faster open; a damaged file can then crash the
 * process inside liblmdb. */
#define BCKM_LEDGER_TRUST_FILE 1u
/* Opaque transactions: the ledger checks a block's framing and root but does
 * not read its transactions as envelopes, and keeps no index (the queries
 * below return BCKM_ERR_STATE). For applications whose transactions are
 * not envelopes (the simulator's kv store). An LMDB store remembers which
 * kind it is, and refuses to be opened as the other. */
#define BCKM_LEDGER_OPAQUE 2u

/* Position of a transaction: block height (from 1) and index in the block. */
struct bckm_ledger_pos {
    uint64_t height;
    uint32_t index;
};

/* The position {0, 0} comes before every transaction. */
#define BCKM_LEDGER_POS_START ((struct bckm_ledger_pos){ 0u, 0u })

struct bckm_ledger_entry {
    struct bckm_ledger_pos pos;
    uint8_t status;           /* BCKM_LEDGER_TX_EXECUTED or a rejection code */
    struct bckm_envelope env; /* as committed */
};

typedef struct bckm_ledger bckm_ledger;

/* A new, empty in-memory ledger. cfg is copied. */
int bckm_ledger_open_memory(const struct bckm_ledger_config *cfg,
                            bckm_ledger **out) BCKM_MUST_CHECK;

/* Opens (creating the directory and the store when missing) the LMDB ledger
 * in directory dir and verifies it. BCKM_ERR_CORRUPT when the store fails
 * verification (bad chain, bad certificate, index disagreeing with the
 * blocks, unknown format), BCKM_ERR_IO when LMDB or the file system fails.
 *
 * liblmdb does not check its own pages and can crash on a damaged file,
 * during the open or at a later write (a damaged free list). So, unless
 * cfg->flags has BCKM_LEDGER_TRUST_FILE, an existing store is first checked
 * by a child process (fork): it verifies the store read-only, then rebuilds
 * it block by block into a fresh LMDB file (so no LMDB page, free list or
 * database record of the old file is carried over) and verifies that to the
 * same height. If the child crashes or fails, the result is
 * BCKM_ERR_CORRUPT (or the child's error) and this process never maps the
 * file; otherwise the rebuilt file replaces the original (fsync, then one
 * rename) and is opened. The ledger's content is unchanged. This costs a
 * rewrite and two more verifications per open, and uses fork(): call it
 * before starting threads. */
int bckm_ledger_open_lmdb(const char *dir, const struct bckm_ledger_config *cfg,
                          bckm_ledger **out) BCKM_MUST_CHECK;

/* Releases the handle (NULL is allowed). */
void bckm_ledger_close(bckm_ledger *l);

/* Height of the last block; 0 when empty. */
uint64_t bckm_ledger_height(const bckm_ledger *l);

/* Hash of the last block (all zero when empty): the next block's prev_hash. */
int bckm_ledger_tip_hash(const bckm_ledger *l, uint8_t out[BCKM_HASH_BYTES]) BCKM_MUST_CHECK;

/* Appends the block at height bckm_ledger_height() + 1. block/cert are the
 * encodings of spec/layer2-formats.md; status holds one byte per envelope
 * (NULL: all BCKM_LEDGER_TX_EXECUTED). Errors: those of the decoders,
 * BCKM_ERR_STATE for a wrong height, BCKM_ERR_MISMATCH for a wrong previous
 * hash or a certificate of another height or block, the errors of
 * bckm_cert_verify, BCKM_ERR_IO / BCKM_ERR_NOMEM from storage. Nothing
 * changes unless BCKM_OK is returned. */
int bckm_ledger_append(bckm_ledger *l, const uint8_t *block, size_t block_len, const uint8_t *cert,
                       size_t cert_len, const uint8_t *status) BCKM_MUST_CHECK;

/* Largest application state bckm_ledger_append_state stores. */
#define BCKM_LEDGER_STATE_MAX_BYTES (64u << 20)

/* bckm_ledger_append, and in the same write (one LMDB transaction) the
 * application's state after this block (an opaque byte string, 1 ..
 * BCKM_LEDGER_STATE_MAX_BYTES, e.g. a sealed key manager: bckm/km_store.h)
 * replaces the stored one. After a crash at any instant the store holds a
 * block prefix and the state of the latest block appended with one. */
int bckm_ledger_append_state(bckm_ledger *l, const uint8_t *block, size_t block_len,
                             const uint8_t *cert, size_t cert_len, const uint8_t *status,
                             const uint8_t *state, size_t state_len) BCKM_MUST_CHECK;
/* Replaces the stored application state with `state`, as the state at the
 * current height (a write-ahead between blocks: a BP saves its key manager
 * after preparing a change, before the change leaves, so a restart never
 * hands out a node ID, code or refresh key twice). One LMDB transaction. */
int bckm_ledger_put_state(bckm_ledger *l, const uint8_t *state, size_t state_len) BCKM_MUST_CHECK;
/* That state and, in *height, the block it belongs to; *len gets its size
 * (also with BCKM_ERR_NOMEM when cap is too small). BCKM_ERR_UNKNOWN when
 * no block was appended with a state. */
int bckm_ledger_get_state(bckm_ledger *l, uint64_t *height, uint8_t *out, size_t cap,
                          size_t *len) BCKM_MUST_CHECK;

/* Copies the encoded block (or certificate) at height into out. *len gets
 * its size, also when BCKM_ERR_NOMEM says cap is too small. BCKM_ERR_ARG
 * for a height outside 1..height. */
int bckm_ledger_get_block(bckm_ledger *l, uint64_t height, uint8_t *out, size_t cap,
                          size_t *len) BCKM_MUST_CHECK;
int bckm_ledger_get_cert(bckm_ledger *l, uint64_t height, uint8_t *out, size_t cap,
                         size_t *len) BCKM_MUST_CHECK;
/* The status bytes of the block at height, one per transaction in block
 * order (what execution made of each), as get_block. */
int bckm_ledger_get_status(bckm_ledger *l, uint64_t height, uint8_t *out, size_t cap,
                           size_t *len) BCKM_MUST_CHECK;

/* Queries. Each returns in *n up to cap entries strictly after position
 * `after`, in commit order; page by passing the last position returned.
 * *n < cap means there are no more. */

/* Transactions whose node ID is node_id (join, leave, evict of that node). */
int bckm_ledger_find_node(bckm_ledger *l, uint32_t node_id, struct bckm_ledger_pos after,
                          struct bckm_ledger_entry *out, size_t cap, size_t *n) BCKM_MUST_CHECK;

/* Transactions carrying this secret-code hash (rejoin, mobility). */
int bckm_ledger_find_code(bckm_ledger *l, const uint8_t code_hash[BCKM_HASH_BYTES],
                          struct bckm_ledger_pos after, struct bckm_ledger_entry *out, size_t cap,
                          size_t *n) BCKM_MUST_CHECK;

/* All transactions committed after `after` (the refresh keys a sleeping
 * node missed are in them). */
int bckm_ledger_txs_after(bckm_ledger *l, struct bckm_ledger_pos after,
                          struct bckm_ledger_entry *out, size_t cap, size_t *n) BCKM_MUST_CHECK;

#endif
