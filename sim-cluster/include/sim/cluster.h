/*
 * The deterministic in-process cluster: p BPs, each with a mempool, a PBFT
 * replica (sim/pbft.h), an application instance (sim/app.h) and a ledger,
 * joined by a simulated network with seeded faults, on one single-threaded
 * event loop with a virtual clock. Clients submit requests to BPs in one of
 * three modes; an adversary drives up to the chosen number of Byzantine BPs;
 * the checker (sim/checker.h) runs after every event.
 *
 * A run has two phases (TigerBeetle style): faults on for fault_us, then
 * every crashed BP restarts, partitions heal and the network stops losing
 * messages (Byzantine BPs stay Byzantine); the run must then finish every
 * request within liveness_us, or it reports a liveness failure.
 */
#ifndef BCKM_SIM_CLUSTER_H
#define BCKM_SIM_CLUSTER_H

#include "sim/app.h"
#include "sim/net.h"
#include "sim/block.h"
#include "sim/block.h"

enum { BCKM_SIM_ASYNC = 0, BCKM_SIM_SYNC = 1, BCKM_SIM_COMMIT = 2 };
enum { BCKM_SIM_COST_MODEL = 0, BCKM_SIM_COST_MEASURED = 1 };
enum { BCKM_SIM_OK = 0, BCKM_SIM_SAFETY = 1, BCKM_SIM_LIVENESS = 2 };

/* The replicated application (the workload): the test key-value store, or
 * the key-management contract with its genesis network, key managers and
 * simulated devices (sim/keynet.h). */
enum { BCKM_SIM_APP_KV = 0, BCKM_SIM_APP_KEYS = 1 };
#define BCKM_SIM_DEVICES_ALL 0xFFFFFFFFu
/* Largest tx a workload builds (the key app's envelope is 134 bytes). */
#define BCKM_SIM_REQ_TX_MAX 160u

/* Scheduled faults for directed tests (on top of the seeded ones). */
enum { BCKM_SIM_PLAN_CRASH = 1, BCKM_SIM_PLAN_ISOLATE = 2 };
/* The backend of every BP's ledger (core's bckm/ledger.h): memory (it
 * stands for the disk and survives a simulated crash) or LMDB (closed at a
 * crash, reopened and verified at the restart). */
enum { BCKM_SIM_LEDGER_MEM = 0, BCKM_SIM_LEDGER_LMDB = 1 };

typedef struct {
    int kind;
    uint32_t bp;
    uint64_t start_us, end_us; /* crash at start, restart at end; isolate in between */
} bckm_sim_plan;

#define BCKM_SIM_PLAN_MAX 8u

typedef struct {
    uint32_t bps;
    uint64_t seed;
    const bckm_sim_profile *profile;
    bckm_sim_faults faults;
    int byz_kind[BCKM_SIM_MAX_BPS]; /* per BP: BCKM_BYZ_*; filled from faults when all 0 */
    uint32_t requests;
    uint64_t request_gap_us; /* mean gap between request arrivals */
    int mode;
    int cost;
    uint32_t mempool_cap;
    uint32_t block_max_txs;
    uint32_t checkpoint_interval;
    uint32_t keys;                /* key space of the test application (conflicts) */
    int app;                      /* BCKM_SIM_APP_KV (default) or BCKM_SIM_APP_KEYS */
    uint32_t nodes;               /* key app: genesis network size */
    int policy;                   /* key app: 1 owned, 2 global (bckm_policy) */
    uint32_t devices;             /* key app: simulated devices, a sample of about K, or ALL */
    uint32_t join_pct, leave_pct; /* key app: request mix in percent (rest: evict) */
    uint32_t withhold_rekeys;     /* tests: 1 + the BP whose key manager never releases its
                                 * rekey messages (0: none); the device check must catch it */
    /* key app: key-layer Byzantine behaviours per BP (BCKM_KEYNET_BYZ_* of
     * sim/keynet.h, a mask; 0 honest). A BP with a nonzero mask counts as
     * Byzantine (at most f in all for the run to be held to safety). */
    uint8_t byz_keys[BCKM_SIM_MAX_BPS];
    int byz_keys_trust;     /* tests only: honest devices trust the forger's key
                                 * (bckm_keynet_params.trust_byz); the checker must fire */
    int ledger;             /* BCKM_SIM_LEDGER_MEM (default) or _LMDB: core's ledger backends */
    const char *ledger_dir; /* lmdb: BP i's store is ledger_dir/bp-<i>; each must be
                                 * missing or empty at the start of a run */
    uint64_t fault_us;      /* length of the faulty phase */
    uint64_t liveness_us;   /* budget after healing */
    uint32_t plan_len;
    bckm_sim_plan plan[BCKM_SIM_PLAN_MAX];
} bckm_sim_params;

typedef struct {
    double mean_us;
    uint64_t p50_us, p99_us;
} bckm_sim_timing;

typedef struct {
    int outcome; /* BCKM_SIM_OK, _SAFETY or _LIVENESS */
    char violation[256];
    uint8_t trace_hash[32];
    /* Behaviour fingerprints independent of the block format: the committed
     * transactions in order at the first honest BP (height, then each tx's
     * length and bytes), and (key app) every simulated device's key store. */
    uint8_t tx_hash[32];
    uint8_t keys_hash[32];
    uint64_t end_us;
    uint64_t bp_cpu_us;        /* virtual CPU time charged to all BPs together */
    uint64_t restart_cpu_us;   /* of which restarts: snapshot restore, ledger replay and
                                 * the key manager's catch-up */
    uint64_t first_arrival_us; /* the first request's arrival */
    uint64_t last_commit_us;   /* the last execution of a request's tx at any BP */
    uint64_t commit90_us;      /* when 90% of the requests had executed at some BP */
    uint64_t events, messages, dropped;
    uint32_t byzantine;
    uint64_t requests, committed, sync_accepted, sync_missed_first_try, lost;
    uint64_t exec_rejected, check_rejected, retries;
    double error_rate;
    bckm_sim_timing t_k, t_e, t_a, t_r;
    uint64_t min_height, max_height;
    uint64_t view_changes, fetches, restarts, partitions, crashes;
    uint64_t bp_height[BCKM_SIM_MAX_BPS];
    uint64_t bp_fetches[BCKM_SIM_MAX_BPS];
    uint64_t bp_restored_from[BCKM_SIM_MAX_BPS]; /* snapshot height used at the last restart */
    /* key app */
    uint64_t joins, leaves, evicts; /* committed requests by kind */
    uint64_t members;               /* network size at the end */
    uint64_t devices, devices_checked, device_violations;
    uint64_t rekey_messages, rekey_bytes; /* all BPs' key managers, to sampled devices */
    uint64_t keynet_failures;
    /* key-layer Byzantine BPs: forged and replayed rekey messages handed to
     * honest BPs' devices and how many they refused, honest devices put
     * through a resync, forged leaves/evicts and their refusals at CheckTx
     * and at execution (counted per replica), acceptances (violations). */
    uint64_t byz_forged, byz_forged_refused, byz_replayed, byz_replays_refused, byz_resyncs;
    uint64_t byz_evicts, byz_evicts_refused_check, byz_evicts_refused_exec, byz_accepted;
} bckm_sim_result;

/* Defaults for a small run on the named profile. */
void bckm_sim_params_default(bckm_sim_params *p);

/* Runs one simulation with the application p->app selects. Returns a bckm_err for
 * setup errors (res->violation then says why when it can, e.g. a ledger store
 * that is not empty); the run's outcome is in res->outcome. */
int bckm_sim_run(const bckm_sim_params *p, bckm_sim_result *res);

/* Swarm: draws every setting of a run from the seed (faults, Byzantine
 * behaviours, sizes); bps overrides when nonzero; byzantine >= 0 fixes the
 * number of Byzantine BPs, -1 draws it from 0..f, BCKM_SIM_SWARM_F uses f. */
#define BCKM_SIM_SWARM_F (-2)
void bckm_sim_swarm_params(uint64_t seed, uint32_t bps, int byzantine, bckm_sim_params *p);
/* The same with the key-management app: a small genesis and a small device
 * sample drawn from the seed, so a swarm of hundreds of seeds stays fast. */
void bckm_sim_swarm_params_app(uint64_t seed, uint32_t bps, int byzantine, int app,
                               bckm_sim_params *p);

/* Key-layer Byzantine BPs for a key-app swarm run (after
 * bckm_sim_swarm_params_app): each Byzantine BP also gets a nonempty seeded
 * set of BCKM_KEYNET_BYZ_* behaviours; when the seed drew none, one BP (f >= 1)
 * becomes Byzantine at the key layer only. More than f drawn: unchanged. */
void bckm_sim_swarm_byz_keys(uint64_t seed, bckm_sim_params *p);

/* One line (no newline) naming a run's drawn settings: cluster size,
 * Byzantine BPs and their behaviours (key-layer masks too), fault rates and
 * the faulty phase, load, reply mode, profile, block and mempool sizes, and
 * the application's settings. Truncated to cap - 1 characters; cap > 0. */
void bckm_sim_params_describe(const bckm_sim_params *p, char *buf, size_t cap);

/* Writes the run as one JSON object (no trailing newline). */
void bckm_sim_result_json(const bckm_sim_params *p, const bckm_sim_result *r, char *buf,
                          size_t cap);

#endif
