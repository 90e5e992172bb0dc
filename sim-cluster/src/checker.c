#include "sim/checker.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bckm/common.h"
#include "sim/mempool.h"

static void violation(bckm_sim_checker *ck, const char *fmt, ...) {
    if (ck->violated) return;
    ck->violated = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ck->msg, sizeof ck->msg, fmt,
              ap); // NOLINT(clang-analyzer-valist.Uninitialized): va_start is the line above
    va_end(ap);
}

int bckm_sim_checker_init(bckm_sim_checker *ck, uint32_t n, const uint8_t (*pk)[32],
                          bckm_sim_app ref) {
    if (ck == NULL || n == 0 || n > BCKM_SIM_MAX_BPS || ref.self == NULL) return BCKM_ERR_ARG;
    memset(ck, 0, sizeof *ck);
    ck->n = n;
    /* Two quorums must share f+1 BPs (one of them correct) whatever n is:
     * q = floor((n+f)/2)+1, which is 2f+1 when n = 3f+1. */
    ck->q = (n + (n - 1) / 3) / 2 + 1;
    memcpy(ck->pk, pk, (size_t)n * 32);
    ck->ref = ref;
    bckm_u64set_init(&ck->submitted);
    bckm_u64set_init(&ck->executed_ok);
    bckm_u64set_init(&ck->sigs_ok);
    return BCKM_OK;
}

uint64_t bckm_sim_accepted_key(const uint8_t pk[32], const uint8_t *m, size_t mlen,
                               const uint8_t sig[64]) {
    uint8_t key[8];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof key);
    crypto_generichash_update(&st, pk, 32);
    crypto_generichash_update(&st, m, mlen);
    crypto_generichash_update(&st, sig, 64);
    crypto_generichash_final(&st, key, sizeof key);
    return bckm_get_u64(key);
}

void bckm_sim_checker_accepted(bckm_sim_checker *ck, const bckm_u64set *accepted) {
    ck->accepted = accepted;
}

void bckm_sim_checker_free(bckm_sim_checker *ck) {
    for (uint64_t i = 0; i < ck->canon_len; i++) {
        free(ck->canon_results[i]);
        bckm_sim_block_free(ck->canon_block[i]);
    }
    free(ck->canon_digest);
    free(ck->canon_state);
    free(ck->canon_results);
    free(ck->canon_block);
    free(ck->replies);
    bckm_u64set_free(&ck->submitted);
    bckm_u64set_free(&ck->executed_ok);
    bckm_u64set_free(&ck->sigs_ok);
    if (ck->ref.self) ck->ref.ops->destroy(ck->ref.self);
    memset(ck, 0, sizeof *ck);
}

void bckm_sim_checker_submitted(bckm_sim_checker *ck, const uint8_t *tx, size_t len) {
    (void)bckm_u64set_add(&ck->submitted, bckm_sim_tx_hash(tx, len));
}

void bckm_sim_checker_reply(bckm_sim_checker *ck, uint32_t bp, const uint8_t *tx, size_t len,
                            uint64_t height) {
    if (ck->nreplies == ck->replies_cap) {
        size_t ncap = ck->replies_cap ? ck->replies_cap * 2 : 64;
        bckm_sim_reply *r = realloc(ck->replies, ncap * sizeof *r);
        if (r == NULL) abort();
        ck->replies = r;
        ck->replies_cap = ncap;
    }
    ck->replies[ck->nreplies++] = (bckm_sim_reply){ bp, bckm_sim_tx_hash(tx, len), height };
}

/* A COMMIT signature is over core's commit message (bckm_commit_message:
 * height, view, block hash), so the q of a block are its core certificate. */
static int commit_sig_ok(bckm_sim_checker *ck, uint32_t signer, uint64_t view, uint64_t height,
                         const uint8_t digest[32], const uint8_t sig[64]) {
    uint8_t m[BCKM_COMMIT_MSG_BYTES];
    bckm_commit_message(height, view, digest, m);
    /* Each distinct (signer, statement, signature) is verified once. */
    uint8_t key[8];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof key);
    crypto_generichash_update(&st, m, sizeof m);
    crypto_generichash_update(&st, sig, 64);
    crypto_generichash_final(&st, key, sizeof key);
    uint64_t k = bckm_get_u64(key);
    if (bckm_u64set_has(&ck->sigs_ok, k)) return 1;
    if (ck->accepted != NULL &&
        bckm_u64set_has(ck->accepted, bckm_sim_accepted_key(ck->pk[signer], m, sizeof m, sig))) {
        (void)bckm_u64set_add(&ck->sigs_ok, k);
        return 1;
    }
    ck->sigs_checked++;
    if (crypto_sign_verify_detached(sig, m, sizeof m, ck->pk[signer]) != 0) return 0;
    (void)bckm_u64set_add(&ck->sigs_ok, k);
    return 1;
}

/* gcc -fanalyzer (GCC 12) reports res as leaked: a false positive, it is
 * stored in ck->canon_results[]. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
/* Re-executes the next block of the agreed chain on the reference app. */
static void extend_canon(bckm_sim_checker *ck, uint32_t bp, const bckm_sim_block *b,
                         const uint8_t *status, const uint8_t digest[32]) {
    if (ck->canon_len == ck->canon_cap) {
        uint64_t ncap = ck->canon_cap ? ck->canon_cap * 2 : 64;
        void *a = realloc(ck->canon_digest, ncap * 32), *s = realloc(ck->canon_state, ncap * 32);
        if (a) ck->canon_digest = a;
        if (s) ck->canon_state = s;
        void *c = realloc(ck->canon_results, ncap * sizeof *ck->canon_results);
        if (c) ck->canon_results = c;
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of block pointers, so sizeof a pointer
        void *d = realloc(ck->canon_block, ncap * sizeof *ck->canon_block);
        if (d) ck->canon_block = d;
        if (!a || !s || !c || !d) abort();
        ck->canon_cap = ncap;
    }
    uint64_t h = b->h.height;
    uint8_t *res = calloc(b->h.n_txs ? b->h.n_txs : 1, 1);
    if (res == NULL) abort();
    const bckm_sim_app *app = &ck->ref;
    app->ops->begin_block(app->self, h);
    uint32_t off = 0, i = 0;
    const uint8_t *tx;
    size_t len;
    int rc;
    while ((rc = bckm_sim_block_next_tx(b, &off, &tx, &len)) == 1) {
        uint64_t th = bckm_sim_tx_hash(tx, len);
        if (!bckm_u64set_has(&ck->submitted, th))
            violation(ck, "height %llu (BP %u): tx %u was never submitted by a client",
                      (unsigned long long)h, bp, i);
        int r = app->ops->deliver_tx(app->self, tx, len);
        res[i] = (uint8_t)(r < 0 ? 255 : (r > 254 ? 254 : r));
        if (r == BCKM_SIM_TX_OK) {
            uint64_t id = app->ops->tx_id(app->self, tx, len);
            if (bckm_u64set_add(&ck->executed_ok, id) == 0)
                violation(ck, "height %llu: tx id %llu executed twice", (unsigned long long)h,
                          (unsigned long long)id);
        }
        if (i < b->h.n_txs && res[i] != status[i])
            violation(ck, "height %llu (BP %u): tx %u result %u, reference says %u",
                      (unsigned long long)h, bp, i, status[i], res[i]);
        i++;
    }
    if (rc < 0 || i != b->h.n_txs)
        violation(ck, "height %llu (BP %u): malformed tx list", (unsigned long long)h, bp);
    uint8_t state[32];
    app->ops->commit(app->self, state);
    /* (The BPs' state after h is checked on the header of h + 1.) */
    uint64_t k = ck->canon_len++;
    memcpy(ck->canon_digest[k], digest, 32);
    memcpy(ck->canon_state[k], state, 32);
    ck->canon_results[k] = res;
    ck->canon_block[k] = bckm_sim_block_dup(b);
    if (ck->canon_block[k] == NULL) abort();
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* Reads height h of BP bp's ledger: the block, its digest, certificate
 * and status bytes. 0 (and a violation) when it cannot be read. */
static int read_entry(bckm_sim_checker *ck, uint32_t bp, bckm_ledger *l, uint64_t h,
                      bckm_sim_block **b, uint8_t digest[32], struct bckm_cert *cert,
                      uint8_t *status) {
    uint8_t cbuf[BCKM_CERT_MAX_BYTES];
    size_t len = 0, clen = 0, slen = 0;
    int e = bckm_ledger_get_block(l, h, NULL, 0, &len);
    uint8_t *buf = (e == BCKM_OK || e == BCKM_ERR_NOMEM) ? malloc(len ? len : 1) : NULL;
    if (buf == NULL) abort();
    e = bckm_ledger_get_block(l, h, buf, len, &len);
    if (e == BCKM_OK) e = bckm_sim_block_decode(buf, len, b);
    free(buf);
    if (e == BCKM_OK && (e = bckm_sim_block_digest(*b, digest)) != BCKM_OK) {
        bckm_sim_block_free(*b);
        *b = NULL;
    }
    if (e == BCKM_OK) e = bckm_ledger_get_cert(l, h, cbuf, sizeof cbuf, &clen);
    if (e == BCKM_OK) e = bckm_cert_decode(cbuf, clen, cert);
    if (e == BCKM_OK) e = bckm_ledger_get_status(l, h, status, BCKM_BLOCK_MAX_TXS, &slen);
    if (e == BCKM_OK && slen != (*b)->h.n_txs) e = BCKM_ERR_CORRUPT;
    if (e != BCKM_OK) {
        if (*b != NULL) bckm_sim_block_free(*b);
        *b = NULL;
        violation(ck, "BP %u: ledger height %llu unreadable: %s", bp, (unsigned long long)h,
                  bckm_strerror(e));
        return 0;
    }
    return 1;
}

static void check_entry(bckm_sim_checker *ck, uint32_t bp, bckm_ledger *l, uint64_t h) {
    static const uint8_t zero[32];
    static struct bckm_cert cert; /* 17 KB: not on the stack */
    static uint8_t status[BCKM_BLOCK_MAX_TXS];
    bckm_sim_block *b = NULL;
    uint8_t d[32];
    if (!read_entry(ck, bp, l, h, &b, d, &cert, status)) return;
    if (b->h.height != h) {
        violation(ck, "BP %u: entry %llu has a wrong height", bp, (unsigned long long)h);
        goto out;
    }
    if (memcmp(b->h.prev_hash, h > 1 ? ck->last_digest[bp] : zero, 32) != 0) {
        violation(ck, "BP %u: hash chain broken at height %llu", bp, (unsigned long long)h);
        goto out;
    }
    uint8_t seen[BCKM_SIM_MAX_BPS] = { 0 };
    uint32_t good = 0;
    if (cert.height != h || memcmp(cert.block_hash, d, 32) != 0) {
        violation(ck, "BP %u: the certificate at height %llu is for another block", bp,
                  (unsigned long long)h);
        goto out;
    }
    for (uint32_t i = 0; i < cert.count && i < BCKM_SIM_MAX_BPS; i++) {
        uint32_t bpid = cert.sigs[i].bp;
        if (bpid == 0 || bpid > ck->n || seen[bpid - 1]) continue;
        if (!commit_sig_ok(ck, bpid - 1, cert.view, h, d, cert.sigs[i].sig)) continue;
        seen[bpid - 1] = 1;
        good++;
    }
    if (good < ck->q) {
        violation(ck, "BP %u: height %llu has %u valid certificate signatures, need %u", bp,
                  (unsigned long long)h, good, ck->q);
        goto out;
    }
    if (h > ck->canon_len + 1) {
        violation(ck, "checker: BP %u skipped to height %llu", bp, (unsigned long long)h);
        goto out;
    }
    /* The header carries the state before the block: the reference's after h - 1. */
    if (memcmp(b->h.state_hash, h > 1 ? ck->canon_state[h - 2] : zero, 32) != 0)
        violation(ck, "BP %u: the state before height %llu differs from the reference execution",
                  bp, (unsigned long long)h);
    if (h <= ck->canon_len) {
        if (memcmp(ck->canon_digest[h - 1], d, 32) != 0) {
            violation(ck, "fork: honest BP %u committed a different block at height %llu", bp,
                      (unsigned long long)h);
            goto out;
        }
        if (memcmp(ck->canon_results[h - 1], status, b->h.n_txs) != 0)
            violation(ck, "BP %u: tx results at height %llu differ from the other BPs", bp,
                      (unsigned long long)h);
    } else {
        extend_canon(ck, bp, b, status, d);
    }
    memcpy(ck->last_digest[bp], d, 32);
    ck->blocks_checked++;
out:
    bckm_sim_block_free(b);
}

static void check_replies(bckm_sim_checker *ck) {
    size_t w = 0;
    for (size_t i = 0; i < ck->nreplies; i++) {
        bckm_sim_reply r = ck->replies[i];
        if (r.height == 0 || r.height > ck->canon_len) {
            if (r.height == 0) violation(ck, "BP %u replied success at height 0", r.bp);
            ck->replies[w++] = r;
            continue;
        }
        const bckm_sim_block *b = ck->canon_block[r.height - 1];
        uint32_t off = 0, k = 0;
        const uint8_t *tx;
        size_t len;
        int found = 0;
        while (bckm_sim_block_next_tx(b, &off, &tx, &len) == 1) {
            if (bckm_sim_tx_hash(tx, len) == r.tx_hash && ck->canon_results[r.height - 1][k] == 0)
                found = 1;
            k++;
        }
        if (!found)
            violation(ck, "BP %u replied commit success for a tx not executed at height %llu", r.bp,
                      (unsigned long long)r.height);
        ck->replies_checked++;
    }
    ck->nreplies = w;
}

int bckm_sim_checker_step(bckm_sim_checker *ck, bckm_ledger *const *ledgers,
                          const uint8_t *honest) {
    if (ck->violated) return 1;
    for (uint32_t bp = 0; bp < ck->n && !ck->violated; bp++) {
        if (!honest[bp]) continue;
        bckm_ledger *l = ledgers[bp];
        while (l != NULL && ck->checked[bp] < bckm_ledger_height(l) && !ck->violated) {
            check_entry(ck, bp, l, ck->checked[bp] + 1);
            ck->checked[bp]++;
        }
    }
    if (!ck->violated) check_replies(ck);
    return ck->violated;
}
