/*
 * BCKM_ASSERT(cond, why): an invariant the code relies on, checked in every
 * build (NDEBUG does not remove it). A failed assertion is a bug in bckm,
 * never a reaction to bad input: input is refused with an error code. It
 * prints the condition, the reason and the place on stderr and aborts, so a
 * fuzzer, a sanitizer run or the swarm stops at the first broken invariant.
 *
 * Under Frama-C the failure function requires \false: WP must prove every
 * assertion's condition on every path that reaches it, so an assertion in
 * proven code is a proof obligation as well as a runtime check.
 */
#ifndef BCKM_ASSERT_H
#define BCKM_ASSERT_H

#if defined(__GNUC__) || defined(__clang__)
#define BCKM_NORETURN __attribute__((noreturn))
#else
#define BCKM_NORETURN
#endif

/*@ requires \false;
    assigns \nothing;
    ensures \false;
 */
BCKM_NORETURN void bckm_assert_fail(const char *cond, const char *why, const char *file, int line);

#define BCKM_ASSERT(cond, why)                                                                     \
    ((cond) ? (void)0 : bckm_assert_fail(#cond, (why), __FILE__, __LINE__))

/* A path the code's own logic rules out (an unreachable switch arm, a
 * reservation that cannot fail after its preflight). */
#define BCKM_UNREACHABLE(why) bckm_assert_fail("unreachable", (why), __FILE__, __LINE__)

#endif
