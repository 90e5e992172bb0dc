/* The CPU meter: what a handler costs a BP, as fixed model costs or as the
 * thread CPU time it used (measured). */
#include "cluster_internal.h"

#include <stdlib.h>
#include <time.h>

uint64_t cpu_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The CPU time of one Ed25519 verification on this machine: the median of
 * 15 timed runs of 8 (what a memoised verification is charged). */
uint64_t cpu_verify_cost_ns(void) {
    uint8_t pk[32], sk[64], sig[64], msg[96] = { 0 };
    uint64_t t[15];
    crypto_sign_keypair(pk, sk);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
    for (int r = 0; r < 15; r++) {
        uint64_t t0 = cpu_now_ns();
        for (int k = 0; k < 8; k++) {
            int bad = crypto_sign_verify_detached(sig, msg, sizeof msg, pk);
            BCKM_ASSERT(bad == 0, "a signature just made with this key pair verifies");
        }
        t[r] = (cpu_now_ns() - t0) / 8;
    }
    for (int i = 1; i < 15; i++)
        for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
            uint64_t x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    bckm_wipe(sk, sizeof sk);
    return t[7];
}

/* CPU time the current handler has used so far, in virtual microseconds. */
uint64_t cpu_elapsed_us(cluster_t *c) {
    if (c->p.cost != BCKM_SIM_COST_MEASURED) return c->cost;
    c->cpu_last = cpu_now_ns();
    uint64_t ns = c->cpu_last - c->t0_ns;
    ns = (ns > c->excl_ns ? ns - c->excl_ns : 0) + c->add_ns;
    return (ns + 999) / 1000;
}

/* A step of the key app: the CPU time since t0 (measured) or the model cost. */
uint64_t cpu_took_us(const cluster_t *c, uint64_t t0, uint64_t model) {
    return c->p.cost == BCKM_SIM_COST_MEASURED ? (cpu_now_ns() - t0 + 999) / 1000 : model;
}
