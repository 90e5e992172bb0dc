/*
 * Harness: the `--faults` specification parser of bckm-sim
 * (bckm_sim_faults_parse, bckm_sim_ratio_parse in sim-cluster/src/net.c).
 *
 * Input: arbitrary bytes; as a C string (cut at the first NUL) for the spec
 * parser, and as an unterminated (ptr, len) range for the ratio parser.
 * Oracles:
 *   - accepted: every ratio is absent (0/0) or has 1 <= den <= 10^9 and
 *     num <= den; the Byzantine kind is known, the count is -1 or 0..255 and
 *     a positive count comes with a kind; printing the result back in the
 *     spec syntax and parsing that gives the same struct (nothing is lost or
 *     invented), and parsing is deterministic;
 *   - rejected: BCKM_ERR_FORMAT, a non-empty reason, and *out reset to what
 *     an empty spec gives;
 *   - the reason is always NUL-terminated inside the buffer given, however
 *     short, and nothing is written past it (canary bytes);
 *   - the ratio parser never reads past len (ASan) and its result obeys the
 *     same bounds.
 */
#include "support/fuzz.h"

#include "bckm/common.h"
#include "sim/net.h"

#define FUZZ_FL_CANARY 0x7E

static int fuzz_fl_same(const bckm_sim_faults *a, const bckm_sim_faults *b) {
    const bckm_sim_ratio *ra[5] = { &a->loss, &a->dup, &a->reorder, &a->partition, &a->crash };
    const bckm_sim_ratio *rb[5] = { &b->loss, &b->dup, &b->reorder, &b->partition, &b->crash };
    for (int i = 0; i < 5; i++)
        if (ra[i]->num != rb[i]->num || ra[i]->den != rb[i]->den) return 0;
    return a->byz_kind == b->byz_kind && a->byz_count == b->byz_count;
}

static int fuzz_fl_ratio_ok(const bckm_sim_ratio *r) {
    if (r->den == 0) return r->num == 0;
    return r->den <= 1000000000u && r->num <= r->den;
}

/* Writes f back in the spec syntax. */
static void fuzz_fl_print(const bckm_sim_faults *f, char *out, size_t cap) {
    static const char *const names[5] = { "loss", "dup", "reorder", "partition", "crash" };
    const bckm_sim_ratio *r[5] = { &f->loss, &f->dup, &f->reorder, &f->partition, &f->crash };
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < 5; i++) {
        if (r[i]->den == 0) continue;
        len += (size_t)snprintf(out + len, cap - len, "%s%s=%u/%u", len ? "," : "", names[i],
                                r[i]->num, r[i]->den);
    }
    if (f->byz_kind != BCKM_BYZ_HONEST)
        len += (size_t)snprintf(out + len, cap - len, "%sbyz=%s", len ? "," : "",
                                bckm_sim_byz_name(f->byz_kind));
    if (f->byz_count != -1)
        len += (size_t)snprintf(out + len, cap - len, "%sbyzn=%d", len ? "," : "", f->byz_count);
    FUZZ_CHECK(len < cap);
}

static int fuzz_faults(const uint8_t *data, size_t size) {
    char *spec = malloc(size + 1);
    FUZZ_CHECK(spec != NULL);
    memcpy(spec, data, size);
    spec[size] = '\0';

    bckm_sim_faults none, f, again;
    char err[160];
    FUZZ_CHECK(bckm_sim_faults_parse("", &none, err, sizeof err) == BCKM_OK);

    memset(&f, 0xA5, sizeof f);
    memset(err, FUZZ_FL_CANARY, sizeof err);
    int rc = bckm_sim_faults_parse(spec, &f, err, 128);
    FUZZ_CHECK(memchr(err, '\0', 128) != NULL);
    for (size_t i = 128; i < sizeof err; i++) FUZZ_CHECK(err[i] == FUZZ_FL_CANARY);

    if (rc == BCKM_OK) {
        FUZZ_CHECK(fuzz_fl_ratio_ok(&f.loss) && fuzz_fl_ratio_ok(&f.dup) &&
                   fuzz_fl_ratio_ok(&f.reorder) && fuzz_fl_ratio_ok(&f.partition) &&
                   fuzz_fl_ratio_ok(&f.crash));
        FUZZ_CHECK(f.byz_kind >= BCKM_BYZ_HONEST && f.byz_kind <= BCKM_BYZ_MIXED);
        FUZZ_CHECK(f.byz_count >= -1 && f.byz_count <= 255);
        if (f.byz_count > 0) FUZZ_CHECK(f.byz_kind != BCKM_BYZ_HONEST);
        char printed[256];
        fuzz_fl_print(&f, printed, sizeof printed);
        FUZZ_CHECK(bckm_sim_faults_parse(printed, &again, err, sizeof err) == BCKM_OK);
        FUZZ_CHECK(fuzz_fl_same(&f, &again));
        FUZZ_CHECK(bckm_sim_faults_parse(spec, &again, NULL, 0) == BCKM_OK);
        FUZZ_CHECK(fuzz_fl_same(&f, &again));
    } else {
        FUZZ_CHECK(rc == BCKM_ERR_FORMAT);
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(fuzz_fl_same(&f, &none));
        /* A short reason buffer: truncated, terminated, nothing past it. */
        size_t small = 1 + size % 8;
        memset(err, FUZZ_FL_CANARY, sizeof err);
        FUZZ_CHECK(bckm_sim_faults_parse(spec, &again, err, small) == BCKM_ERR_FORMAT);
        FUZZ_CHECK(memchr(err, '\0', small) != NULL);
        for (size_t i = small; i < sizeof err; i++) FUZZ_CHECK(err[i] == FUZZ_FL_CANARY);
    }
    free(spec);

    /* The ratio parser on the raw, unterminated bytes, in an exact-size
     * heap copy so that any read past len is an ASan report. */
    uint8_t *raw = malloc(size ? size : 1);
    FUZZ_CHECK(raw != NULL);
    memcpy(raw, data, size);
    bckm_sim_ratio r = { 0, 0 };
    if (bckm_sim_ratio_parse((const char *)raw, size, &r) == BCKM_OK) {
        FUZZ_CHECK(r.den >= 1 && fuzz_fl_ratio_ok(&r));
    }
    free(raw);
    return 0;
}

FUZZ_ENTRY(fuzz_faults)
