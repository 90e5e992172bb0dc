/*
 * Assignment and Reorder: the pure functions on a table of sets that decide
 * where a joiner goes and which set dissolves and where its members move.
 * They are what the proof covers (proofs/): they allocate nothing and read
 * and write only the table they are given. The registry (sets_registry.c)
 * keeps the table and carries their decisions out.
 */
#include "bckm/sets.h"

/* ---- pure algorithms ----------------------------------------------------- */

uint32_t bckm_sets_target(uint32_t n) {
    if (n == 0) return 1;
    /* Smallest r with r*r >= n; 65536^2 exceeds every uint32_t. */
    uint32_t lo = 1, hi = 65536;
    /*@ loop invariant 1 <= lo <= hi <= 65536;
        loop invariant (integer)hi * hi >= n;
        loop invariant ((integer)lo - 1) * (lo - 1) < n;
        loop assigns lo, hi;
        loop variant hi - lo; */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((uint64_t)mid * mid >= n)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int bckm_sets_pick_open(const struct bckm_set_info *sets, uint32_t count, uint32_t owner,
                        uint32_t cap, uint32_t skip, uint32_t *out) {
    int found = 0;
    uint32_t best = 0;
    /*@ loop invariant 0 <= i <= count;
        loop invariant found == 0 || found == 1;
        loop invariant found == 0 ==>
          \forall integer j; 0 <= j < i ==> !bckm_open(sets, j, owner, cap, skip);
        loop invariant found == 1 ==>
          0 <= best < i && bckm_open(sets, best, owner, cap, skip) &&
          \forall integer j; 0 <= j < i && bckm_open(sets, j, owner, cap, skip) ==>
            bckm_before(sets, best, j);
        loop assigns i, best, found;
        loop variant count - i; */
    for (uint32_t i = 0; i < count; i++) {
        if (i == skip || sets[i].owner != owner || sets[i].size >= cap) continue;
        if (!found || sets[i].size < sets[best].size ||
            (sets[i].size == sets[best].size && sets[i].id < sets[best].id)) {
            best = i;
            found = 1;
        }
    }
    if (found) *out = best;
    return found;
}

int bckm_sets_assign(const struct bckm_set_info *sets, uint32_t count, uint32_t owner,
                     uint32_t n_after, uint32_t next_counter, uint32_t *out_id, int *out_fresh) {
    uint32_t idx;
    if (owner > BCKM_MAX_BPS) return BCKM_ERR_ARG;
    if (bckm_sets_pick_open(sets, count, owner, bckm_sets_target(n_after), count, &idx)) {
        *out_id = sets[idx].id;
        *out_fresh = 0;
        return BCKM_OK;
    }
    if (next_counter == 0 || next_counter > BCKM_ID_COUNTER_MAX) return BCKM_ERR_NOMEM;
    *out_id = bckm_id_make(owner, next_counter);
    *out_fresh = 1;
    return BCKM_OK;
}

int bckm_sets_pick_dissolve(const struct bckm_set_info *sets, uint32_t count, uint32_t owner,
                            uint32_t n_owner, uint32_t cap, uint32_t *victim) {
    uint32_t owned = 0, best = 0;
    int found = 0;
    if (cap == 0) return 0;
    /*@ loop invariant 0 <= i <= count;
        loop invariant 0 <= owned <= i && owned == bckm_owned(sets, i, owner);
        loop invariant found == 0 || found == 1;
        loop invariant found == 0 ==>
          owned == 0 && \forall integer j; 0 <= j < i ==> sets[j].owner != owner;
        loop invariant found == 1 ==>
          0 <= best < i && sets[best].owner == owner &&
          \forall integer j; 0 <= j < i && sets[j].owner == owner ==>
            bckm_dissolve_before(sets, best, j);
        loop assigns i, owned, best, found;
        loop variant count - i; */
    for (uint32_t i = 0; i < count; i++) {
        if (sets[i].owner != owner) continue;
        owned++;
        if (!found || sets[i].size < sets[best].size ||
            (sets[i].size == sets[best].size && sets[i].id > sets[best].id)) {
            best = i;
            found = 1;
        }
    }
    uint32_t need = n_owner / cap + (n_owner % cap != 0 ? 1u : 0u);
    /* owned > need + 1, written so that nothing can overflow. */
    if (!found || owned <= need || owned - need <= 1) return 0;
    *victim = best;
    return 1;
}

/* One move of a plan: member k goes to set y. Its own function so that
 * the proof that the earlier moves are unchanged stays small. */
/*@ requires k < m && y < count;
    requires \valid(sets + (0 .. count - 1)) && \valid(dest + (0 .. m - 1));
    requires \separated(dest + (0 .. m - 1), sets + (0 .. count - 1));
    requires bckm_open(sets, y, owner, cap, victim);
    assigns dest[k], sets[y].size;
    ensures bckm_room(sets, count, owner, cap, victim) ==
      \old(bckm_room(sets, count, owner, cap, victim)) - 1;
    ensures dest[k] == y;
    ensures sets[y].size == \old(sets[y].size) + 1;
    ensures \forall integer j, i; 0 <= j <= k ==>
      bckm_moved_to(dest, j, i) == \old(bckm_moved_to(dest, j, i));
    ensures \forall integer i;
      bckm_moved_to(dest, k + 1, i) == \old(bckm_moved_to(dest, k, i)) + (y == i ? 1 : 0);
 */
static void record_move(struct bckm_set_info *sets, uint32_t count, uint32_t owner, uint32_t cap,
                        uint32_t victim, uint32_t *dest, uint32_t m, uint32_t k, uint32_t y) {
    (void)count;
    (void)owner;
    (void)cap;
    (void)victim;
    (void)m;
    dest[k] = y;
    sets[y].size++;
    /* The moves before k read as they did before the two writes: a loop
     * that only carries the proof from each prefix to the next (the
     * provers do no induction by themselves). */
    /*@ ghost
      /@ loop invariant 0 <= g <= k;
         loop invariant \forall integer j, i; 0 <= j <= g ==>
           bckm_moved_to(dest, j, i) == \at(bckm_moved_to(dest, j, i), Pre);
         loop assigns g;
         loop variant k - g; @/
      for (uint32_t g = 0; g < k; g++) ;
    */
    /* The same for the free room, set by set: only set y's share changed,
     * by one (it was open; cap - size falls by one, and is 0 when full). */
    /*@ ghost
      /@ loop invariant 0 <= i <= count;
         loop invariant bckm_room(sets, i, owner, cap, victim) ==
           bckm_room{Pre}(sets, i, owner, cap, victim) - (y < i ? 1 : 0);
         loop assigns i;
         loop variant count - i; @/
      for (uint32_t i = 0; i < count; i++) ;
    */
}

/* Takes back the first k moves of a plan, newest first. */
void bckm_sets_undo_moves(struct bckm_set_info *sets, uint32_t count, const uint32_t *dest,
                          uint32_t m, uint32_t k) {
    (void)count;
    (void)m;
    /*@ loop invariant 0 <= u <= k;
        loop invariant \forall integer j; 0 <= j < k ==> dest[j] == \at(dest[j], Pre);
        loop invariant \forall integer i; 0 <= i < count ==>
          sets[i].size == \at(sets[i].size, Pre) - bckm_moved_to{Pre}(dest, k, i) +
                          bckm_moved_to{Pre}(dest, u, i);
        loop assigns u, sets[0 .. count - 1].size;
        loop variant u; */
    for (uint32_t u = k; u > 0; u--) {
        /*@ assert \forall integer i; bckm_moved_to{Pre}(dest, u, i) ==
              bckm_moved_to{Pre}(dest, u - 1, i) + (dest[u - 1] == i ? 1 : 0); */
        /*@ assert sets[dest[u - 1]].size >= 1; */
        sets[dest[u - 1]].size--;
    }
}

int bckm_sets_plan_moves(struct bckm_set_info *sets, uint32_t count, uint32_t owner, uint32_t cap,
                         uint32_t victim, uint32_t *dest, uint32_t m) {
    uint32_t y = 0;
    /*@ loop invariant k_range: 0 <= k <= m;
        loop invariant dests: \forall integer j; 0 <= j < k ==>
          0 <= dest[j] < count && dest[j] != victim && sets[dest[j]].owner == owner;
        loop invariant sizes: \forall integer i; 0 <= i < count ==>
          sets[i].size == \at(sets[i].size, Pre) + bckm_moved_to(dest, k, i);
        loop invariant nonneg: \forall integer j, i; 0 <= j <= k ==> bckm_moved_to(dest, j, i) >= 0;
        loop invariant capped: \forall integer i; 0 <= i < count &&
          bckm_moved_to(dest, k, i) > 0 ==> sets[i].size <= cap;
        loop invariant room: bckm_room(sets, count, owner, cap, victim) ==
          \at(bckm_room(sets, count, owner, cap, victim), Pre) - k;
        loop invariant was_open: \forall integer j; 0 <= j < k ==>
          bckm_size_after{Here, Pre}(sets, dest, j, dest[j]) < cap;
        loop invariant was_first: \forall integer j, q; 0 <= j < k && 0 <= q < count && q != victim &&
            sets[q].owner == owner && bckm_size_after{Here, Pre}(sets, dest, j, q) < cap ==>
          bckm_size_after{Here, Pre}(sets, dest, j, dest[j]) <
            bckm_size_after{Here, Pre}(sets, dest, j, q) ||
          (bckm_size_after{Here, Pre}(sets, dest, j, dest[j]) ==
             bckm_size_after{Here, Pre}(sets, dest, j, q) &&
           sets[dest[j]].id <= sets[q].id);
        loop assigns k, y, sets[0 .. count - 1].size, dest[0 .. m - 1];
        loop variant m - k; */
    for (uint32_t k = 0; k < m; k++) {
    Head:
        __attribute__((unused));
        if (!bckm_sets_pick_open(sets, count, owner, cap, victim, &y)) {
            /* No open set left, so no room left: the room at the start was
             * the k moves made (a ghost loop sums the empty shares). */
            /*@ ghost
              /@ loop invariant 0 <= i <= count;
                 loop invariant bckm_room(sets, i, owner, cap, victim) == 0;
                 loop assigns i;
                 loop variant count - i; @/
              for (uint32_t i = 0; i < count; i++) ;
            */
            /*@ assert no_room: \at(bckm_room(sets, count, owner, cap, victim), Pre) == k; */
            bckm_sets_undo_moves(sets, count, dest, m, k);
            return 0;
        }
        /*@ assert picked: y != victim && sets[y].owner == owner && sets[y].size < cap &&
              \forall integer q; 0 <= q < count && q != victim && sets[q].owner == owner &&
                sets[q].size < cap ==>
                sets[y].size < sets[q].size ||
                (sets[y].size == sets[q].size && sets[y].id <= sets[q].id); */
        /*@ assert at_call: \forall integer i; 0 <= i < count ==>
              sets[i].size == bckm_size_after{Head, Pre}(sets, dest, k, i); */
        record_move(sets, count, owner, cap, victim, dest, m, k, y);
        /*@ assert sizes_now: \forall integer i; 0 <= i < count ==>
              sets[i].size == \at(sets[i].size, Head) + (i == y ? 1 : 0); */
        /*@ assert earlier_same: \forall integer j, i; 0 <= j <= k ==>
              bckm_size_after{Here, Pre}(sets, dest, j, i) ==
              bckm_size_after{Head, Pre}(sets, dest, j, i); */
        /*@ assert earlier_dests: \forall integer j; 0 <= j < k ==>
              dest[j] == \at(dest[j], Head) && sets[dest[j]].id == \at(sets[dest[j]].id, Head); */
        /*@ assert dests_now: \forall integer j; 0 <= j <= k ==>
              0 <= dest[j] < count && dest[j] != victim && sets[dest[j]].owner == owner; */
        /*@ assert after_move: \forall integer i; 0 <= i < count ==>
              bckm_size_after{Here, Pre}(sets, dest, k, i) == bckm_size_after{Head, Pre}(sets, dest, k, i); */
        /*@ assert moved_next: \forall integer i;
              bckm_moved_to(dest, k + 1, i) == bckm_moved_to{Head}(dest, k, i) + (y == i ? 1 : 0); */
        /*@ assert sizes_next: \forall integer i; 0 <= i < count ==>
              sets[i].size == \at(sets[i].size, Pre) + bckm_moved_to(dest, k + 1, i); */
        /*@ assert y_open: bckm_size_after{Here, Pre}(sets, dest, k, y) < cap; */
        /*@ assert y_first: \forall integer q; 0 <= q < count && q != victim &&
              sets[q].owner == owner && bckm_size_after{Here, Pre}(sets, dest, k, q) < cap ==>
              bckm_size_after{Here, Pre}(sets, dest, k, y) < bckm_size_after{Here, Pre}(sets, dest, k, q) ||
              (bckm_size_after{Here, Pre}(sets, dest, k, y) == bckm_size_after{Here, Pre}(sets, dest, k, q) &&
               sets[y].id <= sets[q].id); */
    }
    /* The room left is not negative (a ghost loop sums the shares), so the
     * room at the start was at least the m moves. */
    /*@ ghost
      /@ loop invariant 0 <= i <= count;
         loop invariant bckm_room(sets, i, owner, cap, victim) >= 0;
         loop assigns i;
         loop variant count - i; @/
      for (uint32_t i = 0; i < count; i++) ;
    */
    return 1;
}

/*@
    // The members in owner's sets among sets[0 .. n) (the registry keeps
    // this as n_owner), and the number and members of owner's sets other
    // than skip.
    logic integer bckm_owned_size{L}(struct bckm_set_info *sets, integer n, integer owner) =
        n <= 0 ? 0 :
        bckm_owned_size(sets, n - 1, owner) +
          (sets[n - 1].owner == owner ? sets[n - 1].size : 0);
    logic integer bckm_others{L}(struct bckm_set_info *sets, integer n,
                                 integer owner, integer skip) =
        n <= 0 ? 0 :
        bckm_others(sets, n - 1, owner, skip) +
          (n - 1 != skip && sets[n - 1].owner == owner ? 1 : 0);
    logic integer bckm_others_size{L}(struct bckm_set_info *sets, integer n,
                                      integer owner, integer skip) =
        n <= 0 ? 0 :
        bckm_others_size(sets, n - 1, owner, skip) +
          (n - 1 != skip && sets[n - 1].owner == owner ? sets[n - 1].size : 0);
    // The sum of cap - size over owner's sets other than skip, full or not
    // (so at most the free room).
    logic integer bckm_slack{L}(struct bckm_set_info *sets, integer n,
                                integer owner, integer cap, integer skip) =
        n <= 0 ? 0 :
        bckm_slack(sets, n - 1, owner, cap, skip) +
          (n - 1 != skip && sets[n - 1].owner == owner ? cap - sets[n - 1].size : 0);

    // ceil(n / s) sets of s hold n.
    lemma bckm_ceil_div_covers: \forall integer n, s; 0 <= n && 1 <= s ==>
        n <= bckm_ceil_div(n, s) * s;
    // More than c sets of s, where c * s already holds n, hold more than n.
    lemma bckm_over_bound_room: \forall integer n, s, c, o;
        0 <= n && 1 <= s && n <= c * s && o > c ==> o * s > n;
 */

/*
 * Reorder always has the room (spec/protocol.md 2.3), as a theorem: when
 * the owner holds more than ceil(n_owner / cap) + 1 sets, the condition
 * under which bckm_sets_pick_dissolve dissolves one, the free room of its
 * other sets exceeds the size of any one of its sets. So
 * bckm_sets_plan_moves, which succeeds exactly when that room is at least
 * the victim's size, never fails on Reorder's victim. A ghost function:
 * never compiled, its contract is the statement and its body the proof
 * (the loop carries the sums over sets[0 .. i) from each i to the next).
 * n_owner is the registry's count of the owner's members, which its audit
 * checks against the sum of the set sizes.
 */
/*@ ghost
  /@ requires victim < count && 1 <= cap;
     requires \valid_read(sets + (0 .. count - 1));
     requires sets[victim].owner == owner;
     requires n_owner == bckm_owned_size(sets, count, owner);
     requires bckm_owned(sets, count, owner) > bckm_ceil_div(n_owner, cap) + 1;
     assigns \nothing;
     ensures bckm_room(sets, count, owner, cap, victim) > sets[victim].size; @/
  void bckm_room_suffices(const struct bckm_set_info *sets, uint32_t count, uint32_t owner,
                          uint32_t n_owner, uint32_t cap, uint32_t victim) {
    uint32_t i;
    /@ assert bckm_others(sets, 0, owner, victim) == 0 &&
              bckm_others_size(sets, 0, owner, victim) == 0 &&
              bckm_slack(sets, 0, owner, cap, victim) == 0 &&
              bckm_room(sets, 0, owner, cap, victim) == 0 &&
              bckm_owned(sets, 0, owner) == 0 && bckm_owned_size(sets, 0, owner) == 0; @/
    /@ loop invariant 0 <= i <= count;
       loop invariant bckm_room(sets, i, owner, cap, victim) >=
         bckm_slack(sets, i, owner, cap, victim);
       loop invariant bckm_slack(sets, i, owner, cap, victim) ==
         bckm_others(sets, i, owner, victim) * cap - bckm_others_size(sets, i, owner, victim);
       loop invariant bckm_others(sets, i, owner, victim) ==
         bckm_owned(sets, i, owner) - (victim < i ? 1 : 0);
       loop invariant bckm_others_size(sets, i, owner, victim) ==
         bckm_owned_size(sets, i, owner) - (victim < i ? sets[victim].size : 0);
       loop assigns i;
       loop variant count - i; @/
    for (i = 0; i < count; i++) {
      /@ assert bckm_others(sets, i + 1, owner, victim) ==
                bckm_others(sets, i, owner, victim) +
                (i != victim && sets[i].owner == owner ? 1 : 0); @/
      /@ assert bckm_others_size(sets, i + 1, owner, victim) ==
                bckm_others_size(sets, i, owner, victim) +
                (i != victim && sets[i].owner == owner ? sets[i].size : 0); @/
      /@ assert bckm_slack(sets, i + 1, owner, cap, victim) ==
                bckm_slack(sets, i, owner, cap, victim) +
                (i != victim && sets[i].owner == owner ? cap - sets[i].size : 0); @/
      /@ assert (bckm_others(sets, i, owner, victim) + 1) * cap ==
                bckm_others(sets, i, owner, victim) * cap + cap; @/
    }
    /@ assert i == count; @/
    /@ assert bckm_others(sets, i, owner, victim) == bckm_owned(sets, i, owner) - 1; @/
    /@ assert bckm_owned(sets, i, owner) == bckm_owned(sets, count, owner); @/
    /@ assert bckm_others_size(sets, i, owner, victim) == n_owner - sets[victim].size; @/
    /@ assert n_owner <= bckm_ceil_div(n_owner, cap) * cap; @/
    /@ assert bckm_others(sets, i, owner, victim) > bckm_ceil_div(n_owner, cap); @/
    /@ assert bckm_others(sets, i, owner, victim) * cap > n_owner; @/
    /@ assert bckm_room(sets, i, owner, cap, victim) > sets[victim].size; @/
    /@ assert bckm_room(sets, count, owner, cap, victim) ==
              bckm_room(sets, i, owner, cap, victim); @/
  }
*/
