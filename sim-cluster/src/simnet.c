/* The simulated network between the BPs: what a handler sends leaves when its
 * CPU time is over, with seeded loss, duplication, reordering and partitions. */
#include "cluster_internal.h"

#include <stdlib.h>
#include <string.h>

void simnet_free(net_msg *m) {
    if (m == NULL) return;
    bckm_pbft_msg_unref(m->pbft);
    free(m->tx);
    free(m);
}

void simnet_queue(cluster_t *c, uint32_t from, uint32_t to, net_msg *m) {
    BCKM_ASSERT(from < c->n && to < c->n, "messages travel between the cluster's BPs");
    if (c->nout == c->out_cap) {
        size_t ncap = c->out_cap ? c->out_cap * 2 : 64;
        out_t *o = realloc(c->out, ncap * sizeof *o);
        if (o == NULL) {
            simnet_free(m);
            cluster_nomem(c);
            return;
        }
        c->out = o;
        c->out_cap = ncap;
    }
    m->from = from;
    m->to = to;
    c->out[c->nout++] = (out_t){ from, to, m };
    c->cost += COST_SEND;
}

void simnet_send_pbft(cluster_t *c, uint32_t from, uint32_t to, bckm_pbft_msg *pm) {
    net_msg *m = calloc(1, sizeof *m);
    if (m == NULL) {
        bckm_pbft_msg_unref(pm);
        cluster_nomem(c);
        return;
    }
    m->kind = NET_PBFT;
    m->pbft = pm; /* takes the reference */
    simnet_queue(c, from, to, m);
}

static int separated(const cluster_t *c, uint32_t a, uint32_t b) {
    if (c->bp[a].isolated || c->bp[b].isolated) return 1;
    return c->partition_on && c->bp[a].side != c->bp[b].side;
}

/* Sends what the last handler produced, leaving at `depart`. */
void simnet_flush(cluster_t *c, uint64_t depart) {
    const bckm_sim_profile *pr = c->p.profile;
    for (size_t i = 0; i < c->nout; i++) {
        net_msg *m = c->out[i].m;
        uint32_t from = c->out[i].from, to = c->out[i].to;
        c->res->messages++;
        if (from == to || separated(c, from, to) ||
            (c->faults_on &&
             bckm_sim_rng_chance(&c->net_rng, c->p.faults.loss.num, c->p.faults.loss.den))) {
            c->res->dropped++;
            simnet_free(m);
            continue;
        }
        int copies = 1;
        if (c->faults_on &&
            bckm_sim_rng_chance(&c->net_rng, c->p.faults.dup.num, c->p.faults.dup.den))
            copies = 2;
        for (int k = 0; k < copies; k++) {
            net_msg *mm = m;
            if (k == 1) {
                mm = calloc(1, sizeof *mm);
                if (mm == NULL) {
                    cluster_nomem(c);
                    break;
                }
                *mm = *m;
                mm->pbft = bckm_pbft_msg_ref(m->pbft);
                if (m->tx) {
                    mm->tx = malloc(m->len);
                    if (mm->tx == NULL) {
                        simnet_free(mm);
                        cluster_nomem(c);
                        break;
                    }
                    memcpy(mm->tx, m->tx, m->len);
                }
            }
            uint64_t at =
                depart + pr->one_way_us + bckm_sim_rng_below(&c->net_rng, pr->jitter_us + 1);
            if (c->faults_on && bckm_sim_rng_chance(&c->net_rng, c->p.faults.reorder.num,
                                                    c->p.faults.reorder.den)) {
                at += bckm_sim_rng_below(&c->net_rng, pr->reorder_max_us + 1);
            } else {
                /* Jitter alone never lets a message overtake an earlier one
                 * on the same link (a BP's transactions then reach the others
                 * in the order of their sequence numbers). */
                if (at < c->link_last[from][to]) at = c->link_last[from][to];
                c->link_last[from][to] = at;
            }
            if (bckm_sim_evq_push(&c->q, at, EV_NET, to, 0, mm) != BCKM_OK) {
                /* The first copy may be m itself: no second copy of it. */
                simnet_free(mm);
                cluster_nomem(c);
                break;
            }
        }
    }
    c->nout = 0;
}
