#include "sim/u64set.h"

#include <string.h>

void bckm_u64set_init(bckm_u64set *s) {
    bckm_map_init(&s->map);
    s->has_zero = 0;
}

void bckm_u64set_free(bckm_u64set *s) {
    bckm_map_free(&s->map);
    s->has_zero = 0;
}

int bckm_u64set_has(const bckm_u64set *s, uint64_t v) {
    return v == 0 ? s->has_zero : bckm_map_get(&s->map, v, NULL);
}

int bckm_u64set_add(bckm_u64set *s, uint64_t v) {
    if (bckm_u64set_has(s, v)) return 0;
    if (v == 0) {
        s->has_zero = 1;
        return 1;
    }
    int e = bckm_map_put(&s->map, v, 1);
    return e == BCKM_OK ? 1 : e;
}

size_t bckm_u64set_len(const bckm_u64set *s) { return (size_t)s->map.len + (s->has_zero != 0); }
