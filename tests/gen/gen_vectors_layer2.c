/*
 * Writes the Layer 2 known-answer vectors from the fixed inputs of
 * tests/layer2_fixtures.h. Run once (make BUILD=... vectors-layer2, see
 * mk/layer2.mk) when a format changes on purpose; the tests then compare
 * against the committed files byte for byte.
 * Usage: gen_vectors_layer2 tx|envelope|block > spec/vectors/<name>.txt
 */
#include <stdio.h>
#include <string.h>

#include "layer2_fixtures.h"

static void hexline(const char *name, const uint8_t *p, size_t n) {
    printf("%s = ", name);
    for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
    printf("\n");
}

static int gen_tx(void) {
    static const char *names[3] = { "tx_join", "tx_leave", "tx_evict" };
    printf("# 57-byte transactions (spec/layer2-formats.md, section 1).\n");
    printf("# Inputs: tests/layer2_fixtures.h fix_tx(k), k = 0 (join), 1 (leave), 2 (evict).\n");
    for (unsigned k = 0; k < 3; k++) {
        struct bckm_tx tx;
        uint8_t out[BCKM_TX_BYTES];
        fix_tx(k, &tx);
        if (bckm_tx_encode(&tx, out) != BCKM_OK) return 1;
        hexline(names[k], out, sizeof out);
    }
    {
        struct bckm_envelope env;
        uint8_t out[BCKM_TX_BYTES];
        printf("# tx_reattach: the transaction of fix_reattach (op 4; refresh = counter 3 || 8 "
               "zero bytes).\n");
        if (fix_reattach(&env, NULL) != BCKM_OK || bckm_tx_encode(&env.tx, out) != BCKM_OK)
            return 1;
        hexline("tx_reattach", out, sizeof out);
    }
    return 0;
}

static int gen_envelope(void) {
    static const char *names[3] = { "envelope_0", "envelope_1", "envelope_2" };
    printf("# Signed envelopes (spec/layer2-formats.md, section 2).\n");
    printf("# Inputs: fix_envelope(k): BP k+1, sequence 42+k, tx k; BP b's Ed25519 seed is bytes "
           "b*0x20+j.\n");
    for (unsigned b = 1; b <= 3; b++) {
        uint8_t pk[BCKM_SIGN_PK_BYTES], sk[BCKM_SIGN_SK_BYTES];
        char name[16];
        fix_bp_keys(b, pk, sk);
        snprintf(name, sizeof name, "bp%u_pk", b);
        hexline(name, pk, sizeof pk);
    }
    for (unsigned k = 0; k < 3; k++) {
        struct bckm_envelope env;
        uint8_t out[BCKM_ENVELOPE_BYTES];
        uint8_t msg[BCKM_ENVELOPE_LABEL_BYTES + BCKM_ENVELOPE_SIGNED_BYTES];
        if (fix_envelope(k, &env) != BCKM_OK) return 1;
        if (bckm_envelope_encode(&env, out) != BCKM_OK) return 1;
        if (k == 0) {
            memcpy(msg, BCKM_ENVELOPE_LABEL, BCKM_ENVELOPE_LABEL_BYTES);
            memcpy(msg + BCKM_ENVELOPE_LABEL_BYTES, out, BCKM_ENVELOPE_SIGNED_BYTES);
            hexline("envelope_0_signed_message", msg, sizeof msg);
        }
        hexline(names[k], out, sizeof out);
    }
    {
        struct bckm_envelope env;
        uint8_t code[BCKM_CODE_BYTES], out[BCKM_ENVELOPE_MAX_BYTES];
        uint8_t st[BCKM_REATTACH_STATEMENT_BYTES];
        uint8_t msg[BCKM_ENVELOPE_LABEL_BYTES + BCKM_ENVELOPE_V2_SIGNED_BYTES];
        size_t n = 0;
        printf("# envelope_3: version 2 (REATTACH), fix_reattach: node 0x0100000a, code bytes "
               "0xc0+j,\n");
        printf("# consent to BP 2 with counter 3, sent by BP 2 at sequence 45.\n");
        if (fix_reattach(&env, code) != BCKM_OK) return 1;
        if (bckm_envelope_encode_to(&env, out, sizeof out, &n) != BCKM_OK ||
            n != BCKM_ENVELOPE_V2_BYTES)
            return 1;
        memcpy(st, BCKM_REATTACH_LABEL, BCKM_REATTACH_LABEL_BYTES);
        bckm_put_u32(st + 16, env.tx.node_id);
        bckm_put_u32(st + 20, env.bp);
        bckm_put_u64(st + 24, 3);
        memcpy(msg, BCKM_ENVELOPE_LABEL, BCKM_ENVELOPE_LABEL_BYTES);
        memcpy(msg + BCKM_ENVELOPE_LABEL_BYTES, out, BCKM_ENVELOPE_V2_SIGNED_BYTES);
        hexline("reattach_code", code, sizeof code);
        hexline("reattach_commit", env.tx.code_hash, sizeof env.tx.code_hash);
        hexline("reattach_statement", st, sizeof st);
        hexline("reattach_consent", env.consent, sizeof env.consent);
        hexline("envelope_3_signed_message", msg, sizeof msg);
        hexline("envelope_3", out, n);
    }
    return 0;
}

static int gen_block(void) {
    struct bckm_block_header h;
    struct bckm_envelope envs[3];
    struct bckm_cert c;
    static uint8_t blk[BCKM_BLOCK_MAX_BYTES];
    static uint8_t cert[BCKM_CERT_MAX_BYTES];
    uint8_t hdr[BCKM_BLOCK_HEADER_BYTES], hash[BCKM_HASH_BYTES];
    uint8_t msg[BCKM_COMMIT_LABEL_BYTES + 8 + 8 + BCKM_HASH_BYTES];
    static uint8_t opaque[FIX_OPAQUE_BODY_BYTES];
    uint8_t root[BCKM_HASH_BYTES];
    size_t blen = 0, clen = 0, olen = 0;

    printf("# Block, block hash, transaction root and commit certificate\n");
    printf("# (spec/layer2-formats.md, sections 3-5). Inputs: fix_block, fix_cert in "
           "tests/layer2_fixtures.h:\n");
    printf("# height 2, prev hash 0x11 x 32, proposer 2, time 1500000, state hash 0x5a^j, "
           "envelopes 0..2;\n");
    printf("# certificate view 3 signed by BPs 1, 2, 4 (n = 4, f = 1). Each transaction of the "
           "body\n");
    printf("# is a record u16 length || envelope; the commit message is label || height || view || "
           "hash.\n");
    for (unsigned b = 1; b <= FIX_N_BPS; b++) {
        uint8_t pk[BCKM_SIGN_PK_BYTES], sk[BCKM_SIGN_SK_BYTES];
        char name[16];
        fix_bp_keys(b, pk, sk);
        snprintf(name, sizeof name, "bp%u_pk", b);
        hexline(name, pk, sizeof pk);
    }
    if (fix_block(&h, envs) != BCKM_OK) return 1;
    if (bckm_block_header_encode(&h, hdr) != BCKM_OK) return 1;
    if (bckm_block_hash(&h, hash) != BCKM_OK) return 1;
    if (bckm_block_encode(&h, envs, 3, blk, sizeof blk, &blen) != BCKM_OK) return 1;
    if (fix_cert(hash, &c) != BCKM_OK) return 1;
    if (bckm_cert_encode(&c, cert, sizeof cert, &clen) != BCKM_OK) return 1;
    /* Built here field by field rather than with bckm_commit_message, so the
     * vector states the layout independently of the library. */
    memcpy(msg, BCKM_COMMIT_LABEL, BCKM_COMMIT_LABEL_BYTES);
    bckm_put_u64(msg + BCKM_COMMIT_LABEL_BYTES, c.height);
    bckm_put_u64(msg + BCKM_COMMIT_LABEL_BYTES + 8, c.view);
    memcpy(msg + BCKM_COMMIT_LABEL_BYTES + 16, hash, BCKM_HASH_BYTES);
    hexline("tx_root", h.tx_root, sizeof h.tx_root);
    hexline("header", hdr, sizeof hdr);
    hexline("block_hash", hash, sizeof hash);
    hexline("block", blk, blen);
    hexline("commit_message", msg, sizeof msg);
    hexline("cert", cert, clen);
    printf("# The root of an empty body (n = 0, no bytes).\n");
    if (bckm_block_body_root(NULL, 0, 0, root) != BCKM_OK) return 1;
    hexline("empty_tx_root", root, sizeof root);
    printf("# An opaque body (fix_opaque_body): three transactions that are not envelopes, of\n");
    printf("# lengths 1, 7 and 1024, transaction k of bytes 0xa0 + 0x10*k + j; and its root (n = "
           "3).\n");
    if (fix_opaque_body(opaque, sizeof opaque, &olen) != BCKM_OK || olen != sizeof opaque) return 1;
    if (bckm_block_body_root(opaque, olen, FIX_OPAQUE_TXS, root) != BCKM_OK) return 1;
    hexline("opaque_body", opaque, olen);
    hexline("opaque_tx_root", root, sizeof root);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2 || sodium_init() < 0) {
        fprintf(stderr, "usage: gen_vectors_layer2 tx|envelope|block\n");
        return 2;
    }
    if (strcmp(argv[1], "tx") == 0) return gen_tx();
    if (strcmp(argv[1], "envelope") == 0) return gen_envelope();
    if (strcmp(argv[1], "block") == 0) return gen_block();
    fprintf(stderr, "unknown vector set %s\n", argv[1]);
    return 2;
}
