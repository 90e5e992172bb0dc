/* The key-layer Byzantine BPs (spec/cluster.md 7.1): evictions of other
 * BPs' nodes, forged and replayed rekey messages to honest BPs' devices,
 * and the resync a replayer attacks; every outcome is counted. */
#include "keynet_internal.h"

#include "bckm/msg.h"
#include "bckm/rekey_auth.h"
#include "bckm/resync.h"

#include <stdlib.h>
#include <string.h>

/* A random BP with behaviour `what`, other than `not`; 0 when none. */
static uint32_t pick_byz(struct bckm_keynet *kn, uint8_t what, uint32_t not ) {
    uint32_t ids[BCKM_MAX_BPS], n = 0;
    for (uint32_t b = 1; b <= kn->p.bps; b++)
        if ((kn->p.byz_keys[b] & what) && b != not ) ids[n++] = b;
    return n ? ids[keynet_adv_rnd(kn, n)] : 0;
}

/*
 * Hands an honest BP's device a message that BP did not produce for it at
 * this point (forged, or a replay of one it already applied) and counts
 * the outcome: any acceptance is a violation. signer: the Byzantine BP
 * whose key signed it (for the trust_byz test hook), 0 for a replay.
 */
static void attack_apply(struct bckm_keynet *kn, struct bckm_device *d, const uint8_t *msg,
                         size_t len, int replay, uint32_t signer) {
    uint8_t id = d->bp_id, pk[32];
    memcpy(pk, d->bp_pk, 32);
    if (kn->p.trust_byz && signer != 0) {
        d->bp_id = (uint8_t)signer;
        memcpy(d->bp_pk, kn->fleet.bps.pk[signer], 32);
    }
    int e = bckm_fleet_apply(&kn->fleet, d, msg, len);
    d->bp_id = id;
    memcpy(d->bp_pk, pk, 32);
    if (replay) {
        kn->byz.replayed++;
        if (e == BCKM_OK) {
            kn->byz.replays_accepted++;
            keynet_byz_note(kn, "an honest BP's device accepted a replayed rekey message",
                            d->node_id, id);
        } else {
            kn->byz.replays_refused++;
        }
    } else {
        kn->byz.forged++;
        if (e == BCKM_OK) {
            kn->byz.forged_accepted++;
            keynet_byz_note(kn, "an honest BP's device accepted a forged rekey message", d->node_id,
                            id);
        } else {
            kn->byz.forged_refused++;
        }
    }
}

/* Signs one sealed message (no trailer) as a one-message batch of BP b;
 * the complete message in *out (malloc'd). */
static int byz_sign(struct bckm_keynet *kn, uint32_t b, const uint8_t *sealed, size_t len,
                    uint8_t **out, size_t *out_len) {
    struct bckm_msgs m;
    bckm_msgs_init(&m);
    m.buf = malloc(len);
    m.refs = malloc(sizeof *m.refs);
    if (m.buf == NULL || m.refs == NULL) {
        bckm_msgs_free(&m);
        return BCKM_ERR_NOMEM;
    }
    memcpy(m.buf, sealed, len);
    m.len = m.cap = len;
    m.refs_cap = 1;
    m.n = 1;
    m.refs[0].kind = sealed[1];
    m.refs[0].kek_type = sealed[2];
    m.refs[0].recipient = bckm_get_u32(sealed + 4);
    m.refs[0].off = 0;
    m.refs[0].len = len;
    int e = bckm_rekey_batch_sign(&m, 0, b, kn->fleet.sign_sk[b]);
    if (e == BCKM_OK) {
        *out = malloc(m.refs[0].len);
        if (*out == NULL)
            e = BCKM_ERR_NOMEM;
        else {
            memcpy(*out, m.buf + m.refs[0].off, m.refs[0].len);
            *out_len = m.refs[0].len;
        }
    }
    bckm_msgs_free(&m);
    return e;
}

/*
 * The forger b builds, for device d of honest BP `bp`, a message of the
 * kind of `real` (the one bp is about to deliver to it) and hands it over
 * before the real one. One of:
 *  0  its own next-epoch message: real's body (opened with the set KEK b
 *     holds under global, else random bytes under a random key), under a
 *     set KEK with a refresh b chose, sealed with sender b, signed by b;
 *  1  the same with the header's sender rewritten to bp after signing;
 *  2  real with one byte of its trailer (index, path or signature) flipped;
 *  3  real with one byte of its ciphertext flipped, trailer kept;
 *  4  a bundle for the node at the next epoch, under a key b made up
 *     (it cannot know the node KEK), signed by b.
 */
static void forge_for(struct bckm_keynet *kn, struct bckm_device *d, uint32_t bp,
                      const uint8_t *real, size_t len) {
    uint32_t b = pick_byz(kn, BCKM_KEYNET_BYZ_FORGE, bp);
    struct bckm_msg_header h;
    if (b == 0 || bckm_msg_header_decode(real, len, &h) != BCKM_OK) return;
    uint32_t v = keynet_adv_rnd(kn, 5);
    if (v == 2 || v == 3) {
        uint8_t *t = malloc(len);
        if (t == NULL) return;
        memcpy(t, real, len);
        size_t lo = v == 2 ? h.sealed_len : BCKM_MSG_HEADER_BYTES, hi = v == 2 ? len : h.sealed_len;
        t[lo + keynet_adv_rnd(kn, (uint32_t)(hi - lo))] ^= (uint8_t)(1u << keynet_adv_rnd(kn, 8));
        attack_apply(kn, d, t, len, 0, 0);
        free(t);
        return;
    }
    uint8_t key[32], body_fixed[107];
    const uint8_t *body = NULL;
    size_t body_len = 0;
    uint8_t *opened = NULL;
    bckm_drbg_fill(&kn->adv, key, 32);
    struct bckm_msg_header nh = h;
    nh.sender = (uint8_t)b;
    bckm_drbg_fill(&kn->adv, nh.nonce, sizeof nh.nonce);
    if (v == 4) {
        struct bckm_writer w;
        uint8_t rnd32[32];
        bckm_writer_init(&w, body_fixed, sizeof body_fixed);
        bckm_writer_u32(&w, d->node_id);
        bckm_writer_u32(&w, d->set_id);
        bckm_writer_u8(&w, 0);
        memset(rnd32, 0, 32);
        bckm_writer_bytes(&w, rnd32, 32); /* code (absent) */
        bckm_drbg_fill(&kn->adv, rnd32, 32);
        bckm_writer_bytes(&w, rnd32, 32); /* pair seed */
        bckm_drbg_fill(&kn->adv, rnd32, 32);
        bckm_writer_bytes(&w, rnd32, 32); /* set KEK */
        bckm_writer_u16(&w, 0);
        bckm_writer_u16(&w, 0);
        if (w.err) return;
        nh.kind = BCKM_MSG_BUNDLE;
        nh.kek_type = BCKM_KEK_NODE;
        nh.recipient = d->node_id;
        nh.epoch = d->epoch + 1;
        memset(nh.challenge, 0, sizeof nh.challenge);
        body = body_fixed;
        body_len = w.len;
    } else {
        opened = malloc(len);
        if (opened == NULL) return;
        memcpy(opened, real, len);
        struct bckm_msg_header oh;
        if (kn->p.policy == BCKM_POLICY_GLOBAL && h.kek_type == BCKM_KEK_SET &&
            bckm_msg_open(opened, h.sealed_len, d->set_kek, &oh) == BCKM_OK) {
            /* Under global b holds every set KEK: the device's copy is the
             * same value, the simulator reads it from there. */
            memcpy(key, d->set_kek, 32);
            uint8_t *bd = opened + BCKM_MSG_HEADER_BYTES;
            /* update: op 1 | subject 4 | has set refresh 1 | r_S 16 */
            if (h.kind == BCKM_MSG_UPDATE && h.body_len >= 22 && bd[5] == 1)
                bckm_drbg_fill(&kn->adv, bd + 6, 16);
        } else {
            bckm_drbg_fill(&kn->adv, opened + BCKM_MSG_HEADER_BYTES, h.body_len);
        }
        body = opened + BCKM_MSG_HEADER_BYTES;
        body_len = h.body_len;
    }
    size_t cap = BCKM_MSG_HEADER_BYTES + body_len + BCKM_MSG_TAG_BYTES, sl = 0, fl = 0;
    uint8_t *sealed = malloc(cap), *full = NULL;
    if (sealed != NULL && bckm_msg_seal(&nh, key, body, body_len, sealed, cap, &sl) == BCKM_OK &&
        byz_sign(kn, b, sealed, sl, &full, &fl) == BCKM_OK) {
        if (v == 1) full[3] = (uint8_t)bp;
        attack_apply(kn, d, full, fl, 0, v == 1 ? 0 : b);
    }
    bckm_wipe(key, sizeof key);
    if (opened != NULL) {
        bckm_wipe(opened, len);
        free(opened);
    }
    free(sealed);
    free(full);
}

/* Replays to d every recorded message for its node at an epoch it already
 * passed (at most two, newest first). */
static void replay_for(struct bckm_keynet *kn, struct bckm_device *d) {
    uint32_t done = 0;
    for (uint32_t k = 0; k < 64 && done < 2; k++) {
        struct recorded *r = &kn->rec[(kn->rec_next + 63 - k) % 64];
        if (r->msg == NULL || r->node != d->node_id || r->epoch > d->epoch) continue;
        attack_apply(kn, d, r->msg, r->len, 1, 0);
        done++;
    }
}

/* gcc -fanalyzer (GCC 12) reports c as leaked: a false positive, it is
 * stored in kn->rec[]. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
static void record(struct bckm_keynet *kn, uint32_t node, const uint8_t *msg, size_t len) {
    struct bckm_msg_header h;
    if (bckm_msg_header_decode(msg, len, &h) != BCKM_OK) return;
    struct recorded *r = &kn->rec[kn->rec_next];
    uint8_t *c = realloc(r->msg, len);
    if (c == NULL) return;
    memcpy(c, msg, len);
    r->msg = c;
    r->len = len;
    r->node = node;
    r->epoch = h.epoch;
    kn->rec_next = (kn->rec_next + 1) % 64;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* Delivery to the simulated devices BP bp serves (a node is served by the
 * BP whose ID its node ID carries); who gets what is bckm_msgs_route's,
 * the copy-then-apply is the fleet's (sim/fleet.h). At an honest BP, the
 * key-layer Byzantine BPs get at the messages first: forgeries and replays
 * before the real ones, and one device (sleeper) misses them and resyncs
 * afterwards. At a forging BP, some of its own signed messages also go to
 * honest BPs' devices. */
struct delivery {
    struct bckm_keynet *kn;
    uint32_t bp;
    int attack;       /* bp is honest and some BP forges or replays */
    uint32_t budget;  /* forgeries and replays left in this batch */
    uint32_t sleeper; /* node that misses this batch (0: none) */
    uint32_t stray;   /* a forging bp's messages left to send astray */
};

static struct bckm_device *honest_victim(struct bckm_keynet *kn, uint32_t not ) {
    for (int tries = 0; tries < 8 && kn->fleet.ndevs > 0; tries++) {
        struct bckm_device *d = kn->fleet.devs[keynet_adv_rnd(kn, kn->fleet.ndevs)].dev;
        uint32_t b = bckm_id_bp(d->node_id);
        if (d->node_id != 0 && b != not &&kn->p.byz_keys[b] == 0) return d;
    }
    return NULL;
}

/* The fleet's filter: sees every routed pair before the device does. fd is
 * the node's store when bp serves it. */
static int adversary_filter(void *ctx, uint32_t node, struct bckm_fleet_dev *fd, const uint8_t *msg,
                            size_t len) {
    struct delivery *dl = ctx;
    struct bckm_keynet *kn = dl->kn;
    if (dl->stray > 0 && bckm_id_bp(node) == dl->bp && keynet_adv_rnd(kn, 4) == 0) {
        /* A forging BP's own message, signed by it, handed to a device of
         * another BP as is. */
        struct bckm_device *v = honest_victim(kn, dl->bp);
        if (v != NULL) {
            dl->stray--;
            attack_apply(kn, v, msg, len, 0, dl->bp);
        }
    }
    if (fd == NULL || node == dl->sleeper) return 0;
    struct bckm_device *d = fd->dev;
    if (dl->attack && dl->budget > 0 && d->node_id != 0 && keynet_adv_rnd(kn, 3) == 0) {
        dl->budget--;
        if (kn->nforge) forge_for(kn, d, dl->bp, msg, len);
        if (kn->nreplay) replay_for(kn, d);
    }
    if (dl->attack && kn->nreplay) record(kn, node, msg, len);
    return 1;
}

static void deliver_as(struct bckm_keynet *kn, struct delivery *dl, const struct bckm_sets *reg,
                       struct bckm_msgs *m) {
    /* The fleet counts a routing failure with the refusals. */
    (void)bckm_fleet_deliver(&kn->fleet, dl->bp, reg, m, adversary_filter, dl);
}

/* One honest device of bp that is up to date with reg (before this batch)
 * and stays a member: it sleeps through the batch. 0 when none. */
static uint32_t pick_sleeper(struct bckm_keynet *kn, uint32_t bp, const struct bckm_sets *reg) {
    struct nodelist *l = &kn->live[bp];
    for (int tries = 0; tries < 4 && l->n > 0; tries++) {
        uint32_t u = l->ids[keynet_adv_rnd(kn, l->n)], set, at;
        struct bckm_device *d = bckm_fleet_device(&kn->fleet, u);
        if (d != NULL && d->node_id == u && d->epoch + 1 == bckm_sets_epoch(reg) &&
            bckm_sets_node(reg, u, &set, &at) == BCKM_OK && at == bp &&
            !bckm_map_get(&kn->leaving, u, NULL))
            return u;
    }
    return 0;
}

/* The sleeper wakes: it enters resync with a fresh challenge and sends its
 * resync request; a replayer first hands it the old messages it recorded;
 * then bp opens the request and answers with its catch-up. */
static void wake(struct bckm_keynet *kn, uint32_t bp, const struct bckm_sets *reg, uint32_t node) {
    struct bckm_device *d = bckm_fleet_device(&kn->fleet, node);
    uint8_t ch[16], req[BCKM_RESYNC_REQUEST_BYTES], och[16];
    uint32_t on;
    uint64_t last;
    bckm_drbg_fill(&kn->adv, ch, sizeof ch);
    ch[0] |= 1; /* never all zero */
    bckm_device_begin_resync(d, ch);
    kn->byz.resyncs++;
    replay_for(kn, d);
    struct bckm_msgs m;
    bckm_msgs_init(&m);
    int e = bckm_resync_request_make(d->kek, node, d->epoch, ch, req);
    if (e == BCKM_OK) e = bckm_km_open_resync(kn->fleet.km[bp], req, sizeof req, &on, &last, och);
    if (e == BCKM_OK) e = bckm_km_catch_up(kn->fleet.km[bp], reg, on, last, och, &m);
    if (e == BCKM_OK) {
        (void)bckm_fleet_deliver(&kn->fleet, bp, reg, &m, NULL, NULL);
    } else {
        kn->device_errors++;
    }
    bckm_msgs_free(&m);
}

void keynet_byz_release(struct bckm_keynet *kn, uint32_t bp, const struct bckm_sets *reg) {
    struct delivery dl = { kn, bp, 0, 0, 0, 0 };
    if (kn->p.byz_keys[bp] == 0 && (kn->nforge || kn->nreplay)) {
        dl.attack = 1;
        dl.budget = 3;
        if (kn->nreplay && kn->msgs.n > 0 && keynet_adv_rnd(kn, 4) == 0)
            dl.sleeper = pick_sleeper(kn, bp, reg);
    } else if (kn->p.byz_keys[bp] & BCKM_KEYNET_BYZ_FORGE) {
        dl.stray = 2;
    }
    deliver_as(kn, &dl, reg, &kn->msgs);
    if (dl.sleeper != 0) wake(kn, bp, reg, dl.sleeper);
}

int bckm_keynet_byz_evict(struct bckm_keynet *kn, const bckm_sim_app *view, uint32_t bp,
                          uint8_t env_out[BCKM_ENVELOPE_BYTES]) {
    if (kn == NULL || view == NULL || env_out == NULL || bp == 0 || bp > kn->p.bps ||
        !(kn->p.byz_keys[bp] & BCKM_KEYNET_BYZ_EVICT))
        return BCKM_ERR_ARG;
    const struct bckm_sets *reg = keynet_check_registry(view);
    if (reg == NULL) return BCKM_ERR_NOMEM;
    struct bckm_envelope env;
    memset(&env, 0, sizeof env);
    int e = BCKM_ERR_UNKNOWN;
    for (int tries = 0; tries < 8 && e != BCKM_OK; tries++) {
        uint32_t h = 1 + keynet_adv_rnd(kn, kn->p.bps), at;
        struct nodelist *l = &kn->live[h];
        if (h == bp || l->n == 0) continue;
        env.tx.node_id = l->ids[keynet_adv_rnd(kn, l->n)];
        if (bckm_sets_node(reg, env.tx.node_id, &env.tx.set_id, &at) == BCKM_OK && at != bp &&
            bckm_sets_code_hash(reg, env.tx.node_id, env.tx.code_hash) == BCKM_OK)
            e = BCKM_OK;
    }
    if (e != BCKM_OK) return e;
    /* Everything the contract can check is right but the originator. */
    env.tx.op = keynet_adv_rnd(kn, 2) ? BCKM_OP_EVICT : BCKM_OP_LEAVE;
    bckm_drbg_fill(&kn->adv, env.tx.refresh, sizeof env.tx.refresh);
    e = bckm_keynet_seal(kn, bp, &env, env_out);
    if (e == BCKM_OK &&
        bckm_u64set_add(&kn->forged_envs, keynet_env_id(env_out, BCKM_ENVELOPE_BYTES)) < 0)
        e = BCKM_ERR_NOMEM;
    if (e == BCKM_OK) kn->byz.evicts++;
    return e;
}

void bckm_keynet_byz_stats(const struct bckm_keynet *kn, struct bckm_keynet_byz_stats *st) {
    *st = kn->byz;
}
