/*
 * Resync request: a device that woke up (or rejoined) asks its BP to catch it
 * up from the last epoch it applied. The request is MACed under the node's
 * KEK, so only the node itself (and its BP) can make it:
 *
 *    0  node        4   the requester's node ID
 *    4  last epoch  8   the last epoch the device applied
 *   12  challenge  16   fresh random bytes the BP echoes in its answer
 *   28  tag        32   KDF(K_u; 14, node || last_epoch || challenge)
 *
 * 60 bytes, big-endian. The BP looks the KEK up by the node ID
 * (bckm_resync_request_node), opens the request and only then answers.
 * Normative: spec/protocol.md, section 10.5; vector: spec/vectors/resync.txt.
 */
#ifndef BCKM_RESYNC_H
#define BCKM_RESYNC_H

#include "bckm/common.h"

#define BCKM_RESYNC_CHALLENGE_BYTES 16u
#define BCKM_RESYNC_REQUEST_BYTES 60u

int bckm_resync_request_make(const uint8_t kek[BCKM_KEY_BYTES], uint32_t node, uint64_t last_epoch,
                             const uint8_t challenge[BCKM_RESYNC_CHALLENGE_BYTES],
                             uint8_t out[BCKM_RESYNC_REQUEST_BYTES]) BCKM_MUST_CHECK;

/* The node ID a request names (unauthenticated: to look the KEK up). */
uint32_t bckm_resync_request_node(const uint8_t req[BCKM_RESYNC_REQUEST_BYTES]);

/* Checks the tag under kek in constant time; on success writes the fields.
 * BCKM_ERR_AUTH (outputs untouched) when the tag is wrong. */
int bckm_resync_request_open(const uint8_t kek[BCKM_KEY_BYTES],
                             const uint8_t req[BCKM_RESYNC_REQUEST_BYTES], uint32_t *node,
                             uint64_t *last_epoch,
                             uint8_t challenge[BCKM_RESYNC_CHALLENGE_BYTES]) BCKM_MUST_CHECK;

#endif
