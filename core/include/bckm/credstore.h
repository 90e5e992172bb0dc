/*
 * The deployment's credential store (BP side): enrolment PSKs by device
 * serial, each usable for ONE successful enrolment. A BP reads the PSK of an
 * unspent serial (bckm_credstore_get), runs the enrolment (enrol.h) and, once
 * the device's confirmation checks out (bckm_enrol_bp_finish), spends the
 * serial (bckm_credstore_spend): the PSK is wiped and the serial is refused
 * from then on, so an evicted (or departed) device cannot simply enrol
 * again; re-enrolment needs a new credential (a new serial). A spent serial
 * can never be added back. Normative: spec/protocol.md, section 8.
 */
#ifndef BCKM_CREDSTORE_H
#define BCKM_CREDSTORE_H

#include "bckm/common.h"

struct bckm_credstore; /* opaque */

int bckm_credstore_new(struct bckm_credstore **out) BCKM_MUST_CHECK;
void bckm_credstore_free(struct bckm_credstore *cs); /* wipes every PSK */
/* Provisions serial's PSK. BCKM_ERR_EXISTS when the serial was ever added. */
int bckm_credstore_add(struct bckm_credstore *cs, uint32_t serial,
                       const uint8_t psk[BCKM_KEY_BYTES]) BCKM_MUST_CHECK;
/* Copies the PSK of an unspent serial. BCKM_ERR_UNKNOWN (never added),
 * BCKM_ERR_PERM (spent); out is not written then. */
int bckm_credstore_get(const struct bckm_credstore *cs, uint32_t serial,
                       uint8_t out[BCKM_KEY_BYTES]) BCKM_MUST_CHECK;
/* Spends a serial at its first successful enrolment: wipes its PSK.
 * BCKM_ERR_UNKNOWN, BCKM_ERR_PERM (already spent). */
int bckm_credstore_spend(struct bckm_credstore *cs, uint32_t serial) BCKM_MUST_CHECK;
/* 1 when the serial was spent, else 0. */
int bckm_credstore_is_spent(const struct bckm_credstore *cs, uint32_t serial);

#endif
