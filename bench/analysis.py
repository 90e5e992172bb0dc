"""Analysis of the benchmark data: pure functions, no I/O.

Every figure and every verdict a report states comes from a function here,
applied to the data one run collected (bench/sweep.py) and, for the before and
after comparisons, to the committed baseline. The targets are named constants
so that a verdict and the sentence stating its threshold cannot disagree.
bench/test_analysis.py checks these functions on small hand-computed inputs.
"""
import math

# ---------------------------------------------------------------- targets

TK_RATIO_MAX = 2.0             # T_k of a join at n = 10,000 within 2x of its crypto lower bound
TK_RATIO_N = 10000
TK_GROWTH_N = 1000000         # ... and T_k growing as sqrt(n) up to this n
SQRT_GROWTH_FACTOR = 1.5       # T_k growth from 10^4 to 10^6 within this factor of sqrt's
MEM_MAX_B_PER_NODE = 256       # BP memory per node at n = 10^6
MEM_N = 1000000
BATCH_FIXED_MAX_SIGNS = 2.0    # a batch's fixed part: at most two signatures' worth
BATCH_SLOPE_MAX_SIGNS = 0.5    # each message adds under half a signature
DEVICE_CHECK_MAX_VERIFIES = 1.75   # a device's check beyond hashing, in Ed25519 verifies
SYNC_RATIO_MAX = 1.2           # `sync` response time against the centralized case (p = 1)
COMMIT_RATIO_MAX = 2.0         # `commit` at p = COMMIT_P against its bound
COMMIT_P = 16
TPUT_TARGET = 10000            # committed joins per virtual second at p = TPUT_P
TPUT_P = 4
SPEED_WALL_MAX_S = 60          # 10,000 requests at p = 16 under a minute
COMMIT_FRACTION = 0.9          # throughput is measured up to commit90_us

# The `lan` profile of sim-cluster/src/net.c: one-way delay and the least
# time from a commit to the next proposal. `bckm-sim run --json` does not
# report its profile's delays, so the commit bound takes them from here.
LAN_ONE_WAY_US = 200
LAN_BLOCK_INTERVAL_US = 1000

EXACT = 1e-9                   # rates closer than this are equal


# ---------------------------------------------------------------- statistics

def mean(xs):
    """Arithmetic mean, None for no values."""
    xs = list(xs)
    return sum(xs) / len(xs) if xs else None


def span(xs):
    """(min, max), None for no values."""
    xs = list(xs)
    return (min(xs), max(xs)) if xs else None


def ratio(after, before):
    """after / before, None when either is missing or before is 0."""
    if after is None or not before:
        return None
    return after / before


def quorum(p):
    """PBFT quorum 2f+1 of p = 3f+1 (or more) BPs."""
    return 2 * ((p - 1) // 3) + 1


# ---------------------------------------------------------------- micro-benchmarks

def bench_index(micro):
    """{name: entry} of a Google Benchmark JSON object's iteration runs."""
    idx = {}
    for b in micro.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration":
            continue
        idx[b["name"]] = b
    return idx


_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def ns(b, key="cpu_time"):
    """Time of a benchmark entry in ns."""
    return b[key] * _UNIT_NS[b.get("time_unit", "ns")]


def op_ns(idx, name):
    """Time of one operation in ns: manual-time benchmarks time the operation
    with the thread's CPU clock and report it as real_time; the others as CPU
    time. None when the run lacks the benchmark."""
    b = idx.get(name)
    if b is None:
        return None
    return ns(b, "real_time") if name.endswith("manual_time") else ns(b)


def linear_fit(x0, y0, x1, y1):
    """(intercept, slope) of the line through two points."""
    slope = (y1 - y0) / float(x1 - x0)
    return y0 - x0 * slope, slope


def hash_model(idx):
    """BLAKE2b-256 cost, fitted from Blake2b/65 and Blake2b/4096:
    {"h65", "h4k", "per_byte", "fixed"} in ns, None when the run lacks them."""
    if "Blake2b/65" not in idx or "Blake2b/4096" not in idx:
        return None
    h65, h4k = ns(idx["Blake2b/65"]), ns(idx["Blake2b/4096"])
    fixed, per_byte = linear_fit(65, h65, 4096, h4k)
    return {"h65": h65, "h4k": h4k, "per_byte": per_byte, "fixed": fixed}


def hash_ns(hm, nbytes):
    """One unkeyed BLAKE2b-256 of nbytes (at least one block's cost)."""
    return hm["h65"] + max(0.0, nbytes - 65) * hm["per_byte"]


def merkle_ns(hm, msgs, sealed):
    """The BLAKE2b work of one batch's Merkle tree: a leaf per message over
    its sealed bytes plus one, an inner node of 65 bytes per message but one."""
    if not msgs:
        return 0.0
    return (sealed + msgs) * hm["per_byte"] + msgs * hm["fixed"] + max(0, msgs - 1) * hm["h65"]


def aead_model(idx):
    """(fixed ns, ns per byte) of one AEAD seal, fitted from AeadSeal/64 and
    /4096; None when the run lacks them."""
    if "AeadSeal/64" not in idx or "AeadSeal/4096" not in idx:
        return None
    return linear_fit(64, ns(idx["AeadSeal/64"]), 4096, ns(idx["AeadSeal/4096"]))


def tk_costs(idx):
    """The unit costs of T_k's lower bound, or None when the run lacks the
    AEAD and KDF benchmarks: {"aead_fixed", "aead_per_byte", "kdf",
    "code_key", "sign" (or None), "hm" (or None)} in ns."""
    aead = aead_model(idx)
    if aead is None or "Blake2bKeyed/48" not in idx:
        return None
    kdf = ns(idx["Blake2bKeyed/48"])
    return {"aead_fixed": aead[0], "aead_per_byte": aead[1], "kdf": kdf,
            "code_key": ns(idx["Ed25519SeedKeypair"]) if "Ed25519SeedKeypair" in idx else kdf,
            "sign": ns(idx["Ed25519Sign"]) if "Ed25519Sign" in idx else None, "hm": hash_model(idx)}


def tk_lower_bound(b, c):
    """Crypto lower bound in ns of one T_k benchmark entry b (its counters
    msgs, body_bytes, kdf_calls, code_keys, batches, sealed_bytes) at the unit
    costs c of tk_costs."""
    lb = (b["msgs"] * c["aead_fixed"] + b["body_bytes"] * c["aead_per_byte"] + b["kdf_calls"] * c["kdf"] +
          b.get("code_keys", 0) * c["code_key"])
    if "batches" in b and c["sign"] is not None and c["hm"] is not None:
        lb += b["batches"] * c["sign"] + merkle_ns(c["hm"], b["msgs"], b.get("sealed_bytes", 0))
    return lb


TK_SIZES = (100, 1000, 10000, 100000, 1000000)


def tk_rows(idx, c):
    """[{"op", "n", "b", "t", "lb", "ratio"}] of every JoinTk/LeaveTk the run has."""
    rows = []
    for op, name in (("join", "JoinTk"), ("leave", "LeaveTk")):
        for n in TK_SIZES:
            key = "%s/%d/manual_time" % (name, n)
            if key not in idx:
                continue
            b = idx[key]
            t = op_ns(idx, key)
            lb = tk_lower_bound(b, c)
            rows.append({"op": op, "n": n, "b": b, "t": t, "lb": lb, "ratio": t / lb})
    return rows


def sqrt_growth(points, base_n):
    """[(n, T(n) / T(base_n), sqrt(n / base_n))] of {n: T}; [] without base_n."""
    if base_n not in points:
        return []
    return [(n, points[n] / points[base_n], math.sqrt(n / float(base_n))) for n in sorted(points)]


def growth_verdict(measured, predicted, factor=SQRT_GROWTH_FACTOR):
    """True when measured growth is within factor of the predicted one, either way."""
    return predicted / factor <= measured <= predicted * factor


def batch_fit(points):
    """BatchSign as T(k) = fixed + slope k. points: {k: (T ns, modelled hashes ns)}
    with at least two sizes. The slope runs through the two largest batches
    (what each message adds), the fixed part through the smallest (what a
    batch costs whatever its size). Returns (fixed, slope, hash slope), None
    with fewer than two sizes."""
    ks = sorted(points)
    if len(ks) < 2:
        return None
    lo, hi = ks[-2], ks[-1]
    slope = (points[hi][0] - points[lo][0]) / float(hi - lo)
    fixed = points[ks[0]][0] - ks[0] * slope
    hash_slope = (points[hi][1] - points[lo][1]) / float(hi - lo)
    return fixed, slope, hash_slope


def batch_budget_holds(fixed, slope, sign):
    return fixed <= BATCH_FIXED_MAX_SIGNS * sign and slope < BATCH_SLOPE_MAX_SIGNS * sign


def device_check_worst(points, verify):
    """Largest (T - hashes) / verify over {n: (T ns, hashes ns)}, None for none."""
    if not points:
        return None
    return max((t - h) / verify for t, h in points.values())


def device_budget_holds(worst):
    return worst < DEVICE_CHECK_MAX_VERIFIES


def mem_rows(idx):
    """[(n, km B/node, registry B/node, total B/node)] of the BpMemory runs."""
    rows = []
    for n in TK_SIZES:
        b = idx.get("BpMemory/%d/iterations:1" % n)
        if b:
            rows.append((n, b["km_bytes_per_node"], b["registry_bytes"] / float(n), b["heap_bytes_per_node"]))
    return rows


def over_pct(value, limit):
    """How far value is above limit, in percent of limit."""
    return (value / float(limit) - 1) * 100


def commit_crypto_us(idx, p=COMMIT_P):
    """Crypto on a `commit` request's critical path at p BPs, in µs: the
    envelope's sign and verify; the pre-prepare's sign and verify; the
    prepare and commit rounds, each one sign and a quorum of verifies at every
    replica (CertVerify/p, which checks a quorum of signatures). None when the
    run lacks a benchmark."""
    need = ("EnvelopeSign", "EnvelopeVerify", "Ed25519Sign", "Ed25519Verify", "CertVerify/%d" % p)
    if not all(k in idx for k in need):
        return None
    return (ns(idx["EnvelopeSign"]) + ns(idx["EnvelopeVerify"]) + 3 * ns(idx["Ed25519Sign"]) +
            ns(idx["Ed25519Verify"]) + 2 * ns(idx["CertVerify/%d" % p])) / 1000.0


# ---------------------------------------------------------------- resilience

def fig4_rows(fig):
    """Fig. 4 per p over the fig4 runs: [{"p", "bp_owned", "bp_global",
    "prop3", "node_owned", "node_global", "prop1", "bp_nodes" (span),
    "set_sizes" (span)}], rates the mean over seeds (None without runs)."""
    rows = []
    for p in sorted(set(r["bps"] for r in fig)):
        sel = {}
        for pol in ("owned", "global"):
            for cap in ("bp", "node"):
                sel[(cap, pol)] = [r for r in fig if r["bps"] == p and r["policy"] == pol and r["capture"] == cap]
        bo, bg, no = sel[("bp", "owned")], sel[("bp", "global")], sel[("node", "owned")]
        rows.append({
            "p": p,
            "bp_owned": mean(r["rate"] for r in bo), "bp_global": mean(r["rate"] for r in bg),
            "prop3": bo[0]["rate_paper"] if bo else (bg[0]["rate_paper"] if bg else None),
            "node_owned": mean(r["rate"] for r in no),
            "node_global": mean(r["rate"] for r in sel[("node", "global")]),
            "prop1": no[0]["rate_paper"] if no else None,
            "bp_nodes": (min(r["nodes_per_bp_min"] for r in bo), max(r["nodes_per_bp_max"] for r in bo)) if bo else None,
            "set_sizes": (min(r["set_size_min"] for r in bo + no), max(r["set_size_max"] for r in bo + no)) if bo else None,
        })
    return rows


def prop3_limit(p):
    """Prop. 3's limit for n -> infinity, (2p-1)/p^2."""
    return (2 * p - 1) / float(p * p)


def prop3_agreement(rows):
    """(ps where BP capture under `owned` equals Prop. 3, (largest gap, its p)
    or None when every p agrees or none was measured)."""
    gaps = [(abs(r["bp_owned"] - r["prop3"]), r["p"]) for r in rows
            if r["bp_owned"] is not None and r["prop3"] is not None]
    exact = [p for d, p in gaps if d < EXACT]
    worst = max(gaps) if gaps else None
    return exact, (worst if worst and worst[0] >= EXACT else None)


def global_bp_summary(rows):
    """One BP captured under `global`: (rate span over p, ps where it equals
    Prop. 3), None without such runs."""
    pts = [r for r in rows if r["bp_global"] is not None]
    if not pts:
        return None
    agree = [r["p"] for r in pts if r["prop3"] is not None and abs(r["bp_global"] - r["prop3"]) < EXACT]
    return span(r["bp_global"] for r in pts), agree


def node_capture_summary(rows):
    """One node captured: {"first": (p, measured owned, Prop. 1) at the
    smallest p, "lowest": (rate, p) of the lowest owned mean, "global_span":
    span of the global means over p}, None without owned node runs."""
    pts = [r for r in rows if r["node_owned"] is not None]
    if not pts:
        return None
    first = pts[0]
    low = min((r["node_owned"], r["p"]) for r in pts)
    g = [r["node_global"] for r in rows if r["node_global"] is not None]
    return {"first": (first["p"], first["node_owned"], first["prop1"]), "lowest": low,
            "global_span": span(g)}


def prop3_limit_gap(rows):
    """Largest |Prop. 3 - (2p-1)/p^2| over the rows, None without Prop. 3."""
    gaps = [abs(r["prop3"] - prop3_limit(r["p"])) for r in rows if r["prop3"] is not None]
    return max(gaps) if gaps else None


def claim_verdict(smallest, claim):
    """Verdict on a paper's smallest-full-capture claim against the count."""
    if smallest == claim:
        return "holds"
    if smallest < claim:
        return "overstated by %d" % (claim - smallest)
    return "understated by %d" % (smallest - claim)


def probe_rows(probes, checks):
    """Props. 2 and 4 per probe run: [{"prop" (2 or 4), "n", "p", "policy",
    "sets", "smallest", "claim", "rate_at", "rate_below", "verdict"}];
    rate_at / rate_below are None when the check run is missing."""
    rows = []
    for pr in probes:
        cap = pr["capture"]
        m = pr["min_nodes_all_links"] if cap == "node" else pr["min_bps_all_links"]
        claim = pr["prop2_claim_nodes"] if cap == "node" else pr["prop4_claim_bps"]

        def rate_at(count):
            c = [c for c in checks if c["capture"] == cap and c["nodes"] == pr["nodes"] and c["bps"] == pr["bps"]
                 and c["policy"] == pr["policy"] and c["count"] == count]
            return c[0]["rate"] if c else None
        rows.append({"prop": 2 if cap == "node" else 4, "n": pr["nodes"], "p": pr["bps"], "policy": pr["policy"],
                     "sets": pr["sets"], "smallest": m, "claim": claim, "rate_at": rate_at(m),
                     "rate_below": rate_at(m - 1) if m > 1 else None, "verdict": claim_verdict(m, claim)})
    return rows


def probe_checks_hold(rows):
    """True when every checked smallest capture deciphers every link and one
    fewer does not (rows whose check runs are missing are skipped)."""
    ok = True
    for r in rows:
        if r["rate_at"] is not None and r["rate_at"] < 1 - EXACT:
            ok = False
        if r["rate_below"] is not None and r["rate_below"] >= 1 - EXACT:
            ok = False
    return ok


def prop2_summary(rows):
    """Prop. 2 over its rows: {"gap": span of claim - smallest, "sets": span of
    m, "sqrt_n": span of sqrt(n), "n_minus_m": number of rows where the
    smallest capture is n - m}, None without rows."""
    r2 = [r for r in rows if r["prop"] == 2]
    if not r2:
        return None
    return {"gap": span(r["claim"] - r["smallest"] for r in r2), "sets": span(r["sets"] for r in r2),
            "sqrt_n": span(math.sqrt(r["n"]) for r in r2),
            "n_minus_m": sum(1 for r in r2 if r["smallest"] == r["n"] - r["sets"]), "rows": len(r2)}


def prop4_summary(rows):
    """Prop. 4 per policy: {policy: (rows where it holds, rows, span of the
    smallest full capture)}."""
    out = {}
    for pol in sorted(set(r["policy"] for r in rows if r["prop"] == 4)):
        r4 = [r for r in rows if r["prop"] == 4 and r["policy"] == pol]
        out[pol] = (sum(1 for r in r4 if r["verdict"] == "holds"), len(r4), span(r["smallest"] for r in r4))
    return out


def storage_rows(st):
    """Storage per device, sorted by (p, n): [{"n", "p", "sets", "min", "max",
    "mean", "bound", "ratio", "excess" (max keys - bound)}]."""
    rows = []
    for r in sorted(st, key=lambda r: (r["bps"], r["nodes"])):
        b = r["storage_bound_2sqrtn"]
        rows.append({"n": r["nodes"], "p": r["bps"], "sets": r["sets"], "min": r["device_keys_min"],
                     "max": r["device_keys_max"], "mean": r["device_keys_mean"], "bound": b,
                     "ratio": r["device_keys_mean"] / b, "excess": r["device_keys_max"] - b})
    return rows


# ---------------------------------------------------------------- cluster runs

def lat(res, key, field="mean_us"):
    """A latency field (mean_us, p50_us, p99_us) of a result, None when absent."""
    v = res.get(key)
    return v.get(field) if isinstance(v, dict) else None


def failed_points(recs):
    """Runs that did not succeed: no result, or a nonzero exit code."""
    return [r for r in recs if "result" not in r or r.get("exit", 0) != 0]


def failed_resilience(recs):
    """Resilience runs that did not succeed (their result is merged into the
    record, so a failed one is marked by its error or exit code)."""
    return [r for r in recs if "error" in r or r.get("exit", 0) != 0]


def violations(recs):
    """Runs whose result reports a safety or liveness violation."""
    return [r for r in recs if "result" in r and
            (r["result"].get("safety", "ok") != "ok" or r["result"].get("liveness", "ok") != "ok")]


def sync_worst(points):
    """Worst `sync` T_r against p = 1: (ratio, p) over {p: mean T_r}, None
    without p = 1 or a zero T_r there."""
    if not points.get(1):
        return None
    return max((tr / points[1], p) for p, tr in points.items())


def commit_bound_us(crypto_us, one_way_us=LAN_ONE_WAY_US):
    """Three one-way delays plus the crypto on the critical path."""
    return 3 * one_way_us + (crypto_us or 0)


def lost_runs(recs):
    """[(record, lost)] of the runs that lost requests."""
    return [(r, r["result"]["lost"]) for r in recs if "result" in r and r["result"].get("lost")]


def tput_point(res):
    """(committed per virtual second, CPU per join per BP in µs or None, CPU
    ceiling per second or None, last execution in ms after the first arrival
    or None) of one throughput run. The rate counts COMMIT_FRACTION of the
    requests up to commit90_us when the run reports it, else every committed
    request up to end_us."""
    p = res.get("bps") or 1
    first = res.get("first_arrival_us", 0)
    if res.get("commit90_us") and res["commit90_us"] > first:
        tput = COMMIT_FRACTION * res["committed"] / ((res["commit90_us"] - first) / 1e6)
    else:
        vt = res.get("end_us") or 0
        tput = res["committed"] / (vt / 1e6) if vt else 0
    tail = (res["last_commit_us"] - first) / 1e3 if res.get("last_commit_us") else None
    cpu = res.get("bp_cpu_us")
    per = cpu / res["committed"] / p if cpu and res["committed"] else None
    ceil = p * 1e6 / (cpu / res["committed"]) if cpu and res["committed"] else None
    return tput, per, ceil, tail


def best_tput(results):
    """{(p, n): (rate, CPU per join per BP, CPU ceiling, result)}: the better
    offered rate of each (p, n) among the results."""
    best = {}
    for res in results:
        tp, per, ceil, _ = tput_point(res)
        key = (res.get("bps"), res.get("nodes"))
        if key not in best or tp > best[key][0]:
            best[key] = (tp, per, ceil, res)
    return best


def tput_needed_us(target=TPUT_TARGET):
    """CPU per join per BP that target joins per second allow: each BP
    executes every join, so BPs do not share this work."""
    return 1e6 / target


def flag_value(cmd, flag):
    """The value after flag in a recorded command line, None when absent."""
    parts = cmd.split()
    return parts[parts.index(flag) + 1] if flag in parts[:-1] else None


def lost_total(recs):
    return sum(r["result"].get("lost", 0) or 0 for r in recs if "result" in r)


def wall_total(recs):
    """Sum of the recorded runs' wall seconds."""
    return sum(r.get("wall_s", 0) for r in recs)
