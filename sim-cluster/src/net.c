#include "sim/net.h"

#include <stdio.h>
#include <string.h>

#include "bckm/common.h"

/* lan: a switched LAN (0.2 ms one way). wan: 40 ms one way between sites.
 * tendermint: the delays of a local testbed with Tendermint's default
 * consensus timeouts (timeout_commit 1 s between blocks, timeout_propose
 * 3 s before the round moves on). */
static const bckm_sim_profile profiles[] = {
    { "lan", 200, 50, 2000, 1000, 50000, 20000, 10000, 1000, 200000 },
    { "wan", 40000, 10000, 80000, 100000, 1000000, 300000, 200000, 10000, 4000000 },
    { "tendermint", 1000, 200, 5000, 1000000, 3000000, 1000000, 500000, 10000, 10000000 },
};

const char *const bckm_sim_profile_names[] = { "lan", "wan", "tendermint", NULL };

const bckm_sim_profile *bckm_sim_profile_find(const char *name) {
    if (name == NULL) return NULL;
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++)
        if (strcmp(profiles[i].name, name) == 0) return &profiles[i];
    return NULL;
}

const char *bckm_sim_byz_name(int kind) {
    switch (kind) {
    case BCKM_BYZ_HONEST: return "honest";
    case BCKM_BYZ_SILENT: return "silent";
    case BCKM_BYZ_EQUIVOCATE: return "equivocate";
    case BCKM_BYZ_CENSOR: return "censor";
    case BCKM_BYZ_INVALID: return "invalid";
    case BCKM_BYZ_FORGE: return "forge";
    case BCKM_BYZ_MIXED: return "mixed";
    default: return "?";
    }
}

#define NUM_MAX 1000000000u

/* Decimal digits only, no sign, no leading '+', at most 10 digits. */
static int parse_u32(const char *s, size_t len, uint32_t *out) {
    if (len == 0 || len > 10) return BCKM_ERR_FORMAT;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return BCKM_ERR_FORMAT;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > NUM_MAX) return BCKM_ERR_FORMAT;
    *out = (uint32_t)v;
    return BCKM_OK;
}

int bckm_sim_ratio_parse(const char *s, size_t len, bckm_sim_ratio *out) {
    if (s == NULL || out == NULL) return BCKM_ERR_ARG;
    const char *slash = memchr(s, '/', len);
    if (slash == NULL) return BCKM_ERR_FORMAT;
    size_t nl = (size_t)(slash - s);
    bckm_sim_ratio r;
    if (parse_u32(s, nl, &r.num) != BCKM_OK) return BCKM_ERR_FORMAT;
    if (parse_u32(slash + 1, len - nl - 1, &r.den) != BCKM_OK) return BCKM_ERR_FORMAT;
    if (r.den == 0 || r.num > r.den) return BCKM_ERR_FORMAT;
    *out = r;
    return BCKM_OK;
}

static int fail(char *err, size_t errlen, const char *what, const char *item, size_t len) {
    if (err != NULL && errlen > 0) {
        int l = len > 60 ? 60 : (int)len;
        snprintf(err, errlen, "%s: '%.*s'", what, l, item);
    }
    return BCKM_ERR_FORMAT;
}

int bckm_sim_faults_parse(const char *spec, bckm_sim_faults *out, char *err, size_t errlen) {
    if (out == NULL) return BCKM_ERR_ARG;
    memset(out, 0, sizeof *out);
    out->byz_count = -1;
    if (err != NULL && errlen > 0) err[0] = '\0';
    if (spec == NULL) return BCKM_ERR_ARG;
    if (spec[0] == '\0' || strcmp(spec, "none") == 0) return BCKM_OK;
    bckm_sim_faults f;
    memset(&f, 0, sizeof f);
    f.byz_count = -1;
    unsigned seen = 0;
    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0) return fail(err, errlen, "empty item in fault spec", p, 0);
        const char *eq = memchr(p, '=', len);
        if (eq == NULL) return fail(err, errlen, "expected key=value", p, len);
        size_t kl = (size_t)(eq - p);
        const char *v = eq + 1;
        size_t vl = len - kl - 1;
        static const char *const keys[] = { "loss",  "dup", "reorder", "partition",
                                            "crash", "byz", "byzn" };
        int k = -1;
        for (int i = 0; i < 7; i++)
            if (strlen(keys[i]) == kl && memcmp(keys[i], p, kl) == 0) k = i;
        if (k < 0) return fail(err, errlen, "unknown fault key", p, kl);
        if (seen & (1u << k)) return fail(err, errlen, "repeated fault key", p, kl);
        seen |= 1u << k;
        if (k <= 4) {
            bckm_sim_ratio *dst[] = { &f.loss, &f.dup, &f.reorder, &f.partition, &f.crash };
            if (bckm_sim_ratio_parse(v, vl, dst[k]) != BCKM_OK)
                return fail(err, errlen, "bad ratio (want num/den, num <= den, den >= 1)", v, vl);
        } else if (k == 5) {
            int kind = -1;
            for (int i = BCKM_BYZ_SILENT; i <= BCKM_BYZ_MIXED; i++) {
                const char *name = bckm_sim_byz_name(i);
                if (strlen(name) == vl && memcmp(name, v, vl) == 0) kind = i;
            }
            if (kind < 0)
                return fail(err, errlen,
                            "unknown byz kind (silent|equivocate|censor|invalid|forge|mixed)", v,
                            vl);
            f.byz_kind = kind;
        } else {
            uint32_t n;
            if (parse_u32(v, vl, &n) != BCKM_OK || n > 255)
                return fail(err, errlen, "bad byzn (0..255)", v, vl);
            f.byz_count = (int)n;
        }
        if (end == NULL) break;
        p = end + 1;
    }
    if (f.byz_count > 0 && f.byz_kind == BCKM_BYZ_HONEST)
        return fail(err, errlen, "byzn given without byz", spec, strlen(spec));
    *out = f;
    return BCKM_OK;
}
