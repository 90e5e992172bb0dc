/*
 * The key manager's inside, shared by its files (km*.c) and by nothing
 * else: bckm/km.h is the interface. Each group of declarations below names
 * the file that defines it.
 */
#ifndef BCKM_KM_INTERNAL_H
#define BCKM_KM_INTERNAL_H

#include "bckm/km.h"
#include "bckm/kdf.h"
#include "bckm/map.h"
#include "bckm/msg.h"

#include <stddef.h>
#include <stdint.h>

/* A pool of 32-byte keys indexed by a map, with a free list, so memory
 * follows the number of live keys. */
struct bckm_keypool {
    struct bckm_map index; /* id -> slot */
    uint8_t (*keys)[BCKM_KEY_BYTES];
    uint32_t *free_slots;
    uint32_t used, cap, nfree;
};

struct bckm_km_pending {
    uint32_t node_id;
    uint8_t kek[BCKM_KEY_BYTES];
    uint8_t code[BCKM_CODE_BYTES];
};

/* One committed change, kept so missed epochs can be replayed. */
struct bckm_km_log_entry {
    uint64_t epoch; /* 0: empty slot */
    struct bckm_tx tx;
    struct bckm_plan plan; /* own copies of the arrays */
};

struct bckm_km {
    uint32_t bp;
    bckm_policy policy;
    uint8_t domain[BCKM_KEY_BYTES];
    uint8_t peer_secret[BCKM_MAX_BPS + 1][BCKM_KEY_BYTES];
    uint8_t has_peer[BCKM_MAX_BPS + 1];
    struct bckm_drbg drbg; /* reproducible mode only (drbg_seed given) */
    int reproducible;
    uint8_t sign_sk[64]; /* Ed25519: signs every batch of rekey messages */
    uint8_t
        *sign_work; /* batch-signing workspace a commit reserves (no failure after its changes) */
    size_t sign_work_cap;
    uint32_t next_node;
    struct bckm_keypool node_keks; /* node ID -> K_u */
    struct bckm_keypool set_keks;  /* set ID -> K_S */
    struct bckm_keypool pair_keys; /* (lo << 32 | hi) -> K_ST */
    struct bckm_km_pending *pend;
    uint32_t npend, cap_pend;
    struct bckm_map pend_index; /* node ID -> index in pend */
    uint8_t *scratch;           /* message body under construction */
    size_t scratch_cap;
    struct bckm_map adopted;   /* sets adopted from a failed BP -> 1 */
    struct bckm_keypool seeds; /* pair seeds handed over by adopted nodes */
    struct bckm_km_log_entry log[BCKM_KM_LOG_EPOCHS];
    uint32_t *ids;     /* bundle scratch: peer IDs and positions */
    size_t ids_cap;    /* in uint32_t */
    uint32_t *dropped; /* nodes the last commit stopped serving */
    uint32_t ndropped, cap_dropped;
};

/* km_pool.c: key pools. bckm_keypool_reserve(p, n) makes the next n puts of
 * new IDs infallible; a deleted key is wiped. */
void bckm_keypool_init(struct bckm_keypool *p);
void bckm_keypool_free(struct bckm_keypool *p);
uint8_t *bckm_keypool_get(const struct bckm_keypool *p, uint64_t id);
int bckm_keypool_reserve(struct bckm_keypool *p, uint32_t extra);
int bckm_keypool_put(struct bckm_keypool *p, uint64_t id, const uint8_t key[BCKM_KEY_BYTES]);
void bckm_keypool_del(struct bckm_keypool *p, uint64_t id);
size_t bckm_keypool_bytes(const struct bckm_keypool *p);
/* The pool ID of the pair of sets (a, b), the same for (b, a). */
uint64_t bckm_pair_id(uint32_t a, uint32_t b);

/* msgs.c: room for nrefs more messages of `bytes` bytes in all. */
int bckm_msgs_reserve(struct bckm_msgs *m, uint32_t nrefs, size_t bytes);

/* km.c: workspaces, randomness, one sealed message, one signed batch, and
 * the placement policy. */
int bckm_km_reserve_sign_work(struct bckm_km *km, size_t n);
int bckm_km_reserve_ids(struct bckm_km *km, size_t n);
int bckm_km_reserve_scratch(struct bckm_km *km, size_t bytes);
void bckm_km_random(struct bckm_km *km, uint8_t *out, size_t len);
int bckm_km_emit(struct bckm_km *km, struct bckm_msgs *out, uint8_t kind, uint8_t kek_type,
                 uint32_t recipient, uint64_t epoch, const uint8_t *challenge,
                 const uint8_t kek[BCKM_KEY_BYTES], const uint8_t *body, size_t body_len);
/* Every public call that appends messages appends one signed batch: it
 * notes where its batch starts, and at the end signs it, or on error drops
 * it (so nothing unsigned ever leaves). */
struct bckm_km_batch {
    uint32_t n;
    size_t len;
};
struct bckm_km_batch bckm_km_batch_begin(const struct bckm_msgs *out);
int bckm_km_batch_end(struct bckm_km *km, struct bckm_msgs *out, struct bckm_km_batch b, int e);
/* Whether this BP may hold the keys of a set (or of a pair of sets). */
int bckm_km_entitled(const struct bckm_km *km, uint32_t set);
int bckm_km_entitled_pair(const struct bckm_km *km, uint32_t a, uint32_t b);
const uint8_t *bckm_km_pair_domain(const struct bckm_km *km, uint32_t a, uint32_t b);

/* km_prepare.c: prepared joins. */
struct bckm_km_pending *bckm_km_pending_find(struct bckm_km *km, uint32_t node_id);
void bckm_km_pending_drop(struct bckm_km *km, struct bckm_km_pending *p);

/* km_bodies.c: message bodies and refresh material. */
void bckm_km_node_pair(const struct bckm_km *km, uint32_t u, uint32_t pos_u, uint32_t v,
                       uint32_t pos_v, uint8_t out[BCKM_KEY_BYTES]);
int bckm_km_emit_bundle(struct bckm_km *km, const struct bckm_sets *reg, uint32_t u,
                        const uint8_t *code, uint64_t epoch, const uint8_t *challenge,
                        struct bckm_msgs *out);
void bckm_km_pair_advance(const uint8_t r[BCKM_REFRESH_BYTES], const struct bckm_plan *plan,
                          uint32_t a, uint32_t b, uint8_t key[BCKM_KEY_BYTES]);
void bckm_km_set_advance(const uint8_t r[BCKM_REFRESH_BYTES], uint32_t set, uint64_t epoch,
                         uint8_t key[BCKM_KEY_BYTES]);
size_t bckm_km_update_bytes(const struct bckm_plan *plan);
int bckm_km_write_update(struct bckm_km *km, const struct bckm_sets *reg, const struct bckm_tx *c,
                         const struct bckm_plan *plan, uint32_t t, uint32_t departed,
                         struct bckm_writer *w);

/* km_log.c: the rekey log. */
int bckm_km_log_reserve(struct bckm_km *km, const struct bckm_plan *plan);
int bckm_km_log_change(struct bckm_km *km, const struct bckm_tx *c, const struct bckm_plan *plan);
const struct bckm_km_log_entry *bckm_km_log_get(const struct bckm_km *km, uint64_t epoch);
int bckm_km_moved_in(const struct bckm_plan *p, uint32_t node);
uint32_t bckm_km_departed_set(const struct bckm_tx *c, const struct bckm_plan *p);

#endif
