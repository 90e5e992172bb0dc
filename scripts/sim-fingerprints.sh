#!/bin/sh
# Behaviour fingerprints of bckm-sim on a fixed set of runs (--cost model):
# for each run, the committed transactions in order (tx_hash) and, with the
# key application, every simulated device's key store (keys_hash). Neither
# depends on the block format, so a refactor that keeps behaviour keeps them.
#   scripts/sim-fingerprints.sh [SIM]          print them
#   scripts/sim-fingerprints.sh --check FILE   compare with FILE (exit 1 on a difference)
set -eu
check=""
if [ "${1:-}" = "--check" ]; then check="$2"; shift 2; fi
sim="${1:-build/bin/bckm-sim}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() {
    name="$1"; shift
    out=$("$sim" run --json "$@" 2>/dev/null) || true
    tx=$(printf '%s' "$out" | sed -n 's/.*"tx_hash":"\([0-9a-f]*\)".*/\1/p')
    keys=$(printf '%s' "$out" | sed -n 's/.*"keys_hash":"\([0-9a-f]*\)".*/\1/p')
    ok=$(printf '%s' "$out" | sed -n 's/.*"safety":"\([^"]*\)","liveness":"\([^"]*\)".*/\1\/\2/p')
    printf '%s tx=%s keys=%s %s\n' "$name" "${tx:-none}" "${keys:-none}" "${ok:-none}"
}
{
for seed in 1 2 3; do
    run "kv-lan-s$seed" --app kv --requests 60 --seed "$seed"
    run "keys-n64-s$seed" --nodes 64 --requests 60 --seed "$seed"
done
run kv-faults --app kv --bps 7 --requests 80 --seed 11 --faults loss=1/50,dup=1/100,reorder=1/50,crash=1/3000
run kv-byz --app kv --bps 7 --requests 60 --seed 12 --faults byz=mixed,byzn=2
run keys-faults --nodes 200 --bps 7 --requests 80 --seed 13 --faults loss=1/50,crash=1/3000
run keys-global --nodes 120 --policy global --requests 60 --seed 14
run keys-byz --nodes 100 --bps 7 --requests 60 --seed 15 --faults byz=equivocate,byzn=2
run keys-sync --nodes 300 --bps 4 --requests 100 --mode sync --seed 16 --profile wan
run keys-lmdb --nodes 64 --requests 60 --seed 17 --faults crash=1/2000 --ledger "lmdb:$tmp/l"
} > "$tmp/out"
if [ -n "$check" ]; then
    if diff -u "$check" "$tmp/out"; then echo "fingerprints: same as $check"; else echo "fingerprints: DIFFER from $check"; exit 1; fi
else
    cat "$tmp/out"
fi
