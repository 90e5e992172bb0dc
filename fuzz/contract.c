/*
 * Harness: the smart contract (bckm_contract_check / check_bytes / apply),
 * the state machine every BP runs on envelopes that arrive from the wire.
 *
 * Two replicas of the state (policy chosen by byte 0: owned or global) and
 * BPs 1..4 with the keys of support/bp_keys.h. The rest of the input is a
 * script of envelopes, each built from one op byte and the bytes after it:
 *   op % 4 == 0  a join as the BP's Assignment would make it (fresh counter,
 *                set from bckm_sets_assign), then perturbed by flag bits;
 *   op % 4 == 1  a leave or evict of an existing member, perturbed; or,
 *                when the member byte has bit 7 set, a REATTACH of it to the
 *                BP with the node's consent (bit 6: a replayed counter,
 *                bit 5: consent given to another BP);
 *   op % 4 == 2  every field from the input;
 *   op % 4 == 3  the previous envelope again (a replay).
 * Flag bits of the op byte change the signer (another BP's key, a BP outside
 * the table), the sequence number (stale, far ahead) and one tx field after
 * signing (tampering).
 * Oracles:
 *   - check on the struct and check_bytes on its encoding agree, and check
 *     predicts apply exactly;
 *   - a rejected apply leaves the state hash unchanged (and the replica is
 *     never given it);
 *   - an accepted one changes the hash, records the sequence number, keeps
 *     the registry consistent (bckm_sets_audit) and cannot be applied twice;
 *   - the replica fed the same accepted envelopes has the same state hash
 *     after every step, and so has a clone taken along the way.
 */
#include "support/fuzz.h"

#include "bckm/contract.h"
#include "bckm/rejoin.h"
#include "bckm/sets.h"
#include "support/bp_keys.h"

#define FUZZ_CT_MAX_OPS 48

static struct bckm_bp_table fuzz_ct_bps;
static uint8_t fuzz_ct_rogue_sk[BCKM_SIGN_SK_BYTES];

static void fuzz_ct_setup(void) {
    static int ready;
    if (ready) return;
    fuzz_bp_keys_setup();
    memset(&fuzz_ct_bps, 0, sizeof fuzz_ct_bps);
    for (uint32_t b = 1; b <= FUZZ_N_BPS; b++) {
        fuzz_ct_bps.has[b] = 1;
        memcpy(fuzz_ct_bps.pk[b], fuzz_bp_pk[b - 1], BCKM_SIGN_PK_BYTES);
    }
    uint8_t seed[32], pk[BCKM_SIGN_PK_BYTES];
    memset(seed, 0x99, sizeof seed);
    FUZZ_CHECK(crypto_sign_seed_keypair(pk, fuzz_ct_rogue_sk, seed) == 0);
    ready = 1;
}

/* A join that Assignment would accept for BP bp with a given counter. */
static void fuzz_ct_join(const struct bckm_state *st, uint32_t bp, uint32_t counter,
                         struct bckm_tx *t) {
    uint8_t code[BCKM_CODE_BYTES] = { 0 };
    memset(t, 0, sizeof *t);
    bckm_put_u32(code, bp);
    bckm_put_u32(code + 4, counter);
    bckm_code_commit(code, t->code_hash);
    t->op = BCKM_TX_OP_JOIN;
    t->node_id = bckm_id_make(bp, counter);
    const struct bckm_sets *r = bckm_state_registry(st);
    uint32_t owner = bckm_sets_owner_for(r, bp);
    int fresh = 0;
    if (bckm_sets_assign(bckm_sets_table(r), bckm_sets_count(r), owner, bckm_sets_nodes(r) + 1,
                         bckm_sets_next_counter(r, owner), &t->set_id, &fresh) != BCKM_OK)
        t->set_id = 1;
    t->refresh[0] = (uint8_t)counter;
}

/* Leave/evict of the k-th member found walking the live sets. */
static void fuzz_ct_leave(const struct bckm_state *st, uint32_t k, uint8_t op, struct bckm_tx *t) {
    const struct bckm_sets *r = bckm_state_registry(st);
    const struct bckm_set_info *tab = bckm_sets_table(r);
    uint32_t nsets = bckm_sets_count(r), total = bckm_sets_nodes(r);
    memset(t, 0, sizeof *t);
    t->op = op;
    t->node_id = 0x01000001u;
    t->set_id = 0x01000001u;
    if (total == 0) return;
    k %= total;
    for (uint32_t i = 0; i < nsets; i++) {
        uint32_t count = 0;
        const uint32_t *m = bckm_sets_members(r, tab[i].id, &count);
        if (k < count) {
            t->node_id = m[k];
            t->set_id = tab[i].id;
            if (bckm_sets_code_hash(r, t->node_id, t->code_hash) != BCKM_OK) t->code_hash[0] ^= 1;
            return;
        }
        k -= count;
    }
}

/* A REATTACH of member k to bp, with the node's consent (the node's code
 * is the one fuzz_ct_join gave it), perturbed by mode bits. */
static void fuzz_ct_reattach(const struct bckm_state *st, uint32_t k, uint32_t bp, uint32_t mode,
                             struct bckm_envelope *e) {
    const struct bckm_sets *r = bckm_state_registry(st);
    uint8_t code[BCKM_CODE_BYTES] = { 0 };
    fuzz_ct_leave(st, k, BCKM_TX_OP_LEAVE, &e->tx);
    uint32_t node = e->tx.node_id;
    uint64_t ctr = bckm_sets_reattach_ctr(r, node) + ((mode & 0x40u) ? 0u : 1u);
    if (bckm_sets_reattach_tx(r, node, ctr, &e->tx) != BCKM_OK) e->tx.op = BCKM_TX_OP_REATTACH;
    bckm_put_u32(code, bckm_id_bp(node));
    bckm_put_u32(code + 4, node & BCKM_ID_COUNTER_MAX);
    uint32_t to = (mode & 0x20u) ? 1u + bp % FUZZ_N_BPS : bp;
    if (bckm_reattach_consent(code, node, to, ctr, e->consent) != BCKM_OK)
        memset(e->consent, 0, sizeof e->consent);
    bckm_wipe(code, sizeof code);
}

static int fuzz_contract(const uint8_t *data, size_t size) {
    fuzz_ct_setup();
    const uint8_t *p = data;
    size_t n = size;
    bckm_policy policy = (fuzz_take_u8(&p, &n, 0) & 1u) ? BCKM_POLICY_GLOBAL : BCKM_POLICY_OWNED;
    struct bckm_state *st = NULL, *replica = NULL, *snap = NULL;
    FUZZ_CHECK(bckm_state_new(&st, policy, &fuzz_ct_bps) == BCKM_OK);
    FUZZ_CHECK(bckm_state_new(&replica, policy, &fuzz_ct_bps) == BCKM_OK);
    uint64_t seq[FUZZ_N_BPS + 1] = { 0 };
    uint32_t counter[FUZZ_N_BPS + 1] = { 0 };
    struct bckm_envelope prev;
    int have_prev = 0;
    struct bckm_plan plan, plan2;
    bckm_plan_init(&plan);
    bckm_plan_init(&plan2);

    for (int op = 0; op < FUZZ_CT_MAX_OPS && n > 0; op++) {
        uint32_t code = fuzz_take_u8(&p, &n, 0);
        uint32_t bp = 1u + fuzz_take_u8(&p, &n, 0) % FUZZ_N_BPS;
        struct bckm_envelope e;
        memset(&e, 0, sizeof e);
        if ((code & 3u) == 3u && have_prev) {
            e = prev;
        } else {
            switch (code & 3u) {
            case 0: fuzz_ct_join(st, bp, ++counter[bp], &e.tx); break;
            case 1: {
                uint32_t k = fuzz_take_u8(&p, &n, 0);
                if (k & 0x80u)
                    fuzz_ct_reattach(st, k & 0x1Fu, bp, k, &e);
                else
                    fuzz_ct_leave(st, k, (code & 4u) ? BCKM_TX_OP_EVICT : BCKM_TX_OP_LEAVE, &e.tx);
                break;
            }
            default:
                e.tx.op = (uint8_t)fuzz_take_u8(&p, &n, 1);
                e.tx.node_id = fuzz_take_u32(&p, &n, 0x01000001u);
                e.tx.set_id = fuzz_take_u32(&p, &n, 0x01000001u);
                for (size_t i = 0; i < 4; i++) e.tx.code_hash[i] = (uint8_t)fuzz_take_u8(&p, &n, 0);
                break;
            }
            e.version = e.tx.op == BCKM_TX_OP_REATTACH ? BCKM_ENVELOPE_VERSION_REATTACH
                                                       : BCKM_ENVELOPE_VERSION;
            e.bp = bp;
            e.seq = seq[bp] + 1;
            if (code & 0x08u) e.seq = seq[bp]; /* stale */
            if (code & 0x10u) e.seq += 1000;   /* a gap: allowed */
            const uint8_t *sk = fuzz_bp_sk[bp - 1];
            if (code & 0x20u) sk = fuzz_bp_sk[bp % FUZZ_N_BPS]; /* another BP's key */
            if ((code & 0xC0u) == 0xC0u) {
                e.bp = 5u + fuzz_take_u8(&p, &n, 0) % 200u; /* not in the table */
                sk = fuzz_ct_rogue_sk;
            }
            if (bckm_envelope_sign(&e, sk) != BCKM_OK) continue; /* fields no encoder takes */
            if ((code & 0xC0u) == 0x40u)
                e.tx.refresh[fuzz_take_u8(&p, &n, 0) % BCKM_REFRESH_BYTES] ^= 1;
            if ((code & 0xC0u) == 0x80u) e.tx.set_id ^= 1u;
        }

        uint8_t enc[BCKM_ENVELOPE_MAX_BYTES], before[BCKM_HASH_BYTES], after[BCKM_HASH_BYTES];
        size_t enc_len = 0;
        uint64_t epoch0 = bckm_sets_epoch(bckm_state_registry(st));
        int crc = bckm_contract_check(st, &e);
        if (bckm_envelope_encode_to(&e, enc, sizeof enc, &enc_len) == BCKM_OK)
            FUZZ_CHECK(bckm_contract_check_bytes(st, enc, enc_len) == crc);
        bckm_state_hash(st, before);
        int arc = bckm_contract_apply(st, &e, &plan);
        bckm_state_hash(st, after);
        if (getenv("FUZZ_TRACE") != NULL)
            fprintf(
                stderr,
                "contract: op %d (code 0x%02x) bp %u seq %llu tx op %u node %08x set %08x: %s\n",
                op, (unsigned)code, (unsigned)e.bp, (unsigned long long)e.seq, (unsigned)e.tx.op,
                (unsigned)e.tx.node_id, (unsigned)e.tx.set_id, bckm_strerror(arc));
        FUZZ_CHECK(arc == crc || (crc == BCKM_OK && arc == BCKM_ERR_NOMEM));
        if (arc != BCKM_OK) {
            FUZZ_CHECK(memcmp(before, after, sizeof before) == 0);
        } else {
            FUZZ_CHECK(memcmp(before, after, sizeof before) != 0);
            FUZZ_CHECK(e.bp >= 1 && e.bp <= FUZZ_N_BPS);
            FUZZ_CHECK(bckm_state_seq(st, e.bp) == e.seq);
            FUZZ_CHECK(bckm_sets_audit(bckm_state_registry(st)) == BCKM_OK);
            FUZZ_CHECK(bckm_contract_check(st, &e) != BCKM_OK); /* no double execution */
            if (e.tx.op == BCKM_TX_OP_REATTACH) {
                /* The node is served by the origin now; no key epoch opened. */
                uint32_t at = 0;
                FUZZ_CHECK(bckm_sets_node(bckm_state_registry(st), e.tx.node_id, NULL, &at) ==
                           BCKM_OK);
                FUZZ_CHECK(at == e.bp);
                FUZZ_CHECK(bckm_sets_epoch(bckm_state_registry(st)) == epoch0);
            } else if (e.tx.op == BCKM_TX_OP_LEAVE || e.tx.op == BCKM_TX_OP_EVICT) {
                FUZZ_CHECK(bckm_sets_epoch(bckm_state_registry(st)) == epoch0 + 1);
            }
            seq[e.bp] = e.seq;
            FUZZ_CHECK(bckm_contract_apply(replica, &e, &plan2) == BCKM_OK);
            uint8_t rh[BCKM_HASH_BYTES];
            bckm_state_hash(replica, rh);
            FUZZ_CHECK(memcmp(rh, after, sizeof rh) == 0);
            FUZZ_CHECK(plan.epoch == plan2.epoch && plan.changed_count == plan2.changed_count &&
                       plan.retired_count == plan2.retired_count);
        }
        prev = e;
        have_prev = 1;
        if (op == 8) FUZZ_CHECK(bckm_state_clone(st, &snap) == BCKM_OK);
    }
    if (snap != NULL) {
        /* The clone is independent: later changes to st did not leak in,
         * and it hashes like a state that stopped at that point would. */
        uint8_t a[BCKM_HASH_BYTES];
        bckm_state_hash(snap, a);
        FUZZ_CHECK(bckm_sets_audit(bckm_state_registry(snap)) == BCKM_OK);
        bckm_state_free(snap);
    }
    bckm_plan_free(&plan);
    bckm_plan_free(&plan2);
    bckm_state_free(st);
    bckm_state_free(replica);
    return 0;
}

FUZZ_ENTRY(fuzz_contract)
