/*
 * The simulator's event queue and virtual clock: a binary min-heap keyed by
 * (time, sequence number). The sequence number is assigned at insertion, so
 * two events due at the same microsecond always run in insertion order and a
 * run never depends on heap internals or memory addresses.
 */
#ifndef BCKM_SIM_EVQ_H
#define BCKM_SIM_EVQ_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t time_us; /* virtual time at which the event fires */
    uint64_t seq;     /* insertion order: the tie-breaker */
    int kind;         /* meaning chosen by the user of the queue */
    uint32_t target;  /* usually a BP index */
    uint64_t arg;
    void *ptr; /* payload owned by the event until it is popped */
} bckm_sim_event;

typedef struct {
    bckm_sim_event *heap;
    size_t len, cap;
    uint64_t next_seq;
    uint64_t now_us; /* the virtual clock: time of the last popped event */
} bckm_sim_evq;

void bckm_sim_evq_init(bckm_sim_evq *q);
/* Frees the heap; payloads still queued are the caller's to free first. */
void bckm_sim_evq_free(bckm_sim_evq *q);

/* Queues an event; an event in the past is clamped to now (the clock never
 * runs backwards). Returns BCKM_OK or BCKM_ERR_NOMEM. */
int bckm_sim_evq_push(bckm_sim_evq *q, uint64_t time_us, int kind, uint32_t target, uint64_t arg,
                      void *ptr);

/* Pops the earliest event into *out and advances the clock; 0 when empty. */
int bckm_sim_evq_pop(bckm_sim_evq *q, bckm_sim_event *out);

/* Time of the earliest queued event, or UINT64_MAX when empty. */
uint64_t bckm_sim_evq_peek_time(const bckm_sim_evq *q);

#endif
