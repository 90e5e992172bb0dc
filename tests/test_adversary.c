/*
 * Adversarial property test (issue 14): seeded Layer 1 worlds (tests/l1world.c)
 * with an adversary inside. k devices are corrupted (in one set or in
 * several, current and departed, more as the run goes; corrupted members
 * leave and are evicted). The adversary is the device network too: it
 * records every message a BP sends any device, drops messages to honest
 * devices (they fall asleep and resync with the BP's catch-up later),
 * replays and reorders, injects every message it can build from what it
 * knows (it holds no BP signing key: its messages carry its own Ed25519
 * signature or a genuine trailer cut from a recorded message), replays old
 * resync requests to the BPs, and asks the BPs to catch its devices up from
 * epochs of its choice (before their join too). Honest sleepers resync with
 * a fresh challenge. Its knowledge is a closure to a fixpoint
 * (tests/adversary.c) over the per-set and per-pair refresh values it learns.
 *
 * Asserted after every operation, three groups:
 *   secrecy   no current link key between honest nodes (pairwise node keys
 *             of a set, pairwise set keys of two sets, neither holding a
 *             current corrupted member) and no such set's current KEK is in
 *             the closure: once every corrupted member of a set has left, the
 *             set's keys are out of reach;
 *   origin    no honest device accepts a message its BP did not produce for
 *             it: every injection is refused, every replay is refused except
 *             the genuine next message of a device that missed it, and a
 *             refusal leaves the store byte-for-byte unchanged;
 *   agreement honest devices agree on every link (the resynced ones against
 *             all their peers), are at the current epoch, and l1_check holds.
 * An accepted forgery is counted and then undone (the store restored), so
 * each violation is counted once and the run goes on measuring.
 */
#include "adversary.h"
#include "check.h"
#include "l1world.h"

#include "bckm/rekey_auth.h"
#include "bckm/resync.h"

#include <sodium.h>

/* ---- bookkeeping ------------------------------------------------------------- */

enum { G_SECRECY, G_ORIGIN, G_AGREE, G_COUNT };
static const char *const group_name[G_COUNT] = { "secrecy", "origin", "agreement" };

/* Injection classes (what the message is) and trailer modes (how the
 * adversary, which holds no BP signing key, tries to make it pass step 5 of
 * spec section 7). Every injection is counted under both. */
enum { I_FORGED_UPDATE, I_RESEALED_UPDATE, I_BUNDLE_SETKEK, I_RESEALED_BUNDLE, I_STALE, I_COUNT };
static const char *const inj_name[I_COUNT] = { "forged update", "re-sealed old update",
                                               "bundle under a set KEK", "re-sealed bundle",
                                               "stale-key forgery" };
enum { T_OWN_KEY, T_SPLICED, T_OTHER_SENDER, T_COUNT };
static const char *const trailer_name[T_COUNT] = { "own Ed25519 key", "spliced genuine trailer",
                                                   "another BP's ID" };

struct tally {
    uint64_t worlds, ops, corrupted, closure, opened, derived, moves;
    uint64_t inj_tried, inj_refused, rep_tried, rep_refused, resyncs, catchup_asks;
    uint64_t inj_class[I_COUNT], inj_class_refused[I_COUNT], trailer[T_COUNT];
    uint64_t old_requests, old_answer_msgs, prejoin_asks;
    uint64_t checks[G_COUNT], viol[G_COUNT];
};

struct world_params {
    uint64_t seed;
    uint32_t p, n0, ops, k0, kmax;
    bckm_policy policy;
    int one_set; /* initial corruption inside one set, else spread */
};

struct sleeper {
    uint32_t node, wake_op;
};

struct run {
    struct l1world w;
    struct adversary adv;
    struct bckm_map bad; /* corrupted node -> 1 */
    uint32_t *bad_list, nbad, cap_bad;
    struct sleeper sleep[4];
    uint32_t nsleep;
    uint32_t keks_recorded; /* devices whose node KEK is in the ground truth */
    uint32_t op;
    const struct world_params *wp;
    struct tally *t;
    uint32_t printed; /* violation lines printed in this world */
    uint8_t *snap;    /* a device store saved before a foreign message */
    size_t snap_cap;
    uint8_t own_sk[64];     /* the adversary's own Ed25519 key (it has no BP's) */
    struct bckm_map joined; /* node -> epoch of its join */
    uint8_t (*reqs)[BCKM_RESYNC_REQUEST_BYTES]; /* honest resync requests seen */
    uint32_t nreqs, cap_reqs;
    struct bckm_map last_req; /* node -> its last request in reqs */
};

/* Counts one check of group g; prints the first violations of each world
 * with its seed and operation, which is what reproduces them. */
static void verdict(struct run *r, int g, int ok, const char *what, uint32_t x, uint32_t y) {
    r->t->checks[g]++;
    if (ok) return;
    r->t->viol[g]++;
    if (r->printed++ < 6)
        fprintf(stderr, "  violation [%s] seed=%llu p=%u %s op=%u epoch=%llu: %s (%u, %u)\n",
                group_name[g], (unsigned long long)r->wp->seed, r->wp->p,
                r->wp->policy == BCKM_POLICY_OWNED ? "owned" : "global", r->op,
                (unsigned long long)bckm_sets_epoch(r->w.reg), what, x, y);
}

static int is_bad(const struct run *r, uint32_t node) { return bckm_map_get(&r->bad, node, NULL); }

static struct bckm_fleet_dev *dev_of(struct run *r, uint32_t node) {
    uint32_t i = l1_index(&r->w, node);
    return i == UINT32_MAX ? NULL : &r->w.fleet.devs[i];
}

/* An honest current member that is online: the adversary's targets. */
static int honest_awake(struct run *r, uint32_t node) {
    struct bckm_fleet_dev *d = dev_of(r, node);
    return d != NULL && d->live && !d->asleep && !is_bad(r, node);
}

static uint32_t random_honest_member(struct run *r, uint32_t set) {
    uint32_t count;
    const uint32_t *mem = bckm_sets_members(r->w.reg, set, &count);
    for (uint32_t k = 0; k < 8 && count > 0; k++) {
        uint32_t u = mem[l1_rand(&r->w, count)];
        if (honest_awake(r, u)) return u;
    }
    return 0;
}

/* The tap: the network sees every message a BP transmits. */
static void on_network(void *ctx, uint32_t bp, uint32_t node, const uint8_t *msg, size_t len) {
    struct run *r = ctx;
    (void)bp;
    (void)adv_record(&r->adv, node, msg, len);
}

/* ---- ground truth and insider knowledge --------------------------------------- */

/* Records the true value of every live key after a change: set KEKs and
 * pairwise set keys from a BP holding them, node KEKs of new devices. */
static void record_truth(struct run *r) {
    const struct bckm_set_info *tab = bckm_sets_table(r->w.reg);
    uint32_t m = bckm_sets_count(r->w.reg);
    uint64_t epoch = bckm_sets_epoch(r->w.reg);
    uint8_t k[32];
    for (uint32_t i = 0; i < m; i++) {
        for (uint32_t b = 1; b <= r->w.p; b++)
            if (bckm_km_set_key(r->w.fleet.km[b], tab[i].id, k) == BCKM_OK) {
                adv_truth(&r->adv, ADV_SET_KEK, tab[i].id, 0, epoch, k);
                break;
            }
        for (uint32_t j = i + 1; j < m; j++)
            for (uint32_t b = 1; b <= r->w.p; b++)
                if (bckm_km_pair_key(r->w.fleet.km[b], tab[i].id, tab[j].id, k) == BCKM_OK) {
                    adv_truth(&r->adv, ADV_SET_PAIR, tab[i].id, tab[j].id, epoch, k);
                    break;
                }
    }
    for (; r->keks_recorded < r->w.fleet.ndevs; r->keks_recorded++) {
        struct bckm_fleet_dev *d = &r->w.fleet.devs[r->keks_recorded];
        adv_truth(&r->adv, ADV_NODE_KEK, d->node_id, 0, 0, d->dev->kek);
    }
    bckm_wipe(k, sizeof k);
}

/* Everything a corrupted device holds enters the adversary's knowledge. */
static void snapshot(struct run *r, uint32_t node) {
    const struct bckm_device *d = l1_device(&r->w, node);
    adv_learn_key(&r->adv, d->kek);
    if (d->node_id == BCKM_ID_NONE) return;
    adv_learn_key(&r->adv, d->set_kek);
    adv_learn_seed(&r->adv, node, d->seed);
    for (uint32_t i = 0; i < d->n_peers; i++) adv_learn_key(&r->adv, d->keys[i].key);
    for (uint32_t i = 0; i < d->n_sets; i++) adv_learn_key(&r->adv, d->keys[d->cap_peers + i].key);
}

static void corrupt(struct run *r, uint32_t node) {
    if (is_bad(r, node) || bckm_map_put(&r->bad, node, 1) != BCKM_OK) return;
    if (r->nbad == r->cap_bad) {
        r->cap_bad = r->cap_bad ? 2 * r->cap_bad : 16;
        r->bad_list = realloc(r->bad_list, r->cap_bad * sizeof *r->bad_list);
        if (r->bad_list == NULL) exit(2);
    }
    r->bad_list[r->nbad++] = node;
    r->t->corrupted++;
    snapshot(r, node);
}

static void snapshot_current(struct run *r) {
    for (uint32_t i = 0; i < r->nbad; i++) {
        struct bckm_fleet_dev *d = dev_of(r, r->bad_list[i]);
        if (d->live) snapshot(r, r->bad_list[i]);
    }
}

/* Initial corruption: k0 members of one set (leaving an honest one), or k0
 * members of distinct sets. */
static void corrupt_initial(struct run *r) {
    const struct bckm_set_info *tab = bckm_sets_table(r->w.reg);
    uint32_t m = bckm_sets_count(r->w.reg), count;
    if (r->wp->one_set) {
        uint32_t s = tab[l1_rand(&r->w, m)].id;
        const uint32_t *mem = bckm_sets_members(r->w.reg, s, &count);
        for (uint32_t i = 0; i < r->wp->k0 && i + 1 < count; i++) corrupt(r, mem[i]);
        return;
    }
    for (uint32_t i = 0; i < r->wp->k0 && i < m; i++) {
        const uint32_t *mem = bckm_sets_members(r->w.reg, tab[(i * 7) % m].id, &count);
        if (count > 1) corrupt(r, mem[l1_rand(&r->w, count)]);
    }
}

/* More corruption as the run goes: a current member, or a departed node
 * handing over the keys it kept. */
static void corrupt_more(struct run *r) {
    if (r->nbad >= r->wp->kmax || l1_rand(&r->w, 100) >= 4) return;
    int departed = l1_rand(&r->w, 2), recent = l1_rand(&r->w, 3) == 0;
    for (uint32_t k = 0; k < 16; k++) {
        /* A third of the time a recent joiner, current: its catch-up claims
         * from before its join are attack 2's. */
        uint32_t back = r->w.fleet.ndevs < 8 ? r->w.fleet.ndevs : 8;
        struct bckm_fleet_dev *d =
            recent ? &r->w.fleet.devs[r->w.fleet.ndevs - 1 - l1_rand(&r->w, back)]
                   : &r->w.fleet.devs[l1_rand(&r->w, r->w.fleet.ndevs)];
        if (recent) departed = 0;
        if (d->asleep || d->live == departed || is_bad(r, d->node_id)) continue;
        corrupt(r, d->node_id);
        return;
    }
}

/* ---- delivering foreign messages ------------------------------------------------- */

/* Applies a message the device's BP did not just send it. The store is
 * saved first: a refusal must leave it byte-for-byte unchanged (an origin
 * violation otherwise), and an acceptance the caller does not allow is
 * undone. Returns the device's answer. */
static int apply_foreign(struct run *r, uint32_t node, const uint8_t *msg, size_t len,
                         int keep_if_ok) {
    struct bckm_device *d = l1_device(&r->w, node);
    size_t bytes = BCKM_DEVICE_BYTES(d->cap_peers, d->cap_sets);
    if (r->snap_cap < bytes) {
        r->snap = realloc(r->snap, bytes);
        if (r->snap == NULL) exit(2);
        r->snap_cap = bytes;
    }
    memcpy(r->snap, d, bytes);
    uint8_t *copy = check_exact_copy(msg, len);
    int e = bckm_device_apply(d, copy, len);
    free(copy);
    if (e != BCKM_OK)
        verdict(r, G_ORIGIN, memcmp(r->snap, d, bytes) == 0, "refusal changed the store", node,
                (uint32_t)-e);
    else if (!keep_if_ok)
        memcpy(d, r->snap, bytes);
    return e;
}

/* Injects a message the adversary built: any acceptance is a violation. */
static void inject(struct run *r, uint32_t node, const uint8_t *msg, size_t len, int cls,
                   const char *what) {
    r->t->inj_tried++;
    r->t->inj_class[cls]++;
    int e = apply_foreign(r, node, msg, len, 0);
    if (e != BCKM_OK) {
        r->t->inj_refused++;
        r->t->inj_class_refused[cls]++;
    }
    verdict(r, G_ORIGIN, e != BCKM_OK, what, node, 0);
}

/* The freshness rule a replay is judged by (spec section 7, step 4): a
 * message the BP sent this device, with no challenge and for exactly its
 * next epoch, or answering the device's current resync challenge (for its
 * next epoch, or a bundle at its epoch or later). */
static int replay_allowed(const struct run *r, const struct bckm_device *d, uint32_t i) {
    const struct adv_msg *m = &r->adv.msgs[i];
    static const uint8_t zero[16] = { 0 };
    if (!adv_routed(&r->adv, i, d->node_id)) return 0;
    if (sodium_memcmp(m->h.challenge, zero, 16) == 0) return m->h.epoch == d->epoch + 1;
    if (!d->resync || sodium_memcmp(m->h.challenge, d->challenge, 16) != 0) return 0;
    return m->h.epoch == d->epoch + 1 || (m->h.kind == BCKM_MSG_BUNDLE && m->h.epoch >= d->epoch);
}

/* Replays recorded message i: accepted only when the freshness rule allows
 * it (a message the device missed), and then kept. */
static int replay(struct run *r, uint32_t node, uint32_t i) {
    const struct adv_msg *m = &r->adv.msgs[i];
    int next = replay_allowed(r, l1_device(&r->w, node), i);
    r->t->rep_tried++;
    int e = apply_foreign(r, node, m->bytes, m->len, next);
    if (e != BCKM_OK) r->t->rep_refused++;
    verdict(r, G_ORIGIN, e != BCKM_OK || next, "replay accepted", node, (uint32_t)m->h.epoch);
    return e == BCKM_OK && next;
}

/* ---- the adversary's actions ------------------------------------------------------ */

/* A recorded genuine kind 1 or 2 message of BP bp (its trailer is what the
 * adversary splices), or ADV_NONE. */
static uint32_t genuine_of(struct run *r, uint32_t bp) {
    for (uint32_t k = 0; k < 32 && r->adv.nmsgs > 0; k++) {
        uint32_t i = r->adv.nmsgs - 1 - l1_rand(&r->w, r->adv.nmsgs < 64 ? r->adv.nmsgs : 64);
        if (r->adv.msgs[i].h.sender == bp) return i;
    }
    return ADV_NONE;
}

/* Seals body as a message with the header fields given, under key, as the
 * device's BP would send it (sender = its BP), then gives it a trailer the
 * adversary can make: a batch signed with its own Ed25519 key, a genuine
 * trailer of that BP cut from a recorded message, or its own signature
 * under another BP's ID. Returns the length, 0 when it cannot build it. */
static size_t seal(struct run *r, uint32_t target, uint8_t kind, uint8_t kek_type,
                   uint32_t recipient, uint64_t epoch, const uint8_t key[32], const uint8_t *body,
                   size_t body_len, int mode, uint8_t *out, size_t cap) {
    const struct bckm_device *d = l1_device(&r->w, target);
    struct bckm_msg_header h;
    size_t len = 0;
    memset(&h, 0, sizeof h);
    h.kind = kind;
    h.kek_type = kek_type;
    h.recipient = recipient;
    h.epoch = epoch;
    h.sender = d->bp_id;
    if (mode == T_OTHER_SENDER) h.sender = (uint8_t)(d->bp_id % BCKM_MAX_BPS + 1);
    bckm_drbg_fill(&r->w.rng, h.nonce, sizeof h.nonce);
    r->t->trailer[mode]++;
    if (mode == T_SPLICED) {
        uint32_t g = genuine_of(r, d->bp_id);
        if (g == ADV_NONE || bckm_msg_seal(&h, key, body, body_len, out, cap, &len) != BCKM_OK)
            return 0;
        const struct adv_msg *m = &r->adv.msgs[g];
        size_t tl = m->len - m->h.sealed_len;
        if (len + tl > cap) return 0;
        memcpy(out + len, m->bytes + m->h.sealed_len, tl);
        return len + tl;
    }
    struct bckm_msgs ms;
    bckm_msgs_init(&ms);
    size_t need = BCKM_MSG_HEADER_BYTES + body_len + BCKM_MSG_TAG_BYTES;
    ms.buf = malloc(need);
    ms.refs = malloc(sizeof *ms.refs);
    if (ms.buf == NULL || ms.refs == NULL) exit(2);
    ms.cap = need;
    ms.refs_cap = 1;
    if (bckm_msg_seal(&h, key, body, body_len, ms.buf, need, &len) == BCKM_OK) {
        ms.refs[0] = (struct bckm_msg_ref){ kind, kek_type, recipient, 0, len };
        ms.len = len;
        ms.n = 1;
        len = bckm_rekey_batch_sign(&ms, 0, h.sender, r->own_sk) == BCKM_OK && ms.refs[0].len <= cap
                  ? ms.refs[0].len
                  : 0;
        if (len) memcpy(out, ms.buf + ms.refs[0].off, len);
    } else
        len = 0;
    bckm_msgs_free(&ms);
    return len;
}

static int random_mode(struct run *r) { return (int)l1_rand(&r->w, T_COUNT); }

/* A well-formed v2 update of set S for the next epoch, with a set refresh
 * of the adversary's choice: what a member could build under K_S. */
static size_t forge_update(struct run *r, uint32_t target, uint32_t set, const uint8_t key[32],
                           int mode, uint8_t *out, size_t cap) {
    uint8_t body[64], refresh[BCKM_REFRESH_BYTES];
    struct bckm_writer bw;
    bckm_drbg_fill(&r->w.rng, refresh, sizeof refresh);
    bckm_writer_init(&bw, body, sizeof body);
    bckm_writer_u8(&bw, BCKM_OP_LEAVE);
    bckm_writer_u32(&bw, r->nbad ? r->bad_list[0] : 1);
    bckm_writer_u8(&bw, 1);                          /* has set refresh */
    bckm_writer_bytes(&bw, refresh, sizeof refresh); /* r_S */
    bckm_writer_u16(&bw, 1);
    bckm_writer_u32(&bw, set); /* changed: S */
    bckm_writer_u16(&bw, 0);
    bckm_writer_u16(&bw, 0); /* retired, joined */
    bckm_writer_u16(&bw, 0);
    bckm_writer_u16(&bw, 0); /* left, new keys */
    bckm_writer_u16(&bw, 0); /* pair refreshes */
    return bw.err ? 0
                  : seal(r, target, BCKM_MSG_UPDATE, BCKM_KEK_SET, set,
                         bckm_sets_epoch(r->w.reg) + 1, key, body, bw.len, mode, out, cap);
}

/* A recorded message of the given kind the adversary can open: its body. */
static size_t opened_body(struct run *r, uint8_t kind, uint8_t *body, size_t cap) {
    for (uint32_t k = 0; k < 16 && r->adv.nmsgs > 0; k++) {
        uint32_t i = l1_rand(&r->w, r->adv.nmsgs);
        if (r->adv.msgs[i].opened && r->adv.msgs[i].h.kind == kind) {
            size_t n = adv_open_copy(&r->adv, i, body, cap);
            if (n > 0) return n;
        }
    }
    return 0;
}

/* Every set whose current KEK the closure holds gets, at an honest member:
 * a forged next-epoch update signed with the adversary's own key and one
 * carrying a genuine trailer of the member's BP; sometimes an old genuine
 * update body re-sealed for the next epoch (mixed fields) and an opened
 * bundle re-sealed under the set KEK, as a set message and as one to the
 * member. */
static void inject_known_sets(struct run *r) {
    const struct bckm_set_info *tab = bckm_sets_table(r->w.reg);
    uint32_t m = bckm_sets_count(r->w.reg);
    uint64_t next = bckm_sets_epoch(r->w.reg) + 1;
    size_t cap = 1 << 16;
    uint8_t *out = malloc(cap), *body = malloc(cap);
    if (out == NULL || body == NULL) exit(2);
    for (uint32_t i = 0; i < m; i++) {
        uint32_t s = tab[i].id, u;
        const struct adv_version *v = adv_current(&r->adv, ADV_SET_KEK, s, 0);
        if (v == NULL || !v->known || (u = random_honest_member(r, s)) == 0) continue;
        size_t len, n;
        if ((len = forge_update(r, u, s, v->value, T_OWN_KEY, out, cap)) > 0)
            inject(r, u, out, len, I_FORGED_UPDATE, "forged set update accepted");
        if ((len = forge_update(r, u, s, v->value, T_SPLICED, out, cap)) > 0)
            inject(r, u, out, len, I_FORGED_UPDATE,
                   "forged set update with a genuine trailer accepted");
        if (l1_rand(&r->w, 4) != 0) continue;
        if ((n = opened_body(r, BCKM_MSG_UPDATE, body, cap)) > 0 &&
            (len = seal(r, u, BCKM_MSG_UPDATE, BCKM_KEK_SET, s, next, v->value, body, n,
                        random_mode(r), out, cap)) > 0)
            inject(r, u, out, len, I_RESEALED_UPDATE, "re-sealed old update accepted");
        if ((n = opened_body(r, BCKM_MSG_BUNDLE, body, cap)) > 0) {
            /* seal refuses a bundle under a set KEK (not canonical): the
             * adversary relabels a node-KEK one. */
            if ((len = seal(r, u, BCKM_MSG_BUNDLE, BCKM_KEK_NODE, s, next, v->value, body, n,
                            random_mode(r), out, cap)) > 0) {
                out[2] = BCKM_KEK_SET;
                inject(r, u, out, len, I_BUNDLE_SETKEK, "bundle under a set KEK accepted");
            }
            if ((len = seal(r, u, BCKM_MSG_BUNDLE, BCKM_KEK_NODE, u, next, v->value, body, n,
                            random_mode(r), out, cap)) > 0)
                inject(r, u, out, len, I_RESEALED_BUNDLE, "re-sealed bundle accepted");
        }
    }
    bckm_wipe(body, cap);
    free(out);
    free(body);
}

/* A departed corrupted node forges for its old set under the KEK it kept. */
static void inject_stale(struct run *r) {
    if (r->nbad == 0) return;
    uint32_t c = r->bad_list[l1_rand(&r->w, r->nbad)];
    struct bckm_fleet_dev *d = dev_of(r, c);
    uint32_t u;
    if (d->live || d->dev->node_id == BCKM_ID_NONE ||
        (u = random_honest_member(r, d->dev->set_id)) == 0)
        return;
    uint8_t out[512];
    size_t len =
        forge_update(r, u, d->dev->set_id, d->dev->set_kek, random_mode(r), out, sizeof out);
    if (len) inject(r, u, out, len, I_STALE, "update under a departed node's KEK accepted");
}

/* Replays random recorded messages, old and current, to honest members of
 * their recipient (a node, or a set's current members). */
static void replay_random(struct run *r) {
    for (uint32_t k = 0; k < 4 && r->adv.nmsgs > 0; k++) {
        uint32_t i = l1_rand(&r->w, r->adv.nmsgs), u;
        const struct bckm_msg_header *h = &r->adv.msgs[i].h;
        u = h->kek_type == BCKM_KEK_NODE ? h->recipient : random_honest_member(r, h->recipient);
        if (u != 0 && honest_awake(r, u)) (void)replay(r, u, i);
    }
}

/* The BP's answer to a resync request (spec 10.5): it opens the request
 * under the node's KEK, then catches the node up from the epoch and with the
 * challenge the request names. Every message goes to the network. Returns
 * the catch-up's result (the request's when it does not open). */
static int answer_request(struct run *r, uint32_t bp, const uint8_t req[BCKM_RESYNC_REQUEST_BYTES],
                          uint32_t *idx, uint32_t *nidx, uint32_t cap_idx, uint64_t *claim_out) {
    uint32_t node;
    uint64_t last;
    uint8_t ch[16];
    struct bckm_msgs out;
    bckm_msgs_init(&out);
    int e =
        bckm_km_open_resync(r->w.fleet.km[bp], req, BCKM_RESYNC_REQUEST_BYTES, &node, &last, ch);
    if (e == BCKM_OK) e = bckm_km_catch_up(r->w.fleet.km[bp], r->w.reg, node, last, ch, &out);
    if (claim_out) *claim_out = last;
    for (uint32_t i = 0; e == BCKM_OK && i < out.n; i++) {
        uint32_t x = adv_record(&r->adv, node, out.buf + out.refs[i].off, out.refs[i].len);
        if (x != ADV_NONE && nidx != NULL && *nidx < cap_idx) idx[(*nidx)++] = x;
    }
    bckm_msgs_free(&out);
    bckm_wipe(ch, sizeof ch);
    return e;
}

/* A corrupted member asks its BP to catch it up from an epoch of its choice
 * (it holds its KEK, so it can make the request); whatever the BP sends goes
 * to the network (the adversary opens it). A claim from before the node
 * joined must get a bundle, never a replay of epochs it held no keys for. */
static void ask_catch_up(struct run *r) {
    uint64_t cur = bckm_sets_epoch(r->w.reg);
    if (r->nbad == 0 || cur < 2 || l1_rand(&r->w, 5) != 0) return;
    uint32_t c = r->bad_list[l1_rand(&r->w, r->nbad)], joined_at = 0;
    struct bckm_fleet_dev *d = dev_of(r, c);
    if (!d->live) return;
    uint64_t span = cur - 1 < 200 ? cur - 1 : 200, claim = cur - 1 - l1_rand(&r->w, (uint32_t)span);
    uint8_t ch[16], req[BCKM_RESYNC_REQUEST_BYTES];
    uint32_t idx[BCKM_KM_LOG_EPOCHS + 1], n = 0;
    (void)bckm_map_get(&r->joined, c, &joined_at);
    /* Half the time: an epoch just before the node existed (attack 2). */
    if (joined_at > 1 && l1_rand(&r->w, 2) == 0)
        claim = joined_at - 1 - l1_rand(&r->w, joined_at - 1 < 8 ? joined_at - 1 : 8);
    bckm_drbg_fill(&r->w.rng, ch, sizeof ch);
    r->t->catchup_asks++;
    if (bckm_resync_request_make(d->dev->kek, c, claim, ch, req) != BCKM_OK) return;
    if (answer_request(r, d->bp, req, idx, &n, BCKM_KM_LOG_EPOCHS + 1, NULL) != BCKM_OK) return;
    if (claim >= joined_at) return;
    r->t->prejoin_asks++;
    int replayed_before_join = 0;
    for (uint32_t i = 0; i < n; i++)
        replayed_before_join |= r->adv.msgs[idx[i]].h.kind == BCKM_MSG_UPDATE &&
                                r->adv.msgs[idx[i]].h.epoch <= joined_at;
    verdict(r, G_SECRECY, !replayed_before_join,
            "catch-up replayed an epoch before the requester joined", c, (uint32_t)claim);
}

/* ---- drops, sleep and resync -------------------------------------------------------- */

/* The adversary drops every message to an honest device for a few changes. */
static void drop_some(struct run *r) {
    if (r->nsleep == 4 || l1_rand(&r->w, 100) >= 12) return;
    struct bckm_fleet_dev *d = &r->w.fleet.devs[l1_rand(&r->w, r->w.fleet.ndevs)];
    if (!honest_awake(r, d->node_id) || d->dev->node_id == BCKM_ID_NONE) return;
    d->asleep = 1;
    r->sleep[r->nsleep++] = (struct sleeper){ d->node_id, r->op + 1 + l1_rand(&r->w, 3) };
}

static void shuffle(struct run *r, uint32_t *a, uint32_t n) {
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = l1_rand(&r->w, i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* Applies messages in the shuffled order a[0..n), again and again while
 * any applies: out-of-order ones are refused (unchanged) until their turn.
 * genuine: they are the BP's answer to this device; else replays. */
static void deliver_reordered(struct run *r, uint32_t node, uint32_t *a, uint32_t n, int genuine) {
    shuffle(r, a, n);
    for (int progress = 1; progress;) {
        progress = 0;
        for (uint32_t k = 0; k < n; k++) {
            if (a[k] == ADV_NONE) continue;
            const struct adv_msg *m = &r->adv.msgs[a[k]];
            int ok = genuine ? apply_foreign(r, node, m->bytes, m->len, 1) == BCKM_OK
                             : replay(r, node, a[k]);
            if (ok) {
                a[k] = ADV_NONE;
                progress = 1;
            }
        }
    }
}

/* Every honest peer of node agrees with it: all set-mates and one member
 * of every other set. */
static void agree_all_peers(struct run *r, uint32_t node) {
    const struct bckm_set_info *tab = bckm_sets_table(r->w.reg);
    uint32_t m = bckm_sets_count(r->w.reg), count;
    struct bckm_device *du = l1_device(&r->w, node);
    for (uint32_t i = 0; i < m; i++) {
        const uint32_t *mem = bckm_sets_members(r->w.reg, tab[i].id, &count);
        for (uint32_t k = 0; k < count; k++) {
            uint32_t v = mem[k];
            if (v == node || !honest_awake(r, v)) continue;
            struct bckm_device *dv = l1_device(&r->w, v);
            uint8_t ku[32], kv[32];
            int ok = bckm_device_key_for(du, v, dv->set_id, ku) == BCKM_OK &&
                     bckm_device_key_for(dv, node, du->set_id, kv) == BCKM_OK &&
                     sodium_memcmp(ku, kv, 32) == 0;
            verdict(r, G_AGREE, ok, "resynced device disagrees", node, v);
            if (tab[i].id != du->set_id) break;
        }
    }
}

/* Keeps an honest node's resync request: the network saw it, and may
 * replay it to the BP later. */
static void keep_request(struct run *r, uint32_t node,
                         const uint8_t req[BCKM_RESYNC_REQUEST_BYTES]) {
    if (r->nreqs == r->cap_reqs) {
        r->cap_reqs = r->cap_reqs ? 2 * r->cap_reqs : 16;
        r->reqs = realloc(r->reqs, (size_t)r->cap_reqs * sizeof *r->reqs);
        if (r->reqs == NULL) exit(2);
    }
    memcpy(r->reqs[r->nreqs], req, BCKM_RESYNC_REQUEST_BYTES);
    if (bckm_map_put(&r->last_req, node, r->nreqs++) != BCKM_OK) exit(2);
}

/* The network replays an honest node's old resync request to the node's BP
 * (it opens: the tag is genuine) and delivers the answer to the node, now
 * awake: every message of it answers an old challenge and must be refused. */
static void replay_old_request(struct run *r) {
    if (r->nreqs == 0 || l1_rand(&r->w, 4) != 0) return;
    const uint8_t *req = r->reqs[l1_rand(&r->w, r->nreqs)];
    uint32_t node = bckm_resync_request_node(req), n = 0, idx[BCKM_KM_LOG_EPOCHS + 1];
    struct bckm_fleet_dev *ld = dev_of(r, node);
    if (ld == NULL || !honest_awake(r, node)) return;
    r->t->old_requests++;
    if (answer_request(r, ld->bp, req, idx, &n, BCKM_KM_LOG_EPOCHS + 1, NULL) != BCKM_OK) return;
    r->t->old_answer_msgs += n;
    for (uint32_t i = 0; i < n; i++) (void)replay(r, node, idx[i]);
}

/* Wakes a sleeper: it enters resync with a fresh challenge. The adversary
 * first replays the node's previous resync request to the BP and delivers
 * the BP's answer to it (it answers an old challenge: refused, attack 8),
 * then delivers what it holds for it (delayed and old messages, shuffled);
 * then the node's own request reaches the BP and its catch-up arrives,
 * reordered.
 * The device must end at the current epoch, agreeing. */
static void wake(struct run *r, uint32_t node) {
    struct bckm_fleet_dev *ld = dev_of(r, node);
    struct bckm_device *d = ld->dev;
    uint8_t ch[16], req[BCKM_RESYNC_REQUEST_BYTES];
    ld->asleep = 0;
    bckm_drbg_fill(&r->w.rng, ch, sizeof ch);
    bckm_device_begin_resync(d, ch);
    r->t->resyncs++;
    uint32_t cap = r->adv.nmsgs + BCKM_KM_LOG_EPOCHS + 2;
    uint32_t *cand = malloc((size_t)cap * sizeof *cand), n = 0, old;
    if (cand == NULL) exit(2);
    if (bckm_map_get(&r->last_req, node, &old)) {
        n = 0;
        r->t->old_requests++;
        if (answer_request(r, ld->bp, r->reqs[old], cand, &n, cap, NULL) == BCKM_OK) {
            r->t->old_answer_msgs += n;
            deliver_reordered(r, node, cand, n, 0);
        }
    }
    n = 0;
    for (uint32_t i = 0; i < r->adv.nmsgs; i++)
        if (adv_routed(&r->adv, i, node) &&
            (r->adv.msgs[i].h.epoch >= d->epoch || l1_rand(&r->w, 16) == 0))
            cand[n++] = i;
    deliver_reordered(r, node, cand, n, 0);
    int e = bckm_resync_request_make(d->kek, node, d->epoch, ch, req);
    if (e == BCKM_OK) keep_request(r, node, req);
    n = 0;
    if (e == BCKM_OK) e = answer_request(r, ld->bp, req, cand, &n, cap, NULL);
    verdict(r, G_AGREE, e == BCKM_OK, "catch-up refused", node, (uint32_t)-e);
    deliver_reordered(r, node, cand, n, 1);
    verdict(r, G_AGREE, d->epoch == bckm_sets_epoch(r->w.reg), "resynced device behind", node,
            (uint32_t)d->epoch);
    agree_all_peers(r, node);
    bckm_wipe(ch, sizeof ch);
    free(cand);
}

static void wake_due(struct run *r) {
    for (uint32_t i = 0; i < r->nsleep;) {
        struct bckm_fleet_dev *d = dev_of(r, r->sleep[i].node);
        if (r->op < r->sleep[i].wake_op && d->live) {
            i++;
            continue;
        }
        if (d->live)
            wake(r, r->sleep[i].node);
        else
            d->asleep = 0;
        r->sleep[i] = r->sleep[--r->nsleep];
    }
}

/* ---- assertions ------------------------------------------------------------------------ */

static int node_key_known(struct run *r, uint32_t set, uint32_t u, uint32_t v) {
    uint8_t k[32], d[32];
    int known = 0;
    for (uint32_t b = 1; b <= r->w.p; b++) {
        if (!bckm_km_knows_set(r->w.fleet.km[b], set) ||
            bckm_km_node_pair_key(r->w.fleet.km[b], r->w.reg, u, v, k) != BCKM_OK)
            continue;
        known = adv_knows(&r->adv, k);
        const uint8_t *q;
        if (!known && (q = adv_seed(&r->adv, u)) != NULL) {
            bckm_kdf_pair_node(q, u, v, d);
            known = sodium_memcmp(d, k, 32) == 0;
        }
        if (!known && (q = adv_seed(&r->adv, v)) != NULL) {
            bckm_kdf_pair_node(q, v, u, d);
            known = sodium_memcmp(d, k, 32) == 0;
        }
        break;
    }
    bckm_wipe(k, sizeof k);
    bckm_wipe(d, sizeof d);
    return known;
}

static int current_known(struct run *r, uint8_t kind, uint32_t x, uint32_t y) {
    const struct adv_version *v = adv_current(&r->adv, kind, x, y);
    return v != NULL && v->known;
}

/* Group 1, over every set with no current corrupted member. */
static void check_secrecy(struct run *r) {
    const struct bckm_set_info *tab = bckm_sets_table(r->w.reg);
    uint32_t m = bckm_sets_count(r->w.reg), count;
    struct bckm_map dirty;
    bckm_map_init(&dirty);
    for (uint32_t i = 0; i < r->nbad; i++) {
        uint32_t set, at;
        if (dev_of(r, r->bad_list[i])->live &&
            bckm_sets_node(r->w.reg, r->bad_list[i], &set, &at) == BCKM_OK &&
            bckm_map_put(&dirty, set, 1) != BCKM_OK)
            exit(2);
    }
    for (uint32_t i = 0; i < m; i++) {
        uint32_t s = tab[i].id;
        if (bckm_map_get(&dirty, s, NULL)) continue;
        verdict(r, G_SECRECY, !current_known(r, ADV_SET_KEK, s, 0), "honest set KEK in the closure",
                s, 0);
        for (uint32_t j = i + 1; j < m; j++)
            if (!bckm_map_get(&dirty, tab[j].id, NULL))
                verdict(r, G_SECRECY, !current_known(r, ADV_SET_PAIR, s, tab[j].id),
                        "honest set-pair key in the closure", s, tab[j].id);
        const uint32_t *mem = bckm_sets_members(r->w.reg, s, &count);
        for (uint32_t a = 0; a < count; a++)
            for (uint32_t b = a + 1; b < count; b++)
                verdict(r, G_SECRECY, !node_key_known(r, s, mem[a], mem[b]),
                        "honest node-pair key in the closure", mem[a], mem[b]);
    }
    bckm_map_free(&dirty);
}

/* Group 3: every honest online device is current and agrees with a random
 * set-mate and a random node of another set; l1_check when nobody sleeps. */
static void check_agreement(struct run *r, uint32_t delivery_errors_before) {
    uint64_t cur = bckm_sets_epoch(r->w.reg);
    for (uint32_t i = 0; i < r->w.fleet.ndevs; i++) {
        uint32_t u = r->w.fleet.devs[i].node_id, count;
        if (!honest_awake(r, u)) continue;
        struct bckm_device *du = r->w.fleet.devs[i].dev;
        verdict(r, G_AGREE, du->epoch == cur, "honest device not at the current epoch", u,
                (uint32_t)du->epoch);
        const uint32_t *mem = bckm_sets_members(r->w.reg, du->set_id, &count);
        uint32_t peers[2] = { count ? mem[l1_rand(&r->w, count)] : 0,
                              r->w.fleet.devs[l1_rand(&r->w, r->w.fleet.ndevs)].node_id };
        for (int k = 0; k < 2; k++) {
            uint32_t v = peers[k];
            if (v == u || !honest_awake(r, v)) continue;
            struct bckm_device *dv = l1_device(&r->w, v);
            uint8_t ku[32], kv[32];
            int ok = bckm_device_key_for(du, v, dv->set_id, ku) == BCKM_OK &&
                     bckm_device_key_for(dv, u, du->set_id, kv) == BCKM_OK &&
                     sodium_memcmp(ku, kv, 32) == 0;
            verdict(r, G_AGREE, ok, "honest peers disagree", u, v);
        }
    }
    verdict(r, G_AGREE, l1_delivery_errors == delivery_errors_before,
            "a device refused its BP's message", 0, 0);
    if (r->nsleep == 0) verdict(r, G_AGREE, l1_check(&r->w, 16) == 0, "l1_check", 0, 0);
}

/* ---- one world ------------------------------------------------------------------------- */

static uint32_t random_leaver(struct run *r) {
    int want_bad = r->nbad > 0 && l1_rand(&r->w, 4) == 0;
    for (uint32_t k = 0; k < 64; k++) {
        uint32_t u = want_bad && k < 8 ? r->bad_list[l1_rand(&r->w, r->nbad)]
                                       : r->w.fleet.devs[l1_rand(&r->w, r->w.fleet.ndevs)].node_id;
        struct bckm_fleet_dev *d = dev_of(r, u);
        if (d->live && !d->asleep) return u;
    }
    return 0;
}

/* One change: growth, then shrinkage (drives Reorder), then a mix, as the
 * property test does. Returns the change's result. */
static int one_change(struct run *r) {
    uint32_t phase = (r->op * 3) / r->wp->ops, n = bckm_sets_nodes(r->w.reg);
    uint32_t join_pct = phase == 0 ? 75 : phase == 1 ? 20 : 50, roll = l1_rand(&r->w, 100), u;
    if (n < 8 || roll < join_pct || (u = random_leaver(r)) == 0) {
        uint32_t node = 0;
        int e = l1_join(&r->w, 1 + l1_rand(&r->w, r->w.p), &node);
        if (e == BCKM_OK &&
            bckm_map_put(&r->joined, node, (uint32_t)bckm_sets_epoch(r->w.reg)) != BCKM_OK)
            exit(2);
        return e;
    }
    return l1_leave(&r->w, u, roll % 3 == 0 ? BCKM_OP_EVICT : BCKM_OP_LEAVE);
}

static void run_world(const struct world_params *wp, struct tally *t) {
    struct run *r = calloc(1, sizeof *r);
    REQUIRE(r != NULL);
    r->wp = wp;
    r->t = t;
    adv_init(&r->adv);
    bckm_map_init(&r->bad);
    bckm_map_init(&r->joined);
    bckm_map_init(&r->last_req);
    REQUIRE(l1_init(&r->w, wp->p, wp->policy, wp->n0 + wp->ops + 64, wp->seed) == 0);
    r->w.tap = on_network;
    r->w.tap_ctx = r;
    l1_delivery_errors = 0;
    REQUIRE(l1_genesis(&r->w, wp->n0) == BCKM_OK);
    for (uint32_t i = 0; i < r->w.fleet.ndevs; i++)
        REQUIRE(bckm_map_put(&r->joined, r->w.fleet.devs[i].node_id,
                             (uint32_t)bckm_sets_epoch(r->w.reg)) == BCKM_OK);
    {
        uint8_t seed[32], pk[32];
        bckm_drbg_fill(&r->w.rng, seed, sizeof seed);
        crypto_sign_seed_keypair(pk, r->own_sk, seed);
        bckm_wipe(seed, sizeof seed);
    }
    record_truth(r);
    corrupt_initial(r);
    adv_close(&r->adv);
    t->worlds++;
    int failed = 0;
    for (r->op = 0; r->op < wp->ops && !failed; r->op++) {
        uint32_t errors_before = l1_delivery_errors;
        drop_some(r);
        int e = one_change(r);
        if (e != BCKM_OK) {
            fprintf(stderr, "seed %llu op %u: change failed: %s\n", (unsigned long long)wp->seed,
                    r->op, bckm_strerror(e));
            failed = 1;
        }
        t->ops++;
        t->moves += r->w.plan.move_count;
        record_truth(r);
        snapshot_current(r);
        corrupt_more(r);
        ask_catch_up(r);
        adv_close(&r->adv);
        inject_known_sets(r);
        inject_stale(r);
        replay_random(r);
        replay_old_request(r);
        wake_due(r);
        adv_close(&r->adv);
        check_secrecy(r);
        check_agreement(r, errors_before);
    }
    CHECK_EQ(failed, 0);
    t->closure += r->adv.nknown;
    t->opened += r->adv.opened;
    t->derived += r->adv.derived;
    l1_free(&r->w);
    adv_free(&r->adv);
    bckm_map_free(&r->bad);
    bckm_map_free(&r->joined);
    bckm_map_free(&r->last_req);
    bckm_wipe(r->own_sk, sizeof r->own_sk);
    free(r->reqs);
    free(r->bad_list);
    free(r->snap);
    free(r);
}

/* ---- world families ------------------------------------------------------------------------ */

/* Draws world i of a family from its base seed (splitmix64). */
static uint64_t mix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void family(const char *name, uint64_t base, uint32_t worlds, uint32_t p_min, uint32_t p_max,
                   int policy, uint32_t n_min, uint32_t n_max, uint32_t ops) {
    struct tally t;
    memset(&t, 0, sizeof t);
    for (uint32_t i = 0; i < worlds; i++) {
        uint64_t s = base * 1000 + i;
        struct world_params wp;
        wp.seed = s;
        wp.p = p_min + (uint32_t)(mix64(&s) % (p_max - p_min + 1));
        wp.policy = policy >= 0 ? (bckm_policy)policy
                                : (mix64(&s) & 1 ? BCKM_POLICY_OWNED : BCKM_POLICY_GLOBAL);
        wp.n0 = n_min + (uint32_t)(mix64(&s) % (n_max - n_min + 1));
        wp.ops = ops;
        wp.k0 = 1 + (uint32_t)(mix64(&s) % 3);
        wp.kmax = wp.k0 + (uint32_t)(mix64(&s) % 5);
        wp.one_set = (int)(mix64(&s) & 1);
        run_world(&wp, &t);
    }
    printf("  %s: worlds=%llu ops=%llu reorder moves=%llu corrupted=%llu closure=%llu keys, "
           "opened=%llu messages, "
           "derived=%llu keys, catch-up asks=%llu, injections tried=%llu refused=%llu, replays "
           "tried=%llu refused=%llu, "
           "resyncs=%llu\n",
           name, (unsigned long long)t.worlds, (unsigned long long)t.ops,
           (unsigned long long)t.moves, (unsigned long long)t.corrupted,
           (unsigned long long)t.closure, (unsigned long long)t.opened,
           (unsigned long long)t.derived, (unsigned long long)t.catchup_asks,
           (unsigned long long)t.inj_tried, (unsigned long long)t.inj_refused,
           (unsigned long long)t.rep_tried, (unsigned long long)t.rep_refused,
           (unsigned long long)t.resyncs);
    printf("  %s: injections by class:", name);
    for (int c = 0; c < I_COUNT; c++)
        printf(" %s %llu/%llu refused;", inj_name[c], (unsigned long long)t.inj_class_refused[c],
               (unsigned long long)t.inj_class[c]);
    printf(" by trailer:");
    for (int m = 0; m < T_COUNT; m++)
        printf(" %s %llu;", trailer_name[m], (unsigned long long)t.trailer[m]);
    printf(" old resync requests replayed %llu (answers %llu messages); catch-up asks from before "
           "the join %llu\n",
           (unsigned long long)t.old_requests, (unsigned long long)t.old_answer_msgs,
           (unsigned long long)t.prejoin_asks);
    printf("  %s: secrecy %llu checks, %llu violations; origin %llu checks, %llu violations; "
           "agreement %llu checks, %llu violations\n",
           name, (unsigned long long)t.checks[G_SECRECY], (unsigned long long)t.viol[G_SECRECY],
           (unsigned long long)t.checks[G_ORIGIN], (unsigned long long)t.viol[G_ORIGIN],
           (unsigned long long)t.checks[G_AGREE], (unsigned long long)t.viol[G_AGREE]);
    /* The run must have exercised every kind of attack, or it proves little. */
    CHECK(t.corrupted > 0);
    CHECK(t.inj_tried > 0);
    CHECK(t.rep_tried > 0);
    CHECK(t.resyncs > 0);
    CHECK(t.catchup_asks > 0);
    CHECK(t.opened > 0);
    for (int c = 0; c < I_COUNT; c++) CHECK_EQ(t.inj_class_refused[c], t.inj_class[c]);
    for (int m = 0; m < T_COUNT; m++) CHECK(t.trailer[m] > 0);
    CHECK(t.inj_class[I_FORGED_UPDATE] > 0);
    CHECK(t.inj_class[I_STALE] > 0);
    CHECK(t.old_requests > 0);
    for (int g = 0; g < G_COUNT; g++) {
        CHECK(t.checks[g] > 0);
        CHECK_EQ(t.viol[g], 0);
    }
}

static void adv_one_bp_global(void) {
    if (check_small())
        family("1 BP global", 1, 3, 1, 1, BCKM_POLICY_GLOBAL, 30, 60, 80);
    else
        family("1 BP global", 1, 5, 1, 1, BCKM_POLICY_GLOBAL, 40, 120, 300);
}

static void adv_owned(void) {
    if (check_small())
        family("2-4 BPs owned", 2, 3, 2, 4, BCKM_POLICY_OWNED, 30, 60, 80);
    else
        family("2-4 BPs owned", 2, 5, 2, 4, BCKM_POLICY_OWNED, 40, 150, 300);
}

static void adv_global(void) {
    if (check_small())
        family("2-4 BPs global", 3, 3, 2, 4, BCKM_POLICY_GLOBAL, 30, 60, 80);
    else
        family("2-4 BPs global", 3, 5, 2, 4, BCKM_POLICY_GLOBAL, 40, 150, 300);
}

static void adv_thousand_nodes(void) {
    if (check_small())
        family("large", 4, 2, 1, 4, -1, 200, 300, 30);
    else
        family("large", 4, 2, 1, 4, -1, 1000, 1000, 100);
}

CHECK_CASES(CASE(adv_one_bp_global), CASE(adv_owned), CASE(adv_global), CASE(adv_thousand_nodes))
