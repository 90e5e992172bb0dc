/*
 * Origin authentication of rekey messages (kinds 1 and 2): one Ed25519
 * signature per batch, one verification per message.
 *
 * A batch is every message one key-manager call produced. Its messages
 * m_0 .. m_{c-1} (each header || ciphertext || tag) are the leaves of a
 * Merkle tree over BLAKE2b-256:
 *   leaf_i  = H(0x00 || m_i)
 *   inner   = H(0x01 || left || right)
 * A level of odd width promotes its last node unchanged to the next level
 * (it has no sibling there and costs no path entry). The BP signs
 *   Sign(sk_bp, "bckm-rekey-batch-v1" || u8 bp || u32 c || root)
 * and appends to every message its trailer:
 *   u32 leaf index i | u32 leaf count c | u8 depth | depth x 32-byte
 *   sibling path, bottom up | 64-byte signature
 * depth is the number of levels at which leaf i's ancestor has a sibling;
 * it is a function of (i, c), and a trailer whose depth differs is refused.
 * Normative text: spec/protocol.md, sections 6 and 7.
 */
#ifndef BCKM_REKEY_AUTH_H
#define BCKM_REKEY_AUTH_H

#include "bckm/common.h"
#include "bckm/msgs.h"
#include "bckm/msg.h"

#define BCKM_REKEY_BATCH_LABEL "bckm-rekey-batch-v1"
#define BCKM_REKEY_BATCH_LABEL_BYTES 19u
#define BCKM_REKEY_MAX_BATCH 0xFFFFFFFFu

/* Number of path entries leaf `index` of a `count`-leaf tree needs. */
uint32_t bckm_rekey_depth(uint32_t index, uint32_t count);

/*
 * Signs messages [first, m->n) of m as one batch: appends each one's
 * trailer (the bytes move; m->refs[i].off and .len are updated). Every
 * message must be a sealed kind 1 or 2 message without trailer, sent by bp
 * (header byte 3). first == m->n signs nothing. On error m is unchanged.
 * Errors: BCKM_ERR_ARG, BCKM_ERR_FORMAT, BCKM_ERR_NOMEM, BCKM_ERR_CRYPTO.
 */
int bckm_rekey_batch_sign(struct bckm_msgs *m, uint32_t first, uint32_t bp,
                          const uint8_t sk[BCKM_MSG_SIG_BYTES]) BCKM_MUST_CHECK;

/* Bytes the trailers of a batch of `count` messages add, at most. */
size_t bckm_rekey_batch_trailer_bytes(uint32_t count);
/* Workspace bckm_rekey_batch_sign_in needs for a batch of at most `count`
 * messages of at most `bytes` bytes in all (before their trailers). */
size_t bckm_rekey_batch_work_bytes(uint32_t count, size_t bytes);
/*
 * bckm_rekey_batch_sign without allocation, for a caller that must not fail
 * after it has changed its own state (the key manager's all-or-nothing
 * commit reserves `work` and the room for the trailers in m beforehand).
 * BCKM_ERR_NOMEM when work is shorter than bckm_rekey_batch_work_bytes or m
 * has no room for the trailers; checked before anything changes.
 */
int bckm_rekey_batch_sign_in(struct bckm_msgs *m, uint32_t first, uint32_t bp,
                             const uint8_t sk[BCKM_MSG_SIG_BYTES], uint8_t *work,
                             size_t work_len) BCKM_MUST_CHECK;

/*
 * Checks a complete kind 1 or 2 message's trailer: canonical (index <
 * count, depth that of (index, count), exact length) and the signature of
 * the root it leads to, under pk, for the BP named in the header's sender
 * byte. One signature verification, no heap. BCKM_OK, BCKM_ERR_FORMAT,
 * BCKM_ERR_TRUNCATED, BCKM_ERR_AUTH.
 */
int bckm_rekey_auth_verify(const uint8_t *msg, size_t len, const uint8_t pk[32]) BCKM_MUST_CHECK;

#endif
