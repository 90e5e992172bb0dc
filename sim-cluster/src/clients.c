/* The clients' side of a request: fresh retries, deadlines and replies. */
#include "cluster_internal.h"

#include <stdlib.h>

void clients_retry_fresh(cluster_t *c, uint32_t r, uint32_t bp, uint64_t when) {
    BCKM_ASSERT(r < c->p.requests && bp < c->n,
                "request and BP indices come from the cluster's own events");
    req_t *q = &c->req[r];
    if (q->done || q->attempt >= 250) return;
    q->attempt++;
    q->fresh = 1;
    q->gen++;
    c->res->retries++;
    cluster_push(c, when, EV_CLIENT, bp, r);
}

void clients_done(cluster_t *c, uint32_t r, uint32_t bp, uint64_t height, uint64_t now) {
    BCKM_ASSERT(r < c->p.requests && bp < c->n,
                "request and BP indices come from the cluster's own events");
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
    cluster_push(c, now + c->p.profile->deadline_us, EV_DEADLINE, q->bp, (q->gen << 32) | r);
}

/* A client's deadline passed (arg as clients_schedule_deadline made it): if
 * its request is still open and this is its latest deadline, it sends the
 * same tx to the next BP. */
void clients_deadline(cluster_t *c, uint64_t arg, uint64_t now) {
    uint32_t r = (uint32_t)(arg & 0xFFFFFFFFu);
    BCKM_ASSERT(r < c->p.requests, "deadlines are scheduled for the cluster's own requests");
    req_t *q = &c->req[r];
    if (q->done || (arg >> 32) != q->gen) return;
    if (q->first_accepted && !q->counted_missed) {
        q->counted_missed = 1;
        c->res->sync_missed_first_try++;
    }
    /* Retry path: the same tx to the next BP; a duplicate check there
     * tells the client if it had committed after all. */
    uint32_t nb = (q->bp + 1) % c->n;
    q->gen++;
    cluster_push(c, now, EV_CLIENT, nb, r);
    c->res->retries++;
}
