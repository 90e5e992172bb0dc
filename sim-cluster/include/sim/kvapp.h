/*
 * The simulator's test application: a versioned key-value store with
 * compare-and-set writes, so that two requests racing on one key both pass
 * CheckTx but only the first ordered one executes (the other is rejected at
 * deliver_tx with CONFLICT, as a contract can reject at execution).
 *
 * Tx (44 bytes, big-endian): id (8) | key (4) | expected version (8) |
 * value (8) | tag (16). The tag is a keyed BLAKE2b-128 of the first 28 bytes
 * under the cluster's client key: it stands in for a client signature so a
 * replica can reject txs nobody submitted.
 */
#ifndef BCKM_SIM_KVAPP_H
#define BCKM_SIM_KVAPP_H

#include "bckm/common.h"
#include "sim/app.h"

#define BCKM_KV_TX_BYTES 44u
#define BCKM_KV_KEYS_MAX 4096u

/* Rejection codes (sim/app.h): as the key app's, the bckm_err of the
 * refusal negated, so one error space names every refusal. */
#define BCKM_KV_REJ_FORMAT (-BCKM_ERR_FORMAT)     /* wrong length or key out of range */
#define BCKM_KV_REJ_TAG (-BCKM_ERR_AUTH)          /* client tag does not verify */
#define BCKM_KV_REJ_DUPLICATE (-BCKM_ERR_REPLAY)  /* this tx id has already executed */
#define BCKM_KV_REJ_CONFLICT (-BCKM_ERR_MISMATCH) /* expected version is not the current one */

/* A new store with `keys` keys (1..BCKM_KV_KEYS_MAX) and the 32-byte client
 * key; .self is NULL on failure. */
bckm_sim_app bckm_kv_new(uint32_t keys, const uint8_t client_key[32]);

/* Builds a tagged tx into out[BCKM_KV_TX_BYTES]. */
void bckm_kv_make_tx(uint8_t out[BCKM_KV_TX_BYTES], const uint8_t client_key[32], uint64_t id,
                     uint32_t key, uint64_t expected_version, uint64_t value);

/* Current committed version of a key (what a client reads before writing). */
uint64_t bckm_kv_version(const bckm_sim_app *app, uint32_t key);

#endif
