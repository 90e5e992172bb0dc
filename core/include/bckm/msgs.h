/*
 * Lists of rekey messages: what a key manager call produces (bckm/km.h)
 * and a BP sends its devices, and who each message is for.
 */
#ifndef BCKM_MSGS_H
#define BCKM_MSGS_H

#include "bckm/common.h"
#include "bckm/sets.h"

#include <stddef.h>
#include <stdint.h>

/* One produced message: bytes at msgs->buf + off, for the recipient named by
 * (kek_type, recipient). A set-KEK message goes to every member of the set
 * attached to this BP except those that receive a bundle in the same epoch. */
struct bckm_msg_ref {
    uint8_t kind, kek_type;
    uint32_t recipient;
    size_t off, len;
};

struct bckm_msgs {
    uint8_t *buf;
    size_t len, cap;
    struct bckm_msg_ref *refs;
    uint32_t n, refs_cap;
};

void bckm_msgs_init(struct bckm_msgs *m);
void bckm_msgs_clear(struct bckm_msgs *m);
void bckm_msgs_free(struct bckm_msgs *m);

/*
 * Who applies what: calls deliver(ctx, node, msg, len) for every node and
 * message of the batch m that node must apply, in the batch's order. A
 * message under a set KEK goes to every current member of that set in reg,
 * except the nodes that receive a bundle in the same batch (the bundle
 * carries their whole new state); any other message goes to its recipient.
 * The callback decides whether it simulates that node (and copies msg
 * before applying it in place). Stops at the first nonzero return of
 * deliver and returns it; BCKM_ERR_NOMEM, BCKM_ERR_ARG.
 */
int bckm_msgs_route(const struct bckm_msgs *m, const struct bckm_sets *reg,
                    int (*deliver)(void *ctx, uint32_t node, const uint8_t *msg, size_t len),
                    void *ctx);

#endif
