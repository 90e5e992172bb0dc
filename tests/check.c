#include "check.h"

#include <ctype.h>

int check_failures_ = 0;
int check_count_ = 0;

int check_small(void) {
    const char *s = getenv("BCKM_TEST_SCALE");
    return s != NULL && strcmp(s, "small") == 0;
}

int check_run(const char *suite, const check_case *cases, size_t n) {
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        int f0 = check_failures_, c0 = check_count_;
        cases[i].fn();
        int ok = check_failures_ == f0 && check_count_ > c0;
        if (check_count_ == c0) fprintf(stderr, "%s: made no check\n", cases[i].name);
        printf("%s %s: %s (%d checks)\n", ok ? "PASS" : "FAIL", suite, cases[i].name,
               check_count_ - c0);
        if (ok)
            passed++;
        else
            failed++;
    }
    printf("RESULT passed=%d failed=%d\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

unsigned char *check_exact_copy(const unsigned char *buf, size_t len) {
    unsigned char *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL) {
        fprintf(stderr, "check_exact_copy: out of memory\n");
        exit(2);
    }
    if (len > 0) memcpy(copy, buf, len);
    return copy;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long check_vector(const char *path, const char *name, unsigned char *out, size_t cap) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "cannot open vector file %s\n", path);
        return -1;
    }
    char line[65536];
    size_t nl = strlen(name);
    long result = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, name, nl) != 0) continue;
        char *p = line + nl;
        while (*p == ' ') p++;
        if (*p != '=') continue;
        p++;
        while (*p == ' ') p++;
        size_t len = 0;
        while (isxdigit((unsigned char)p[0]) && isxdigit((unsigned char)p[1])) {
            if (len >= cap) {
                fclose(f);
                return -1;
            }
            out[len++] = (unsigned char)(hexval(p[0]) * 16 + hexval(p[1]));
            p += 2;
        }
        result = (long)len;
        break;
    }
    fclose(f);
    if (result < 0) fprintf(stderr, "vector %s not found in %s\n", name, path);
    return result;
}
