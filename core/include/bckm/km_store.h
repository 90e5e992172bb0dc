/*
 * The key manager's state at rest (spec/protocol.md section 12): everything
 * a BP's key manager holds that a restart must not lose -- the domain
 * secret, the secrets shared with the other BPs, every node KEK, set KEK,
 * pairwise set key and handed-over pair seed, the sets it adopted, the
 * joins it prepared and has not seen commit, the next node counter, the
 * generator state (reproducible mode) and the rekey log it serves catch-up
 * from -- as one canonical byte string, sealed under the BP's storage key.
 *
 * Sealing: XChaCha20-Poly1305 (libsodium) under a subkey of the storage
 * key, with the BP ID and the ledger height the state belongs to as
 * associated data, so a blob of another BP, another height or another key
 * does not open. The nonce is synthetic (a keyed hash of the associated
 * data and the plaintext under a second subkey): sealing draws no
 * randomness, a seal never changes the key manager's own random sequence,
 * and two different states never share a nonce.
 */
#ifndef BCKM_KM_STORE_H
#define BCKM_KM_STORE_H

#include "bckm/common.h"
#include "bckm/km.h"

#define BCKM_KM_STATE_VERSION 1u
/* nonce 24 || ciphertext || tag 16 */
#define BCKM_KM_STATE_OVERHEAD (24u + 16u)

/* Seals km's state as it stands after the block at `height` into a new
 * buffer *out of *out_len bytes (free it with bckm_km_state_release).
 * BCKM_ERR_NOMEM; km is not changed. */
int bckm_km_state_seal(const struct bckm_km *km, uint64_t height,
                       const uint8_t storage_key[BCKM_KEY_BYTES], uint8_t **out,
                       size_t *out_len) BCKM_MUST_CHECK;

/*
 * A key manager with the state sealed in blob for (cfg->bp_id, height).
 * cfg gives what is not state: the BP ID, the policy, the signing key and
 * the mode (cfg->drbg_seed NULL or not). cfg->domain and the value of
 * cfg->drbg_seed are not used: the domain secret and the generator state
 * are part of the sealed state. BCKM_ERR_AUTH when the blob does not open (another key, BP or
 * height, or altered), BCKM_ERR_FORMAT when the opened state is not
 * canonical (counts past the end, unsorted or repeated IDs, trailing bytes,
 * an unknown version), BCKM_ERR_MISMATCH when it is another BP's, policy's
 * or mode's. Nothing is returned on error.
 */
int bckm_km_state_open(const struct bckm_km_config *cfg, uint64_t height,
                       const uint8_t storage_key[BCKM_KEY_BYTES], const uint8_t *blob, size_t len,
                       struct bckm_km **out) BCKM_MUST_CHECK;

/* Wipes and frees a sealed blob (NULL allowed). */
void bckm_km_state_release(uint8_t *blob, size_t len);

/* BLAKE2b-256 of the canonical state: two key managers with the same
 * digest hold the same keys, pending joins, generator and log. */
int bckm_km_state_digest(const struct bckm_km *km, uint8_t out[BCKM_HASH_BYTES]) BCKM_MUST_CHECK;

#endif
