/*
 * Secret codes and rejoin (paper III.B.3-4: BP failure, node mobility).
 *
 * A node's secret code is a 32-byte Ed25519 seed. What the transaction
 * carries as "hash of the secret code" is the code's commitment: the Ed25519
 * public key derived from it, a one-way function of the code like a hash.
 * Sending the code's hash, as the paper does, would let any BP that saw it
 * on chain replay it; instead the node proves knowledge of the code by
 * signing a fresh challenge, which only the holder of the code can do.
 *
 * Rejoin handshake (node u, adopting BP b):
 *   u -> b : node_id(4) || e_u(32)                 ephemeral X25519 (crypto_kx)
 *   b -> u : e_b(32) || nonce(32)
 *   u -> b : Sign(code; "bckm-rejoin-v1" || node_id || b || e_u || e_b || nonce)
 *   K_u' = KDF(rx; KEK label, rx || tx || H(transcript))   (rx, tx: server side)
 * b verifies the signature with the commitment on chain for node_id; both
 * sides then hold a fresh node KEK. Normative: spec/protocol.md, section 10.
 */
#ifndef BCKM_REJOIN_H
#define BCKM_REJOIN_H

#include "bckm/common.h"

#define BCKM_REJOIN_HELLO_BYTES 36u
#define BCKM_REJOIN_CHALLENGE_BYTES 64u
#define BCKM_REJOIN_PROOF_BYTES 64u

/* The commitment of a secret code (what the transaction carries). */
void bckm_code_commit(const uint8_t code[BCKM_CODE_BYTES], uint8_t out[BCKM_HASH_BYTES]);

struct bckm_rejoin_node {
    uint32_t node_id;
    uint8_t pk[32], sk[32];
    uint8_t kek[BCKM_KEY_BYTES];
};

struct bckm_rejoin_bp {
    uint32_t bp_id, node_id;
    uint8_t transcript[118];  /* the bytes the node must sign */
    uint8_t kek[BCKM_KEY_BYTES];
    int waiting;
};

int bckm_rejoin_node_hello(struct bckm_rejoin_node *st, uint32_t node_id, const uint8_t *seed32,
                           uint8_t out[BCKM_REJOIN_HELLO_BYTES]) BCKM_MUST_CHECK;
int bckm_rejoin_bp_challenge(struct bckm_rejoin_bp *st, uint32_t bp_id,
                             const uint8_t hello[BCKM_REJOIN_HELLO_BYTES], const uint8_t *seed32,
                             uint8_t out[BCKM_REJOIN_CHALLENGE_BYTES]) BCKM_MUST_CHECK;
/* Node: signs the transcript with its code and derives the new KEK. */
int bckm_rejoin_node_prove(struct bckm_rejoin_node *st, uint32_t bp_id, const uint8_t code[BCKM_CODE_BYTES],
                           const uint8_t challenge[BCKM_REJOIN_CHALLENGE_BYTES],
                           uint8_t out[BCKM_REJOIN_PROOF_BYTES]) BCKM_MUST_CHECK;
/* BP: verifies the proof against the node's commitment from the registry;
 * on success st->kek is the node's new KEK. */
int bckm_rejoin_bp_verify(struct bckm_rejoin_bp *st, const uint8_t commitment[BCKM_HASH_BYTES],
                          const uint8_t proof[BCKM_REJOIN_PROOF_BYTES]) BCKM_MUST_CHECK;

#endif
