#!/usr/bin/env python3
"""Unit tests of bench/analysis.py on small inputs whose results are worked
out by hand in the comments. Run by `make bench-analysis-test` (part of
`make test`); closes with "N passed, N failed" like scripts/run-tests.sh and
exits nonzero on a failure."""
import os
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analysis as A  # noqa: E402


def bench(name, t, unit="ns", key="cpu_time", **counters):
    b = {"name": name, "run_type": "iteration", "time_unit": unit, key: t}
    b.update(counters)
    return b


class Statistics(unittest.TestCase):
    def test_mean(self):
        self.assertEqual(A.mean([1, 2, 6]), 3)
        self.assertEqual(A.mean([5]), 5)
        self.assertIsNone(A.mean([]))
        self.assertEqual(A.mean(x for x in (2, 4)), 3)   # generators too

    def test_span(self):
        self.assertEqual(A.span([3, 1, 2]), (1, 3))
        self.assertEqual(A.span([4]), (4, 4))
        self.assertIsNone(A.span([]))

    def test_ratio(self):
        self.assertEqual(A.ratio(3, 2), 1.5)
        self.assertIsNone(A.ratio(3, 0))
        self.assertIsNone(A.ratio(None, 2))
        self.assertEqual(A.ratio(0, 2), 0)

    def test_quorum(self):
        # p = 3f+1: f = 0, 1, 5, 10 -> 2f+1 = 1, 3, 11, 21
        self.assertEqual([A.quorum(p) for p in (1, 4, 16, 31)], [1, 3, 11, 21])
        self.assertEqual(A.quorum(5), 3)   # f = 1 with one spare BP
        self.assertEqual(A.quorum(3), 1)   # three BPs tolerate no fault


class Micro(unittest.TestCase):
    def test_index_keeps_iterations_only(self):
        micro = {"benchmarks": [bench("X", 1), dict(bench("X_mean", 2), run_type="aggregate"), bench("Y", 3)]}
        self.assertEqual(sorted(A.bench_index(micro)), ["X", "Y"])
        self.assertEqual(A.bench_index({}), {})

    def test_units(self):
        self.assertEqual(A.ns(bench("a", 2, "us")), 2000)
        self.assertEqual(A.ns(bench("a", 3, "ms")), 3e6)
        self.assertEqual(A.ns(bench("a", 5)), 5)
        self.assertEqual(A.ns(bench("a", 7, "us", "real_time"), "real_time"), 7000)

    def test_op_ns_manual_time_uses_real_time(self):
        idx = {"T/manual_time": dict(bench("T/manual_time", 9), real_time=4.0), "C": dict(bench("C", 9), real_time=4.0)}
        self.assertEqual(A.op_ns(idx, "T/manual_time"), 4.0)
        self.assertEqual(A.op_ns(idx, "C"), 9)
        self.assertIsNone(A.op_ns(idx, "missing"))

    def test_linear_fit(self):
        # Through (1, 5) and (3, 9): slope 2, intercept 3.
        self.assertEqual(A.linear_fit(1, 5, 3, 9), (3.0, 2.0))

    def test_hash_and_merkle_model(self):
        # Blake2b/65 = 100 ns, /4096 = 100 + 4031 * 0.5: per byte 0.5, fixed 100 - 65 * 0.5 = 67.5.
        idx = {"Blake2b/65": bench("Blake2b/65", 100), "Blake2b/4096": bench("Blake2b/4096", 100 + 4031 * 0.5)}
        hm = A.hash_model(idx)
        self.assertAlmostEqual(hm["per_byte"], 0.5)
        self.assertAlmostEqual(hm["fixed"], 67.5)
        self.assertAlmostEqual(A.hash_ns(hm, 10), 100)           # below one block: one block's cost
        self.assertAlmostEqual(A.hash_ns(hm, 165), 150)          # 100 + 100 * 0.5
        # Two messages of 100 sealed bytes: leaves over 101 bytes each
        # (2 * (67.5 + 50.5) = 236) and one inner node of 65 bytes (100).
        self.assertAlmostEqual(A.merkle_ns(hm, 2, 200), 336)
        self.assertAlmostEqual(A.merkle_ns(hm, 1, 0), 67.5 + 0.5)  # one leaf of one byte, no inner node
        self.assertEqual(A.merkle_ns(hm, 0, 0), 0.0)
        self.assertIsNone(A.hash_model({"Blake2b/65": bench("Blake2b/65", 100)}))

    def test_tk_lower_bound(self):
        c = {"aead_fixed": 10.0, "aead_per_byte": 1.0, "kdf": 3.0, "code_key": 50.0, "sign": None, "hm": None}
        b = {"msgs": 2, "body_bytes": 100, "kdf_calls": 4, "code_keys": 1}
        # 2 * 10 + 100 * 1 + 4 * 3 + 1 * 50 = 182
        self.assertEqual(A.tk_lower_bound(b, c), 182)
        # With the batch signature and a Merkle model of 1 ns per byte, 0 fixed, 65-byte node 65:
        c2 = dict(c, sign=40.0, hm={"h65": 65.0, "per_byte": 1.0, "fixed": 0.0})
        b2 = dict(b, batches=1, sealed_bytes=100)
        # + 40 + ((100 + 2) * 1 + 2 * 0 + 1 * 65) = 182 + 40 + 167 = 389
        self.assertEqual(A.tk_lower_bound(b2, c2), 389)
        # Without the batch counter the signature is not counted.
        self.assertEqual(A.tk_lower_bound(b, c2), 182)

    def test_tk_costs_needs_aead_and_kdf(self):
        idx = {"AeadSeal/64": bench("AeadSeal/64", 64 + 100), "AeadSeal/4096": bench("AeadSeal/4096", 4096 + 100)}
        self.assertIsNone(A.tk_costs(idx))
        idx["Blake2bKeyed/48"] = bench("Blake2bKeyed/48", 7)
        c = A.tk_costs(idx)
        self.assertAlmostEqual(c["aead_fixed"], 100)
        self.assertAlmostEqual(c["aead_per_byte"], 1)
        self.assertEqual(c["code_key"], 7)       # falls back to one KDF without Ed25519SeedKeypair
        self.assertIsNone(c["sign"])

    def test_tk_rows(self):
        c = {"aead_fixed": 1.0, "aead_per_byte": 0.0, "kdf": 0.0, "code_key": 0.0, "sign": None, "hm": None}
        idx = {"JoinTk/100/manual_time": dict(bench("JoinTk/100/manual_time", 0), real_time=30.0, msgs=10,
                                              body_bytes=0, kdf_calls=0)}
        rows = A.tk_rows(idx, c)
        self.assertEqual(len(rows), 1)
        self.assertEqual((rows[0]["op"], rows[0]["n"], rows[0]["lb"], rows[0]["ratio"]), ("join", 100, 10.0, 3.0))
        self.assertEqual(A.tk_rows({}, c), [])

    def test_sqrt_growth(self):
        g = A.sqrt_growth({100: 1.0, 10000: 4.0, 1000000: 40.0}, 10000)
        self.assertEqual(g, [(100, 0.25, 0.1), (10000, 1.0, 1.0), (1000000, 10.0, 10.0)])
        self.assertEqual(A.sqrt_growth({100: 1.0}, 10000), [])
        self.assertTrue(A.growth_verdict(9.5, 10))
        self.assertTrue(A.growth_verdict(15, 10))           # the upper edge
        self.assertFalse(A.growth_verdict(15.1, 10))
        self.assertFalse(A.growth_verdict(6.6, 10))         # below 10 / 1.5

    def test_batch_fit(self):
        # T(k) = 100 + 2 k at k = 1, 64, 1024; hashes 3 k.
        pts = {k: (100 + 2 * k, 3 * k) for k in (1, 64, 1024)}
        fixed, slope, hslope = A.batch_fit(pts)
        self.assertAlmostEqual(slope, 2)
        self.assertAlmostEqual(fixed, 100)
        self.assertAlmostEqual(hslope, 3)
        self.assertIsNone(A.batch_fit({1: (5, 0)}))
        self.assertIsNone(A.batch_fit({}))

    def test_budgets(self):
        self.assertTrue(A.batch_budget_holds(2 * 50, 24.9, 50))
        self.assertFalse(A.batch_budget_holds(2 * 50 + 1, 1, 50))
        self.assertFalse(A.batch_budget_holds(1, 25, 50))      # slope must be under half
        # (130 - 30) / 50 = 2 and (80 - 10) / 50 = 1.4: worst 2.
        self.assertEqual(A.device_check_worst({100: (80, 10), 10000: (130, 30)}, 50), 2)
        self.assertIsNone(A.device_check_worst({}, 50))
        self.assertTrue(A.device_budget_holds(1.74))
        self.assertFalse(A.device_budget_holds(1.75))

    def test_mem_rows_and_over(self):
        idx = {"BpMemory/100/iterations:1": bench("BpMemory/100/iterations:1", 0, km_bytes_per_node=10,
                                                  registry_bytes=500, heap_bytes_per_node=15)}
        self.assertEqual(A.mem_rows(idx), [(100, 10, 5.0, 15)])
        self.assertEqual(A.mem_rows({}), [])
        self.assertAlmostEqual(A.over_pct(320, 256), 25)

    def test_commit_crypto(self):
        idx = {n: bench(n, t, "us") for n, t in (("EnvelopeSign", 1), ("EnvelopeVerify", 2), ("Ed25519Sign", 3),
                                                  ("Ed25519Verify", 4), ("CertVerify/16", 5))}
        # 1 + 2 + 3 * 3 + 4 + 2 * 5 = 26 µs
        self.assertAlmostEqual(A.commit_crypto_us(idx, 16), 26)
        self.assertIsNone(A.commit_crypto_us(idx, 4))
        self.assertEqual(A.commit_bound_us(26, 200), 626)
        self.assertEqual(A.commit_bound_us(None, 200), 600)


def fig4(p, pol, cap, rate, paper, seed=1, nmin=10, nmax=10, smin=3, smax=4):
    return {"bps": p, "policy": pol, "capture": cap, "rate": rate, "rate_paper": paper, "seed": seed,
            "nodes_per_bp_min": nmin, "nodes_per_bp_max": nmax, "set_size_min": smin, "set_size_max": smax}


class Resilience(unittest.TestCase):
    def fig(self):
        return [fig4(1, "owned", "bp", 1.0, 1.0), fig4(1, "global", "bp", 1.0, 1.0),
                fig4(1, "owned", "node", 0.2, 0.2), fig4(1, "global", "node", 0.2, 0.2),
                fig4(4, "owned", "bp", 0.40, 0.44, seed=1, nmin=2, nmax=3),
                fig4(4, "owned", "bp", 0.50, 0.44, seed=2, nmin=3, nmax=4, smin=1),
                fig4(4, "global", "bp", 1.0, 0.44), fig4(4, "owned", "node", 0.1, 0.2),
                fig4(4, "global", "node", 0.2, 0.2)]

    def test_fig4_rows(self):
        rows = A.fig4_rows(self.fig())
        self.assertEqual([r["p"] for r in rows], [1, 4])
        r4 = rows[1]
        self.assertAlmostEqual(r4["bp_owned"], 0.45)          # mean of 0.40 and 0.50
        self.assertEqual(r4["prop3"], 0.44)
        self.assertEqual(r4["bp_nodes"], (2, 4))
        self.assertEqual(r4["set_sizes"], (1, 4))
        self.assertEqual(A.fig4_rows([]), [])

    def test_fig4_missing_policy(self):
        rows = A.fig4_rows([fig4(4, "global", "bp", 1.0, 0.44)])
        self.assertIsNone(rows[0]["bp_owned"])
        self.assertEqual(rows[0]["prop3"], 0.44)              # taken from the global run
        self.assertIsNone(rows[0]["bp_nodes"])

    def test_agreement(self):
        rows = A.fig4_rows(self.fig())
        exact, worst = A.prop3_agreement(rows)
        self.assertEqual(exact, [1])
        self.assertEqual(worst[1], 4)
        self.assertAlmostEqual(worst[0], 0.01)
        exact, worst = A.prop3_agreement(rows[:1])
        self.assertEqual((exact, worst), ([1], None))
        rng, agree = A.global_bp_summary(rows)
        self.assertEqual((rng, agree), ((1.0, 1.0), [1]))
        nc = A.node_capture_summary(rows)
        self.assertEqual(nc["first"], (1, 0.2, 0.2))
        self.assertEqual(nc["lowest"], (0.1, 4))
        self.assertEqual(nc["global_span"], (0.2, 0.2))
        self.assertIsNone(A.node_capture_summary([]))

    def test_prop3_limit(self):
        self.assertEqual(A.prop3_limit(1), 1)
        self.assertAlmostEqual(A.prop3_limit(4), 7 / 16.0)
        rows = A.fig4_rows(self.fig())
        self.assertAlmostEqual(A.prop3_limit_gap(rows), abs(0.44 - 7 / 16.0))

    def test_claim_verdict(self):
        self.assertEqual(A.claim_verdict(4, 4), "holds")
        self.assertEqual(A.claim_verdict(968, 1000), "overstated by 32")
        self.assertEqual(A.claim_verdict(5, 4), "understated by 1")

    def probe(self, cap, pol, m, claim, n=100, p=4, sets=10):
        key = "min_nodes_all_links" if cap == "node" else "min_bps_all_links"
        ckey = "prop2_claim_nodes" if cap == "node" else "prop4_claim_bps"
        return {"capture": cap, "policy": pol, "nodes": n, "bps": p, "sets": sets, key: m, ckey: claim}

    def check(self, cap, pol, count, rate, n=100, p=4):
        return {"capture": cap, "policy": pol, "nodes": n, "bps": p, "count": count, "rate": rate}

    def test_probe_rows(self):
        probes = [self.probe("node", "owned", 90, 100), self.probe("bp", "owned", 4, 4),
                  self.probe("bp", "global", 1, 4)]
        checks = [self.check("node", "owned", 90, 1.0), self.check("node", "owned", 89, 0.99),
                  self.check("bp", "owned", 4, 1.0), self.check("bp", "owned", 3, 0.9),
                  self.check("bp", "global", 1, 1.0)]
        rows = A.probe_rows(probes, checks)
        self.assertEqual([(r["prop"], r["smallest"], r["verdict"]) for r in rows],
                         [(2, 90, "overstated by 10"), (4, 4, "holds"), (4, 1, "overstated by 3")])
        self.assertEqual((rows[0]["rate_at"], rows[0]["rate_below"]), (1.0, 0.99))
        self.assertIsNone(rows[2]["rate_below"])              # nothing below one
        self.assertTrue(A.probe_checks_hold(rows))
        p2 = A.prop2_summary(rows)
        self.assertEqual((p2["gap"], p2["sets"], p2["n_minus_m"], p2["rows"]), ((10, 10), (10, 10), 1, 1))
        self.assertEqual(A.prop4_summary(rows), {"owned": (1, 1, (4, 4)), "global": (0, 1, (1, 1))})

    def test_probe_check_contradiction(self):
        rows = A.probe_rows([self.probe("bp", "owned", 4, 4)],
                            [self.check("bp", "owned", 4, 1.0), self.check("bp", "owned", 3, 1.0)])
        self.assertFalse(A.probe_checks_hold(rows))           # one fewer already deciphers everything
        rows = A.probe_rows([self.probe("bp", "owned", 4, 4)], [self.check("bp", "owned", 4, 0.5)])
        self.assertFalse(A.probe_checks_hold(rows))
        self.assertIsNone(rows[0]["rate_below"])              # check run missing
        self.assertIsNone(A.prop2_summary(rows))

    def test_storage_rows(self):
        st = [{"nodes": 100, "bps": 16, "sets": 16, "device_keys_min": 22, "device_keys_max": 23,
               "device_keys_mean": 22.5, "storage_bound_2sqrtn": 20.0},
              {"nodes": 100, "bps": 1, "sets": 10, "device_keys_min": 20, "device_keys_max": 20,
               "device_keys_mean": 20.0, "storage_bound_2sqrtn": 20.0}]
        rows = A.storage_rows(st)
        self.assertEqual([r["p"] for r in rows], [1, 16])   # sorted by p
        self.assertEqual(rows[1]["excess"], 3)
        self.assertAlmostEqual(rows[1]["ratio"], 1.125)
        self.assertEqual(A.storage_rows([]), [])

    def test_failed_resilience(self):
        recs = [{"kind": "fig4", "rate": 1}, {"kind": "fig4", "exit": 1, "error": "exit 1: x"},
                {"kind": "fig4", "exit": None, "error": "timeout after 900s"}]
        self.assertEqual(len(A.failed_resilience(recs)), 2)


def run(kind="throughput", exit_code=0, **res):
    r = {"kind": kind, "cmd": "run --bps 4 --gap-us 100", "result": dict({"safety": "ok", "liveness": "ok"}, **res)}
    if exit_code != 0:
        r["exit"] = exit_code
    return r


class Cluster(unittest.TestCase):
    def test_lat(self):
        res = {"t_r": {"mean_us": 5.0, "p50_us": 4}}
        self.assertEqual(A.lat(res, "t_r"), 5.0)
        self.assertEqual(A.lat(res, "t_r", "p50_us"), 4)
        self.assertIsNone(A.lat(res, "t_k"))
        self.assertIsNone(A.lat({"t_r": 3}, "t_r"))

    def test_failed_points_any_nonzero_exit(self):
        recs = [run(), run(exit_code=1), run(exit_code=3), {"kind": "x", "exit": 2, "error": "exit 2: usage"},
                {"kind": "x", "exit": None, "error": "timeout"}]
        self.assertEqual([r.get("exit") for r in A.failed_points(recs)], [1, 3, 2, None])
        self.assertEqual(A.failed_points([]), [])

    def test_violations(self):
        recs = [run(), run(safety="fork"), run(liveness="stuck"), {"kind": "x", "error": "e"}]
        self.assertEqual(len(A.violations(recs)), 2)

    def test_sync_worst(self):
        self.assertEqual(A.sync_worst({1: 100.0, 4: 110.0, 16: 90.0}), (1.1, 4))
        self.assertEqual(A.sync_worst({1: 100.0}), (1.0, 1))
        self.assertIsNone(A.sync_worst({4: 100.0}))
        self.assertIsNone(A.sync_worst({1: 0, 4: 100.0}))
        self.assertIsNone(A.sync_worst({}))

    def test_tput_point(self):
        # 1,000 committed at p = 4; 90% of them (900) from 1,000 µs to 101,000 µs (0.1 s): 9,000/s.
        # 400,000 µs of CPU: 400 per join, 100 per join per BP; ceiling 4 * 10^6 / 400 = 10,000/s.
        res = {"bps": 4, "committed": 1000, "first_arrival_us": 1000, "commit90_us": 101000,
               "last_commit_us": 201000, "bp_cpu_us": 400000}
        tp, per, ceil, tail = A.tput_point(res)
        self.assertAlmostEqual(tp, 9000)
        self.assertAlmostEqual(per, 100)
        self.assertAlmostEqual(ceil, 10000)
        self.assertAlmostEqual(tail, 200)

    def test_tput_point_without_commit90(self):
        # No commit90_us: every committed request over end_us (0.5 s): 200/s; no CPU: no per-join figures.
        tp, per, ceil, tail = A.tput_point({"bps": 1, "committed": 100, "end_us": 500000})
        self.assertAlmostEqual(tp, 200)
        self.assertEqual((per, ceil, tail), (None, None, None))
        self.assertEqual(A.tput_point({"committed": 0})[0], 0)   # nothing ran

    def test_best_tput(self):
        slow = {"bps": 4, "nodes": 1000, "committed": 100, "end_us": 1000000}
        fast = {"bps": 4, "nodes": 1000, "committed": 200, "end_us": 1000000}
        other = {"bps": 1, "nodes": 1000, "committed": 50, "end_us": 1000000}
        best = A.best_tput([slow, fast, other])
        self.assertEqual(sorted(best), [(1, 1000), (4, 1000)])
        self.assertIs(best[(4, 1000)][3], fast)
        self.assertEqual(A.best_tput([]), {})

    def test_small_helpers(self):
        self.assertEqual(A.tput_needed_us(10000), 100)
        self.assertEqual(A.flag_value("run --bps 4 --gap-us 250", "--gap-us"), "250")
        self.assertIsNone(A.flag_value("run --bps 4", "--gap-us"))
        self.assertIsNone(A.flag_value("run --gap-us", "--gap-us"))   # flag without a value
        self.assertEqual(A.lost_total([run(lost=2), run(lost=0), run(), {"kind": "x"}]), 2)
        self.assertEqual([n for _, n in A.lost_runs([run(lost=2), run(lost=0)])], [2])
        self.assertEqual(A.wall_total([{"wall_s": 1.5}, {"wall_s": 2}, {}]), 3.5)
        self.assertEqual(A.wall_total([]), 0)


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=1, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    print("%d passed, %d failed" % (result.testsRun - failed, failed))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
