#!/usr/bin/env python3
"""Builds the seed corpora fuzz/corpus/<harness>/ from the known-answer
vectors in spec/vectors/*.txt ("name = hex" lines).

Each vector whose name matches a harness's pattern below becomes one seed file
"v-<vector file>-<name>" holding its bytes. Harnesses whose input is a
harness-specific framing rather than one wire object (the rekey record
sequence) get "g-" seeds built here from the same layouts. Files of other
names in the corpus directories (hand-written seeds, minimised finds) are left
alone; stale "v-" and "g-" files are replaced. Run it after the vectors or the
layouts change:

    fuzz/scripts/extract-seeds.py            # from the repository root or anywhere
"""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VECTORS = os.path.join(ROOT, "spec", "vectors")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")

# harness -> (vector file stem regex, vector name regex). A vector may feed
# several harnesses (a block header is also a truncated block).
ROUTES = [
    ("tx", r"tx", r"tx_.*"),
    ("envelope", r"envelope", r"envelope_\d+"),
    ("block", r"block", r"block|header|opaque_body"),
    ("cert", r"block", r"cert"),
]

LINE = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=\s*([0-9a-fA-F]*)\s*$")


def read_vectors():
    out = []
    for fname in sorted(os.listdir(VECTORS)):
        if not fname.endswith(".txt"):
            continue
        stem = fname[:-4]
        with open(os.path.join(VECTORS, fname)) as f:
            for line in f:
                m = LINE.match(line)
                if m and len(m.group(2)) % 2 == 0:
                    out.append((stem, m.group(1), bytes.fromhex(m.group(2))))
    return out


def u16(v):
    return v.to_bytes(2, "big")


def u32(v):
    return v.to_bytes(4, "big")


# The rekey harness's network (fuzz/rekey.c): A, B in S; C in T.
RK_A, RK_B, RK_C, RK_S, RK_T = 0x01000011, 0x01000012, 0x01000021, 0x01000001, 0x01000002


def rk_record(mode, payload):
    return bytes([mode]) + u16(len(payload)) + payload


def rk_sealed(kind, kek_type, rsel, delta, ksel, body, nonce0=0):
    """Sealed-mode payload: header choices, then the plaintext body."""
    return bytes([kind, kek_type, rsel, delta & 0xFF, ksel, nonce0]) + body


def rk_ids(ids):
    return u16(len(ids)) + b"".join(u32(i) for i in ids)


def rk_keyed(entries):
    return u16(len(entries)) + b"".join(u32(i) + k for i, k in entries)


def rk_update(op, subject, changed=(), retired=(), joined=(), left=(), newkeys=(), own=RK_S):
    """An update for the members of `own` (body v2, spec 6): r_own when own
    changed, then one pair refresh per other changed set."""
    has = own in changed
    r_own = bytes(range(0x40, 0x50)) if has else bytes(16)
    pairs = u16(len([x for x in changed if x != own])) + b"".join(
        u32(x) + bytes(range(0x50, 0x60)) for x in sorted(changed) if x != own)
    return (bytes([op]) + u32(subject) + bytes([has]) + r_own + rk_ids(changed)
            + rk_ids(retired) + rk_ids(joined) + rk_ids(left) + rk_keyed(newkeys) + pairs)


def rk_bundle(node, set_id, has_code=1, setkeys=(), peers=()):
    code = bytes(range(1, 33)) if has_code else bytes(32)
    return (u32(node) + u32(set_id) + bytes([has_code]) + code + bytes(range(0x60, 0x80))
            + bytes(range(0x80, 0xA0)) + rk_keyed(setkeys) + rk_keyed(peers))


def rekey_seeds():
    key = bytes(range(0xC0, 0xE0))
    up = rk_update(2, 0x01000099, changed=[RK_S])
    join = rk_update(1, 0x01000013, changed=[RK_S], joined=[0x01000013])
    leave = rk_update(2, RK_B, changed=[RK_S], left=[RK_B])
    retire = rk_update(2, 0x01000098, changed=[RK_S], retired=[RK_T],
                       newkeys=[(0x01000003, key)])
    other = rk_update(1, 0x01000031, changed=[RK_T])
    bundle = rk_bundle(RK_A, 0x01000004, setkeys=[(RK_S, key), (RK_T, key)],
                       peers=[(0x01000041, key)])
    # A header that parses but whose tag cannot verify (outsider's forgery).
    forged = (bytes([1, 1, 2, 0]) + u32(RK_S) + (2).to_bytes(8, "big") + bytes(24) + u32(0)
              + bytes(16))
    return {
        "update-set": rk_record(1, rk_sealed(1, 2, 1, 0, 0, up)),
        "update-join": rk_record(1, rk_sealed(1, 2, 1, 0, 0, join)),
        "update-leave": rk_record(1, rk_sealed(1, 2, 1, 0, 0, leave)),
        "update-retire": rk_record(1, rk_sealed(1, 2, 1, 0, 0, retire)),
        "update-other-set": rk_record(1, rk_sealed(1, 2, 1, 0, 0, other)),
        "update-node-kek": rk_record(1, rk_sealed(1, 1, 0, 0, 0, up)),
        "bundle-rejoin": rk_record(1, rk_sealed(2, 1, 0, 0, 0, bundle)),
        "update-then-replay": rk_record(1, rk_sealed(1, 2, 1, 0, 0, up)) + rk_record(2, b""),
        "two-updates": rk_record(1, rk_sealed(1, 2, 1, 0, 0, up))
                       + rk_record(1, rk_sealed(1, 2, 1, 0, 0, join, 1)),
        "wrong-key": rk_record(1, rk_sealed(1, 2, 1, 0, 1, up)),
        "future-epoch": rk_record(1, rk_sealed(1, 2, 1, 1, 0, up)),
        "past-epoch": rk_record(1, rk_sealed(1, 2, 1, -1, 0, up)),
        "forged-raw": rk_record(0, forged),
    }


def pb_preprepare(frm, view, seq, txs=(b"\x01\x02\x03\x04",)):
    body = bytes([1, frm, view, seq, 0, 0, len(txs)])
    for tx in txs:
        body += bytes([len(tx) - 1]) + tx
    return body + bytes([0, 0, 0])       # count as built, digest kept, signature ok


def pb_vote(code, frm, view, seq, sel=0):
    return bytes([code, frm, view, seq, 0, sel, 0])


def pb_tick(dt, pending=False):
    return bytes([0x10 if pending else 0, dt])


def pb_viewchange(frm, view):
    return bytes([5, frm, view, 0, 0, 0, 0])   # committed 0, no prepared cert, sig ok


def pbft_seeds():
    normal = (pb_preprepare(0, 0, 1) + pb_vote(2, 2, 0, 1) + pb_vote(2, 3, 0, 1)
              + pb_vote(3, 0, 0, 1) + pb_vote(3, 2, 0, 1) + pb_tick(5))
    second = (pb_preprepare(0, 0, 2, (b"\x09\x08",)) + pb_vote(2, 2, 0, 2) + pb_vote(2, 3, 0, 2)
              + pb_vote(3, 0, 0, 2) + pb_vote(3, 3, 0, 2)
              + bytes([4, 0, 0, 2, 0, 1, 0]) + bytes([4, 2, 0, 2, 0, 1, 0]))
    vc = pb_tick(120, True) + pb_tick(120, True) + pb_viewchange(2, 1) + pb_viewchange(3, 1)
    newview = (pb_tick(120, True) + pb_tick(120, True) + pb_viewchange(3, 1)
               + bytes([6, 3, 1, 0, 0, 2, 0, 1, 0, 0]))
    blocks = bytes([7, 2, 1, 0, 0, 3, 1, 1, 0, 0, 0, 0, 0, 3, 0, 0, 2, 0, 0, 3, 0, 0])
    fetch = bytes([7, 2, 0, 0, 1, 4, 0])
    return {
        "normal-open": b"\x01" + normal,
        "normal-safety": b"\x00" + normal,
        "two-blocks-checkpoint": b"\x01" + normal + second,
        "view-change-open": b"\x01" + vc,
        "view-change-safety": b"\x00" + vc,
        "new-view-safety": b"\x00" + newview,
        "blocks": b"\x01" + blocks,
        "fetch": b"\x01" + normal + fetch,
        "status": b"\x01" + bytes([7, 2, 0, 0, 5, 2, 0]) + bytes([7, 3, 0, 0, 5, 2, 0]) + pb_tick(30),
        "five-normal-open": b"\x03" + normal + pb_vote(2, 4, 0, 1) + pb_vote(3, 3, 0, 1),
        "five-normal-safety": b"\x02" + normal + pb_vote(2, 4, 0, 1) + pb_vote(3, 3, 0, 1),
    }


def faults_seeds():
    """The --faults syntax of sim-cluster/include/sim/net.h, valid and not."""
    specs = {
        "none": "none",
        "empty": "",
        "loss": "loss=1/100",
        "all-ratios": "loss=1/100,dup=1/200,reorder=1/50,partition=1/1000,crash=1/5000",
        "byz-mixed": "byz=mixed,byzn=2",
        "byz-equivocate": "loss=3/1000,byz=equivocate",
        "byzn-zero": "byzn=0",
        "max-den": "crash=1000000000/1000000000",
        "bad-over": "loss=2/1",
        "bad-den0": "dup=0/0",
        "bad-repeat": "loss=1/2,loss=1/3",
        "bad-unknown": "jitter=1/2",
        "bad-empty-item": "loss=1/2,,dup=1/3",
        "bad-byzn-alone": "byzn=3",
        "bad-big": "reorder=1/10000000000",
    }
    return {k: v.encode() for k, v in specs.items()}


def ledger_seeds():
    """Mode byte then mode data (fuzz/ledger.c); golden blocks are chosen by
    index, since their signatures are made by the harness."""
    def golden(index, flips=(), short=False):
        sel = 1 | (index << 1) | (len(flips) << 3) | (0x20 if short else 0)
        return bytes([sel]) + b"".join(u16(off) + bytes([x]) for off, x in flips)

    def edit_put(db, key, value):
        return bytes([0, db, len(key)]) + key + u16(len(value)) + value

    def edit_del(db, key):
        return bytes([1, db, len(key)]) + key

    def edit_flip(db, key, off, x):
        return bytes([2, db, len(key)]) + key + u16(off) + bytes([x])

    h = lambda n: n.to_bytes(8, "big")
    pos = lambda height, i: h(height) + u32(i)
    rec = lambda tx: u16(len(tx)) + tx
    return {
        "raw-empty": b"\x00",
        "raw-junk": b"\x00" + bytes(range(256)) * 16,
        "patched-none": b"\x01",
        "patched-meta": b"\x01" + u32(16) + b"\x01" + u32(4096 + 16) + b"\x80",
        "patched-deep": b"\x01" + u32(3 * 4096 + 100) + b"\x04",
        "edited-none": b"\x02",
        # databases: 0 meta, 1 blocks, 2 certs, 3 status, 4 txs, 5 by_node, 6 by_code
        "edited-drop-tip": b"\x02" + edit_del(1, h(2)) + edit_del(2, h(2)) + edit_del(3, h(2))
                           + edit_del(4, pos(2, 0)) + edit_del(5, u32(0x01000102))
                           + edit_del(6, bytes([0x42] * 32)),
        "edited-drop-cert": b"\x02" + edit_del(2, h(2)),
        "edited-drop-status": b"\x02" + edit_del(3, h(1)),
        "edited-flip-block": b"\x02" + edit_flip(1, h(1), 200, 1),
        "edited-flip-status": b"\x02" + edit_flip(3, h(1), 1, 7),
        "edited-short-status": b"\x02" + edit_put(3, h(1), b"\x00"),
        "edited-flip-tx-status": b"\x02" + edit_flip(4, pos(1, 1), 0, 7),
        "edited-flip-cert-view": b"\x02" + edit_flip(2, h(2), 10, 1),
        "edited-extra-tx": b"\x02" + edit_put(4, pos(9, 0), bytes(135)),
        "edited-format": b"\x02" + edit_put(0, b"format", b"bckm-ledger-v2"),
        "edited-format-v1": b"\x02" + edit_put(0, b"format", b"bckm-ledger-v1"),
        "edited-format-opaque": b"\x02" + edit_put(0, b"format", b"bckm-ledger-v2-opaque"),
        "edited-no-format": b"\x02" + edit_del(0, b"format"),
        "append-next": b"\x03" + golden(1) + golden(1),
        "append-next-status": b"\x03" + golden(1) + golden(1) + b"\x05",
        "append-replay": b"\x03" + golden(0) + golden(0),
        "append-skip": b"\x03" + golden(2) + golden(2),
        "append-wrong-cert": b"\x03" + golden(1) + golden(2),
        "append-flipped": b"\x03" + golden(1, [(130, 1)]) + golden(1),
        "append-short": b"\x03" + golden(1, short=True) + golden(1),
        "append-raw": b"\x03\x00" + u16(3) + b"abc" + b"\x00" + u16(0),
        # opaque append: count, status seed, body (records u16 length || bytes)
        "opaque-empty": b"\x04\x00\x09",
        "opaque-kv": b"\x04\x02\x01" + rec(b"put k1 v1") + rec(b"del k0"),
        "opaque-max": b"\x04\x01\x02" + rec(bytes(range(256)) * 4),
        "opaque-zero-length": b"\x04\x02\x03" + rec(b"a") + u16(0),
        "opaque-over-long": b"\x04\x01\x04" + u16(1025) + bytes(1025),
        "opaque-short-prefix": b"\x04\x02\x05" + rec(b"abc") + b"\x00",
        "opaque-trailing": b"\x04\x01\x06" + rec(b"abc") + b"\x00",
        "opaque-count-high": b"\x04\x03\x07" + rec(b"abc") + rec(b"de"),
    }


def contract_seeds():
    """Policy byte, then (op code, BP byte, op bytes) steps (fuzz/contract.c)."""
    join = lambda bp, flags=0, extra=b"": bytes([0 | flags, bp]) + extra
    leave = lambda bp, k, evict=False: bytes([1 | (4 if evict else 0), bp, k])
    replay = bytes([3, 0])
    raw = lambda bp, op, node, set_id: bytes([2, bp, op]) + u32(node) + u32(set_id) + bytes(4)
    grow = b"".join(join(i % 3) for i in range(9))
    return {
        "owned-joins": b"\x00" + grow,
        "global-joins": b"\x01" + grow,
        "owned-join-leave": b"\x00" + grow + leave(0, 2) + leave(1, 0, True) + leave(2, 5),
        "global-join-leave": b"\x01" + grow + leave(1, 4) + leave(0, 1) + leave(2, 3, True),
        "replay": b"\x00" + join(0) + replay,
        "stale-seq": b"\x00" + join(0) + join(0, 0x08),
        "seq-gap": b"\x00" + join(0, 0x10) + join(0),
        "wrong-key": b"\x00" + join(1, 0x20),
        "rogue-bp": b"\x00" + join(0, 0xC0, b"\x07"),
        "tampered": b"\x00" + join(0, 0x40, b"\x03"),
        "wrong-set": b"\x00" + join(0, 0x80),
        "raw-fields": b"\x00" + grow + raw(0, 2, 0x01000001, 0x01000001) + raw(1, 9, 0, 0),
    }


GENERATED = {
    "contract": contract_seeds,
    "ledger": ledger_seeds,
    "rekey": rekey_seeds,
    "pbft": pbft_seeds,
    "faults": faults_seeds,
}


def main():
    vectors = read_vectors()
    written = {}
    for harness in sorted(set([r[0] for r in ROUTES]) | set(GENERATED)):
        d = os.path.join(CORPUS, harness)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            if old.startswith("v-") or old.startswith("g-"):
                os.remove(os.path.join(d, old))
    for harness, make in GENERATED.items():
        for name, data in make().items():
            with open(os.path.join(CORPUS, harness, "g-" + name), "wb") as f:
                f.write(data)
            written[harness] = written.get(harness, 0) + 1
    for harness, stem_re, name_re in ROUTES:
        d = os.path.join(CORPUS, harness)
        for stem, name, data in vectors:
            if re.fullmatch(stem_re, stem) and re.fullmatch(name_re, name):
                with open(os.path.join(d, "v-%s-%s" % (stem, name)), "wb") as f:
                    f.write(data)
                written[harness] = written.get(harness, 0) + 1
    for harness in sorted(set([r[0] for r in ROUTES]) | set(GENERATED)):
        n = written.get(harness, 0)
        print("%s: %d seeds" % (harness, n))
        if n == 0:
            print("extract-seeds: no vector for harness %s" % harness, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
