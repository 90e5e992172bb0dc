/* A growable set of 64-bit values: core's hash map (bckm/map.h) with the
 * value 0, which the map cannot hold as a key, kept out of band. Used for
 * executed-tx ids, the mempool's duplicate cache, the checker and the
 * key layer's forged envelopes. */
#ifndef BCKM_SIM_U64SET_H
#define BCKM_SIM_U64SET_H

#include <stddef.h>
#include <stdint.h>

#include "bckm/map.h"

typedef struct {
    struct bckm_map map; /* nonzero members, each mapped to 1 */
    int has_zero;
} bckm_u64set;

void bckm_u64set_init(bckm_u64set *s);
void bckm_u64set_free(bckm_u64set *s);
int bckm_u64set_has(const bckm_u64set *s, uint64_t v);
/* 1 if added, 0 if already present, BCKM_ERR_NOMEM on failure. */
int bckm_u64set_add(bckm_u64set *s, uint64_t v);
size_t bckm_u64set_len(const bckm_u64set *s);

#endif
