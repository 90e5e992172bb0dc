/*
 * bckm-sim: runs the deterministic PBFT cluster.
 *   bckm-sim run   [flags]   one run; prints a summary or one JSON object
 *   bckm-sim check [flags]   swarm testing over a range of seeds
 * Exit codes (SIM_EXIT_*): 0 success; 1 a safety violation (for check: or
 * no violation when --expect-violation); 2 bad usage; 3 a liveness failure
 * (and no safety violation); 4 the simulator itself failed (out of memory).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bckm/common.h"
#include "bckm/sets.h"
#include "sim/resilience.h"
#include "sim/cluster.h"
#include "sim/net.h"

/* The exit codes (also in the help texts and spec/cluster.md 10). A damaged
 * ledger store found at a restart is a safety violation: the design assumes
 * durable storage. */
#define SIM_EXIT_OK 0
#define SIM_EXIT_SAFETY 1
#define SIM_EXIT_USAGE 2
#define SIM_EXIT_LIVENESS 3
#define SIM_EXIT_FAILED 4

#define SIM_EXIT_CODES                                                                             \
    "0 ok, 1 a safety violation (or a damaged ledger store\n"                                      \
    "at a restart), 2 bad usage, 3 a liveness failure, 4 the simulator failed (out of memory).\n"

static int exit_of_outcome(int outcome) {
    return outcome == BCKM_SIM_OK       ? SIM_EXIT_OK
           : outcome == BCKM_SIM_SAFETY ? SIM_EXIT_SAFETY
                                        : SIM_EXIT_LIVENESS;
}

static void usage_main(FILE *o) {
    fprintf(
        o,
        "usage: bckm-sim <command> [flags]\n"
        "commands:\n"
        "  run     one simulated run of the PBFT cluster (see bckm-sim run --help)\n"
        "  check   swarm testing over a range of seeds (see bckm-sim check --help)\n"
        "  resilience  links deciphered by captured nodes or BPs (see bckm-sim resilience --help)\n"
        "A first run: bckm-sim run (the key-management contract on 4 BPs, 64 nodes).\n"
        "Exit of run and check: " SIM_EXIT_CODES);
}

static void usage_run(FILE *o) {
    fprintf(
        o,
        "usage: bckm-sim run [--bps P] [--requests R] [--mode async|sync|commit]\n"
        "                    [--profile lan|wan|tendermint] [--faults SPEC] [--seed S]\n"
        "                    [--cost model|measured] [--json]\n"
        "                    [--nodes N] [--policy owned|global] [--devices all|K|none]\n"
        "                    [--app kv|keys] [--block-txs N] [--keys N] [--fault-ms MS] [--gap-us "
        "US]\n"
        "                    [--join-pct J] [--ledger mem|lmdb:DIR]\n"
        "  --bps P         number of BPs, 1..64 (default 4)\n"
        "  --requests R    client requests to serve (default 50)\n"
        "  --mode M        reply after admission (async), CheckTx (sync) or commit (default "
        "commit)\n"
        "  --profile NAME  network delays and timeouts (default lan)\n"
        "  --faults SPEC   e.g. loss=1/100,dup=1/200,reorder=1/50,partition=1/1000,crash=1/5000,\n"
        "                  byz=silent|equivocate|censor|invalid|forge|mixed,byzn=K (default none)\n"
        "  --seed S        64-bit seed (default 1)\n"
        "  --cost C        model: fixed handler costs, bit-for-bit reproducible (default);\n"
        "                  measured: real CPU time charged to each BP\n"
        "  --json          print one JSON object\n"
        "  --nodes N       replicate the key-management contract from a genesis network of N\n"
        "                  nodes (0..50000000) spread over the BPs, each BP's key manager\n"
        "                  serving its own; requests are a seeded mix of join/leave/evict\n"
        "  --policy P      key-management policy: owned (default) or global\n"
        "  --devices D     devices simulated with the real device key store: all, a seeded\n"
        "                  sample of about K, or none (default: all up to 1024 nodes, else 256);\n"
        "                  at the end each one of an honest BP must be at the current epoch\n"
        "                  and agree with its peers\n"
        "  --app A         keys: the key-management contract (default; with 64 nodes unless\n"
        "                  --nodes); kv: the test key-value store of the engine tests\n"
        "  --block-txs N   most txs per block (default 16); each BP's mempool holds at\n"
        "                  least four blocks' worth (default 256)\n"
        "  --keys N        key space of --app kv, 1..4096 (default 16)\n"
        "  --fault-ms MS   length of the faulty phase (default 300 when --faults is given)\n"
        "  --gap-us US     mean gap between request arrivals (default 2000)\n"
        "  --join-pct J    key app: J%% of requests are joins, the rest half leaves, half\n"
        "                  evictions (default 50)\n"
        "  --ledger L      where each BP keeps its ledger: mem (default; it survives a\n"
        "                  crash as if on disk) or lmdb:DIR (BP i in an LMDB store under\n"
        "                  DIR/bp-<i>, each append committed to it; a crash drops the BP's\n"
        "                  memory and the restart reads the store back, verified). DIR is\n"
        "                  created when missing; a store already holding entries is refused\n"
        "Exit: " SIM_EXIT_CODES "A ledger directory that cannot be used is bad usage (2).\n");
}

static void usage_check(FILE *o) {
    fprintf(
        o,
        "usage: bckm-sim check --seeds A-B [--bps P] [--byzantine K] [--app kv|keys]\n"
        "                      [--byzantine-keys] [--expect-violation] [--verbose]\n"
        "  Each seed draws its own settings: cluster size (unless --bps), fault rates,\n"
        "  request load, reply mode, and K Byzantine BPs (default: 0..f drawn) with\n"
        "  behaviours drawn from silent, equivocate, censor, invalid, forge. With K > f the\n"
        "  Byzantine BPs all equivocate together.\n"
        "  --app A             kv: the test key-value store (default); keys: the key-management\n"
        "                      contract, each seed drawing a small genesis (8..127 nodes), the\n"
        "                      policy and a device sample, devices checked at the end\n"
        "  --byzantine-keys    (with --app keys) the Byzantine BPs also act at the key layer, "
        "each\n"
        "                      a seeded mix of: evict nodes of other BPs, forge rekey messages\n"
        "                      to other BPs' devices, replay recorded ones (in resync too); a\n"
        "                      seed with none drawn gets one BP Byzantine at the key layer\n"
        "                      only. A device of an honest BP accepting any of them, or a node\n"
        "                      evicted by a BP that does not serve it, is a violation\n"
        "  --expect-violation  succeed only if some seed shows a violation\n"
        "  --verbose           each seed's drawn settings on one line, then its result\n"
        "  It prints the seed range and what is drawn first.\n"
        "Exit: 0 as expected, 1 a safety violation (or none at all with\n"
        "--expect-violation), 2 bad usage, 3 liveness failures only, 4 the simulator\n"
        "failed (out of memory).\n");
}

static const char *prog = "bckm-sim";

/* A decimal unsigned 64-bit integer, nothing else: BCKM_OK or BCKM_ERR_FORMAT. */
static int parse_u64(const char *s, uint64_t *out) {
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+') return BCKM_ERR_FORMAT;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') return BCKM_ERR_FORMAT;
    *out = v;
    return BCKM_OK;
}

static int bad(const char *cmd, const char *msg, const char *arg) {
    fprintf(stderr, "bckm-sim %s: %s%s%s%s\n", cmd, msg, arg ? " '" : "", arg ? arg : "",
            arg ? "'" : "");
    fprintf(stderr, "try 'bckm-sim %s --help'\n", cmd);
    return SIM_EXIT_USAGE;
}

static int cmd_run(int argc, char **argv) {
    bckm_sim_params p;
    bckm_sim_params_default(&p);
    int json = 0, have_faults = 0, have_nodes = 0, have_app = 0, have_devices = 0, have_keys = 0,
        key_flags = 0;
    uint64_t fault_ms = 300;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage_run(stdout);
            return SIM_EXIT_OK;
        }
        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) return bad("run", "unexpected argument", a);
        if (i + 1 >= argc) return bad("run", "missing value for", a);
        const char *v = argv[++i];
        uint64_t x;
        if (strcmp(a, "--bps") == 0) {
            if (parse_u64(v, &x) || x < 1 || x > BCKM_SIM_MAX_BPS)
                return bad("run", "--bps wants 1..64, got", v);
            p.bps = (uint32_t)x;
        } else if (strcmp(a, "--requests") == 0) {
            if (parse_u64(v, &x) || x > 1000000)
                return bad("run", "--requests wants 0..1000000, got", v);
            p.requests = (uint32_t)x;
        } else if (strcmp(a, "--mode") == 0) {
            if (strcmp(v, "async") == 0)
                p.mode = BCKM_SIM_ASYNC;
            else if (strcmp(v, "sync") == 0)
                p.mode = BCKM_SIM_SYNC;
            else if (strcmp(v, "commit") == 0)
                p.mode = BCKM_SIM_COMMIT;
            else
                return bad("run", "--mode wants async, sync or commit, got", v);
        } else if (strcmp(a, "--profile") == 0) {
            p.profile = bckm_sim_profile_find(v);
            if (p.profile == NULL)
                return bad("run", "--profile wants lan, wan or tendermint, got", v);
        } else if (strcmp(a, "--faults") == 0) {
            char err[128];
            if (bckm_sim_faults_parse(v, &p.faults, err, sizeof err) != BCKM_OK)
                return bad("run", err, NULL);
            have_faults = 1;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_u64(v, &x))
                return bad("run", "--seed wants an unsigned 64-bit integer, got", v);
            p.seed = x;
        } else if (strcmp(a, "--cost") == 0) {
            if (strcmp(v, "model") == 0)
                p.cost = BCKM_SIM_COST_MODEL;
            else if (strcmp(v, "measured") == 0)
                p.cost = BCKM_SIM_COST_MEASURED;
            else
                return bad("run", "--cost wants model or measured, got", v);
        } else if (strcmp(a, "--nodes") == 0) {
            if (parse_u64(v, &x) || x > 50000000)
                return bad("run", "--nodes wants 0..50000000, got", v);
            p.nodes = (uint32_t)x;
            have_nodes = 1;
        } else if (strcmp(a, "--policy") == 0) {
            if (strcmp(v, "owned") == 0)
                p.policy = BCKM_POLICY_OWNED;
            else if (strcmp(v, "global") == 0)
                p.policy = BCKM_POLICY_GLOBAL;
            else
                return bad("run", "--policy wants owned or global, got", v);
            key_flags = 1;
        } else if (strcmp(a, "--devices") == 0) {
            if (strcmp(v, "all") == 0)
                p.devices = BCKM_SIM_DEVICES_ALL;
            else if (strcmp(v, "none") == 0)
                p.devices = 0;
            else if (parse_u64(v, &x) || x > 50000000)
                return bad("run", "--devices wants all, none or a count 0..50000000, got", v);
            else
                p.devices = (uint32_t)x;
            have_devices = 1;
            key_flags = 1;
        } else if (strcmp(a, "--app") == 0) {
            if (strcmp(v, "kv") == 0)
                p.app = BCKM_SIM_APP_KV;
            else if (strcmp(v, "keys") == 0)
                p.app = BCKM_SIM_APP_KEYS;
            else
                return bad("run", "--app wants kv or keys, got", v);
            have_app = 1;
        } else if (strcmp(a, "--block-txs") == 0) {
            if (parse_u64(v, &x) || x < 1 || x > 4096)
                return bad("run", "--block-txs wants 1..4096, got", v);
            p.block_max_txs = (uint32_t)x;
        } else if (strcmp(a, "--keys") == 0) {
            if (parse_u64(v, &x) || x < 1 || x > 4096)
                return bad("run", "--keys wants 1..4096, got", v);
            p.keys = (uint32_t)x;
            have_keys = 1;
        } else if (strcmp(a, "--fault-ms") == 0) {
            if (parse_u64(v, &x) || x > 3600000)
                return bad("run", "--fault-ms wants 0..3600000, got", v);
            fault_ms = x;
        } else if (strcmp(a, "--gap-us") == 0) {
            if (parse_u64(v, &x) || x > 60000000)
                return bad("run", "--gap-us wants 0..60000000, got", v);
            p.request_gap_us = x;
        } else if (strcmp(a, "--join-pct") == 0) {
            if (parse_u64(v, &x) || x > 100) return bad("run", "--join-pct wants 0..100, got", v);
            p.join_pct = (uint32_t)x;
            p.leave_pct = (100 - p.join_pct) / 2;
            key_flags++;
        } else if (strcmp(a, "--ledger") == 0) {
            if (strcmp(v, "mem") == 0) {
                p.ledger = BCKM_SIM_LEDGER_MEM;
            } else if (strncmp(v, "lmdb:", 5) == 0 && v[5] != '\0') {
                p.ledger = BCKM_SIM_LEDGER_LMDB;
                p.ledger_dir = v + 5;
            } else {
                return bad("run", "--ledger wants mem or lmdb:DIR, got", v);
            }
        } else {
            return bad("run", "unknown flag", a);
        }
    }
    if (p.faults.byz_count > 0 && (uint32_t)p.faults.byz_count > p.bps)
        return bad("run", "byzn is larger than --bps", NULL);
    /* The protocol is what a first run shows: the key app unless --app kv. */
    if (!have_app) p.app = BCKM_SIM_APP_KEYS;
    if (p.app == BCKM_SIM_APP_KV && (have_nodes || key_flags))
        return bad(
            "run",
            "--nodes, --policy, --devices and --join-pct belong to the key app, not --app kv",
            NULL);
    if (p.app == BCKM_SIM_APP_KEYS && have_keys)
        return bad("run", "--keys is the key space of --app kv", NULL);
    if (p.app == BCKM_SIM_APP_KEYS && !have_nodes) p.nodes = 64;
    if (p.app == BCKM_SIM_APP_KEYS && !have_devices)
        p.devices = p.nodes <= 1024 ? BCKM_SIM_DEVICES_ALL : 256;
    p.fault_us = have_faults ? fault_ms * 1000 : 0;
    /* The pool holds four blocks' worth, so a full block never empties it. */
    if (p.mempool_cap < p.block_max_txs * 4) p.mempool_cap = p.block_max_txs * 4;
    bckm_sim_result r;
    int rc = bckm_sim_run(&p, &r);
    if (rc != BCKM_OK) {
        if (r.violation[0] != '\0')
            fprintf(stderr, "bckm-sim run: %s\n", r.violation);
        else
            fprintf(stderr, "bckm-sim run: %s: %s\n",
                    rc == BCKM_ERR_NOMEM ? "failed" : "setup failed", bckm_strerror(rc));
        return rc == BCKM_ERR_NOMEM ? SIM_EXIT_FAILED : SIM_EXIT_USAGE;
    }
    if (json) {
        static char buf[4096];
        bckm_sim_result_json(&p, &r, buf, sizeof buf);
        printf("%s\n", buf);
    } else {
        printf("seed %" PRIu64 ": %u BPs (%u Byzantine), profile %s, %" PRIu64 " requests, %" PRIu64
               " committed, %" PRIu64 " lost, height %" PRIu64 ", %" PRIu64 " view changes, "
               "%" PRIu64 " fetches, %" PRIu64 " restarts, end %.3f s\n",
               p.seed, p.bps, r.byzantine, p.profile->name, r.requests, r.committed, r.lost,
               r.max_height, r.view_changes, r.fetches, r.restarts, (double)r.end_us / 1e6);
        printf("t_e mean %.0f us, t_a mean %.0f us p99 %" PRIu64
               " us, t_r mean %.0f us; error rate %.4f\n",
               r.t_e.mean_us, r.t_a.mean_us, r.t_a.p99_us, r.t_r.mean_us, r.error_rate);
        if (p.app == BCKM_SIM_APP_KEYS)
            printf("t_k mean %.0f us p99 %" PRIu64 " us; %u genesis nodes, %" PRIu64
                   " members at the end (%" PRIu64 " joins, %" PRIu64 " leaves, %" PRIu64
                   " evicts), %" PRIu64 " devices simulated, %" PRIu64 " rekey messages\n",
                   r.t_k.mean_us, r.t_k.p99_us, p.nodes, r.members, r.joins, r.leaves, r.evicts,
                   r.devices, r.rekey_messages);
        if (r.outcome != BCKM_SIM_OK)
            printf("VIOLATION: %s\n", r.violation);
        else
            printf("safety ok, liveness ok\n");
    }
    return exit_of_outcome(r.outcome);
}

static int cmd_check(int argc, char **argv) {
    uint64_t a = 0, b = 0, bps = 0, byz = 0;
    int have_seeds = 0, have_byz = 0, expect = 0, verbose = 0, app = BCKM_SIM_APP_KV, byz_keys = 0;
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i];
        if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
            usage_check(stdout);
            return SIM_EXIT_OK;
        }
        if (strcmp(f, "--expect-violation") == 0) {
            expect = 1;
            continue;
        }
        if (strcmp(f, "--verbose") == 0) {
            verbose = 1;
            continue;
        }
        if (strcmp(f, "--byzantine-keys") == 0) {
            byz_keys = 1;
            continue;
        }
        if (strncmp(f, "--", 2) != 0) return bad("check", "unexpected argument", f);
        if (i + 1 >= argc) return bad("check", "missing value for", f);
        const char *v = argv[++i];
        if (strcmp(f, "--seeds") == 0) {
            const char *dash = strchr(v, '-');
            char lo[32];
            if (dash == NULL || (size_t)(dash - v) >= sizeof lo)
                return bad("check", "--seeds wants A-B, got", v);
            memcpy(lo, v, (size_t)(dash - v));
            lo[dash - v] = '\0';
            if (parse_u64(lo, &a) || parse_u64(dash + 1, &b) || b < a)
                return bad("check", "--seeds wants A-B with A <= B, got", v);
            have_seeds = 1;
        } else if (strcmp(f, "--bps") == 0) {
            if (parse_u64(v, &bps) || bps < 1 || bps > BCKM_SIM_MAX_BPS)
                return bad("check", "--bps wants 1..64, got", v);
        } else if (strcmp(f, "--app") == 0) {
            if (strcmp(v, "kv") == 0)
                app = BCKM_SIM_APP_KV;
            else if (strcmp(v, "keys") == 0)
                app = BCKM_SIM_APP_KEYS;
            else
                return bad("check", "--app wants kv or keys, got", v);
        } else if (strcmp(f, "--byzantine") == 0) {
            if (parse_u64(v, &byz) || byz > BCKM_SIM_MAX_BPS)
                return bad("check", "--byzantine wants 0..64, got", v);
            have_byz = 1;
        } else {
            return bad("check", "unknown flag", f);
        }
    }
    if (!have_seeds) return bad("check", "--seeds A-B is required", NULL);
    if (bps && have_byz && byz > bps) return bad("check", "--byzantine is larger than --bps", NULL);
    if (byz_keys && app != BCKM_SIM_APP_KEYS)
        return bad("check", "--byzantine-keys needs --app keys", NULL);
    /* What the range covers and what each seed draws, before the first run. */
    printf("seeds %" PRIu64 "-%" PRIu64 " (%" PRIu64 "), app %s, bps ", a, b, b - a + 1,
           app == BCKM_SIM_APP_KEYS ? "keys" : "kv");
    if (bps)
        printf("%" PRIu64, bps);
    else
        printf("drawn");
    printf(", byzantine ");
    if (have_byz)
        printf("%" PRIu64, byz);
    else
        printf("0..f drawn");
    printf("%s\n", byz_keys ? ", key-layer behaviours drawn" : "");
    fflush(stdout);
    uint64_t runs = 0, violations = 0, safety = 0;
    for (uint64_t s = a;; s++) {
        bckm_sim_params p;
        bckm_sim_swarm_params_app(s, (uint32_t)bps, have_byz ? (int)byz : -1, app, &p);
        if (byz_keys) bckm_sim_swarm_byz_keys(s, &p);
        if (verbose) {
            char desc[1024];
            bckm_sim_params_describe(&p, desc, sizeof desc);
            printf("seed %" PRIu64 " settings: %s\n", s, desc);
        }
        bckm_sim_result r;
        int rc = bckm_sim_run(&p, &r);
        if (rc != BCKM_OK) {
            fprintf(stderr, "bckm-sim check: seed %" PRIu64 ": %s: %s\n", s,
                    rc == BCKM_ERR_NOMEM ? "failed" : "setup failed", bckm_strerror(rc));
            return rc == BCKM_ERR_NOMEM ? SIM_EXIT_FAILED : SIM_EXIT_USAGE;
        }
        runs++;
        if (verbose)
            printf("seed %" PRIu64 ": bps %u byz %u height %" PRIu64 " vc %" PRIu64
                   " fetch %" PRIu64 " restarts %" PRIu64 " %s\n",
                   s, p.bps, r.byzantine, r.max_height, r.view_changes, r.fetches, r.restarts,
                   r.outcome == BCKM_SIM_OK ? "ok" : r.violation);
        if (verbose && byz_keys)
            printf("  key layer: forged %" PRIu64 " refused %" PRIu64 ", replayed %" PRIu64
                   " refused %" PRIu64 ", resyncs %" PRIu64 ", evicts %" PRIu64
                   " refused at CheckTx %" PRIu64 " at execution %" PRIu64 ", accepted %" PRIu64
                   "\n",
                   r.byz_forged, r.byz_forged_refused, r.byz_replayed, r.byz_replays_refused,
                   r.byz_resyncs, r.byz_evicts, r.byz_evicts_refused_check,
                   r.byz_evicts_refused_exec, r.byz_accepted);
        if (r.outcome != BCKM_SIM_OK) {
            violations++;
            safety += r.outcome == BCKM_SIM_SAFETY;
            printf("seed %" PRIu64 ": %s violation: %s\n", s,
                   r.outcome == BCKM_SIM_SAFETY ? "safety" : "liveness", r.violation);
            printf("  replay: %s check --seeds %" PRIu64 "-%" PRIu64, prog, s, s);
            if (bps) printf(" --bps %" PRIu64, bps);
            if (have_byz) printf(" --byzantine %" PRIu64, byz);
            if (app == BCKM_SIM_APP_KEYS) printf(" --app keys");
            if (byz_keys) printf(" --byzantine-keys");
            printf(" --verbose\n");
        }
        if (s == b) break;
    }
    printf("%" PRIu64 " seeds run, %" PRIu64 " with a violation\n", runs, violations);
    if (expect) return violations > 0 ? SIM_EXIT_OK : SIM_EXIT_SAFETY;
    return safety > 0 ? SIM_EXIT_SAFETY : violations > 0 ? SIM_EXIT_LIVENESS : SIM_EXIT_OK;
}

int main(int argc, char **argv) {
    if (argc > 0 && argv[0] != NULL) prog = argv[0];
    if (argc < 2) {
        usage_main(stderr);
        return SIM_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage_main(stdout);
        return SIM_EXIT_OK;
    }
    if (bckm_init() != BCKM_OK) {
        fprintf(stderr, "bckm-sim: libsodium failed to start\n");
        return SIM_EXIT_FAILED;
    }
    if (strcmp(argv[1], "run") == 0) return cmd_run(argc - 2, argv + 2);
    if (strcmp(argv[1], "check") == 0) return cmd_check(argc - 2, argv + 2);
    if (strcmp(argv[1], "resilience") == 0) return bckm_resilience_main(argc - 1, argv + 1);
    fprintf(stderr, "bckm-sim: unknown command '%s'\n", argv[1]);
    usage_main(stderr);
    return SIM_EXIT_USAGE;
}
