#include "sim/evq.h"

#include <stdlib.h>
#include <string.h>

#include "bckm/common.h"

static int ev_less(const bckm_sim_event *a, const bckm_sim_event *b) {
    if (a->time_us != b->time_us) return a->time_us < b->time_us;
    return a->seq < b->seq;
}

void bckm_sim_evq_init(bckm_sim_evq *q) { memset(q, 0, sizeof *q); }

void bckm_sim_evq_free(bckm_sim_evq *q) {
    free(q->heap);
    memset(q, 0, sizeof *q);
}

int bckm_sim_evq_push(bckm_sim_evq *q, uint64_t time_us, int kind, uint32_t target, uint64_t arg,
                      void *ptr) {
    if (q->len == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 256;
        bckm_sim_event *h = realloc(q->heap, ncap * sizeof *h);
        if (h == NULL) return BCKM_ERR_NOMEM;
        q->heap = h;
        q->cap = ncap;
    }
    bckm_sim_event e = {
        time_us < q->now_us ? q->now_us : time_us, q->next_seq++, kind, target, arg, ptr
    };
    size_t i = q->len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ev_less(&e, &q->heap[parent])) break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = e;
    return BCKM_OK;
}

int bckm_sim_evq_pop(bckm_sim_evq *q, bckm_sim_event *out) {
    if (q->len == 0) return 0;
    *out = q->heap[0];
    bckm_sim_event last = q->heap[--q->len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const bckm_sim_event *best = &last;
        if (l < q->len && ev_less(&q->heap[l], best)) {
            m = l;
            best = &q->heap[l];
        }
        if (r < q->len && ev_less(&q->heap[r], best)) { m = r; }
        if (m == i) break;
        q->heap[i] = q->heap[m];
        i = m;
    }
    if (q->len > 0) q->heap[i] = last;
    q->now_us = out->time_us;
    return 1;
}

uint64_t bckm_sim_evq_peek_time(const bckm_sim_evq *q) {
    return q->len ? q->heap[0].time_us : UINT64_MAX;
}
