// Micro-benchmarks of libbckm (Google Benchmark).
//
// Every protocol figure here is meant to be read next to the libsodium
// primitives measured in the same run (AEAD seal, keyed BLAKE2b, Ed25519):
// the join/leave benchmarks export the number of AEAD messages, sealed body
// bytes and KDF calls they made, so the report can compute each one's crypto
// lower bound from the measured primitive costs.
//
// BCKM_BENCH_MAX_N (default 1000000) caps the network sizes of the T_k and
// memory benchmarks (bench-quick uses 10000).

#include <benchmark/benchmark.h>

#include <malloc.h>
#include <time.h>
#include <sodium.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include "bckm/block.h"
#include "bckm/contract.h"
#include "bckm/device.h"
#include "bckm/kdf.h"
#include "bckm/km.h"
#include "bckm/msg.h"
#include "bckm/rejoin.h"
#include "bckm/rekey_auth.h"
#include "bckm/resync.h"
#include "bckm/sets.h"
#include "bckm/tx.h"
}

namespace {

void must(int e, const char *what) {
    if (e != BCKM_OK) {
        std::fprintf(stderr, "bckm-bench: %s failed: %s\n", what, bckm_strerror(e));
        std::exit(1);
    }
}

// Manual timings read this thread's CPU clock: the machine is shared, and
// wall time would charge other processes' work to the protocol.
double cpu_now() {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

size_t heap_in_use() {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

// ---- a Layer 1 network with one BP ---------------------------------------------

// One BP (the centralized case, p = 1, owned policy): every join and leave
// at it makes all of the rekey work. Genesis: every node joins through
// prepare + registry apply; provision initialises the set keys; node KEKs
// are installed afterwards, so provisioning makes no bundles (no devices)
// and memory stays O(n) even at n = 1,000,000.
struct World {
    uint32_t n = 0;
    bckm_sets *reg = nullptr;
    bckm_km *km = nullptr;
    bckm_drbg rng{};
    bckm_plan plan{};
    bckm_msgs msgs{};
    size_t heap_before = 0, heap_after = 0;
    std::vector<uint32_t> ids;
    // With bundles: the genesis messages, kept for the device benchmarks.
    bckm_msgs genesis{};
    std::vector<std::vector<uint8_t>> keks;
    uint8_t sign_pk[32], root[32] = {0};   // the BP's batch-signing key, the devices' anchor

    World(uint32_t nodes, bool bundles, uint64_t seed) : n(nodes) {
        bckm_plan_init(&plan);
        bckm_msgs_init(&msgs);
        bckm_msgs_init(&genesis);
        heap_before = heap_in_use();
        uint8_t s[32] = {0};
        bckm_put_u64(s, seed);
        bckm_drbg_init(&rng, s);
        must(bckm_sets_new(&reg, BCKM_POLICY_OWNED), "sets_new");
        bckm_km_config cfg;
        std::memset(&cfg, 0, sizeof cfg);
        uint8_t dseed[32];
        cfg.bp_id = 1;
        cfg.policy = BCKM_POLICY_OWNED;
        bckm_drbg_fill(&rng, cfg.domain, 32);
        bckm_drbg_fill(&rng, dseed, 32);
        cfg.drbg_seed = dseed;
        crypto_sign_seed_keypair(sign_pk, cfg.sign_sk, dseed);
        must(bckm_km_new(&km, &cfg), "km_new");
        sodium_memzero(cfg.sign_sk, sizeof cfg.sign_sk);
        ids.reserve(nodes);
        if (bundles) keks.resize(nodes, std::vector<uint8_t>(32));
        for (uint32_t i = 0; i < nodes; i++) {
            uint8_t kek[32];
            bckm_tx c;
            bckm_drbg_fill(&rng, kek, 32);
            if (bundles) std::memcpy(keks[i].data(), kek, 32);
            must(bckm_km_prepare_join(km, reg, kek, &c), "prepare_join");
            must(bckm_sets_apply(reg, 1, &c, &plan), "sets_apply");
            if (bundles) must(bckm_km_adopt(km, c.node_id), "adopt");
            ids.push_back(c.node_id);
        }
        must(bckm_km_provision(km, reg, bundles ? &genesis : &msgs), "provision");
        if (!bundles) {
            // Install every KEK and drop the genesis codes (the key manager
            // gives the pending array's memory back as it empties).
            for (uint32_t k = 0; k < nodes; k++) {
                uint32_t id = ids[k == 0 ? 0 : nodes - k];
                must(bckm_km_adopt(km, id), "adopt");
                bckm_km_abort(km, id);
            }
        }
        bckm_msgs_clear(&msgs);
        heap_after = heap_in_use();
    }
    ~World() {
        bckm_km_free(km);
        bckm_sets_free(reg);
        bckm_plan_free(&plan);
        bckm_msgs_free(&msgs);
        bckm_msgs_free(&genesis);
    }
    World(const World &) = delete;
    World &operator=(const World &) = delete;

    uint32_t random_member() {
        uint8_t b[8];
        bckm_drbg_fill(&rng, b, 8);
        uint32_t m = bckm_sets_count(reg), count;
        const bckm_set_info *tab = bckm_sets_table(reg);
        uint64_t r = bckm_get_u64(b);
        const uint32_t *mem = bckm_sets_members(reg, tab[r % m].id, &count);
        return mem[(r >> 32) % count];
    }

    bckm_tx join() {
        uint8_t kek[32];
        bckm_tx c;
        bckm_drbg_fill(&rng, kek, 32);
        bckm_msgs_clear(&msgs);
        must(bckm_km_prepare_join(km, reg, kek, &c), "prepare_join");
        must(bckm_sets_apply(reg, 1, &c, &plan), "sets_apply");
        must(bckm_km_commit(km, reg, 1, &c, &plan, &msgs), "commit");
        return c;
    }
    bckm_tx leave(uint32_t node) {
        bckm_tx c;
        bckm_msgs_clear(&msgs);
        must(bckm_km_prepare_leave(km, reg, node, BCKM_OP_LEAVE, &c), "prepare_leave");
        must(bckm_sets_apply(reg, 1, &c, &plan), "sets_apply");
        must(bckm_km_commit(km, reg, 1, &c, &plan, &msgs), "commit");
        return c;
    }
};

std::unique_ptr<World> g_world;

World &world_for(uint32_t n) {
    if (!g_world || g_world->n != n) {
        g_world.reset();
        g_world.reset(new World(n, false, 0x5eed0000u + n));
    }
    return *g_world;
}

uint32_t set_size(const bckm_sets *reg, uint32_t set) {
    uint32_t count = 0;
    (void)bckm_sets_members(reg, set, &count);
    return count;
}

// Where a signed message's batch trailer starts and what it says (u32
// index, u32 count, u8 depth: bckm/rekey_auth.h), for the report's counters.
struct Trailer {
    size_t sealed = 0;
    uint32_t index = 0, count = 0, depth = 0;
};

Trailer trailer_of(const uint8_t *msg, size_t len) {
    bckm_msg_header h;
    Trailer t;
    must(bckm_msg_header_decode(msg, len, &h), "header_decode");
    t.sealed = BCKM_MSG_HEADER_BYTES + (size_t)h.body_len + BCKM_MSG_TAG_BYTES;
    if (t.sealed + 9 > len) must(BCKM_ERR_TRUNCATED, "trailer");
    t.index = bckm_get_u32(msg + t.sealed);
    t.count = bckm_get_u32(msg + t.sealed + 4);
    t.depth = msg[t.sealed + 8];
    return t;
}

// What one change cost in crypto operations: AEAD seals and their body
// bytes (exact, from the messages, batch trailers excluded), the batch
// signature and its Merkle hashing (sealed bytes), KDF calls (from the plan, following the
// key manager's commit: one set-key update per changed set, one pair-key
// update per (changed set, other set) pair, initial keys of a created set,
// two derivations per pairwise node key in each bundle) and, for a join, the
// code commitment: an Ed25519 key pair derived from the node's code, which
// costs a scalar multiplication, not a hash.
struct CryptoCount {
    double msgs = 0, body_bytes = 0, kdf = 0, code_keys = 0, sealed_bytes = 0, batches = 0;
    void add(const CryptoCount &o) {
        msgs += o.msgs;
        body_bytes += o.body_bytes;
        kdf += o.kdf;
        code_keys += o.code_keys;
        sealed_bytes += o.sealed_bytes;
        batches += o.batches;
    }
};

CryptoCount count_crypto(const World &w, const bckm_tx &c) {
    CryptoCount r;
    uint32_t m = bckm_sets_count(w.reg);
    for (uint32_t i = 0; i < w.msgs.n; i++) {
        const bckm_msg_ref &ref = w.msgs.refs[i];
        size_t sealed = trailer_of(w.msgs.buf + ref.off, ref.len).sealed;
        r.msgs += 1;
        r.sealed_bytes += (double)sealed;
        r.body_bytes += (double)(sealed - BCKM_MSG_HEADER_BYTES - BCKM_MSG_TAG_BYTES);
        if (ref.kind == BCKM_MSG_BUNDLE) {
            uint32_t set, attach;
            if (bckm_sets_node(w.reg, ref.recipient, &set, &attach) == BCKM_OK)
                r.kdf += 2.0 * (set_size(w.reg, set) - 1);
        }
    }
    double ch = w.plan.changed_count;
    r.kdf += ch * m - ch * (ch - 1) / 2;
    if (w.plan.created_set != 0) r.kdf += m + 2.0 * (m - 1);
    if (c.op == BCKM_OP_JOIN) r.code_keys += 1;
    if (w.msgs.n > 0) r.batches = 1;   // one signed batch per commit
    return r;
}

void set_counters(benchmark::State &st, const World &w, const CryptoCount &cc, double iters) {
    st.counters["n"] = w.n;
    st.counters["sets"] = bckm_sets_count(w.reg);
    st.counters["msgs"] = cc.msgs / iters;
    st.counters["body_bytes"] = cc.body_bytes / iters;
    st.counters["kdf_calls"] = cc.kdf / iters;
    st.counters["code_keys"] = cc.code_keys / iters;
    st.counters["sealed_bytes"] = cc.sealed_bytes / iters;
    st.counters["batches"] = cc.batches / iters;
}

// T_k of a join: prepare + registry apply (Assignment, Reorder) + commit
// producing every rekey message. Each timed join is followed by an untimed
// leave of the same node so that n stays put.
void BM_JoinTk(benchmark::State &st) {
    World &w = world_for((uint32_t)st.range(0));
    CryptoCount total;
    double iters = 0;
    for (auto _ : st) {
        double t0 = cpu_now();
        bckm_tx c = w.join();
        double t1 = cpu_now();
        st.SetIterationTime(t1 - t0);
        CryptoCount cc = count_crypto(w, c);
        total.add(cc);
        iters += 1;
        w.leave(c.node_id);
    }
    set_counters(st, w, total, iters);
}

// T_k of a leave of a random member; an untimed join puts n back.
void BM_LeaveTk(benchmark::State &st) {
    World &w = world_for((uint32_t)st.range(0));
    CryptoCount total;
    double iters = 0;
    for (auto _ : st) {
        uint32_t node = w.random_member();
        double t0 = cpu_now();
        bckm_tx c = w.leave(node);
        double t1 = cpu_now();
        st.SetIterationTime(t1 - t0);
        CryptoCount cc = count_crypto(w, c);
        total.add(cc);
        iters += 1;
        w.join();
    }
    set_counters(st, w, total, iters);
}

// BP memory after genesis: the key manager's own count and the heap the
// registry holds (allocator delta of the whole genesis minus the key
// manager's count). One iteration: the figure is a size, not a time.
void BM_BpMemory(benchmark::State &st) {
    World &w = world_for((uint32_t)st.range(0));
    for (auto _ : st) benchmark::DoNotOptimize(bckm_km_bytes(w.km));
    double km = (double)bckm_km_bytes(w.km);
    double total = (double)(w.heap_after - w.heap_before);
    st.counters["n"] = w.n;
    st.counters["km_bytes"] = km;
    st.counters["heap_bytes"] = total;
    st.counters["registry_bytes"] = total - km;
    st.counters["km_bytes_per_node"] = km / w.n;
    st.counters["heap_bytes_per_node"] = total / w.n;
}

// ---- Assignment and Reorder (pure functions over a set table) ------------------

std::vector<bckm_set_info> table_for(uint32_t m, uint32_t cap) {
    std::vector<bckm_set_info> t(m);
    for (uint32_t i = 0; i < m; i++) t[i] = bckm_set_info{bckm_id_make(1, i + 1), 1, cap - (i % 3 == 0 ? 1 : 0)};
    t[m - 1].size = cap;
    return t;
}

void BM_Assignment(benchmark::State &st) {
    uint32_t m = (uint32_t)st.range(0);
    auto t = table_for(m, m);
    uint32_t id;
    int fresh;
    for (auto _ : st) {
        must(bckm_sets_assign(t.data(), m, 1, m * m, m + 1, &id, &fresh), "assign");
        benchmark::DoNotOptimize(id);
    }
    st.counters["sets"] = m;
}

void BM_ReorderPick(benchmark::State &st) {
    uint32_t m = (uint32_t)st.range(0);
    auto t = table_for(m, m);
    uint32_t victim;
    for (auto _ : st) {
        int r = bckm_sets_pick_dissolve(t.data(), m, 1, (m - 2) * m, m, &victim);
        benchmark::DoNotOptimize(r);
        benchmark::DoNotOptimize(victim);
    }
    st.counters["sets"] = m;
}

// ---- key derivation -------------------------------------------------------------

uint8_t g_key[32], g_refresh[16], g_out[32];

void BM_KdfSetUpdate(benchmark::State &st) {
    for (auto _ : st) { bckm_kdf_set_update(g_key, g_refresh, 7, 42, g_out); benchmark::DoNotOptimize(g_out); }
}
void BM_KdfSetPairUpdate(benchmark::State &st) {
    for (auto _ : st) { bckm_kdf_setpair_update(g_key, g_refresh, 7, 9, 42, g_out); benchmark::DoNotOptimize(g_out); }
}
void BM_KdfPairNode(benchmark::State &st) {
    for (auto _ : st) { bckm_kdf_pair_node(g_key, 7, 9, g_out); benchmark::DoNotOptimize(g_out); }
}
void BM_KdfSetInit(benchmark::State &st) {
    for (auto _ : st) { bckm_kdf_set_init(g_key, 7, g_out); benchmark::DoNotOptimize(g_out); }
}
void BM_KdfSetPairInit(benchmark::State &st) {
    for (auto _ : st) { bckm_kdf_setpair_init(g_key, 7, 9, g_out); benchmark::DoNotOptimize(g_out); }
}
void BM_KdfPairSeed(benchmark::State &st) {
    for (auto _ : st) { bckm_kdf_pair_seed(g_key, 7, g_out); benchmark::DoNotOptimize(g_out); }
}
void BM_DrbgFill32(benchmark::State &st) {
    bckm_drbg d;
    bckm_drbg_init(&d, g_key);
    for (auto _ : st) { bckm_drbg_fill(&d, g_out, 32); benchmark::DoNotOptimize(g_out); }
}

// ---- libsodium primitives (the lower bounds) --------------------------------------

void BM_AeadSeal(benchmark::State &st) {
    size_t len = (size_t)st.range(0);
    std::vector<uint8_t> body(len, 0x5a), out(len + 16);
    uint8_t ad[44] = {0}, nonce[24] = {0};
    unsigned long long clen;
    for (auto _ : st) {
        crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), &clen, body.data(), len, ad, sizeof ad, nullptr,
                                                   nonce, g_key);
        benchmark::DoNotOptimize(out.data());
    }
    st.SetBytesProcessed((int64_t)st.iterations() * (int64_t)len);
}

void BM_Blake2bKeyed(benchmark::State &st) {
    size_t len = (size_t)st.range(0);
    std::vector<uint8_t> in(len, 0x33);
    for (auto _ : st) {
        crypto_generichash(g_out, 32, in.data(), len, g_key, 32);
        benchmark::DoNotOptimize(g_out);
    }
}

// Unkeyed BLAKE2b-256, what the batch Merkle tree hashes: an inner node is
// 65 bytes, a leaf one byte more than its message.
void BM_Blake2b(benchmark::State &st) {
    size_t len = (size_t)st.range(0);
    std::vector<uint8_t> in(len, 0x35);
    for (auto _ : st) {
        crypto_generichash(g_out, 32, in.data(), len, nullptr, 0);
        benchmark::DoNotOptimize(g_out);
    }
}

uint8_t g_pk[32], g_sk[64], g_sig[64], g_signmsg[86];

void BM_Ed25519Sign(benchmark::State &st) {
    for (auto _ : st) {
        crypto_sign_detached(g_sig, nullptr, g_signmsg, sizeof g_signmsg, g_sk);
        benchmark::DoNotOptimize(g_sig);
    }
}

// The join's code commitment (bckm_code_commit): a key pair from a seed.
void BM_Ed25519SeedKeypair(benchmark::State &st) {
    uint8_t seed[32] = { 1 }, pk[32], sk[64];
    for (auto _ : st) {
        crypto_sign_seed_keypair(pk, sk, seed);
        benchmark::DoNotOptimize(pk);
        seed[0]++;
    }
    sodium_memzero(sk, sizeof sk);
}

void BM_Ed25519Verify(benchmark::State &st) {
    crypto_sign_detached(g_sig, nullptr, g_signmsg, sizeof g_signmsg, g_sk);
    for (auto _ : st) {
        int r = crypto_sign_verify_detached(g_sig, g_signmsg, sizeof g_signmsg, g_pk);
        benchmark::DoNotOptimize(r);
    }
}

// ---- device side -------------------------------------------------------------------

// A small world with genesis bundles, a device store for one member, and
// one join's messages: the member applies its set's update; a fresh device
// applies the joiner's bundle.
struct DeviceFixture {
    std::unique_ptr<World> w;
    std::vector<uint8_t> dev_mem, update, bundle, fresh_mem;
    uint32_t cap_peers = 0, cap_sets = 0;
    uint8_t joiner_kek[32];
    size_t bundle_peers = 0, bundle_sets = 0;

    explicit DeviceFixture(uint32_t n) {
        w.reset(new World(n, true, 0xde71ce00u + n));
        bckm_device_caps(n + 16, 1, &cap_peers, &cap_sets);
        size_t bytes = BCKM_DEVICE_BYTES(cap_peers, cap_sets);
        dev_mem.assign(bytes + 16, 0);
        fresh_mem.assign(bytes + 16, 0);
        // The member: the first genesis node.
        uint32_t member = w->ids[0];
        bckm_device *d;
        must(bckm_device_init(dev_mem.data(), bytes, cap_peers, cap_sets, w->keks[0].data(), 1, w->sign_pk,
                              w->root, &d), "device_init");
        for (uint32_t i = 0; i < w->genesis.n; i++) {
            const bckm_msg_ref &r = w->genesis.refs[i];
            if (r.recipient != member) continue;
            std::vector<uint8_t> copy(w->genesis.buf + r.off, w->genesis.buf + r.off + r.len);
            must(bckm_device_apply(d, copy.data(), copy.size()), "genesis bundle");
        }
        // One join at the BP; keep the member's set update and the bundle.
        uint8_t kek[32];
        bckm_tx c;
        bckm_drbg_fill(&w->rng, kek, 32);
        std::memcpy(joiner_kek, kek, 32);
        bckm_msgs_clear(&w->msgs);
        must(bckm_km_prepare_join(w->km, w->reg, kek, &c), "prepare_join");
        must(bckm_sets_apply(w->reg, 1, &c, &w->plan), "sets_apply");
        must(bckm_km_commit(w->km, w->reg, 1, &c, &w->plan, &w->msgs), "commit");
        for (uint32_t i = 0; i < w->msgs.n; i++) {
            const bckm_msg_ref &r = w->msgs.refs[i];
            const uint8_t *p = w->msgs.buf + r.off;
            if (r.kind == BCKM_MSG_UPDATE && r.kek_type == BCKM_KEK_SET && r.recipient == d->set_id)
                update.assign(p, p + r.len);
            if (r.kind == BCKM_MSG_BUNDLE && r.recipient == c.node_id) bundle.assign(p, p + r.len);
        }
        if (update.empty() || bundle.empty()) must(BCKM_ERR_STATE, "device fixture messages");
    }
};

void BM_DeviceApplyUpdate(benchmark::State &st) {
    DeviceFixture fx((uint32_t)st.range(0));
    std::vector<uint8_t> mem(fx.dev_mem.size()), msg(fx.update.size());
    for (auto _ : st) {
        std::memcpy(mem.data(), fx.dev_mem.data(), mem.size());
        std::memcpy(msg.data(), fx.update.data(), msg.size());
        double t0 = cpu_now();
        int e = bckm_device_apply(reinterpret_cast<bckm_device *>(mem.data()), msg.data(), msg.size());
        double t1 = cpu_now();
        must(e, "device_apply(update)");
        st.SetIterationTime(t1 - t0);
    }
    const bckm_device *d = reinterpret_cast<const bckm_device *>(fx.dev_mem.data());
    st.counters["n"] = (double)st.range(0);
    st.counters["device_keys"] = bckm_device_key_count(d);
    st.counters["msg_bytes"] = (double)fx.update.size();
}

void BM_DeviceApplyBundle(benchmark::State &st) {
    DeviceFixture fx((uint32_t)st.range(0));
    size_t bytes = BCKM_DEVICE_BYTES(fx.cap_peers, fx.cap_sets);
    std::vector<uint8_t> msg(fx.bundle.size());
    uint32_t keys = 0;
    for (auto _ : st) {
        bckm_device *d;
        must(bckm_device_init(fx.fresh_mem.data(), bytes, fx.cap_peers, fx.cap_sets, fx.joiner_kek, 1, fx.w->sign_pk,
                              fx.w->root, &d), "init");
        std::memcpy(msg.data(), fx.bundle.data(), msg.size());
        double t0 = cpu_now();
        int e = bckm_device_apply(d, msg.data(), msg.size());
        double t1 = cpu_now();
        must(e, "device_apply(bundle)");
        keys = bckm_device_key_count(d);
        st.SetIterationTime(t1 - t0);
    }
    st.counters["n"] = (double)st.range(0);
    st.counters["device_keys"] = keys;
    st.counters["msg_bytes"] = (double)fx.bundle.size();
}

// The device's origin check alone: one batch trailer (path + one Ed25519
// verification) of the member's set update.
void BM_DeviceVerify(benchmark::State &st) {
    DeviceFixture fx((uint32_t)st.range(0));
    for (auto _ : st) must(bckm_rekey_auth_verify(fx.update.data(), fx.update.size(), fx.w->sign_pk), "verify");
    Trailer t = trailer_of(fx.update.data(), fx.update.size());
    st.counters["n"] = (double)st.range(0);
    st.counters["msg_bytes"] = (double)fx.update.size();
    st.counters["sealed_bytes"] = (double)t.sealed;
    st.counters["batch_msgs"] = (double)t.count;
    st.counters["path_hashes"] = (double)t.depth;
}

// The BP's signature of one batch of k sealed messages (leaves, tree, one
// Ed25519 signature, trailers appended).
void BM_BatchSign(benchmark::State &st) {
    uint32_t k = (uint32_t)st.range(0);
    uint8_t pk[32], sk[64], kek[32] = {3}, body[120] = {0};
    crypto_sign_keypair(pk, sk);
    bckm_msgs tmpl;
    bckm_msgs_init(&tmpl);
    size_t one = BCKM_MSG_HEADER_BYTES + sizeof body + BCKM_MSG_TAG_BYTES;
    tmpl.buf = static_cast<uint8_t *>(std::malloc(one * k));
    tmpl.refs = static_cast<bckm_msg_ref *>(std::malloc(sizeof(bckm_msg_ref) * k));
    if (tmpl.buf == nullptr || tmpl.refs == nullptr) must(BCKM_ERR_NOMEM, "alloc");
    tmpl.cap = one * k; tmpl.refs_cap = k;
    for (uint32_t i = 0; i < k; i++) {
        bckm_msg_header h;
        std::memset(&h, 0, sizeof h);
        h.kind = BCKM_MSG_UPDATE; h.kek_type = BCKM_KEK_NODE; h.sender = 1; h.recipient = 1 + i; h.epoch = 9;
        randombytes_buf(h.nonce, sizeof h.nonce);
        size_t len = 0;
        must(bckm_msg_seal(&h, kek, body, sizeof body, tmpl.buf + tmpl.len, tmpl.cap - tmpl.len, &len), "seal");
        tmpl.refs[i] = bckm_msg_ref{ BCKM_MSG_UPDATE, BCKM_KEK_NODE, 1 + i, tmpl.len, len };
        tmpl.len += len;
        tmpl.n++;
    }
    size_t signed_bytes = 0;
    for (auto _ : st) {
        bckm_msgs m;
        bckm_msgs_init(&m);
        m.buf = static_cast<uint8_t *>(std::malloc(tmpl.len));
        m.refs = static_cast<bckm_msg_ref *>(std::malloc(sizeof(bckm_msg_ref) * k));
        if (m.buf == nullptr || m.refs == nullptr) must(BCKM_ERR_NOMEM, "alloc");
        std::memcpy(m.buf, tmpl.buf, tmpl.len);
        std::memcpy(m.refs, tmpl.refs, sizeof(bckm_msg_ref) * k);
        m.len = m.cap = tmpl.len; m.n = m.refs_cap = k;
        double t0 = cpu_now();
        int e = bckm_rekey_batch_sign(&m, 0, 1, sk);
        double t1 = cpu_now();
        must(e, "batch_sign");
        signed_bytes = m.len;
        bckm_msgs_free(&m);
        st.SetIterationTime(t1 - t0);
    }
    st.counters["k"] = (double)k;
    st.counters["sealed_bytes_per_msg"] = (double)one;
    st.counters["added_bytes_per_msg"] = (double)(signed_bytes - tmpl.len) / k;
    bckm_msgs_free(&tmpl);
    sodium_memzero(sk, sizeof sk);
}

// ---- catch-up, resync request and rejoin (issue 14) -----------------------------------

// A sleeping node: a BP-1 network of n nodes; the sleeper joins with a KEK
// the fixture keeps, then `epochs` changes of other nodes follow (joins,
// each undone by a leave, so n stays put) that the sleeper misses.
struct SleeperFixture {
    std::unique_ptr<World> w;
    uint32_t node = 0;
    uint8_t kek[32];
    uint64_t cur = 0;

    SleeperFixture(uint32_t n, uint32_t epochs) {
        w.reset(new World(n, false, 0x51ee9000u + n));
        bckm_tx c;
        bckm_drbg_fill(&w->rng, kek, sizeof kek);
        bckm_msgs_clear(&w->msgs);
        must(bckm_km_prepare_join(w->km, w->reg, kek, &c), "prepare_join");
        must(bckm_sets_apply(w->reg, 1, &c, &w->plan), "sets_apply");
        must(bckm_km_commit(w->km, w->reg, 1, &c, &w->plan, &w->msgs), "commit");
        node = c.node_id;
        uint64_t target = bckm_sets_epoch(w->reg) + epochs;
        while (bckm_sets_epoch(w->reg) < target) {
            bckm_tx j = w->join();
            if (bckm_sets_epoch(w->reg) < target) w->leave(j.node_id);
        }
        bckm_msgs_clear(&w->msgs);
        cur = bckm_sets_epoch(w->reg);
    }
    ~SleeperFixture() { sodium_memzero(kek, sizeof kek); }
    SleeperFixture(const SleeperFixture &) = delete;
    SleeperFixture &operator=(const SleeperFixture &) = delete;
};

constexpr uint32_t kSleeperN = 10000, kSleeperEpochs = 256;
std::unique_ptr<SleeperFixture> g_sleeper;

SleeperFixture &sleeper() {
    if (!g_sleeper) g_sleeper.reset(new SleeperFixture(kSleeperN, kSleeperEpochs));
    return *g_sleeper;
}

// The BP's answer to a node that slept through the last k epochs: k updates
// under the node's KEK, signed as one batch. Only the call is timed; the
// answer must be the replay (k updates), not the fallback bundle.
void BM_CatchUp(benchmark::State &st) {
    uint32_t k = (uint32_t)st.range(0);
    SleeperFixture &fx = sleeper();
    uint8_t ch[16];
    randombytes_buf(ch, sizeof ch);
    // out is sized up front, as a BP reusing one send buffer would have it,
    // so the timing excludes the buffer's growth.
    bckm_msgs out;
    bckm_msgs_init(&out);
    out.cap = (size_t)1 << 20;
    out.refs_cap = 2 * kSleeperEpochs;
    out.buf = static_cast<uint8_t *>(std::malloc(out.cap));
    out.refs = static_cast<bckm_msg_ref *>(std::malloc(sizeof(bckm_msg_ref) * out.refs_cap));
    if (out.buf == nullptr || out.refs == nullptr) must(BCKM_ERR_NOMEM, "alloc");
    for (auto _ : st) {
        bckm_msgs_clear(&out);
        double t0 = cpu_now();
        int e = bckm_km_catch_up(fx.w->km, fx.w->reg, fx.node, fx.cur - k, ch, &out);
        double t1 = cpu_now();
        must(e, "catch_up");
        st.SetIterationTime(t1 - t0);
    }
    if (out.n != k) must(BCKM_ERR_STATE, "catch-up: not one update per missed epoch");
    double sealed = 0;
    for (uint32_t i = 0; i < out.n; i++) {
        if (out.refs[i].kind != BCKM_MSG_UPDATE) must(BCKM_ERR_STATE, "catch-up: fell back to a bundle");
        sealed += (double)trailer_of(out.buf + out.refs[i].off, out.refs[i].len).sealed;
    }
    st.counters["n"] = (double)fx.w->n;
    st.counters["k"] = (double)k;
    st.counters["msgs"] = (double)out.n;
    st.counters["sealed_bytes"] = sealed;
    st.counters["total_bytes"] = (double)out.len;
    bckm_msgs_free(&out);
    sodium_memzero(ch, sizeof ch);
}

// The node's resync request (make, under its KEK) and the BP opening it
// (KEK look-up by node ID, tag check): what precedes every catch-up.
void BM_ResyncRequest(benchmark::State &st) {
    SleeperFixture &fx = sleeper();
    uint8_t ch[16], got[16], req[BCKM_RESYNC_REQUEST_BYTES];
    uint32_t node = 0;
    uint64_t last = 0;
    randombytes_buf(ch, sizeof ch);
    for (auto _ : st) {
        ch[0]++;
        must(bckm_resync_request_make(fx.kek, fx.node, fx.cur - 1, ch, req), "resync_request_make");
        must(bckm_km_open_resync(fx.w->km, req, sizeof req, &node, &last, got), "open_resync");
        benchmark::DoNotOptimize(got);
    }
    if (node != fx.node || last != fx.cur - 1 || sodium_memcmp(got, ch, sizeof ch) != 0)
        must(BCKM_ERR_MISMATCH, "open_resync fields");
    st.counters["n"] = (double)fx.w->n;
    sodium_memzero(ch, sizeof ch);
    sodium_memzero(got, sizeof got);
}

// A cluster of p BPs: the BP table a node trusts (its root), each BP's
// signing key, and one node's secret code and its on-chain commitment.
struct RejoinFixture {
    bckm_bp_table bps;
    std::vector<std::vector<uint8_t>> sks;
    uint8_t root[32], code[BCKM_CODE_BYTES], commitment[32];
    uint32_t p;

    explicit RejoinFixture(uint32_t nbps) : sks(nbps + 1), p(nbps) {
        std::memset(&bps, 0, sizeof bps);
        for (uint32_t b = 1; b <= nbps; b++) {
            sks[b].assign(64, 0);
            crypto_sign_keypair(bps.pk[b], sks[b].data());
            bps.has[b] = 1;
        }
        bckm_bps_root(&bps, root);
        randombytes_buf(code, sizeof code);
        bckm_code_commit(code, commitment);
    }
    ~RejoinFixture() {
        for (auto &k : sks) if (!k.empty()) sodium_memzero(k.data(), k.size());
        sodium_memzero(code, sizeof code);
    }
};

// The whole mutual rejoin handshake with the table's last BP (node hello; BP
// challenge with its signature; node prove: table root, BP signature, its
// own signature, KEK; BP verify against the commitment), every iteration.
// The manual time is one side's CPU: the node's (hello + prove) or the
// BP's (challenge + verify).
void rejoin_run(benchmark::State &st, bool node_side) {
    RejoinFixture fx((uint32_t)st.range(0));
    const uint32_t b = fx.p, node_id = bckm_id_make(1, 7);
    const uint8_t *bsk = fx.sks[b].data();
    double node_total = 0, bp_total = 0;
    for (auto _ : st) {
        bckm_rejoin_node ns;
        bckm_rejoin_bp bs;
        uint8_t hello[BCKM_REJOIN_HELLO_BYTES], ch[BCKM_REJOIN_CHALLENGE_BYTES], proof[BCKM_REJOIN_PROOF_BYTES];
        uint8_t bpk[BCKM_SIGN_PK_BYTES];
        uint32_t bid = 0;
        double tn = 0, tb = 0, t0;
        t0 = cpu_now();
        int e = bckm_rejoin_node_hello(&ns, node_id, nullptr, hello);
        tn += cpu_now() - t0;
        must(e, "rejoin_node_hello");
        t0 = cpu_now();
        e = bckm_rejoin_bp_challenge(&bs, b, bsk, hello, nullptr, ch);
        tb += cpu_now() - t0;
        must(e, "rejoin_bp_challenge");
        t0 = cpu_now();
        e = bckm_rejoin_node_prove(&ns, fx.root, &fx.bps, fx.code, ch, proof, &bid, bpk);
        tn += cpu_now() - t0;
        must(e, "rejoin_node_prove");
        t0 = cpu_now();
        e = bckm_rejoin_bp_verify(&bs, fx.commitment, proof);
        tb += cpu_now() - t0;
        must(e, "rejoin_bp_verify");
        if (bid != b || sodium_memcmp(ns.kek, bs.kek, sizeof ns.kek) != 0) must(BCKM_ERR_MISMATCH, "rejoin KEKs");
        sodium_memzero(&ns, sizeof ns);
        sodium_memzero(&bs, sizeof bs);
        node_total += tn;
        bp_total += tb;
        st.SetIterationTime(node_side ? tn : tb);
    }
    double it = st.iterations() ? (double)st.iterations() : 1;
    st.counters["bps"] = (double)fx.p;
    st.counters["node_us"] = node_total / it * 1e6;
    st.counters["bp_us"] = bp_total / it * 1e6;
}
void BM_RejoinNode(benchmark::State &st) { rejoin_run(st, true); }
void BM_RejoinBp(benchmark::State &st) { rejoin_run(st, false); }

// ---- Layer 2 codecs ------------------------------------------------------------------

bckm_envelope sample_envelope(uint32_t i) {
    bckm_envelope e;
    std::memset(&e, 0, sizeof e);
    e.version = 1;
    e.bp = 1 + (i % 4);
    e.seq = i + 1;
    e.tx.op = BCKM_OP_JOIN;
    e.tx.node_id = bckm_id_make(e.bp, i + 1);
    e.tx.set_id = bckm_id_make(e.bp, 1);
    std::memset(e.tx.code_hash, 0x11, sizeof e.tx.code_hash);
    std::memset(e.tx.refresh, 0x22, sizeof e.tx.refresh);
    must(bckm_envelope_sign(&e, g_sk), "envelope_sign");
    return e;
}

void BM_TxEncode(benchmark::State &st) {
    bckm_envelope e = sample_envelope(0);
    uint8_t buf[BCKM_TX_BYTES];
    for (auto _ : st) { must(bckm_tx_encode(&e.tx, buf), "tx_encode"); benchmark::DoNotOptimize(buf); }
}
void BM_TxDecode(benchmark::State &st) {
    bckm_envelope e = sample_envelope(0);
    uint8_t buf[BCKM_TX_BYTES];
    bckm_tx t;
    must(bckm_tx_encode(&e.tx, buf), "tx_encode");
    for (auto _ : st) { must(bckm_tx_decode(buf, sizeof buf, &t), "tx_decode"); benchmark::DoNotOptimize(t); }
}
void BM_EnvelopeEncode(benchmark::State &st) {
    bckm_envelope e = sample_envelope(0);
    uint8_t buf[BCKM_ENVELOPE_BYTES];
    for (auto _ : st) { must(bckm_envelope_encode(&e, buf), "env_encode"); benchmark::DoNotOptimize(buf); }
}
void BM_EnvelopeDecode(benchmark::State &st) {
    bckm_envelope e = sample_envelope(0), o;
    uint8_t buf[BCKM_ENVELOPE_BYTES];
    must(bckm_envelope_encode(&e, buf), "env_encode");
    for (auto _ : st) { must(bckm_envelope_decode(buf, sizeof buf, &o), "env_decode"); benchmark::DoNotOptimize(o); }
}
void BM_EnvelopeSign(benchmark::State &st) {
    bckm_envelope e = sample_envelope(0);
    for (auto _ : st) { must(bckm_envelope_sign(&e, g_sk), "env_sign"); benchmark::DoNotOptimize(e.sig); }
}
void BM_EnvelopeVerify(benchmark::State &st) {
    bckm_envelope e = sample_envelope(0);
    for (auto _ : st) { must(bckm_envelope_verify(&e, g_pk), "env_verify"); }
}

bckm_block_header sample_header() {
    bckm_block_header h;
    std::memset(&h, 0, sizeof h);
    h.version = BCKM_BLOCK_VERSION;
    h.height = 7;
    h.proposer = 2;
    h.time = 123456;
    return h;
}

void BM_BlockHeaderEncode(benchmark::State &st) {
    bckm_block_header h = sample_header();
    uint8_t buf[BCKM_BLOCK_HEADER_BYTES];
    for (auto _ : st) { must(bckm_block_header_encode(&h, buf), "hdr_encode"); benchmark::DoNotOptimize(buf); }
}
void BM_BlockHeaderDecode(benchmark::State &st) {
    bckm_block_header h = sample_header(), o;
    uint8_t buf[BCKM_BLOCK_HEADER_BYTES];
    must(bckm_block_header_encode(&h, buf), "hdr_encode");
    for (auto _ : st) { must(bckm_block_header_decode(buf, sizeof buf, &o), "hdr_decode"); benchmark::DoNotOptimize(o); }
}
void BM_BlockHash(benchmark::State &st) {
    bckm_block_header h = sample_header();
    uint8_t out[32];
    for (auto _ : st) { must(bckm_block_hash(&h, out), "block_hash"); benchmark::DoNotOptimize(out); }
}

// A whole block of n envelopes: encode and decode (with the root check).
void BM_BlockEncode(benchmark::State &st) {
    uint32_t n = (uint32_t)st.range(0);
    std::vector<bckm_envelope> envs;
    for (uint32_t i = 0; i < n; i++) envs.push_back(sample_envelope(i));
    bckm_block_header h = sample_header();
    must(bckm_block_seal(&h, envs.data(), n), "block_seal");
    std::vector<uint8_t> buf(BCKM_BLOCK_HEADER_BYTES + (size_t)n * (BCKM_BLOCK_TX_PREFIX_BYTES + BCKM_ENVELOPE_BYTES));
    size_t len;
    for (auto _ : st) {
        must(bckm_block_encode(&h, envs.data(), n, buf.data(), buf.size(), &len), "block_encode");
        benchmark::DoNotOptimize(buf.data());
    }
    st.counters["txs"] = n;
}
void BM_BlockDecode(benchmark::State &st) {
    uint32_t n = (uint32_t)st.range(0);
    std::vector<bckm_envelope> envs, out(n);
    for (uint32_t i = 0; i < n; i++) envs.push_back(sample_envelope(i));
    bckm_block_header h = sample_header(), oh;
    must(bckm_block_seal(&h, envs.data(), n), "block_seal");
    std::vector<uint8_t> buf(BCKM_BLOCK_HEADER_BYTES + (size_t)n * (BCKM_BLOCK_TX_PREFIX_BYTES + BCKM_ENVELOPE_BYTES));
    size_t len;
    must(bckm_block_encode(&h, envs.data(), n, buf.data(), buf.size(), &len), "block_encode");
    for (auto _ : st) {
        must(bckm_block_decode(buf.data(), len, &oh, out.data(), n), "block_decode");
        benchmark::DoNotOptimize(out.data());
    }
    st.counters["txs"] = n;
}

// The framing check and root of a body of n opaque 64-byte transactions
// (what an opaque ledger checks per block).
void BM_BlockBodyRoot(benchmark::State &st) {
    uint32_t n = (uint32_t)st.range(0);
    std::vector<uint8_t> tx(64, 0x3c), body((size_t)n * (BCKM_BLOCK_TX_PREFIX_BYTES + 64));
    size_t pos = 0;
    uint8_t root[BCKM_HASH_BYTES];
    for (uint32_t i = 0; i < n; i++) {
        tx[0] = (uint8_t)i;
        must(bckm_block_body_put(body.data(), body.size(), &pos, tx.data(), tx.size()), "body_put");
    }
    for (auto _ : st) {
        must(bckm_block_body_root(body.data(), pos, n, root), "body_root");
        benchmark::DoNotOptimize(root);
    }
    st.counters["txs"] = n;
}

// A commit certificate of q = 2f+1 signatures out of p = 3f+1 BPs.
struct CertFixture {
    std::vector<std::vector<uint8_t>> sks;
    std::vector<uint8_t> pks;
    bckm_cert cert;
    uint8_t hash[32];
    uint32_t p, f;
    explicit CertFixture(uint32_t bps) : p(bps), f((bps - 1) / 3) {
        pks.resize((size_t)bps * 32);
        for (uint32_t b = 0; b < bps; b++) {
            std::vector<uint8_t> sk(64);
            crypto_sign_keypair(&pks[(size_t)b * 32], sk.data());
            sks.push_back(sk);
        }
        std::memset(&cert, 0, sizeof cert);
        std::memset(hash, 0x44, sizeof hash);
        cert.version = BCKM_CERT_VERSION;
        cert.height = 9;
        std::memcpy(cert.block_hash, hash, 32);
        cert.count = 2 * f + 1;
        for (uint32_t i = 0; i < cert.count; i++) {
            cert.sigs[i].bp = i + 1;
            must(bckm_commit_sign(9, cert.view, hash, sks[i].data(), cert.sigs[i].sig), "commit_sign");
        }
    }
};

void BM_CertEncode(benchmark::State &st) {
    CertFixture fx((uint32_t)st.range(0));
    std::vector<uint8_t> buf(BCKM_CERT_MAX_BYTES);
    size_t len;
    for (auto _ : st) { must(bckm_cert_encode(&fx.cert, buf.data(), buf.size(), &len), "cert_encode"); benchmark::DoNotOptimize(buf.data()); }
    st.counters["sigs"] = fx.cert.count;
}
void BM_CertDecode(benchmark::State &st) {
    CertFixture fx((uint32_t)st.range(0));
    std::vector<uint8_t> buf(BCKM_CERT_MAX_BYTES);
    size_t len;
    static bckm_cert out;
    must(bckm_cert_encode(&fx.cert, buf.data(), buf.size(), &len), "cert_encode");
    for (auto _ : st) { must(bckm_cert_decode(buf.data(), len, &out), "cert_decode"); benchmark::DoNotOptimize(out.count); }
    st.counters["sigs"] = fx.cert.count;
}
void BM_CertVerify(benchmark::State &st) {
    CertFixture fx((uint32_t)st.range(0));
    const uint8_t(*pk)[32] = reinterpret_cast<const uint8_t(*)[32]>(fx.pks.data());
    for (auto _ : st) must(bckm_cert_verify(&fx.cert, fx.hash, pk, fx.p, fx.f), "cert_verify");
    st.counters["sigs"] = fx.cert.count;
}


// ---- the smart contract and block execution --------------------------------------

// A replicated state holding a genesis of n nodes at BP 1, and that BP's
// key manager and Ed25519 key to make valid envelopes.
struct ContractWorld {
    bckm_bp_table bps;
    uint8_t sk[64];
    bckm_state *st = nullptr;
    bckm_km *km = nullptr;
    bckm_plan plan;
    uint64_t seq = 0;

    explicit ContractWorld(uint32_t n) {
        std::memset(&bps, 0, sizeof bps);
        uint8_t seed[32] = {7};
        crypto_sign_seed_keypair(bps.pk[1], sk, seed);
        bps.has[1] = 1;
        bckm_plan_init(&plan);
        must(bckm_state_new(&st, BCKM_POLICY_OWNED, &bps), "state_new");
        bckm_km_config cfg;
        std::memset(&cfg, 0, sizeof cfg);
        cfg.bp_id = 1;
        cfg.policy = BCKM_POLICY_OWNED;
        cfg.drbg_seed = seed;
        std::memcpy(cfg.sign_sk, sk, sizeof cfg.sign_sk);
        must(bckm_km_new(&km, &cfg), "km_new");
        sodium_memzero(cfg.sign_sk, sizeof cfg.sign_sk);
        for (uint32_t i = 0; i < n; i++) {
            uint8_t kek[32] = {1};
            bckm_tx t;
            must(bckm_km_prepare_join(km, bckm_state_registry(st), kek, &t), "prepare_join");
            must(bckm_contract_genesis(st, 1, &t, &plan), "genesis");
            bckm_km_abort(km, t.node_id);
        }
    }
    ~ContractWorld() { bckm_state_free(st); bckm_km_free(km); bckm_plan_free(&plan); }

    // A signed join valid against state `on`.
    bckm_envelope join_on(const bckm_state *on) {
        bckm_envelope e;
        uint8_t kek[32] = {2};
        std::memset(&e, 0, sizeof e);
        must(bckm_km_prepare_join(km, bckm_state_registry(on), kek, &e.tx), "prepare_join");
        bckm_km_abort(km, e.tx.node_id);
        e.version = BCKM_ENVELOPE_VERSION;
        e.bp = 1;
        e.seq = ++seq;
        must(bckm_envelope_sign(&e, sk), "sign");
        return e;
    }
};

// The contract's check of one join envelope (signature, freshness, Assignment
// rerun) against a state of 10,000 nodes.
void BM_ContractCheck(benchmark::State &st) {
    ContractWorld w(10000);
    bckm_envelope e = w.join_on(w.st);
    for (auto _ : st) must(bckm_contract_check(w.st, &e), "check");
}

// Check and apply of one join (registry change, Reorder, state digest).
void BM_ContractApply(benchmark::State &st) {
    ContractWorld w(10000);
    for (auto _ : st) {
        bckm_envelope e = w.join_on(w.st);
        double t0 = cpu_now();
        must(bckm_contract_apply(w.st, &e, &w.plan), "apply");
        st.SetIterationTime(cpu_now() - t0);
    }
}

// Execution of a block of k join envelopes (decode, check, apply each, state
// hash) on a state of 10,000 nodes; envelopes are prepared untimed on a copy.
void BM_BlockExecute(benchmark::State &st) {
    ContractWorld w(10000);
    uint32_t k = (uint32_t)st.range(0);
    std::vector<uint8_t> wire((size_t)k * BCKM_ENVELOPE_BYTES);
    for (auto _ : st) {
        bckm_state *tmp;
        must(bckm_state_clone(w.st, &tmp), "clone");
        for (uint32_t i = 0; i < k; i++) {
            bckm_envelope e = w.join_on(tmp);
            must(bckm_contract_apply(tmp, &e, &w.plan), "apply");
            must(bckm_envelope_encode(&e, &wire[(size_t)i * BCKM_ENVELOPE_BYTES]), "encode");
        }
        bckm_state_free(tmp);
        uint8_t h[32];
        double t0 = cpu_now();
        for (uint32_t i = 0; i < k; i++) {
            bckm_envelope e;
            must(bckm_envelope_decode(&wire[(size_t)i * BCKM_ENVELOPE_BYTES], BCKM_ENVELOPE_BYTES, &e), "decode");
            must(bckm_contract_apply(w.st, &e, &w.plan), "apply");
        }
        bckm_state_hash(w.st, h);
        st.SetIterationTime(cpu_now() - t0);
        benchmark::DoNotOptimize(h);
    }
    st.counters["txs"] = k;
}

}  // namespace

int main(int argc, char **argv) {
    if (bckm_init() != BCKM_OK) return 1;
    randombytes_buf(g_key, sizeof g_key);
    randombytes_buf(g_refresh, sizeof g_refresh);
    crypto_sign_keypair(g_pk, g_sk);
    std::memset(g_signmsg, 0x42, sizeof g_signmsg);
    uint64_t max_n = 1000000;
    if (const char *e = std::getenv("BCKM_BENCH_MAX_N")) max_n = std::strtoull(e, nullptr, 10);

    // Primitives first: they are the yardstick for everything after.
    benchmark::RegisterBenchmark("AeadSeal", BM_AeadSeal)->Arg(64)->Arg(128)->Arg(1024)->Arg(4096)->Arg(16384);
    benchmark::RegisterBenchmark("Blake2bKeyed", BM_Blake2bKeyed)->Arg(48)->Arg(64);
    benchmark::RegisterBenchmark("Blake2b", BM_Blake2b)->Arg(65)->Arg(256)->Arg(4096);
    benchmark::RegisterBenchmark("Ed25519Sign", BM_Ed25519Sign);
    benchmark::RegisterBenchmark("Ed25519Verify", BM_Ed25519Verify);
    benchmark::RegisterBenchmark("Ed25519SeedKeypair", BM_Ed25519SeedKeypair);
    benchmark::RegisterBenchmark("KdfSetUpdate", BM_KdfSetUpdate);
    benchmark::RegisterBenchmark("KdfSetPairUpdate", BM_KdfSetPairUpdate);
    benchmark::RegisterBenchmark("KdfPairNode", BM_KdfPairNode);
    benchmark::RegisterBenchmark("KdfSetInit", BM_KdfSetInit);
    benchmark::RegisterBenchmark("KdfSetPairInit", BM_KdfSetPairInit);
    benchmark::RegisterBenchmark("KdfPairSeed", BM_KdfPairSeed);
    benchmark::RegisterBenchmark("DrbgFill32", BM_DrbgFill32);
    benchmark::RegisterBenchmark("Assignment", BM_Assignment)->Arg(10)->Arg(100)->Arg(1000);
    benchmark::RegisterBenchmark("ReorderPick", BM_ReorderPick)->Arg(10)->Arg(100)->Arg(1000);
    benchmark::RegisterBenchmark("TxEncode", BM_TxEncode);
    benchmark::RegisterBenchmark("TxDecode", BM_TxDecode);
    benchmark::RegisterBenchmark("EnvelopeEncode", BM_EnvelopeEncode);
    benchmark::RegisterBenchmark("EnvelopeDecode", BM_EnvelopeDecode);
    benchmark::RegisterBenchmark("EnvelopeSign", BM_EnvelopeSign);
    benchmark::RegisterBenchmark("EnvelopeVerify", BM_EnvelopeVerify);
    benchmark::RegisterBenchmark("BlockHeaderEncode", BM_BlockHeaderEncode);
    benchmark::RegisterBenchmark("BlockHeaderDecode", BM_BlockHeaderDecode);
    benchmark::RegisterBenchmark("BlockHash", BM_BlockHash);
    benchmark::RegisterBenchmark("BlockEncode", BM_BlockEncode)->Arg(1)->Arg(64)->Arg(1024);
    benchmark::RegisterBenchmark("BlockDecode", BM_BlockDecode)->Arg(1)->Arg(64)->Arg(1024);
    benchmark::RegisterBenchmark("BlockBodyRoot", BM_BlockBodyRoot)->Arg(1)->Arg(64)->Arg(1024);
    benchmark::RegisterBenchmark("CertEncode", BM_CertEncode)->Arg(4)->Arg(16)->Arg(31);
    benchmark::RegisterBenchmark("CertDecode", BM_CertDecode)->Arg(4)->Arg(16)->Arg(31);
    benchmark::RegisterBenchmark("CertVerify", BM_CertVerify)->Arg(4)->Arg(16)->Arg(31);
    benchmark::RegisterBenchmark("ContractCheck", BM_ContractCheck);
    benchmark::RegisterBenchmark("ContractApply", BM_ContractApply)->UseManualTime();
    benchmark::RegisterBenchmark("BlockExecute", BM_BlockExecute)->Arg(1)->Arg(16)->Arg(256)->UseManualTime();
    for (uint32_t n : {100u, 10000u})
        if (n <= max_n) {
            benchmark::RegisterBenchmark("DeviceApplyUpdate", BM_DeviceApplyUpdate)->Arg(n)->UseManualTime();
            benchmark::RegisterBenchmark("DeviceApplyBundle", BM_DeviceApplyBundle)->Arg(n)->UseManualTime();
            benchmark::RegisterBenchmark("DeviceVerify", BM_DeviceVerify)->Arg(n);
        }
    benchmark::RegisterBenchmark("BatchSign", BM_BatchSign)->Arg(1)->Arg(64)->Arg(1024)->UseManualTime();
    if (kSleeperN <= max_n) {
        benchmark::RegisterBenchmark("CatchUp", BM_CatchUp)->Arg(1)->Arg(16)->Arg(256)->UseManualTime();
        benchmark::RegisterBenchmark("ResyncRequest", BM_ResyncRequest);
    }
    benchmark::RegisterBenchmark("RejoinNode", BM_RejoinNode)->Arg(4)->Arg(16)->UseManualTime();
    benchmark::RegisterBenchmark("RejoinBp", BM_RejoinBp)->Arg(4)->Arg(16)->UseManualTime();
    // T_k and memory, grouped by n so each genesis is built once.
    for (uint32_t n : {100u, 1000u, 10000u, 100000u, 1000000u}) {
        if (n > max_n) continue;
        benchmark::RegisterBenchmark("BpMemory", BM_BpMemory)->Arg(n)->Iterations(1);
        benchmark::RegisterBenchmark("JoinTk", BM_JoinTk)->Arg(n)->UseManualTime();
        benchmark::RegisterBenchmark("LeaveTk", BM_LeaveTk)->Arg(n)->UseManualTime();
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    g_world.reset();
    g_sleeper.reset();
    return 0;
}
