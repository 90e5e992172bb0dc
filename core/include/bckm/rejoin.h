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
 * Rejoin handshake (node u, adopting BP b), mutually authenticated:
 *   u -> b : node_id(4) || e_u(32)                 ephemeral X25519 (crypto_kx)
 *   b -> u : u32 b || e_b(32) || nonce(32)
 *            || Sign(sk_b; "bckm-rejoin-bp-v1" || node_id || b || e_u || e_b || nonce)
 *   u -> b : Sign(code; "bckm-rejoin-v1" || node_id || b || e_u || e_b || nonce)
 *   K_u' = KDF(rx; KEK label, rx || tx || H(node's signed bytes))   (rx, tx: server side)
 * sk_b is b's BP key (the one it signs envelopes with). The node trusts the
 * BP table whose hash, bps_root, it learnt at enrolment (enrol.h): b presents
 * the table, the node hashes it and compares with bps_root in constant time,
 * then checks b's signature with the table's key for b, all BEFORE it signs
 * anything or derives the KEK. b verifies the node's signature with the
 * commitment on chain for node_id; both sides then hold a fresh node KEK.
 * Normative: spec/protocol.md, section 10.4.
 */
#ifndef BCKM_REJOIN_H
#define BCKM_REJOIN_H

#include "bckm/common.h"
#include "bckm/contract.h"

#define BCKM_REJOIN_HELLO_BYTES 36u
#define BCKM_REJOIN_CHALLENGE_BYTES 132u /* u32 bp || e_b || nonce || sig_b */
#define BCKM_REJOIN_PROOF_BYTES 64u

/* The trust anchor of a device: BLAKE2b-256("bckm-bps-v1" || every
 * (u8 id || pk[id]) with has[id], in increasing ID). */
void bckm_bps_root(const struct bckm_bp_table *t, uint8_t out[BCKM_HASH_BYTES]);

/* The commitment of a secret code (what the transaction carries). */
void bckm_code_commit(const uint8_t code[BCKM_CODE_BYTES], uint8_t out[BCKM_HASH_BYTES]);

struct bckm_rejoin_node {
    uint32_t node_id;
    uint8_t pk[32], sk[32];
    uint8_t kek[BCKM_KEY_BYTES];
};

struct bckm_rejoin_bp {
    uint32_t bp_id, node_id;
    uint8_t transcript[118]; /* the bytes the node must sign */
    uint8_t kek[BCKM_KEY_BYTES];
    int waiting;
};

int bckm_rejoin_node_hello(struct bckm_rejoin_node *st, uint32_t node_id, const uint8_t *seed32,
                           uint8_t out[BCKM_REJOIN_HELLO_BYTES]) BCKM_MUST_CHECK;
/* BP: answers a hello with its ephemeral key, a fresh nonce and its
 * signature under bp_sk (its Ed25519 BP key, libsodium 64-byte layout). */
int bckm_rejoin_bp_challenge(struct bckm_rejoin_bp *st, uint32_t bp_id, const uint8_t bp_sk[64],
                             const uint8_t hello[BCKM_REJOIN_HELLO_BYTES], const uint8_t *seed32,
                             uint8_t out[BCKM_REJOIN_CHALLENGE_BYTES]) BCKM_MUST_CHECK;
/* Node: authenticates the BP first -- bps (the table the BP presents) must
 * hash to bps_root, name the challenge's BP, and that BP's key must verify
 * the challenge's signature; otherwise BCKM_ERR_AUTH (root or signature) or
 * BCKM_ERR_UNKNOWN (BP not in the table), st is wiped and out is not
 * written. Then signs the transcript with its code, derives the new KEK
 * (st->kek) and returns the verified BP's ID and key for the caller to
 * install (bp_id, bp_pk; either may be NULL). */
int bckm_rejoin_node_prove(struct bckm_rejoin_node *st, const uint8_t bps_root[BCKM_HASH_BYTES],
                           const struct bckm_bp_table *bps, const uint8_t code[BCKM_CODE_BYTES],
                           const uint8_t challenge[BCKM_REJOIN_CHALLENGE_BYTES],
                           uint8_t out[BCKM_REJOIN_PROOF_BYTES], uint32_t *bp_id,
                           uint8_t bp_pk[BCKM_SIGN_PK_BYTES]) BCKM_MUST_CHECK;
/* BP: verifies the proof against the node's commitment from the registry;
 * on success st->kek is the node's new KEK. */
int bckm_rejoin_bp_verify(struct bckm_rejoin_bp *st, const uint8_t commitment[BCKM_HASH_BYTES],
                          const uint8_t proof[BCKM_REJOIN_PROOF_BYTES]) BCKM_MUST_CHECK;

#endif
