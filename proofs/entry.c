/*
 * The analysis entry point, compiled only under Frama-C (__FRAMAC__): calls
 * every proven function with unknown inputs, so that the proof of each
 * caller-side precondition covers what any caller could pass. WP proves this
 * main() like any other function of the proof set: every call below must
 * satisfy the contract of the function it calls.
 */
#ifdef __FRAMAC__
#include "__fc_builtin.h"

#include "bckm/common.h"
#include "bckm/sets.h"

/* Unknown bytes in a buffer (byte by byte: no pointer casts). */
/*@ requires \valid(buf + (0 .. len - 1));
    assigns buf[0 .. len - 1], Frama_C_entropy_source;
 */
static void unknown_bytes(uint8_t *buf, size_t len) {
    /*@ loop invariant 0 <= i <= len;
        loop assigns i, buf[0 .. len - 1], Frama_C_entropy_source;
        loop variant len - i; */
    for (size_t i = 0; i < len; i++)
        buf[i] = Frama_C_unsigned_char_interval(0, 255);
}

/*@ assigns \result, Frama_C_entropy_source \from Frama_C_entropy_source; */
static uint32_t any_u32(void) { return Frama_C_unsigned_int_interval(0u, 0xFFFFFFFFu); }

/*@ assigns Frama_C_entropy_source; */
static void entry_common(void) {
    uint8_t a[32], b[32];
    int e = Frama_C_interval(-20, 20);
    unknown_bytes(a, sizeof a);
    unknown_bytes(b, sizeof b);
    (void)bckm_strerror(e);
    (void)bckm_ct_equal(a, b, sizeof a);
    bckm_wipe(a, sizeof a);
    bckm_wipe(a, 0);
    (void)bckm_init();
}

/*@ assigns Frama_C_entropy_source; */
static void entry_helpers(void) {
    uint8_t b[8];
    uint32_t v32 = any_u32();
    uint64_t v64 = ((uint64_t)any_u32() << 32) | any_u32();
    uint16_t v16 = (uint16_t)Frama_C_unsigned_int_interval(0u, 0xFFFFu);
    unknown_bytes(b, sizeof b);
    bckm_put_u16(b, v16);
    (void)bckm_get_u16(b);
    bckm_put_u32(b, v32);
    (void)bckm_get_u32(b);
    bckm_put_u64(b, v64);
    (void)bckm_get_u64(b);
    (void)bckm_id_bp(bckm_id_make(Frama_C_unsigned_int_interval(0u, BCKM_MAX_BPS), v32));
}

/* A set table of unknown content and length (up to 8 sets). */
/*@ assigns Frama_C_entropy_source; */
static void entry_sets(void) {
    struct bckm_set_info sets[8];
    uint32_t count = Frama_C_unsigned_int_interval(0u, 8u);
    uint32_t idx, id;
    int fresh, e;
    /*@ loop invariant 0 <= i <= 8;
        loop assigns i, sets[0 .. 7], Frama_C_entropy_source;
        loop variant 8 - i; */
    for (uint32_t i = 0; i < 8; i++) {
        sets[i].id = any_u32();
        sets[i].owner = any_u32();
        sets[i].size = any_u32();
    }
    (void)bckm_sets_target(any_u32());
    (void)bckm_sets_pick_open(sets, count, any_u32(), any_u32(), any_u32(), &idx);
    e = bckm_sets_assign(sets, count, any_u32(), any_u32(), any_u32(), &id, &fresh);
    (void)e;
}

/*@ assigns Frama_C_entropy_source; */
int main(void) {
    entry_common();
    entry_helpers();
    entry_sets();
    return 0;
}
#endif
