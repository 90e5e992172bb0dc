#include "bckm/resync.h"
#include "bckm/kdf.h"

#include <string.h>

static int request_tag(const uint8_t kek[BCKM_KEY_BYTES], const uint8_t fields[28],
                       uint8_t out[32]) {
    return bckm_kdf_derive(kek, BCKM_KDF_RESYNC, fields, 28, out);
}

int bckm_resync_request_make(const uint8_t kek[BCKM_KEY_BYTES], uint32_t node, uint64_t last_epoch,
                             const uint8_t challenge[BCKM_RESYNC_CHALLENGE_BYTES],
                             uint8_t out[BCKM_RESYNC_REQUEST_BYTES]) {
    if (kek == NULL || challenge == NULL || out == NULL || node == BCKM_ID_NONE)
        return BCKM_ERR_ARG;
    bckm_put_u32(out, node);
    bckm_put_u64(out + 4, last_epoch);
    memcpy(out + 12, challenge, BCKM_RESYNC_CHALLENGE_BYTES);
    return request_tag(kek, out, out + 28);
}

uint32_t bckm_resync_request_node(const uint8_t req[BCKM_RESYNC_REQUEST_BYTES]) {
    return req == NULL ? BCKM_ID_NONE : bckm_get_u32(req);
}

int bckm_resync_request_open(const uint8_t kek[BCKM_KEY_BYTES],
                             const uint8_t req[BCKM_RESYNC_REQUEST_BYTES], uint32_t *node,
                             uint64_t *last_epoch, uint8_t challenge[BCKM_RESYNC_CHALLENGE_BYTES]) {
    uint8_t want[32];
    if (kek == NULL || req == NULL || node == NULL || last_epoch == NULL || challenge == NULL)
        return BCKM_ERR_ARG;
    int e = request_tag(kek, req, want);
    if (e == BCKM_OK && !bckm_ct_equal(want, req + 28, 32)) e = BCKM_ERR_AUTH;
    bckm_wipe(want, sizeof want);
    if (e != BCKM_OK) return e;
    *node = bckm_get_u32(req);
    *last_epoch = bckm_get_u64(req + 4);
    memcpy(challenge, req + 12, BCKM_RESYNC_CHALLENGE_BYTES);
    return BCKM_OK;
}
