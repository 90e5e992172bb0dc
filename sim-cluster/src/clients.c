/* The clients' side of a request: fresh retries, deadlines and replies. */
#include "cluster_internal.h"

#include <stdlib.h>

void clients_retry_fresh(cluster_t *c, uint32_t r, uint32_t bp, uint64_t when) {
    req_t *q = &c->req[r];
    if (q->done || q->attempt >= 250) return;
    q->attempt++;
    q->fresh = 1;
    q->gen++;
    c->res->retries++;
    if (bckm_sim_evq_push(&c->q, when, EV_CLIENT, bp, r, NULL) != BCKM_OK) abort();
}

void clients_done(cluster_t *c, uint32_t r, uint32_t bp, uint64_t height, uint64_t now) {
    req_t *q = &c->req[r];
    if (q->done) return;
    q->done = 1;
    c->done++;
    q->t_a = now > q->admit_us ? now - q->admit_us : 0;
    if (c->p.mode == BCKM_SIM_COMMIT && c->honest[bp] && height > 0)
        bckm_sim_checker_reply(&c->ck, bp, q->tx, q->tx_len, height);
}

void clients_schedule_deadline(cluster_t *c, uint32_t r, uint64_t now) {
    req_t *q = &c->req[r];
    q->gen++;
    /* arg = generation << 32 | request: only the latest deadline counts. */
    if (bckm_sim_evq_push(&c->q, now + c->p.profile->deadline_us, EV_DEADLINE, q->bp,
                          (q->gen << 32) | r, NULL) != BCKM_OK)
        abort();
}
