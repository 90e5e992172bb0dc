/*
 * Growing or shrinking an array that holds secrets (keys, PSKs, codes).
 * realloc may move the data and free the old block without wiping it, so
 * these arrays are moved by hand: a new block, the live bytes copied, the
 * whole old block wiped and freed. Private to core/src.
 */
#ifndef BCKM_SECRET_ARRAY_H
#define BCKM_SECRET_ARRAY_H

#include "bckm/common.h"

#include <stdlib.h>
#include <string.h>

/* A block of new_bytes holding the first keep_bytes of old (old_bytes long,
 * may be NULL); old is wiped and freed. NULL when the allocation fails, and
 * then old is untouched. */
static inline void *bckm_secret_resize(void *old, size_t old_bytes, size_t keep_bytes,
                                       size_t new_bytes) {
    void *p = malloc(new_bytes ? new_bytes : 1);
    if (p == NULL) return NULL;
    if (old != NULL) {
        if (keep_bytes > 0) memcpy(p, old, keep_bytes);
        bckm_wipe(old, old_bytes);
        free(old);
    }
    return p;
}

#endif
