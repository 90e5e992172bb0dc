"""Sweep running of `make bench`: the machine description, the bckm-resilience
sweeps and the `bckm-sim run --json` sweeps, each run appended as one JSON
line to a .jsonl file. The micro-benchmark binary is run by
scripts/bench-run.sh itself (Google Benchmark writes its own JSON).

A run is a failed point when it exits nonzero or prints no JSON: its record
keeps the exit code (`exit`), the error text (`error`) and, when the program
still printed its JSON (a violation), the result, so the reports show it.
"""
import json
import os
import platform
import subprocess
import time

P_LIST_FULL = [1, 4, 7, 10, 13, 16, 22, 31]
P_LIST_QUICK = [1, 4, 16]
TPUT_GAPS_US = [100, 250]
TPUT_BLOCK_TXS = 128
TPUT_N_ALT = [1000, 100000]   # p = 4 throughput at these network sizes too

# Fault profiles of the error-rate sweep: (name, --faults SPEC).
FAULTS = [("none", "none"), ("lossy", "loss=1/100,dup=1/200,reorder=1/50"), ("crash", "crash=1/5000"),
          ("byzantine", "byz=mixed")]

RESILIENCE_TIMEOUT_S = 900
# A cluster run that takes longer than this is itself a finding (the speed
# target is one minute).
SIM_TIMEOUT_S = 300


def log(msg):
    print(msg, flush=True)


def run_json(cmd, timeout):
    """Runs cmd. Returns (last JSON object on stdout or None, exit code or
    None when it did not finish, error text, wall seconds)."""
    t0 = time.monotonic()
    try:
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, None, "timeout after %ds" % timeout, time.monotonic() - t0
    except OSError as e:
        return None, None, str(e), time.monotonic() - t0
    wall = time.monotonic() - t0
    err = "" if cp.returncode == 0 else "exit %d: %s" % (cp.returncode, cp.stderr.strip()[-400:])
    lines = [l for l in cp.stdout.splitlines() if l.strip().startswith("{")]
    if not lines:
        return None, cp.returncode, err or "no JSON on stdout", wall
    try:
        obj = json.loads(lines[-1])
    except ValueError as e:
        return None, cp.returncode, (err + "; " if err else "") + "bad JSON: %s" % e, wall
    return obj, cp.returncode, err, wall


def record(base, obj, code, err, wall, key=None):
    """One JSONL record: base, the wall time, the exit code when nonzero or
    unknown, the error text, and the result (under key, or merged in)."""
    rec = dict(base)
    rec["wall_s"] = round(wall, 3)
    if code != 0:
        rec["exit"] = code
    if err:
        rec["error"] = err
    if obj is not None:
        if key:
            rec[key] = obj
        else:
            rec.update(obj)
    return rec


def append(path, obj):
    with open(path, "a") as f:
        f.write(json.dumps(obj, sort_keys=True) + "\n")


def read_jsonl(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    out.append(json.loads(line))
    return out


def outcome(obj, code, err):
    return "FAILED " + err if obj is None or code != 0 else "ok"


# ---------------------------------------------------------------- machine

def machine(out):
    info = {"date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "kernel": platform.release()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "Socket(s)"):
                info[k.strip()] = v.strip()
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["memory_gib"] = round(int(line.split()[1]) / 1048576, 1)
    except OSError:
        pass
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                        text=True).stdout.strip()
    except OSError:
        pass
    info["load_avg_at_start"] = os.getloadavg()[0]
    with open(out, "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)


# ---------------------------------------------------------------- resilience sweeps

def resilience_runs(mode):
    """The initial runs: [(kind, (n, p, policy, capture, count, seed, pick))]."""
    quick = mode == "quick"
    n_fig4 = 1000 if quick else 10000
    plist = P_LIST_QUICK if quick else P_LIST_FULL
    seeds = [1, 2] if quick else [1, 2, 3]
    runs = []
    # Fig. 4: one BP captured, and one node captured, against p.
    for pol in ("owned", "global"):
        for p in plist:
            for s in seeds:
                runs.append(("fig4", (n_fig4, p, pol, "bp", 1, s, "random")))
                runs.append(("fig4", (n_fig4, p, pol, "node", 1, s, "random")))
    # Props. 2 and 4: the computed smallest full capture, checked by counting
    # at that size and one below (cover order).
    n_min = 100 if quick else 1000
    for pol in ("owned", "global"):
        for p in ([1, 4] if quick else [1, 4, 16, 31]):
            runs.append(("probe", (n_min, p, pol, "node", 1, 1, "cover")))
            runs.append(("probe", (n_min, p, pol, "bp", 1, 1, "cover")))
    # Storage: keys in the captured devices' real stores against 2*sqrt(n).
    for n in ([100, 1000] if quick else [100, 1000, 10000, 40000]):
        for p in (1, 16):
            if p <= n:
                runs.append(("storage", (n, p, "owned", "node", min(50, n), 7, "random")))
    return runs


def resilience(mode, binary, out):
    runs = resilience_runs(mode)
    open(out, "w").close()
    total = len(runs)
    done = 0
    while runs:
        kind, (n, p, pol, cap, k, s, pick) = runs.pop(0)
        done += 1
        cmd = [binary, "--nodes", str(n), "--bps", str(p), "--policy", pol, "--capture", cap, "--count", str(k),
               "--seed", str(s), "--pick", pick, "--json"]
        obj, code, err, wall = run_json(cmd, RESILIENCE_TIMEOUT_S)
        # bckm-resilience prints its JSON only for a finished count: any
        # nonzero exit is a failed run, whatever it printed.
        if code != 0:
            obj = None
        append(out, record({"kind": kind, "cmd": " ".join(cmd[1:])}, obj, code, err, wall))
        log("  [resilience %d/%d] %s %s n=%d p=%d %s K=%d seed=%d: %s (%.1fs)" % (
            done, total, kind, pol, n, p, cap, k, s,
            ("rate=%.6f" % obj["rate"]) if obj else "FAILED " + err, wall))
        if obj is not None and kind == "probe":
            # The two checks of the smallest full capture.
            m = obj["min_nodes_all_links"] if cap == "node" else obj["min_bps_all_links"]
            for kk, tag in ((m, "min"), (m - 1, "min-1")):
                if kk >= 1:
                    runs.insert(0, ("check-" + tag, (n, p, pol, cap, kk, s, "cover")))
                    total += 1


# ---------------------------------------------------------------- cluster sweeps

def sim_runs(mode):
    """[{"kind", "p", "n", "requests", "mode", "policy", "profile", "faults",
    "cost", "seed", "extra"}] of a sweep."""
    quick = mode == "quick"
    plist = P_LIST_QUICK if quick else P_LIST_FULL
    nodes = 1000 if quick else 10000
    reqs = 100 if quick else 300
    runs = []

    def add(kind, p, n, r, m, pol, prof, faults, cost, seed, extra=()):
        runs.append({"kind": kind, "p": p, "n": n, "requests": r, "mode": m, "policy": pol, "profile": prof,
                     "faults": faults, "cost": cost, "seed": seed, "extra": list(extra)})

    for profile in ("lan", "tendermint"):
        for m in ("sync", "commit"):
            for p in plist:
                add("response", p, nodes, reqs, m, "owned", profile, "none", "measured", 1)
    for pol in ("owned", "global"):
        for fname, _ in (FAULTS[:2] if quick else FAULTS):
            for p in plist:
                if fname == "byzantine" and p < 4:
                    continue
                add("error", p, nodes, reqs, "sync", pol, "lan", fname, "model", 3)
    # Throughput: joins only, offered at several rates so that one of them
    # saturates the cluster without drowning it in retries.
    tput_flags = lambda gap: ["--gap-us", str(gap), "--block-txs", str(TPUT_BLOCK_TXS), "--join-pct", "100"]
    for p in plist:
        for gap in TPUT_GAPS_US:
            add("throughput", p, nodes, 200 if quick else 2000, "async", "owned", "lan", "none", "measured", 5,
                tput_flags(gap))
    # Throughput at p = 4 against the network size: the part of each BP's
    # work per join that grows with sqrt(n) against the part that does not.
    if not quick:
        for n_alt in TPUT_N_ALT:
            for gap in TPUT_GAPS_US:
                add("throughput_n", 4, n_alt, 2000, "async", "owned", "lan", "none", "measured", 5, tput_flags(gap))
    # The simulator's own speed: 10,000 requests at p = 16 from a genesis of
    # 10,000 nodes, in both cost modes.
    if not quick:
        add("speed", 16, 10000, 10000, "commit", "owned", "lan", "none", "measured", 9)
        add("speed", 16, 10000, 10000, "commit", "owned", "lan", "none", "model", 9)
    return runs


def sim_cmd(binary, run):
    """The command line of one run; the application is always named, so
    bckm-sim's default application does not matter."""
    return [binary, "run", "--app", "keys", "--bps", str(run["p"]), "--nodes", str(run["n"]),
            "--policy", run["policy"], "--requests", str(run["requests"]), "--mode", run["mode"],
            "--profile", run["profile"], "--faults", dict(FAULTS)[run["faults"]], "--seed", str(run["seed"]),
            "--cost", run["cost"], "--json"] + run["extra"]


def sim(mode, binary, out):
    runs = sim_runs(mode)
    open(out, "w").close()
    for i, run in enumerate(runs):
        cmd = sim_cmd(binary, run)
        obj, code, err, wall = run_json(cmd, SIM_TIMEOUT_S)
        base = {"kind": run["kind"], "fault_profile": run["faults"], "profile": run["profile"], "mode": run["mode"],
                "policy": run["policy"], "cost": run["cost"], "cmd": " ".join(cmd[1:])}
        append(out, record(base, obj, code, err, wall, key="result"))
        log("  [sim %d/%d] %s p=%d %s %s %s %s: %s (%.1fs)" % (
            i + 1, len(runs), run["kind"], run["p"], run["mode"], run["policy"], run["profile"], run["faults"],
            outcome(obj, code, err), wall))
