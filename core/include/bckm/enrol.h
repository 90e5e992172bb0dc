/*
 * Enrolment: how a brand-new device and a BP agree on the device's node KEK.
 *
 * The enrolment credential is a 32-byte pre-shared key E provisioned into the
 * device at manufacture and known to the deployment (the BP fetches it from
 * its credential store by the device's serial number). The exchange is an
 * ephemeral X25519 agreement (libsodium crypto_kx) authenticated by E:
 *   device -> BP : serial (4) || e_d (32)
 *   BP -> device : u32 bp || e_b (32) || bp_pk (32) || bps_root (32) || tag_b (32)
 *   device -> BP : tag_d (32)
 *   th    = H(serial || bp || e_d || e_b || bp_pk || bps_root)
 *   K_u   = KDF(E; label KEK, rx || tx || th)
 *   tag_b = KDF(K_u; label CONFIRM, "B" || th)
 * where (rx, tx) are the crypto_kx session keys seen from the BP. Only a
 * holder of E derives K_u (authentication), and the ephemeral keys give
 * forward secrecy: a later leak of E does not reveal past KEKs.
 *
 * The reply is also where the device learns what it trusts: its BP's ID
 * and Ed25519 public key (bp_pk) and the hash of the cluster's BP table
 * (bps_root, bckm_bps_root in rejoin.h), all bound into th, so tag_b, which
 * only a holder of E can make, vouches for them. A device installs them from
 * a finished bckm_enrol_device (bp_id, bp_pk, bps_root).
 */
#ifndef BCKM_ENROL_H
#define BCKM_ENROL_H

#include "bckm/common.h"

#define BCKM_ENROL_HELLO_BYTES 36u  /* serial || e_d */
#define BCKM_ENROL_REPLY_BYTES 132u /* u32 bp || e_b || bp_pk || bps_root || tag_b */
#define BCKM_ENROL_FINISH_BYTES 32u /* tag_d */

struct bckm_enrol_device {
    uint32_t serial;
    uint8_t psk[BCKM_KEY_BYTES];
    uint8_t pk[32], sk[32];
    uint8_t kek[BCKM_KEY_BYTES];
    /* Set by a successful bckm_enrol_device_finish: what the device trusts. */
    uint32_t bp_id;
    uint8_t bp_pk[32], bps_root[32];
    int done;
};

struct bckm_enrol_bp {
    uint32_t bp_id, serial;
    uint8_t kek[BCKM_KEY_BYTES];
    uint8_t expect_tag[32];
    int waiting;
};

/* Device: makes the hello (ephemeral key from randombytes, or from seed when
 * given, for reproducible simulations). */
int bckm_enrol_device_hello(struct bckm_enrol_device *st, uint32_t serial,
                            const uint8_t psk[BCKM_KEY_BYTES], const uint8_t *seed32,
                            uint8_t out[BCKM_ENROL_HELLO_BYTES]) BCKM_MUST_CHECK;
/* BP: answers a hello for a device whose credential is psk; bp_pk is this
 * BP's Ed25519 key (the one it signs envelopes with) and bps_root the hash of
 * the cluster's BP table (bckm_bps_root). */
int bckm_enrol_bp_reply(struct bckm_enrol_bp *st, uint32_t bp_id, const uint8_t bp_pk[32],
                        const uint8_t bps_root[32], const uint8_t psk[BCKM_KEY_BYTES],
                        const uint8_t hello[BCKM_ENROL_HELLO_BYTES], const uint8_t *seed32,
                        uint8_t out[BCKM_ENROL_REPLY_BYTES]) BCKM_MUST_CHECK;
/* Device: checks the BP's tag, derives K_u, makes its own tag; on success
 * st->kek, st->bp_id, st->bp_pk and st->bps_root are set. BCKM_ERR_AUTH on a
 * wrong tag (nothing set, out not written). */
int bckm_enrol_device_finish(struct bckm_enrol_device *st,
                             const uint8_t reply[BCKM_ENROL_REPLY_BYTES],
                             uint8_t out[BCKM_ENROL_FINISH_BYTES]) BCKM_MUST_CHECK;
/* BP: checks the device's tag; on success st->kek is the node KEK. */
int bckm_enrol_bp_finish(struct bckm_enrol_bp *st,
                         const uint8_t fin[BCKM_ENROL_FINISH_BYTES]) BCKM_MUST_CHECK;
/* Serial named by a hello (the BP looks up the credential by it). */
uint32_t bckm_enrol_hello_serial(const uint8_t hello[BCKM_ENROL_HELLO_BYTES]);

#endif
