/* The Byzantine adversary: what a Byzantine BP sends instead of what its
 * replica asked for. (The key layer's adversary is the keys workload's.) */
#include "cluster_internal.h"

#include <stdlib.h>
#include <string.h>

static int honest_group(const cluster_t *c, uint32_t j) {
    /* Honest BPs alternate between the two sides of an equivocation. */
    uint32_t k = 0;
    for (uint32_t i = 0; i < j; i++)
        if (!c->bp[i].byz) k++;
    return c->bp[j].byz ? 0 : (int)(k % 2);
}

static equiv_t *equiv_find(cluster_t *c, uint64_t view, uint64_t seq) {
    for (size_t i = 0; i < c->neq; i++)
        if (c->eq[i].view == view && c->eq[i].seq == seq) return &c->eq[i];
    return NULL;
}

static equiv_t *equiv_start(cluster_t *c, const bckm_pbft_msg *pp) {
    if (c->neq == c->eq_cap) {
        size_t ncap = c->eq_cap ? c->eq_cap * 2 : 16;
        equiv_t *e = realloc(c->eq, ncap * sizeof *e);
        if (e == NULL) return NULL;
        c->eq = e;
        c->eq_cap = ncap;
    }
    bckm_sim_block *twin = bckm_sim_block_dup(pp->block);
    if (twin == NULL) return NULL;
    equiv_t *e = &c->eq[c->neq++];
    memset(e, 0, sizeof *e);
    e->view = pp->view;
    e->seq = pp->seq;
    memcpy(e->a, pp->digest, 32);
    /* The twin block differs only in a field every replica hashes. */
    bckm_pbft_msg *b = bckm_pbft_msg_new(BCKM_PBFT_PREPREPARE, pp->from);
    b->view = pp->view;
    b->seq = pp->seq;
    b->block = twin;
    b->block->h.time ^= 1u; /* same transactions, another block hash */
    if (bckm_sim_block_digest(b->block, b->digest) != BCKM_OK) {
        bckm_pbft_msg_unref(b);
        c->neq--;
        return NULL;
    }
    bckm_pbft_msg_sign(b, c->sk[pp->from]);
    memcpy(e->b, b->digest, 32);
    e->ppb = b;
    return e;
}

static void send_from_byz(cluster_t *c, uint32_t from, uint32_t to, bckm_pbft_msg *m) {
    BCKM_ASSERT(c->bp[from].byz,
                "only a Byzantine BP's messages are rewritten (adversary_send_pbft)");
    int kind = c->p.byz_kind[from];
    if (kind == BCKM_BYZ_SILENT) {
        bckm_pbft_msg_unref(m);
        return;
    }
    if (kind == BCKM_BYZ_FORGE && m->type >= BCKM_PBFT_PREPARE && m->type <= BCKM_PBFT_CHECKPOINT &&
        bckm_sim_rng_chance(&c->adv_rng, 1, 2)) {
        /* Claim to be another BP, or alter what was signed. */
        bckm_pbft_msg *x = bckm_pbft_msg_new(m->type, m->from);
        x->view = m->view;
        x->seq = m->seq;
        memcpy(x->digest, m->digest, 32);
        memcpy(x->sig, m->sig, BCKM_SIM_SIG_BYTES);
        if (bckm_sim_rng_chance(&c->adv_rng, 1, 2))
            x->from = (uint32_t)((from + 1 + bckm_sim_rng_below(&c->adv_rng, c->n - 1)) % c->n);
        else
            x->digest[bckm_sim_rng_below(&c->adv_rng, 32)] ^= 1;
        x->hint = m->hint + bckm_sim_rng_below(&c->adv_rng, 4);
        simnet_send_pbft(c, from, to, x);
    }
    if (kind == BCKM_BYZ_FORGE && m->type == BCKM_PBFT_BLOCKS && m->nblocks > 0 &&
        bckm_sim_rng_chance(&c->adv_rng, 1, 2)) {
        /* State transfer from a liar: a certificate signature is altered,
         * which the fetching replica must notice. */
        m->certs[0]->sigs[0].sig[bckm_sim_rng_below(&c->adv_rng, 64)] ^= 0x10;
    }
    if (kind == BCKM_BYZ_EQUIVOCATE && !c->bp[to].byz && honest_group(c, to) == 1) {
        equiv_t *e = NULL;
        if (m->type == BCKM_PBFT_PREPREPARE && m->from == from && m->block != NULL) {
            e = equiv_find(c, m->view, m->seq);
            if (e == NULL) e = equiv_start(c, m);
            if (e == NULL) {
                /* No memory for the twin: this one goes out as it is. */
                cluster_nomem(c);
            } else if (memcmp(e->a, m->digest, 32) == 0) {
                bckm_pbft_msg_unref(m);
                simnet_send_pbft(c, from, to, bckm_pbft_msg_ref(e->ppb));
                return;
            }
        } else if ((m->type == BCKM_PBFT_PREPARE || m->type == BCKM_PBFT_COMMIT) &&
                   (e = equiv_find(c, m->view, m->seq)) != NULL &&
                   memcmp(e->a, m->digest, 32) == 0) {
            int t = m->type == BCKM_PBFT_COMMIT;
            if (e->votes_b[from][t] == NULL) {
                bckm_pbft_msg *x = bckm_pbft_msg_new(m->type, from);
                x->view = m->view;
                x->seq = m->seq;
                memcpy(x->digest, e->b, 32);
                bckm_pbft_msg_sign(x, c->sk[from]);
                e->votes_b[from][t] = x;
            }
            e->votes_b[from][t]->hint = m->hint;
            bckm_pbft_msg_unref(m);
            simnet_send_pbft(c, from, to, bckm_pbft_msg_ref(e->votes_b[from][t]));
            return;
        }
    }
    simnet_send_pbft(c, from, to, m);
}

void adversary_send_pbft(cluster_t *c, uint32_t from, uint32_t to, bckm_pbft_msg *m) {
    if (c->bp[from].byz)
        send_from_byz(c, from, to, m);
    else
        simnet_send_pbft(c, from, to, m);
}
