/*
 * Sets: the registry of logical sets and their members, and the two
 * set-management algorithms of the paper (Assignment after a join, Reorder
 * after any change), as pure functions of that registry.
 *
 * Every BP holds the same registry (it is part of the replicated state), so
 * every validator can rerun Assignment and Reorder and obtain the same result.
 *
 * Target set size: s(n) = ceil(sqrt(n)).
 * Assignment(owner, n'): the open set (size < s(n')) of `owner` with the
 *   smallest size, ties broken by the lowest ID; a fresh set ID of `owner`
 *   when none is open.
 * Reorder: for each owner b in increasing order, when b has more sets than
 *   ceil(n_b / s(n)) + 1, dissolve b's smallest set (ties: the highest ID) and
 *   move each of its members, in insertion order, to b's smallest open set
 *   (ties: lowest ID). One dissolution per owner and change is always enough
 *   and always finds room (spec/protocol.md, "Uniformity").
 * Under the `global` policy there is a single owner (0) for every set.
 */
#ifndef BCKM_SETS_H
#define BCKM_SETS_H

#include "bckm/common.h"
#include "bckm/tx.h"
#include "bckm/plan.h"

typedef enum { BCKM_POLICY_OWNED = 1, BCKM_POLICY_GLOBAL = 2 } bckm_policy;

/* Operations: the transaction codes of tx.h. */
typedef enum {
    BCKM_OP_JOIN = BCKM_TX_OP_JOIN,
    BCKM_OP_LEAVE = BCKM_TX_OP_LEAVE,
    BCKM_OP_EVICT = BCKM_TX_OP_EVICT,
    BCKM_OP_REATTACH = BCKM_TX_OP_REATTACH
} bckm_op;

/* One entry of the set table: what Assignment and Reorder look at. */
struct bckm_set_info {
    uint32_t id;    /* bckm_id_make(owner, counter), never 0, never reused */
    uint32_t owner; /* owning BP (owned policy) or 0 (global policy) */
    uint32_t size;  /* number of members, >= 1 for every set in the table */
};

/* A network change is the paper's 57-byte transaction (Fig. 3): struct
 * bckm_tx of tx.h (op, node ID, set ID, code hash, refresh key). */

/*@ // r is the target set size for n nodes: ceil(sqrt(n)), and 1 for n = 0.
    predicate bckm_is_target(integer n, integer r) =
        (n == 0 && r == 1) ||
        (n > 0 && 1 <= r && r * r >= n && (r - 1) * (r - 1) < n);

    // There is one target per n, so a contract may name it by any witness.
    lemma bckm_target_unique:
      \forall integer n, r, q;
        0 <= n && bckm_is_target(n, r) && bckm_is_target(n, q) ==> r == q;

    // Set i is open for owner: not skipped, owned by owner, below cap.
    predicate bckm_open{L}(struct bckm_set_info *sets, integer i,
                           integer owner, integer cap, integer skip) =
        i != skip && sets[i].owner == owner && sets[i].size < cap;

    // Set i comes no later than set j in Assignment's order: smaller size
    // first, then lower ID.
    predicate bckm_before{L}(struct bckm_set_info *sets, integer i, integer j) =
        sets[i].size < sets[j].size ||
        (sets[i].size == sets[j].size && sets[i].id <= sets[j].id);
 */

/* ceil(sqrt(n)) for n >= 1; 1 for n = 0. */
/*@ assigns \nothing;
    ensures 1 <= \result <= 65536;
    ensures bckm_is_target(n, \result);
 */
uint32_t bckm_sets_target(uint32_t n);

/*
 * The open set of `owner` with the smallest size (ties: lowest ID) among
 * sets[0..count), skipping index `skip` (pass count to skip none); a set is
 * open when size < cap. Returns 1 and the index in *out, or 0 when none.
 */
/*@ requires count > 0 ==> \valid_read(sets + (0 .. count - 1));
    requires \valid(out);
    requires \separated(out, sets + (0 .. count - 1));
    assigns *out;
    ensures \result == 0 || \result == 1;
    ensures \result == 1 <==>
      (\exists integer i; 0 <= i < count && bckm_open(sets, i, owner, cap, skip));
    ensures \result == 1 ==>
      0 <= *out < count && bckm_open(sets, *out, owner, cap, skip) &&
      \forall integer j; 0 <= j < count && bckm_open(sets, j, owner, cap, skip) ==>
        bckm_before(sets, *out, j);
    ensures \result == 0 ==> *out == \old(*out);
 */
int bckm_sets_pick_open(const struct bckm_set_info *sets, uint32_t count, uint32_t owner,
                        uint32_t cap, uint32_t skip, uint32_t *out);

/*
 * Assignment: the set a node joining at `owner` goes to, when the network
 * will have n_after nodes. *out_id is an existing set's ID, or
 * bckm_id_make(owner, next_counter) with *out_fresh = 1 when none is open.
 * Fails with BCKM_ERR_NOMEM when a fresh set is needed but the counter is
 * exhausted.
 */
/*@ requires count > 0 ==> \valid_read(sets + (0 .. count - 1));
    requires \valid(out_id) && \valid(out_fresh);
    requires \separated(out_id, out_fresh, sets + (0 .. count - 1));
    assigns *out_id, *out_fresh;
    behavior bad_owner:
      assumes owner > BCKM_MAX_BPS;
      assigns \nothing;
      ensures \result == BCKM_ERR_ARG;
    behavior existing:
      assumes owner <= BCKM_MAX_BPS;
      assumes \forall integer r; bckm_is_target(n_after, r) ==>
                \exists integer i; 0 <= i < count && bckm_open(sets, i, owner, r, count);
      ensures \result == BCKM_OK && *out_fresh == 0;
      ensures \exists integer i, r; 0 <= i < count && *out_id == sets[i].id &&
                bckm_is_target(n_after, r) && bckm_open(sets, i, owner, r, count) &&
                \forall integer j; 0 <= j < count && bckm_open(sets, j, owner, r, count) ==>
                  bckm_before(sets, i, j);
    behavior fresh:
      assumes owner <= BCKM_MAX_BPS;
      assumes \forall integer r, i; bckm_is_target(n_after, r) && 0 <= i < count ==>
                !bckm_open(sets, i, owner, r, count);
      assumes 1 <= next_counter <= BCKM_ID_COUNTER_MAX;
      ensures \result == BCKM_OK && *out_fresh == 1;
      ensures *out_id == owner * 16777216 + next_counter;
      // Never an ID in use: when every set ID of owner has a counter below
      // next_counter (the registry's invariant), the fresh ID is none of them.
      ensures (\forall integer i; 0 <= i < count ==>
                 sets[i].id / 16777216 != owner || sets[i].id % 16777216 < next_counter) ==>
              \forall integer i; 0 <= i < count ==> sets[i].id != *out_id;
    behavior exhausted:
      assumes owner <= BCKM_MAX_BPS;
      assumes \forall integer r, i; bckm_is_target(n_after, r) && 0 <= i < count ==>
                !bckm_open(sets, i, owner, r, count);
      assumes next_counter == 0 || next_counter > BCKM_ID_COUNTER_MAX;
      assigns \nothing;
      ensures \result == BCKM_ERR_NOMEM;
 */
int bckm_sets_assign(const struct bckm_set_info *sets, uint32_t count, uint32_t owner,
                     uint32_t n_after, uint32_t next_counter, uint32_t *out_id,
                     int *out_fresh) BCKM_MUST_CHECK;

/*@ // The number of sets of owner among sets[0 .. n).
    logic integer bckm_owned{L}(struct bckm_set_info *sets, integer n, integer owner) =
        n <= 0 ? 0 :
        bckm_owned(sets, n - 1, owner) + (sets[n - 1].owner == owner ? 1 : 0);

    // ceil(n / cap) for n >= 0 and cap > 0.
    logic integer bckm_ceil_div(integer n, integer cap) =
        n / cap + (n % cap != 0 ? 1 : 0);

    // Set i comes no later than set j in Reorder's order: smaller size
    // first, then higher ID (the youngest set).
    predicate bckm_dissolve_before{L}(struct bckm_set_info *sets, integer i, integer j) =
        sets[i].size < sets[j].size ||
        (sets[i].size == sets[j].size && sets[i].id >= sets[j].id);
 */

/*
 * Reorder's decision for one owner: returns 1 and the index of the set to
 * dissolve when `owner` holds more than ceil(n_owner / cap) + 1 sets, else 0.
 * The victim is the smallest set (ties: the highest ID, the youngest).
 */
/*@ requires count > 0 ==> \valid_read(sets + (0 .. count - 1));
    requires \valid(victim);
    requires \separated(victim, sets + (0 .. count - 1));
    assigns *victim;
    ensures \result == 0 || \result == 1;
    // The count is taken in the pre-state (sets is not written: the same
    // value), so that no goal has to carry it across the write to *victim.
    ensures \result == 1 <==>
      (cap != 0 && \old(bckm_owned(sets, count, owner)) > bckm_ceil_div(n_owner, cap) + 1);
    ensures \result == 1 ==>
      0 <= *victim < count && sets[*victim].owner == owner &&
      \forall integer j; 0 <= j < count && sets[j].owner == owner ==>
        bckm_dissolve_before(sets, *victim, j);
    ensures \result == 0 ==> *victim == \old(*victim);
 */
int bckm_sets_pick_dissolve(const struct bckm_set_info *sets, uint32_t count, uint32_t owner,
                            uint32_t n_owner, uint32_t cap, uint32_t *victim);

/*@ // How many of the first k moves of a plan go to set i.
    logic integer bckm_moved_to{L}(uint32_t *dest, integer k, integer i) =
        k <= 0 ? 0 : bckm_moved_to(dest, k - 1, i) + (dest[k - 1] == i ? 1 : 0);

    // The free room of owner's open sets among sets[0 .. n), skipping index
    // skip: the sum of cap - size over them (spec 2.2's room check).
    logic integer bckm_room{L}(struct bckm_set_info *sets, integer n,
                               integer owner, integer cap, integer skip) =
        n <= 0 ? 0 :
        bckm_room(sets, n - 1, owner, cap, skip) +
          (n - 1 != skip && sets[n - 1].owner == owner && sets[n - 1].size < cap ?
             cap - sets[n - 1].size : 0);

    // The size of set i after the first k moves of a plan, the sizes before
    // it being those of label B.
    logic integer bckm_size_after{L, B}(struct bckm_set_info *sets,
                                        uint32_t *dest, integer k, integer i) =
        \at(sets[i].size, B) + bckm_moved_to{L}(dest, k, i);
 */

/*
 * Reorder's moves out of the set being dissolved, sets[victim]: its m
 * members, in order, each go to the smallest open set of the same owner at
 * that moment (Assignment's order, bckm_sets_pick_open skipping the
 * victim), and that set's size grows by one. On success returns 1, dest[k]
 * is the index of member k's new set, and every size is its old value plus
 * the members it received; the victim's size, every ID and every owner are
 * unchanged (the caller removes the victim). Returns 0 when some member
 * finds no open set, with every size as it was; that happens exactly when
 * the free room of the owner's other sets is below m (spec/protocol.md 2.3
 * shows Reorder always has the room; this keeps a dissolution all or nothing
 * even if that argument were wrong). Writes nothing but the sizes and
 * dest[0 .. m).
 */
/*@ requires victim < count;
    requires \valid(sets + (0 .. count - 1));
    requires m > 0 ==> \valid(dest + (0 .. m - 1));
    requires \separated(dest + (0 .. m - 1), sets + (0 .. count - 1));
    assigns sets[0 .. count - 1].size, dest[0 .. m - 1];
    ensures \result == 0 || \result == 1;
    // It succeeds exactly when the free room of the owner's other sets is
    // at least m (spec 2.2's room check).
    ensures \result == 1 <==> \old(bckm_room(sets, count, owner, cap, victim)) >= m;
    // Every member has one new set: another set of the same owner.
    ensures \result == 1 ==> \forall integer k; 0 <= k < m ==>
      0 <= dest[k] < count && dest[k] != victim && sets[dest[k]].owner == owner;
    // Sizes account for the moves exactly; so the victim keeps its size.
    ensures \result == 1 ==> \forall integer i; 0 <= i < count ==>
      sets[i].size == \old(sets[i].size) + bckm_moved_to(dest, m, i);
    // Move k went to a set that was open after the moves before it, and
    // that came first in Assignment's order among the open sets then.
    ensures \result == 1 ==> \forall integer k; 0 <= k < m ==>
      bckm_size_after{Here, Pre}(sets, dest, k, dest[k]) < cap &&
      \forall integer j; 0 <= j < count && j != victim && sets[j].owner == owner &&
          bckm_size_after{Here, Pre}(sets, dest, k, j) < cap ==>
        bckm_size_after{Here, Pre}(sets, dest, k, dest[k]) <
          bckm_size_after{Here, Pre}(sets, dest, k, j) ||
        (bckm_size_after{Here, Pre}(sets, dest, k, dest[k]) ==
           bckm_size_after{Here, Pre}(sets, dest, k, j) &&
         sets[dest[k]].id <= sets[j].id);
    // So no set that received a member ends above cap.
    ensures \result == 1 ==> \forall integer i; 0 <= i < count &&
      bckm_moved_to(dest, m, i) > 0 ==> sets[i].size <= cap;
    ensures \result == 0 ==> \forall integer i; 0 <= i < count ==>
      sets[i].size == \old(sets[i].size);
 */
int bckm_sets_plan_moves(struct bckm_set_info *sets, uint32_t count, uint32_t owner, uint32_t cap,
                         uint32_t victim, uint32_t *dest, uint32_t m);

/*
 * Takes back the first k moves of a plan made by bckm_sets_plan_moves (the
 * sizes only), for a caller that cannot carry the plan out.
 */
/*@ requires k <= m;
    requires \valid(sets + (0 .. count - 1));
    requires m > 0 ==> \valid(dest + (0 .. m - 1));
    requires \separated(dest + (0 .. m - 1), sets + (0 .. count - 1));
    requires \forall integer j; 0 <= j < k ==> 0 <= dest[j] < count;
    requires \forall integer j, i; 0 <= j <= k ==> bckm_moved_to(dest, j, i) >= 0;
    requires \forall integer i; 0 <= i < count ==> sets[i].size >= bckm_moved_to(dest, k, i);
    assigns sets[0 .. count - 1].size;
    ensures \forall integer i; 0 <= i < count ==>
      sets[i].size == \old(sets[i].size) - \old(bckm_moved_to(dest, k, i));
 */
void bckm_sets_undo_moves(struct bckm_set_info *sets, uint32_t count, const uint32_t *dest,
                          uint32_t m, uint32_t k);

/* ---- The registry (BP side; allocates) ---------------------------------- */

struct bckm_sets; /* opaque */

int bckm_sets_new(struct bckm_sets **out, bckm_policy policy) BCKM_MUST_CHECK;
void bckm_sets_free(struct bckm_sets *s);
/* Deep copy (for state snapshots). */
int bckm_sets_clone(const struct bckm_sets *s, struct bckm_sets **out) BCKM_MUST_CHECK;

bckm_policy bckm_sets_policy(const struct bckm_sets *s);
uint32_t bckm_sets_nodes(const struct bckm_sets *s); /* current members */
uint32_t bckm_sets_count(const struct bckm_sets *s); /* live sets */
uint64_t bckm_sets_epoch(const struct bckm_sets *s); /* changes applied */
/* The live set table, sorted by ID; valid until the next change. */
const struct bckm_set_info *bckm_sets_table(const struct bckm_sets *s);

/* The owner a BP's joins go to under this registry's policy. */
uint32_t bckm_sets_owner_for(const struct bckm_sets *s, uint32_t bp);

/* Members of a set in insertion order (the order that decides which member's
 * seed derives a pairwise node key). NULL and *count = 0 if unknown. */
const uint32_t *bckm_sets_members(const struct bckm_sets *s, uint32_t set_id, uint32_t *count);

/* Lookups. attach_bp is the BP serving the node: the one that took its
 * join, or the origin of its last REATTACH. A departed node is remembered
 * (IDs and code hashes are never reused) but is not a member. */
int bckm_sets_node(const struct bckm_sets *s, uint32_t node_id, uint32_t *set_id,
                   uint32_t *attach_bp) BCKM_MUST_CHECK;
int bckm_sets_node_by_code(const struct bckm_sets *s, const uint8_t code_hash[BCKM_HASH_BYTES],
                           uint32_t *node_id) BCKM_MUST_CHECK;
int bckm_sets_code_hash(const struct bckm_sets *s, uint32_t node_id,
                        uint8_t out[BCKM_HASH_BYTES]) BCKM_MUST_CHECK;
/* Next set counter of an owner (what a fresh set ID would use). */
uint32_t bckm_sets_next_counter(const struct bckm_sets *s, uint32_t owner);
/* Number of members attached to sets of `owner`. */
uint32_t bckm_sets_owner_nodes(const struct bckm_sets *s, uint32_t owner);
/* 1 when node_id was ever used. */
int bckm_sets_id_used(const struct bckm_sets *s, uint32_t node_id);

/*
 * Validation of a change against the registry (the set-management half of
 * the smart contract), made by the BP `bp`:
 * join: node ID unused and allocated by bp, code hash unused (all 32 bytes
 *   compared), set_id equals Assignment rerun now for bp's owner;
 * leave/evict: the node is a member of set_id with that code hash, and bp
 *   is the BP serving it (BCKM_ERR_PERM otherwise; spec 10.1);
 * reattach: refused here (BCKM_ERR_PERM): it needs the node's consent, see
 *   bckm_sets_check_reattach.
 * Changes nothing.
 */
int bckm_sets_check(const struct bckm_sets *s, uint32_t bp,
                    const struct bckm_tx *c) BCKM_MUST_CHECK;

/*
 * Applies a change that bckm_sets_check accepted, then runs Reorder, and
 * describes what happened in *plan. On error nothing changes.
 */
int bckm_sets_apply(struct bckm_sets *s, uint32_t bp, const struct bckm_tx *c,
                    struct bckm_plan *plan) BCKM_MUST_CHECK;

/* ---- REATTACH: the node moves to another serving BP (spec 10.1) ---------- */

/* The statement a node signs to consent to being served by BP `bp`:
 * label (16) || node ID (4) || bp (4) || counter (8), integers big-endian. */
#define BCKM_REATTACH_LABEL "bckm-reattach-v1"
#define BCKM_REATTACH_LABEL_BYTES 16u
#define BCKM_REATTACH_STATEMENT_BYTES 32u

/* Writes the statement above. */
void bckm_reattach_statement(uint32_t node_id, uint32_t bp, uint64_t ctr,
                             uint8_t out[BCKM_REATTACH_STATEMENT_BYTES]);

/* The node's consent (defined in contract.c): an Ed25519 signature of the statement with its
 * secret code as the seed (so the commitment on chain, bckm_code_commit,
 * is the verifying key). ctr must be above the counter of the node's last
 * accepted REATTACH (0 at join). BCKM_ERR_ARG on a NULL pointer, a zero ID
 * or BP or ctr 0. Every temporary is wiped. */
int bckm_reattach_consent(const uint8_t code[BCKM_CODE_BYTES], uint32_t node_id, uint32_t bp,
                          uint64_t ctr, uint8_t sig[BCKM_SIG_BYTES]) BCKM_MUST_CHECK;

/* BCKM_OK when sig is the consent of the node whose commitment is
 * `commit` to be served by bp with counter ctr, BCKM_ERR_AUTH otherwise. */
int bckm_reattach_verify(const uint8_t commit[BCKM_HASH_BYTES], uint32_t node_id, uint32_t bp,
                         uint64_t ctr, const uint8_t sig[BCKM_SIG_BYTES]) BCKM_MUST_CHECK;

/* The REATTACH transaction's fields (tx.h): node ID, its current set, its
 * commitment, and refresh = ctr (8, big-endian) || 8 zero bytes. Fills
 * *out from the registry; BCKM_ERR_UNKNOWN when the node is not a member. */
int bckm_sets_reattach_tx(const struct bckm_sets *s, uint32_t node_id, uint64_t ctr,
                          struct bckm_tx *out) BCKM_MUST_CHECK;

/* The counter of the node's last accepted REATTACH (0 when none), or 0 for
 * an unknown node. */
uint64_t bckm_sets_reattach_ctr(const struct bckm_sets *s, uint32_t node_id);

/*
 * Validation of a REATTACH of node c->node_id to BP `bp` (the envelope's
 * origin, the new serving BP): the node is a member of c->set_id with that
 * code hash (BCKM_ERR_UNKNOWN / BCKM_ERR_MISMATCH), refresh is a counter
 * and zero padding (BCKM_ERR_FORMAT), the counter is above the node's last
 * one (BCKM_ERR_REPLAY) and `consent` is the node's signature of
 * (node, bp, counter) under the commitment the registry holds
 * (BCKM_ERR_AUTH). bp may be the serving BP already (the counter moves on,
 * so an older consent can no longer move the node away). Changes nothing.
 */
int bckm_sets_check_reattach(const struct bckm_sets *s, uint32_t bp, const struct bckm_tx *c,
                             const uint8_t consent[BCKM_SIG_BYTES]) BCKM_MUST_CHECK;

/*
 * Applies a REATTACH that bckm_sets_check_reattach accepted: the node's
 * serving BP becomes bp and its counter the one named. It opens no key
 * epoch (bckm_sets_epoch unchanged; plan->epoch is the current epoch and
 * every list in the plan is empty), runs no Reorder, and enters the
 * registry digest. On error nothing changes.
 */
int bckm_sets_apply_reattach(struct bckm_sets *s, uint32_t bp, const struct bckm_tx *c,
                             const uint8_t consent[BCKM_SIG_BYTES],
                             struct bckm_plan *plan) BCKM_MUST_CHECK;

/* Deterministic digest of the whole registry (part of the state hash). */
void bckm_sets_digest(const struct bckm_sets *s, uint8_t out[BCKM_HASH_BYTES]);

/* Debug/test: verifies every internal invariant; returns BCKM_OK or the
 * first broken one as BCKM_ERR_CORRUPT. */
int bckm_sets_audit(const struct bckm_sets *s) BCKM_MUST_CHECK;

#endif
