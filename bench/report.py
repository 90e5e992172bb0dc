"""Report writing of `make bench`: the Markdown reports and SVG plots under
reports/, from the raw data of one run (reports/raw/) and the analysis of
bench/analysis.py. Every figure written here is computed from that data; the
prose around it explains the method and states no number of its own.
"""
import json
import math
import os
import shutil
import subprocess

import analysis as A
from sweep import read_jsonl, log

BASELINE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline-766d119.json")
# The micro-benchmark sizes scripts/bench-run.sh passes, for the header's command line.
MICRO_MAX_N = {"quick": "10000", "full": "1000000"}


# ---------------------------------------------------------------- formatting

def fmt(x, digits=3):
    if x is None:
        return "n/a"
    if isinstance(x, int):
        return "{:,}".format(x)
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return "{:,.0f}".format(x)
    return ("%." + str(digits) + "g") % x


def fmt_ratio(r):
    return "%.2f" % r if r is not None else "n/a"


def fmt_list(xs):
    return ", ".join(str(x) for x in xs) or "none"


def fmt_span(sp, digits=3):
    if sp is None:
        return "n/a"
    lo, hi = sp
    return fmt(lo, digits) if lo == hi else "%s..%s" % (fmt(lo, digits), fmt(hi, digits))


def us(t_ns, digits=4):
    return fmt(t_ns / 1000.0, digits) if t_ns is not None else "n/a"


def table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out) + "\n"


def gnuplot(outdir, name, script, data):
    """Writes data files and runs gnuplot; returns the SVG's name or None."""
    plotdir = os.path.join(outdir, "raw", "plot")
    os.makedirs(plotdir, exist_ok=True)
    for fname, rows in data.items():
        with open(os.path.join(plotdir, fname), "w") as f:
            for r in rows:
                f.write(" ".join(str(c) for c in r) + "\n")
    gp = os.path.join(plotdir, name + ".gp")
    svg = name + ".svg"
    with open(gp, "w") as f:
        f.write("set terminal svg size 720,440 dynamic font 'sans,12'\n")
        f.write("set output '%s'\n" % os.path.abspath(os.path.join(outdir, svg)))
        f.write("cd '%s'\n" % os.path.abspath(plotdir))
        f.write("set grid\nset key outside right top\n")
        f.write(script)
    if shutil.which("gnuplot") is None:
        return None
    cp = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if cp.returncode != 0:
        log("  gnuplot %s failed: %s" % (name, cp.stderr.strip()[-300:]))
        return None
    return svg


def header(title, mi, mode, extra_cmd):
    s = "# %s\n\n" % title
    s += ("Machine: %s, %s CPUs, %s GiB memory (kernel %s); load average %.2f when the run started "
          "(the machine is shared, so CPU times are reported where wall times would be disturbed).\n\n") % (
        mi.get("Model name", "?"), mi.get("CPU(s)", "?"), mi.get("memory_gib", "?"), mi.get("kernel", "?"),
        mi.get("load_avg_at_start", 0.0))
    s += "Run: `make bench%s` (%s mode) on %s UTC, commit %s.\n" % (
        "" if mode == "full" else "-quick", mode, mi.get("date_utc", "?"), mi.get("commit", "?"))
    s += "Exact command of this part: `%s`.\n\n" % extra_cmd
    s += "Rerun: `make bench` (or `make BUILD=dir bench`); raw data under [raw/](raw/).\n\n"
    return s


def met(ok):
    return "met" if ok else "missed"


def exit_text(r):
    """How a failed run ended: its exit code (or that it did not finish) and error."""
    code, err = r.get("exit"), r.get("error", "")[:160]
    how = "did not finish" if code is None and "exit" in r else ("exit %s" % code if code is not None else "no result")
    if err.startswith(how):
        return err
    return "%s (%s)" % (how, err) if err else how


def failed_text(failed):
    return "; ".join("`%s`: %s" % (r.get("cmd", "?"), exit_text(r)) for r in failed[:5]) + (
        "; and %d more" % (len(failed) - 5) if len(failed) > 5 else "")


def baseline_name(base):
    return "%s (run of %s UTC at %s, %s mode)" % (base.get("baseline_commit", "?"), base.get("run_date_utc", "?"),
                                                 base.get("run_commit", "?"), base.get("mode", "?"))


# ---------------------------------------------------------------- microbench.md

def security_costs(idx):
    """Section on the work issue 14 added: the batch signature, the device's
    check, catch-up, the resync request and the mutual rejoin, against the
    primitives of the same run."""
    need = ("Ed25519Sign", "Ed25519Verify", "Blake2b/65", "Blake2b/4096")
    have = [k for k in idx if k.startswith(("BatchSign/", "DeviceVerify/", "CatchUp/", "ResyncRequest", "Rejoin"))]
    if not have:
        return ""
    s = "## Costs of origin authentication, catch-up and rejoin\n\n"
    if not all(k in idx for k in need):
        return s + "**Not available:** the run lacks the primitives %s.\n\n" % ", ".join(k for k in need if k not in idx)
    sign, verify = A.ns(idx["Ed25519Sign"]), A.ns(idx["Ed25519Verify"])
    hm = A.hash_model(idx)
    s += ("Every rekey message now carries a batch trailer (leaf index, leaf count, Merkle path, the BP's Ed25519 "
          "signature of the batch root: spec sections 6 and 7). Hash model: each leaf is one BLAKE2b-256 of the "
          "sealed message plus one byte, each inner node one of 65 bytes, fitted from Blake2b/65 (%s µs) and "
          "Blake2b/4096 (%s µs) of this run; Ed25519Sign = %s µs, Ed25519Verify = %s µs. \"µs minus hashes\" "
          "takes the modelled hashing off the measured time; the last column divides what is left by the one "
          "public-key operation the budget allows.\n\n") % (
        us(hm["h65"], 3), us(hm["h4k"], 3), us(sign, 3), us(verify, 3))
    rows = []
    batch, dev, catch, rejoin = {}, {}, {}, {}
    for k in (1, 64, 1024):
        name = "BatchSign/%d/manual_time" % k
        if name not in idx:
            continue
        b, tt = idx[name], A.op_ns(idx, name)
        hashes = A.merkle_ns(hm, k, k * b.get("sealed_bytes_per_msg", 0))
        rows.append(["BatchSign/%d (BP signs k sealed messages)" % k, us(tt), fmt(k),
                     fmt(b.get("added_bytes_per_msg")), us(hashes), us(tt - hashes),
                     "%.2f x Ed25519Sign" % ((tt - hashes) / sign)])
        batch[k] = (tt, hashes)
    for n in (100, 10000):
        name = "DeviceVerify/%d" % n
        if name not in idx:
            continue
        b, tt = idx[name], A.op_ns(idx, name)
        hashes = A.hash_ns(hm, b.get("sealed_bytes", 0) + 1) + b.get("path_hashes", 0) * A.hash_ns(hm, 65)
        rows.append(["DeviceVerify/%s (device checks one update's trailer; batch of %s, path %s)" % (
            fmt(n), fmt(int(b.get("batch_msgs", 0))), fmt(int(b.get("path_hashes", 0)))), us(tt), "1",
            fmt(b.get("msg_bytes", 0) - b.get("sealed_bytes", 0)), us(hashes), us(tt - hashes),
            "%.2f x Ed25519Verify" % ((tt - hashes) / verify)])
        dev[n] = (tt, hashes)
    for k in (1, 16, 256):
        name = "CatchUp/%d/manual_time" % k
        if name not in idx:
            continue
        b, tt = idx[name], A.op_ns(idx, name)
        m = b.get("msgs", 0) or 1
        sealed = b.get("sealed_bytes", 0)
        hashes = A.merkle_ns(hm, m, sealed)
        rows.append(["CatchUp/%d (BP replays k missed epochs, n = %s)" % (k, fmt(int(b.get("n", 0)))),
                     us(tt), fmt(int(m)), fmt((b.get("total_bytes", 0) - sealed) / m), us(hashes), us(tt - hashes),
                     "one Ed25519Sign is %.0f%% of it (the rest builds and seals k updates)" % (100 * sign / tt)])
        catch[k] = (tt, m)
    if "ResyncRequest" in idx:
        rows.append(["ResyncRequest (node makes, BP opens: one keyed BLAKE2b each)", us(A.op_ns(idx, "ResyncRequest")),
                     "1", "", "", "", "no public-key operation"])
    for side, label in (("Node", "node: hello + prove"), ("Bp", "BP: challenge + verify")):
        for p in (4, 16):
            name = "Rejoin%s/%d/manual_time" % (side, p)
            if name not in idx:
                continue
            tt = A.op_ns(idx, name)
            rows.append(["Rejoin%s/%d (%s, %d-BP table)" % (side, p, label, p), us(tt), "", "", "", "",
                         "%.2f x (Ed25519Sign + Ed25519Verify)" % (tt / (sign + verify))])
            rejoin[(side, p)] = tt
    s += table(["benchmark", "µs", "messages", "bytes added per message", "hashes (model) µs", "µs minus hashes",
                "against the one public-key operation"], rows) + "\n"
    s += ("**Budget of issue 14: the BP spends at most one public-key signature per change whatever the number of "
          "messages, a device at most one signature verification per message:** ")
    verdicts = []
    fit = A.batch_fit(batch)
    if fit:
        fixed, slope, hash_slope = fit
        ok = A.batch_budget_holds(fixed, slope, sign)
        verdicts.append(ok)
        s += ("the BP side %s: fitted over k = %s messages, a batch costs %s µs whatever its size (%.2f "
              "Ed25519Sign) and each message adds %s µs (%.2f of a signature; the modelled hashes are %s µs of it, "
              "the rest writes the trailers)") % (
            "holds" if ok else "does not hold", ", ".join(str(k) for k in sorted(batch)), us(fixed), fixed / sign,
            us(slope, 3), slope / sign, us(hash_slope, 3))
    worst = A.device_check_worst(dev, verify)
    if worst is not None:
        ok = A.device_budget_holds(worst)
        verdicts.append(ok)
        s += "%sthe device side %s: one message's check is its leaf and path hashes plus %.2f Ed25519Verify" % (
            "; " if len(verdicts) > 1 else "", "holds" if ok else "does not hold", worst)
    s += ".\n\n" if verdicts else "not measured in this run.\n\n"
    if verdicts:
        s += ("Held means: a batch's fixed part is at most %s signatures' worth and a message adds under %s of a "
              "signature; a device's check, beyond hashing, is under %s verifications' worth. One more "
              "public-key operation per message would break either. ") % (
            fmt(A.BATCH_FIXED_MAX_SIGNS), fmt(A.BATCH_SLOPE_MAX_SIGNS), fmt(A.DEVICE_CHECK_MAX_VERIFIES))
    if catch:
        k = max(catch)
        tt, m = catch[k]
        s += ("Catch-up is one batch too: %d missed epochs cost %s µs, %s µs per epoch, of which one signature is "
              "%.0f%%. " % (k, us(tt), us(tt / m, 3), 100 * sign / tt))
    if ("Node", 4) in rejoin and ("Bp", 4) in rejoin:
        s += ("A rejoin costs the node %s µs and the BP %s µs with 4 BPs (each side one Ed25519 signature, one "
              "verification and an X25519 exchange; the node also hashes the BP table it checks against bps_root)" % (
                  us(rejoin[("Node", 4)]), us(rejoin[("Bp", 4)])))
        if ("Node", 16) in rejoin:
            s += ", %s µs for the node with 16 BPs" % us(rejoin[("Node", 16)])
        s += ". "
    s += ("BpImportHandover (a handover and its roll-forward) is not measured: it needs a second BP's key manager "
          "committing every epoch and a device store per orphan, which the one-BP fixtures here do not have; "
          "tests/test_rejoin.c exercises it.\n\n")
    return s


def before_after_tk(idx, base):
    """T_k (and device apply) of this run against the baseline run."""
    s = "## T_k before and after the security work\n\n"
    if base is None:
        return s + "**Not available:** %s is missing.\n\n" % BASELINE_FILE
    bm = base.get("micro", {})
    s += ("Before: the committed reports of %s, the run before issue 14 (figures copied into "
          "bench/baseline-766d119.json). After: this run. Both are CPU time of this thread (manual time); the "
          "machines' speeds are compared by the Ed25519 rows, so a ratio there that is not 1 is the machines' "
          "(or their load's) difference, not the protocol's.\n\n") % baseline_name(base)
    rows = []
    for name in ("Ed25519Sign", "Ed25519Verify"):
        if name in idx and name in bm:
            a, b = A.op_ns(idx, name), A.op_ns(bm, name)
            rows.append([name, "", us(b), us(a), fmt_ratio(A.ratio(a, b)), "", ""])
    for op, name in (("join", "JoinTk"), ("leave", "LeaveTk")):
        for n in A.TK_SIZES:
            key = "%s/%d/manual_time" % (name, n)
            if key in idx and key in bm:
                a, b = A.op_ns(idx, key), A.op_ns(bm, key)
                rows.append(["T_k %s" % op, fmt(n), us(b), us(a), fmt_ratio(A.ratio(a, b)), fmt(bm[key].get("msgs")),
                             fmt(idx[key].get("msgs"))])
    for kind in ("Update", "Bundle"):
        for n in (100, 10000):
            key = "DeviceApply%s/%d/manual_time" % (kind, n)
            if key in idx and key in bm:
                a, b = A.op_ns(idx, key), A.op_ns(bm, key)
                rows.append(["device applies %s" % ("an update" if kind == "Update" else "a bundle"), fmt(n), us(b),
                             us(a), fmt_ratio(A.ratio(a, b)), "", ""])
    if not rows:
        return s + "**Not available:** this run has no benchmark the baseline also has.\n\n"
    s += table(["what", "n", "before µs", "after µs", "after / before", "messages before", "messages after"],
               rows) + "\n"
    key = "JoinTk/%d/manual_time" % A.TK_RATIO_N
    if key in idx and key in bm:
        a, b = A.op_ns(idx, key), A.op_ns(bm, key)
        s += ("A device's apply now includes the check of its message's batch signature (DeviceVerify above). "
              "At n = %s a join's T_k moved by %s µs (%s x); one batch signature costs %s µs in this run.\n\n") % (
            fmt(A.TK_RATIO_N), us(a - b), fmt_ratio(A.ratio(a, b)), us(A.op_ns(idx, "Ed25519Sign")))
    return s


def micro_section(idx, title, names):
    rows = [[n, us(A.op_ns(idx, n))] for n in names if n in idx]
    return "## %s\n\n" % title + table(["benchmark", "µs per op"], rows) + "\n" if rows else ""


def report_micro(mode, micro, outdir, mi, base):
    s = header("Micro-benchmarks", mi, mode, "BCKM_BENCH_MAX_N=%s $(BUILD)/bin/bckm-bench --benchmark_format=json "
               "--benchmark_out=reports/raw/microbench.json" % MICRO_MAX_N[mode])
    if micro is None:
        return s + "**Not available:** the benchmark binary did not produce raw/microbench.json.\n"
    idx = A.bench_index(micro)
    s += ("Google Benchmark (library_build_type: %s; the Debian package is built that way, which affects the "
          "harness, not the code measured, compiled with -O2). Times are CPU time per operation; the T_k and "
          "device rows time only the operation itself with this thread's CPU clock (manual time), so the "
          "untimed set-up of each iteration and other processes on the shared machine are not counted.\n\n") % (
        micro.get("context", {}).get("library_build_type", "?"))
    s += micro_section(idx, "libsodium primitives (the yardstick)", ["AeadSeal/64", "AeadSeal/128", "AeadSeal/1024",
                       "AeadSeal/4096", "AeadSeal/16384", "Blake2bKeyed/48", "Blake2bKeyed/64", "Ed25519Sign",
                       "Ed25519Verify", "Ed25519SeedKeypair"])
    s += micro_section(idx, "Key derivation wrappers", ["KdfSetUpdate", "KdfSetPairUpdate", "KdfPairNode",
                       "KdfSetInit", "KdfSetPairInit", "KdfPairSeed", "DrbgFill32"])
    s += micro_section(idx, "Assignment and Reorder (pure functions over m sets)", ["Assignment/10",
                       "Assignment/100", "Assignment/1000", "ReorderPick/10", "ReorderPick/100", "ReorderPick/1000"])
    s += micro_section(idx, "Layer 2 codecs", ["TxEncode", "TxDecode", "EnvelopeEncode", "EnvelopeDecode",
                       "EnvelopeSign", "EnvelopeVerify", "BlockHeaderEncode", "BlockHeaderDecode", "BlockHash",
                       "BlockEncode/1", "BlockEncode/64", "BlockEncode/1024", "BlockDecode/1", "BlockDecode/64",
                       "BlockDecode/1024", "CertEncode/4", "CertEncode/16", "CertEncode/31", "CertDecode/4",
                       "CertDecode/16", "CertDecode/31", "CertVerify/4", "CertVerify/16", "CertVerify/31"])
    verify = A.op_ns(idx, "Ed25519Verify")
    s += ("CertVerify/p checks 2f+1 Ed25519 signatures of p = 3f+1 BPs; its lower bound is (2f+1) verifies "
          "(%s µs each here)") % us(verify, 3)
    cv = [(p, A.op_ns(idx, "CertVerify/%d" % p)) for p in (4, 16, 31) if "CertVerify/%d" % p in idx]
    if verify and cv:
        s += ": " + ", ".join("CertVerify/%d is %.2f x its %d verifies" % (p, t / (A.quorum(p) * verify), A.quorum(p))
                              for p, t in cv)
    s += ".\n\n"
    s += micro_section(idx, "Smart contract and block execution (state of 10,000 nodes)", ["ContractCheck",
                       "ContractApply/manual_time", "BlockExecute/1/manual_time", "BlockExecute/16/manual_time",
                       "BlockExecute/256/manual_time"])
    s += ("ContractCheck verifies the envelope's Ed25519 signature, its freshness and reruns Assignment; "
          "ContractApply checks and then applies one join (registry change, Reorder, state digest); "
          "BlockExecute/k decodes, checks and applies k joins and hashes the state.")
    ev, cc = A.op_ns(idx, "EnvelopeVerify"), A.op_ns(idx, "ContractCheck")
    if ev and cc:
        s += " The envelope's signature verify (EnvelopeVerify, %s µs) is %.0f%% of ContractCheck (%s µs)." % (
            us(ev), 100 * ev / cc, us(cc))
    s += "\n\n"

    dev_rows, dev = [], {}
    for n in (100, 10000):
        for kind in ("Update", "Bundle"):
            name = "DeviceApply%s/%d/manual_time" % (kind, n)
            if name in idx:
                b = idx[name]
                dev[(kind, n)] = (A.op_ns(idx, name), b.get("msg_bytes", 0))
                dev_rows.append([kind.lower(), fmt(n), fmt(int(b.get("msg_bytes", 0))),
                                 fmt(int(b.get("device_keys", 0))), us(A.op_ns(idx, name))])
    if dev_rows:
        s += "## A device applying a rekey message\n\n"
        s += table(["message", "n", "message bytes", "keys in the store after", "µs"], dev_rows) + "\n"
        s += ("An update makes the device re-derive every key it holds (about 2*sqrt(n) KDF calls), a bundle "
              "only installs keys (Prop. 5: O(sqrt n) computation, O(1) messages).")
        both = [n for n in (10000, 100) if ("Update", n) in dev and ("Bundle", n) in dev]
        if both:
            n = both[0]
            (tu, bu), (tb, bb) = dev[("Update", n)], dev[("Bundle", n)]
            s += " At n = %s the update costs %s µs for %s bytes, the bundle %s µs for %s bytes (%.2f x)." % (
                fmt(n), us(tu), fmt(int(bu)), us(tb), fmt(int(bb)), tu / tb)
        s += "\n\n"

    s += security_costs(idx)

    # ---- T_k against its crypto lower bound
    c = A.tk_costs(idx)
    if c is not None:
        s += "## T_k of a join and a leave at the BP against the crypto lower bound\n\n"
        s += ("One BP (p = 1, owned policy) holding a genesis network of n nodes. T_k = prepare + registry apply "
              "(Assignment, Reorder) + key manager commit producing every rekey message. Lower bound = "
              "messages x AEAD fixed cost (%s µs) + sealed body bytes x %s ns/byte + KDF calls x one keyed "
              "BLAKE2b (%s µs) + for a join one Ed25519 key pair from a seed (%s µs: the code commitment), "
              "all measured above in the same run (AEAD cost fitted from AeadSeal/64 and "
              "/4096). Messages and bytes are counted exactly from the output; KDF calls are counted from "
              "the plan (changed sets x m pair updates, initial keys of a created set, two derivations per "
              "pairwise node key in each bundle). Since issue 14 the bound also counts the commit's one batch "
              "signature (Ed25519Sign) and its Merkle tree (one BLAKE2b per sealed message and per inner node, "
              "model of the section above); the trailers' bytes are not AEAD bytes.\n\n") % (
            us(c["aead_fixed"], 3), fmt(c["aead_per_byte"], 3), us(c["kdf"], 3), us(c["code_key"], 3))
        tk = A.tk_rows(idx, c)
        s += table(["op", "n", "sets m", "messages", "sealed bytes", "KDF calls", "T_k µs", "lower bound µs",
                    "ratio"], [[r["op"], fmt(r["n"]), fmt(int(r["b"]["sets"])), fmt(r["b"]["msgs"]),
                                fmt(r["b"]["body_bytes"]), fmt(r["b"]["kdf_calls"]), us(r["t"]), us(r["lb"]),
                                "%.2f" % r["ratio"]] for r in tk]) + "\n"
        joins = {r["n"]: r for r in tk if r["op"] == "join"}
        j = joins.get(A.TK_RATIO_N)
        if j:
            r = j["ratio"]
            s += "**Target: T_k of a join at n = %s within %sx of its crypto lower bound:** %s (ratio %.2f%s).\n\n" % (
                fmt(A.TK_RATIO_N), fmt(A.TK_RATIO_MAX), met(r <= A.TK_RATIO_MAX), r,
                "" if r <= A.TK_RATIO_MAX else ", %.0f%% over the target" % A.over_pct(r, A.TK_RATIO_MAX))
            if r > A.TK_RATIO_MAX:
                s += ("Where the rest goes: besides the seals and KDFs, each commit walks the whole set table "
                      "several times (one update body per set, built with a heap allocation and three qsorts "
                      "each), looks up every pairwise set key in a hash map, and the registry runs Assignment "
                      "and Reorder over the m sets: at this size the time above the bound, these O(m) non-crypto "
                      "steps among it, is %s µs, %.0f%% of the bound's %s µs.\n\n") % (us(j["t"] - j["lb"]), 100 * (j["t"] - j["lb"]) / j["lb"],
                                                           us(j["lb"]))
        grow = A.sqrt_growth({n: r["t"] for n, r in joins.items()}, A.TK_RATIO_N)
        if grow:
            s += "Growth of the join's T_k relative to n = %s, against sqrt(n / %s):\n\n" % (
                fmt(A.TK_RATIO_N), fmt(A.TK_RATIO_N))
            e = round(math.log10(A.TK_RATIO_N))
            s += table(["n", "T_k / T_k(10^%d)" % e, "sqrt(n / 10^%d)" % e],
                       [[fmt(n), "%.2f" % g, "%.2f" % q] for n, g, q in grow]) + "\n"
            top = [(n, g, q) for n, g, q in grow if n == A.TK_GROWTH_N]
            if top:
                _, g, q = top[0]
                ok = A.growth_verdict(g, q)
                s += ("**Target: growing as sqrt(n) up to n = %s:** measured x%.1f from 10^%d to 10^%d where "
                      "sqrt predicts x%s: %s.\n\n") % (
                    fmt(A.TK_GROWTH_N), g, round(math.log10(A.TK_RATIO_N)), round(math.log10(A.TK_GROWTH_N)), fmt(q), "met (within a factor %s of sqrt)" % fmt(A.SQRT_GROWTH_FACTOR) if ok
                    else "missed by a factor %.1f" % (g / q))
        svg = gnuplot(outdir, "tk-vs-n", (
            "set logscale xy\nset xlabel 'n (nodes)'\nset ylabel 'T_k (µs, CPU)'\n"
            "set title 'T_k at one BP against n'\n"
            "plot 'tk_join.dat' u 1:2 w lp t 'join T_k', 'tk_join.dat' u 1:3 w l dt 2 t 'join lower bound', "
            "'tk_leave.dat' u 1:2 w lp t 'leave T_k', 'tk_leave.dat' u 1:3 w l dt 2 t 'leave lower bound'\n"),
            {"tk_%s.dat" % op: [(r["n"], r["t"] / 1000, r["lb"] / 1000) for r in tk if r["op"] == op]
             for op in ("join", "leave")})
        if svg:
            s += "![T_k against n](%s)\n\n" % svg

    s += before_after_tk(idx, base)

    # ---- memory
    mem = A.mem_rows(idx)
    if mem:
        s += "## BP memory against n\n\n"
        s += ("bckm_km_bytes (the key manager's own count of its heap) and the allocator's view (mallinfo2 "
              "in-use bytes before and after the genesis; registry = allocator delta minus the key manager).")
        if len(mem) > 1:
            s += (" The fixed costs (the key manager's log and tables) weigh most at small n: %s B/node in all at "
                  "n = %s against %s at n = %s.") % (fmt(mem[0][3]), fmt(mem[0][0]), fmt(mem[-1][3]), fmt(mem[-1][0]))
        s += "\n\n"
        s += table(["n", "key manager B/node", "registry B/node", "total B/node"],
                   [[fmt(n), fmt(km), fmt(reg), fmt(tot)] for n, km, reg, tot in mem]) + "\n"
        top = [m for m in mem if m[0] == A.MEM_N]
        if top:
            tot = top[0][3]
            s += "**Target: BP memory at most %d bytes per node at n = %s:** %s: %s B/node in total" % (
                A.MEM_MAX_B_PER_NODE, fmt(A.MEM_N), met(tot <= A.MEM_MAX_B_PER_NODE), fmt(tot))
            if tot > A.MEM_MAX_B_PER_NODE:
                s += " (%.0f%% over)" % A.over_pct(tot, A.MEM_MAX_B_PER_NODE)
            s += (". The registry keeps per node an index entry, a code-hash index entry and its place in its "
                  "set's member list; the key manager a KEK slot, a free-list slot and a hash-map entry per node.\n\n")
        svg = gnuplot(outdir, "memory-vs-n", (
            "set logscale x\nset xlabel 'n (nodes)'\nset ylabel 'bytes per node'\nset title 'BP memory per node'\n"
            "plot 'mem.dat' u 1:2 w lp t 'key manager', 'mem.dat' u 1:3 w lp t 'registry', "
            "'mem.dat' u 1:4 w lp t 'total', %d w l dt 2 t 'target %d B'\n") % (
                A.MEM_MAX_B_PER_NODE, A.MEM_MAX_B_PER_NODE), {"mem.dat": mem})
        if svg:
            s += "![BP memory against n](%s)\n\n" % svg
    return s


# ---------------------------------------------------------------- resilience.md

def report_resilience(mode, recs, outdir, mi):
    s = header("Resilience against node and BP capture, and device storage", mi, mode,
               "python3 bench/bench.py resilience %s $(BUILD)/bin/bckm-resilience reports/raw/resilience.jsonl" % mode)
    if not recs:
        return s + "**Not available:** no resilience runs were recorded.\n"
    s += ("Each run builds a genesis network with `bckm-resilience` (the analysis behind `bckm-sim resilience`), "
          "captures nodes (their real device stores) or BPs (every key the key manager holds or derives), and "
          "counts the links, among all n(n-1)/2, whose protecting key (pairwise node key inside a set, "
          "pairwise set key across sets) the adversary holds; counting is by set pairs, so it is exact. "
          "Every command is in [raw/resilience.jsonl](raw/resilience.jsonl); seeds are in the tables.\n\n")
    failed = A.failed_resilience(recs)
    if failed:
        s += "**%d run(s) failed:** %s\n\n" % (len(failed), failed_text(failed))
    ok = [r for r in recs if r not in failed]
    fig = [r for r in ok if r["kind"] == "fig4"]
    if fig:
        s += fig4_section(fig, outdir)
    probes = [r for r in ok if r["kind"] == "probe"]
    if probes:
        s += probes_section(A.probe_rows(probes, [r for r in ok if r["kind"].startswith("check-")]))
    st = [r for r in ok if r["kind"] == "storage"]
    if st:
        s += storage_section(st, outdir)
    return s


def fig4_section(fig, outdir):
    n = fig[0]["nodes"]
    rows = A.fig4_rows(fig)
    seeds = sorted(set(r["seed"] for r in fig))
    s = "## Fig. 4: rate of deciphered links against p (n = %s, seeds %s, mean over seeds)\n\n" % (
        fmt(n), ", ".join(str(x) for x in seeds))
    s += table(["p", "1 BP, owned", "1 BP, global", "Prop. 3", "1 node, owned", "1 node, global", "Prop. 1",
                "nodes per BP", "set sizes"],
               [[r["p"], fmt(r["bp_owned"], 5), fmt(r["bp_global"], 5), fmt(r["prop3"], 5), fmt(r["node_owned"], 5),
                 fmt(r["node_global"], 5), fmt(r["prop1"], 5),
                 "%d..%d" % r["bp_nodes"] if r["bp_nodes"] else "", "%d..%d" % r["set_sizes"] if r["set_sizes"] else ""]
                for r in rows]) + "\n"
    svg = gnuplot(outdir, "fig4-rate-vs-p", (
        "set xlabel 'p (BPs)'\nset ylabel 'rate of deciphered links'\nset title 'Fig. 4: one captured BP (n = %d)'\n"
        "set yrange [0:1.05]\n"
        "plot 'fig4.dat' u 1:2 w lp pt 7 t 'measured, owned', 'fig4.dat' u 1:3 w lp pt 5 t 'measured, global', "
        "'fig4.dat' u 1:4 w l dt 2 lw 2 t 'Prop. 3', 'fig4.dat' u 1:7 w l dt 3 t '(2p-1)/p^2 (n -> inf)', "
        "'fig4.dat' u 1:5 w lp pt 9 t 'one node, owned', 'fig4.dat' u 1:6 w l dt 4 t 'Prop. 1'\n") % n,
        {"fig4.dat": [(r["p"], r["bp_owned"] or 0, r["bp_global"] or 0, r["prop3"] or 0, r["node_owned"] or 0,
                       r["prop1"] or 0, A.prop3_limit(r["p"])) for r in rows]})
    if svg:
        s += "![Fig. 4](%s)\n\n" % svg
    s += "### Where the measurement and the paper agree, and where not\n\n"
    exact, worst = A.prop3_agreement(rows)
    divides = [p for p in exact if n % p == 0]
    s += "- **BP capture, owned policy:** the measured rate equals Prop. 3 exactly at p = %s" % fmt_list(exact)
    if exact:
        s += (" (p divides n, so every BP holds n/p nodes as the proposition assumes)" if divides == exact else
              " (p divides n at p = %s)" % fmt_list(divides))
    if worst:
        s += ("; elsewhere the round-robin genesis gives some BPs one node more than others, and the largest "
              "gap is %.2g at p = %d. The captured BP deciphers exactly the links with an end among its own "
              "nodes: its pairwise node keys (derived from its own domain secret) and the pairwise set keys of "
              "its sets (shared with the other owner only)") % worst
    s += ".\n"
    g = A.global_bp_summary(rows)
    if g:
        rng, agree = g
        differ = [r["p"] for r in rows if r["bp_global"] is not None and r["p"] not in agree]
        s += ("- **BP capture, global policy:** the measured rate is %s at every p; it differs from Prop. 3 at "
              "p = %s. Under `global` every BP holds the cluster's single domain secret, so one BP knows every "
              "set KEK and every pairwise set key and derives every pairwise node key. Prop. 3 holds only when "
              "a BP's knowledge is limited to its own nodes' sets, which is what the `owned` policy "
              "enforces; the paper's claim that resilience grows with p depends on it.\n") % (
            fmt_span(rng, 4), fmt_list(differ))
    nc = A.node_capture_summary(rows)
    if nc:
        p0, m0, prop1 = nc["first"]
        sq = int(math.isqrt(n)) ** 2 == n
        if sq and prop1 is not None and abs(m0 - prop1) < A.EXACT:
            why = " (n is a perfect square and every set has sqrt(n) members)"
        else:
            why = " (n = %s is %s, so set sizes differ from sqrt(n) = %.1f)" % (
                fmt(n), "a perfect square but Reorder left uneven sets" if sq else "not a perfect square",
                math.sqrt(n))
        s += ("- **Node capture:** Prop. 1 assumes sets of exactly sqrt(n) members; a captured node deciphers "
              "(n - 1) + (|S| - 1)(n - |S|) links with its real set size |S|. At p = %d the measured rate is %s "
              "against %s%s. With more BPs under `owned`, each BP fills its own sets, so some sets are smaller "
              "(see the set sizes column) and there are more of them; the rate of a node in a smaller set is "
              "below Prop. 1 (lowest mean measured: %s at p = %d).") % (
            p0, fmt(m0, 5), fmt(prop1, 5), why, fmt(nc["lowest"][0], 5), nc["lowest"][1])
        gs = nc["global_span"]
        if gs:
            s += (" Under `global` the placement ignores BPs: the node-capture rate is %s at every p.\n" % fmt(gs[0], 5)
                  if gs[0] == gs[1] else " Under `global` the node-capture rate ranges over %s across p.\n" %
                  fmt_span(gs, 5))
        else:
            s += "\n"
    gap = A.prop3_limit_gap(rows)
    if gap is not None:
        s += ("- The limit (2p-1)/p^2 of Prop. 3 is drawn for reference; at n = %s the exact formula is within "
              "%.1g of it.\n") % (fmt(n), gap)
    return s + "\n"


def probes_section(rows):
    s = "## Props. 2 and 4: the smallest capture that deciphers every link\n\n"
    s += ("The analysis computes the smallest capture from the network's structure (nodes: every member but one "
          "per set, since a link inside a set needs one of its two ends and the remaining member's links are "
          "all covered by its peers' keys; BPs: under `owned` every BP holding two or more nodes, since only "
          "it derives its sets' pairwise node keys; under `global` one BP) and then checks it by counting, "
          "capturing in the `cover` order: that many members decipher every link, one fewer does not.\n\n")
    s += table(["proposition", "n", "p", "policy", "sets m", "smallest full capture", "paper claims",
                "rate at that size", "rate one below", "verdict"],
               [["Prop. 2 (nodes)" if r["prop"] == 2 else "Prop. 4 (BPs)", fmt(r["n"]), r["p"], r["policy"], r["sets"],
                 r["smallest"], r["claim"], fmt(r["rate_at"], 6) if r["rate_at"] is not None else "n/a",
                 fmt(r["rate_below"], 6) if r["rate_below"] is not None else
                 ("(none: minimum is 1)" if r["smallest"] <= 1 else "n/a"), r["verdict"]] for r in rows]) + "\n"
    s += "The counting %s the computed sizes: %s. " % (
        "confirms" if A.probe_checks_hold(rows) else "contradicts",
        "each deciphers every link and one fewer does not" if A.probe_checks_hold(rows) else
        "some size does not decipher every link, or one fewer already does")
    p2 = A.prop2_summary(rows)
    if p2:
        s += ("Prop. 2 says capturing the whole network needs every member; the smallest full capture is n - m in "
              "%d of %d runs (one member per set may stay free: each of its links is protected by a key one of its "
              "captured peers or captured other-set members hold), so the claim is overstated by %s nodes, against "
              "m = %s sets and sqrt(n) = %s. ") % (p2["n_minus_m"], p2["rows"], fmt_span(p2["gap"]),
                                                   fmt_span(p2["sets"]), fmt_span(p2["sqrt_n"], 3))
    for pol, (holds, total, sp) in sorted(A.prop4_summary(rows).items()):
        s += "Prop. 4 under `%s` holds in %d of %d runs (smallest full capture %s BP(s)). " % (
            pol, holds, total, fmt_span(sp))
    return s.rstrip() + "\n\n"


def storage_section(st, outdir):
    rows = A.storage_rows(st)
    s = "## Storage per device against 2*sqrt(n) (Prop. 5)\n\n"
    s += ("Keys counted in the real device stores of %d randomly captured devices per network "
          "(node KEK, set KEK, pairwise node keys, pairwise set keys).\n\n") % st[0]["count"]
    s += table(["n", "p", "sets m", "keys min", "keys max", "keys mean", "2*sqrt(n)", "mean / bound"],
               [[fmt(r["n"]), r["p"], r["sets"], r["min"], r["max"], fmt(r["mean"], 5), fmt(r["bound"], 5),
                 "%.3f" % r["ratio"]] for r in rows]) + "\n"
    exact = [fmt(r["n"]) for r in rows if r["p"] == 1 and r["mean"] == r["bound"]]
    s += ("With one BP the store holds |S| + m keys: exactly 2*sqrt(n) when n is a perfect square and the sets are "
          "full (n = %s).") % (", ".join(exact) or "none")
    many = [r for r in rows if r["p"] > 1]
    if many:
        worst = max(many, key=lambda r: r["excess"])
        s += (" With many BPs under `owned` each BP's last set is partial, so there are more sets than sqrt(n) and "
              "a device holds more pairwise set keys: at most %s keys above 2*sqrt(n) here (n = %s, p = %d, m = %d); "
              "the device capacity (bckm_device_caps: s(n) + 2p set slots) is sized for up to p more.") % (
            fmt(worst["excess"], 3), fmt(worst["n"]), worst["p"], worst["sets"])
    s += "\n\n"
    svg = gnuplot(outdir, "storage-vs-n", (
        "set logscale xy\nset xlabel 'n (nodes)'\nset ylabel 'keys per device'\nset title 'Device storage'\n"
        "plot 'storage_p1.dat' u 1:3 w lp pt 7 t 'measured, p = 1', 'storage_p16.dat' u 1:3 w lp pt 5 "
        "t 'measured, p = 16', 'storage_p1.dat' u 1:4 w l dt 2 t '2*sqrt(n)'\n"),
        {"storage_p%d.dat" % p: [(r["n"], r["p"], r["mean"], r["bound"], r["min"], r["max"]) for r in rows
                                 if r["p"] == p] for p in (1, 16)})
    if svg:
        s += "![storage](%s)\n\n" % svg
    return s


# ---------------------------------------------------------------- cluster reports

SIM_CMD = "python3 bench/bench.py sim %s $(BUILD)/bin/bckm-sim reports/raw/sim.jsonl"


def no_runs(s):
    return s + "**Not available:** no cluster runs were recorded in raw/sim.jsonl.\n"


def failed_runs_line(rs):
    failed = A.failed_points(rs)
    if not failed:
        return ""
    return "**%d run(s) failed:** %s\n\n" % (len(failed), failed_text(failed))


def report_response(mode, recs, idx, outdir, mi):
    s = header("Response time against the number of BPs (paper Fig. 5a, 5b)", mi, mode, SIM_CMD % mode)
    rs = [r for r in recs if r["kind"] == "response"]
    if not rs:
        return no_runs(s)
    s += failed_runs_line(rs)
    for prof in ("lan", "tendermint"):
        runs = sorted([r for r in rs if r["profile"] == prof and "result" in r],
                      key=lambda r: (r["mode"], r["result"].get("bps", 0)))
        if not runs:
            continue
        s += "## Profile `%s`\n\n" % prof
        s += table(["mode", "p", "T_k mean µs", "T_e mean µs", "T_a mean µs", "T_r mean µs", "T_r p50", "T_r p99",
                    "lost", "safety", "liveness", "seed"],
                   [[r["mode"], r["result"].get("bps"), fmt(A.lat(r["result"], "t_k")), fmt(A.lat(r["result"], "t_e")),
                     fmt(A.lat(r["result"], "t_a")), fmt(A.lat(r["result"], "t_r")),
                     fmt(A.lat(r["result"], "t_r", "p50_us")), fmt(A.lat(r["result"], "t_r", "p99_us")),
                     r["result"].get("lost"), r["result"].get("safety"), r["result"].get("liveness", "?"),
                     r["result"].get("seed")] for r in runs]) + "\n"
        for mname in ("sync", "commit"):
            pts = [(r["result"].get("bps"),) + tuple(A.lat(r["result"], k) or 0 for k in ("t_k", "t_e", "t_a", "t_r"))
                   for r in runs if r["mode"] == mname]
            svg = gnuplot(outdir, "response-%s-%s" % (prof, mname), (
                "set xlabel 'p (BPs)'\nset ylabel 'µs (virtual)'\nset title 'Response time, %s, %s'\n"
                "plot 'resp_%s_%s.dat' u 1:2 w lp t 'T_k', '' u 1:3 w lp t 'T_e', '' u 1:4 w lp t 'T_a', "
                "'' u 1:5 w lp t 'T_r'\n") % (prof, mname, prof, mname), {"resp_%s_%s.dat" % (prof, mname): pts})
            if svg:
                s += "![%s %s](%s)\n\n" % (prof, mname, svg)
        if prof != "lan":
            continue
        worst = A.sync_worst({r["result"].get("bps"): A.lat(r["result"], "t_r") or 0
                              for r in runs if r["mode"] == "sync"})
        if worst:
            s += ("**Target: `sync` response time within %sx of the centralized case at every p:** %s (worst %.2fx "
                  "at p = %d).\n\n") % (fmt(A.SYNC_RATIO_MAX), met(worst[0] <= A.SYNC_RATIO_MAX), worst[0], worst[1])
        c = [r["result"] for r in runs if r["mode"] == "commit" and r["result"].get("bps") == A.COMMIT_P]
        if c:
            crypto = A.commit_crypto_us(idx, A.COMMIT_P) if idx is not None else None
            bound = A.commit_bound_us(crypto)
            mean_tr, p50 = A.lat(c[0], "t_r") or 0, A.lat(c[0], "t_r", "p50_us") or 0
            r = mean_tr / bound
            s += ("**Target: `commit` at p = %d within %sx of three one-way delays (3 x %d µs) plus the crypto on "
                  "its critical path (%s µs: the envelope's sign and verify, the pre-prepare's sign and verify, "
                  "and for each of the prepare and commit rounds one sign and a quorum of %d verifies):** %s: "
                  "mean %s µs (%.1fx the bound), median %s µs (%.1fx).") % (
                A.COMMIT_P, fmt(A.COMMIT_RATIO_MAX), A.LAN_ONE_WAY_US, fmt(crypto), A.quorum(A.COMMIT_P),
                met(r <= A.COMMIT_RATIO_MAX), fmt(mean_tr), r, fmt(p50), p50 / bound)
            if r > A.COMMIT_RATIO_MAX:
                s += (" Where the rest goes: T_k (the key manager's work, before the envelope exists, %s µs mean "
                      "here) is on the path too; a request that arrives while a block is in consensus waits for it "
                      "to commit before the next proposal can carry it (the `lan` profile's block interval, %s µs, "
                      "is the least time from a commit to the next proposal); and each BP's CPU is busy with every "
                      "round's signature verifications, so messages queue behind it.") % (
                    fmt(A.lat(c[0], "t_k")), fmt(A.LAN_BLOCK_INTERVAL_US))
            s += "\n\n"
    lost = A.lost_runs(rs)
    if lost:
        s += "**Target: `lost` is 0 in every run:** missed in %d run(s): %s.\n\n" % (len(lost), "; ".join(
            "%s %s p = %s: %d lost (liveness `%s`, exit %s)" % (
                r["profile"], r["mode"], r["result"].get("bps"), n, r["result"].get("liveness"), r.get("exit", 0))
            for r, n in lost))
    return s


def report_error(mode, recs, outdir, mi):
    s = header("`sync` error rate against the number of BPs (paper Fig. 5c)", mi, mode, SIM_CMD % mode)
    rs = [r for r in recs if r["kind"] == "error"]
    if not rs:
        return no_runs(s)
    specs = {}
    for r in rs:
        specs.setdefault(r["fault_profile"], A.flag_value(r.get("cmd", ""), "--faults"))
    s += ("Fault profiles: %s. Error rate = share of `sync` requests accepted by CheckTx that were not committed "
          "by their deadline on the first try (`sync_missed_first_try / sync_accepted`); the client then retries "
          "until the request commits or is rejected at execution.\n\n") % ", ".join(
        "`%s` = `%s`" % (k, v) for k, v in specs.items())
    rows = []
    for r in sorted(rs, key=lambda r: (r["policy"], r["fault_profile"], r.get("result", {}).get("bps", 0))):
        if "result" not in r:
            rows.append([r["policy"], r["fault_profile"], "", "FAILED: " + exit_text(r)[:80], "", "", "", "", "", ""])
            continue
        res = r["result"]
        extra = {k: v for k, v in res.items() if any(w in k for w in ("cause", "retr", "reject", "view_change", "restart"))}
        rows.append([r["policy"], r["fault_profile"], res.get("bps"), fmt(res.get("error_rate"), 4),
                     res.get("sync_accepted"), res.get("sync_missed_first_try"), res.get("lost"), res.get("safety"),
                     res.get("liveness", "?"), json.dumps(extra, sort_keys=True) if extra else ""])
    s += table(["policy", "faults", "p", "error rate", "sync accepted", "missed first try", "lost", "safety",
                "liveness", "causes and retries (as reported)"], rows) + "\n"
    s += failed_runs_line(rs)
    lost, failed = A.lost_total(rs), len(A.failed_points(rs))
    s += "**Target: `lost` is 0 in every run:** %s (total lost %d%s).\n" % (
        met(lost == 0 and failed == 0), lost, "; %d run(s) failed" % failed if failed else "")
    return s


def report_throughput(mode, recs, idx, outdir, mi, base):
    s = header("Throughput against the number of BPs", mi, mode, SIM_CMD % mode)
    tr = [r for r in recs if r["kind"] in ("throughput", "throughput_n")]
    if not recs:
        return no_runs(s)
    gaps = sorted(set(int(A.flag_value(r["cmd"], "--gap-us")) for r in tr if A.flag_value(r["cmd"], "--gap-us")))
    blk = sorted(set(A.flag_value(r["cmd"], "--block-txs") for r in tr if A.flag_value(r["cmd"], "--block-txs")))
    s += ("Throughput runs submit joins only (`--join-pct 100`, up to %s per block) at %d offered rates, "
          "a request every %s us on average, from a genesis of the network size below; the best "
          "of them is the cluster's throughput at that p. Committed per virtual second = %.0f%% of the requests / "
          "(`commit90_us` - `first_arrival_us`): from the first request's arrival to the moment nine in ten had "
          "executed at some BP, so the ramp counts against it but the last stragglers do not; the last column gives "
          "when the last one executed. Stragglers are requests whose envelope another BP refused at CheckTx (its "
          "check state differed from the receiving BP's: Assignment depends on the network size n through the "
          "target ceil(sqrt(n)), so joins from different BPs conflict whenever n crosses a perfect square, under "
          "`owned` too) and that the client took elsewhere after its deadline. "
          "`bp_cpu_us` is the virtual CPU time charged to all BPs together (real thread CPU time of every "
          "handler, `--cost measured`); CPU per join per BP = `bp_cpu_us` / committed / p, and the CPU ceiling "
          "= p x 10^6 / (`bp_cpu_us` / committed) is the rate at which every BP would be busy all the time. Wall "
          "seconds are the simulator's own running time on this machine.\n\n") % (
        " or ".join(blk) or "?", len(gaps), " or ".join(str(g) for g in gaps) or "?", 100 * A.COMMIT_FRACTION)
    rows = []
    for r in [r for r in recs if r["kind"] == "throughput"]:
        if "result" not in r:
            rows.append(["", "FAILED: " + exit_text(r)[:80], "", "", "", "", "", "", "", ""])
            continue
        res = r["result"]
        tput, per, ceil, tail = A.tput_point(res)
        rows.append([res.get("bps"), A.flag_value(r["cmd"], "--gap-us") or "?", res.get("committed"), fmt(tput),
                     fmt(per) if per else "n/a", fmt(ceil) if ceil else "n/a", res.get("view_changes"),
                     res.get("check_rejected"), res.get("lost"), fmt(tail) if tail is not None else "n/a"])
    s += table(["p", "mean gap us", "committed", "committed per virtual second", "CPU per join per BP us",
                "CPU ceiling per second", "view changes", "refused at CheckTx (retried)", "lost",
                "last execution ms"], rows) + "\n"
    by_pn = A.best_tput([r["result"] for r in recs if r["kind"] == "throughput" and "result" in r])
    best = {p: v for (p, _), v in by_pn.items()}
    if best:
        svg = gnuplot(outdir, "throughput", (
            "set xlabel 'p (BPs)'\nset ylabel 'joins per virtual second'\n"
            "set title 'Committed joins per second against p (lan, measured)'\n"
            "plot 'tput.dat' u 1:2 w lp pt 7 t 'committed (better offered rate)', "
            "'tput.dat' u 1:3 w lp dt 2 t 'CPU ceiling', %d w l dt 3 t 'target at p = %d'\n") % (
                A.TPUT_TARGET, A.TPUT_P),
            {"tput.dat": [[p, round(best[p][0], 1), round(best[p][2] or 0, 1)] for p in sorted(best)]})
        if svg:
            s += "![throughput against p](%s)\n\n" % svg
    if A.TPUT_P in best:
        tp, per, ceil, res = best[A.TPUT_P]
        ok = tp >= A.TPUT_TARGET
        s += ("**Target: at least %s committed joins per second of virtual time at p = %d with `--cost measured`:** "
              "%s (%s per second%s).") % (fmt(A.TPUT_TARGET), A.TPUT_P, met(ok), fmt(tp),
                                          "" if ok else ", %.1fx short" % (A.TPUT_TARGET / tp))
        if not ok and per:
            ev = A.op_ns(idx, "EnvelopeVerify") if idx is not None else None
            s += (" Why: every BP executes every join, so each BP spends %s us of CPU per committed join at p = %d "
                  "(its own Ed25519 verification of the envelope%s, the contract's apply in its check "
                  "state, its replica and its key manager's view, its share of the rekey messages and key "
                  "derivations, and its part of the consensus messages); at that cost the CPU ceiling is %s joins "
                  "per second even with every BP busy all the time. %s per second would need under %s us per "
                  "join per BP (one second of CPU / %s joins: each BP executes every join, so BPs do not share "
                  "this work).") % (fmt(per), A.TPUT_P, ", %s us in the micro-benchmarks" % us(ev, 3) if ev else "",
                                    fmt(ceil), fmt(A.TPUT_TARGET), fmt(A.tput_needed_us()), fmt(A.TPUT_TARGET))
            if ceil and tp < ceil:
                s += (" The measured rate is %.0f%% of that ceiling: offered faster than it commits, the cluster "
                      "also loses time to view changes (%s in this run) and to clients retrying after CheckTx "
                      "refusals (%s).") % (100 * tp / ceil, res.get("view_changes"), res.get("check_rejected"))
        s += "\n\n"
    by_n = {n: v for (p, n), v in A.best_tput([r["result"] for r in tr if "result" in r]).items() if p == A.TPUT_P}
    if len(by_n) > 1:
        s += ("Throughput at p = %d against the genesis network size n (joins only, the better of the offered "
              "rates for each n). The key manager's work per join grows with sqrt(n) (one rekey message per set "
              "and one pair-key update per pair of sets the BP knows); the Ed25519 verification every BP makes of "
              "every envelope, the signing at the receiving BP and the consensus messages do not:\n\n") % A.TPUT_P
        s += table(["n", "sets about sqrt(n)", "committed per virtual second", "CPU per join per BP us",
                    "CPU ceiling per second", "lost", "safety"],
                   [[fmt(n), fmt(int(math.ceil(math.sqrt(n)))), fmt(v[0]), fmt(v[1]) if v[1] else "n/a",
                     fmt(v[2]) if v[2] else "n/a", v[3].get("lost"), v[3].get("safety")]
                    for n, v in sorted(by_n.items())]) + "\n"
        lo = min(by_n)
        if by_n[lo][1]:
            need = A.tput_needed_us()
            s += ("At the smallest n here (%s) each BP spends %s us of CPU per join, %s the %s us per join per BP "
                  "that %s per second allows; the CPU ceiling at p = %d is %s joins per second there.\n\n") % (
                fmt(lo), fmt(by_n[lo][1]), "above" if by_n[lo][1] > need else "within", fmt(need),
                fmt(A.TPUT_TARGET), A.TPUT_P, fmt(by_n[lo][2]))
    for r in [r for r in recs if r["kind"] == "speed"]:
        head = "**Target: %s requests at p = %s in under %s s of wall time (`--cost %s`):** " % (
            fmt(int(A.flag_value(r["cmd"], "--requests") or 0)), A.flag_value(r["cmd"], "--bps"),
            fmt(A.SPEED_WALL_MAX_S), r.get("cost", "?"))
        if "result" in r and r.get("exit", 0) == 0:
            ok = r["wall_s"] < A.SPEED_WALL_MAX_S
            s += head + "%s (%.1f s, %s committed, lost %s).\n\n" % (
                "met" if ok else "missed by %.1fx" % (r["wall_s"] / A.SPEED_WALL_MAX_S), r["wall_s"],
                r["result"].get("committed"), r["result"].get("lost"))
        else:
            s += head + "missed: the run failed (%s; wall %.0f s).\n\n" % (exit_text(r), r["wall_s"])
    bad = A.violations(recs)
    failed = [r for r in A.failed_points(recs) if r not in bad]
    s += "**Safety and liveness over every cluster run of this benchmark (%d runs):** %s" % (
        len(recs), "no violation" if not bad else "%d run(s) reported a violation: %s" % (
            len(bad), "; ".join("%s p = %s n = %s seed %s: safety `%s`, liveness `%s`, exit %s (`bckm-sim %s`)" % (
                r["kind"], r["result"].get("bps"), r["result"].get("nodes"), r["result"].get("seed"),
                r["result"].get("safety"), r["result"].get("liveness"), r.get("exit", 0), r.get("cmd", "?"))
                for r in bad)))
    s += "; %d other run(s) failed: %s.\n\n" % (len(failed), failed_text(failed)) if failed else ".\n\n"
    s += before_after_throughput(recs, base)
    s += "Where the simulator's time goes: [sim-profile.md](sim-profile.md).\n"
    return s


def before_after_throughput(recs, base):
    s = "## Throughput before and after the security work\n\n"
    if base is None:
        return s + "**Not available:** %s is missing.\n\n" % BASELINE_FILE
    pick = lambda rs: A.best_tput([r["result"] for r in rs if r.get("kind") in ("throughput", "throughput_n")
                                   and "result" in r])
    before, after = pick(base.get("throughput", [])), pick(recs)
    keys = sorted(k for k in after if k in before)
    s += ("Before: the committed reports of %s, the run before issue 14 (bench/baseline-766d119.json); after: this "
          "run. Same runs on both sides (joins only, the better of the offered rates), compared where p and the "
          "genesis size n match.\n\n") % baseline_name(base)
    if not keys:
        ns_b = sorted(set(n for _, n in before))
        ns_a = sorted(set(n for _, n in after))
        return s + ("**Not available:** no throughput run of this run has the p and n of a baseline run (the "
                    "baseline has n = %s; this run n = %s).\n\n") % (
            fmt_list(fmt(n) for n in ns_b), fmt_list(fmt(n) for n in ns_a))
    rows = []
    for k in keys:
        (tb, pb), (ta, pa) = before[k][:2], after[k][:2]
        rows.append([k[0], fmt(k[1]), fmt(tb), fmt(ta), fmt_ratio(A.ratio(ta, tb)), fmt(pb) if pb else "n/a",
                     fmt(pa) if pa else "n/a", fmt_ratio(A.ratio(pa, pb))])
    s += table(["p", "n", "committed per virtual second before", "after", "after / before",
                "CPU per join per BP us before", "after", "after / before"], rows) + "\n"
    k = (A.TPUT_P, A.TK_RATIO_N)
    if k in before and k in after:
        (tb, pb), (ta, pa) = before[k][:2], after[k][:2]
        s += ("**Throughput at p = %d, n = %s before and after the security work:** %s against %s committed per "
              "virtual second (x%s); CPU per join per BP %s against %s us.\n\n") % (
            k[0], fmt(k[1]), fmt(ta), fmt(tb), fmt_ratio(A.ratio(ta, tb)), fmt(pa) if pa else "n/a",
            fmt(pb) if pb else "n/a")
    return s


# ---------------------------------------------------------------- driver

def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def report(mode, raw, outdir):
    os.makedirs(outdir, exist_ok=True)
    mi = load_json(os.path.join(raw, "machine.json")) or {}
    micro = load_json(os.path.join(raw, "microbench.json"))
    idx = A.bench_index(micro) if micro is not None else None
    base = load_json(BASELINE_FILE)
    res = read_jsonl(os.path.join(raw, "resilience.jsonl"))
    sim = read_jsonl(os.path.join(raw, "sim.jsonl"))
    parts = {
        "microbench.md": report_micro(mode, micro, outdir, mi, base),
        "resilience.md": report_resilience(mode, res, outdir, mi),
        "response-time.md": report_response(mode, sim, idx, outdir, mi),
        "error-rate.md": report_error(mode, sim, outdir, mi),
        "throughput.md": report_throughput(mode, sim, idx, outdir, mi, base),
    }
    for name, text in parts.items():
        with open(os.path.join(outdir, name), "w") as f:
            f.write(text)
    s = "# bckm benchmark reports\n\n"
    s += ("Written by `make bench%s` on %s UTC (commit %s) on %s, %s CPUs, %s GiB. The resilience and cluster "
          "sweeps of this run took %s s of wall time in all (%d runs; the micro-benchmarks are not counted). "
          "Rerun with `make bench` (the full sizes) or `make bench-quick` (small sizes).\n\n") % (
        "" if mode == "full" else "-quick", mi.get("date_utc", "?"), mi.get("commit", "?"), mi.get("Model name", "?"),
        mi.get("CPU(s)", "?"), mi.get("memory_gib", "?"), fmt(A.wall_total(res + sim)), len(res) + len(sim))
    titles = [("microbench.md", "Micro-benchmarks: primitives, KDF, Assignment/Reorder, codecs, device apply, "
               "costs of origin authentication, catch-up and rejoin (issue 14), T_k against its crypto lower bound "
               "and n, T_k before and after the security work, BP memory"),
              ("resilience.md", "Resilience (Fig. 4, Props. 1-4) and device storage (Prop. 5)"),
              ("response-time.md", "Response time T_k, T_e, T_a, T_r against p (Fig. 5a, 5b)"),
              ("error-rate.md", "`sync` error rate against p, per policy and fault profile (Fig. 5c)"),
              ("throughput.md", "Committed requests per second against p, before and after the security work; "
               "simulator speed")]
    for name, t in titles:
        s += "- [%s](%s): %s\n" % (name, name, t)
        for l in [l for l in parts[name].splitlines() if l.startswith("**")][:4]:
            s += "  - %s\n" % l
    s += ("\nNot written by `make bench` (each says how it was made and how to redo it): "
          "[sim-profile.md](sim-profile.md), where the simulator's time goes (a callgrind profile); "
          "[proofs.md](proofs.md), written by `make prove`; [fuzz.md](fuzz.md), written by `make fuzz`.\n")
    s += "\nRaw data: [raw/](raw/) (Google Benchmark JSON, one JSON line per sweep run, plot data and gnuplot scripts).\n"
    with open(os.path.join(outdir, "README.md"), "w") as f:
        f.write(s)
    log("  reports written to %s/" % outdir)
