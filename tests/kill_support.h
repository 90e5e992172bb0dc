/*
 * What the kill tests share (test_ledger_crash.c, test_km_crash.c): a
 * seeded generator for kill timing, a sleep, the child's height
 * acknowledgements through a pipe, and removing an LMDB directory.
 */
#ifndef BCKM_TEST_KILL_SUPPORT_H
#define BCKM_TEST_KILL_SUPPORT_H

#include "bckm/common.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* splitmix64 over *state. */
static inline uint64_t kill_rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline void kill_sleep_us(long us) {
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Reads one 8-byte acknowledged height; 0 at end of stream. */
static inline uint64_t kill_read_ack(int fd) {
    uint8_t b[8];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = read(fd, b + got, sizeof b - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        got += (size_t)r;
    }
    return bckm_get_u64(b);
}

/* Removes an LMDB environment directory (its two files, then it). */
static inline void kill_rm_store(const char *dir) {
    char p[128];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
}

#endif
