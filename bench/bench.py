#!/usr/bin/env python3
"""Entry point of `make bench` (standard library only; scripts/bench-run.sh calls it).

  bench.py machine OUT.json
  bench.py resilience MODE BIN OUT.jsonl     runs bckm-resilience sweeps
  bench.py sim MODE BIN OUT.jsonl            runs `bckm-sim run --json` sweeps
  bench.py report MODE RAWDIR OUTDIR         writes the Markdown reports and SVG plots

MODE is quick or full. Every sweep prints one progress line per run.
The sweeps are in sweep.py, the analysis in analysis.py (pure functions,
tested by test_analysis.py), the reports in report.py.
"""
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import report  # noqa: E402
import sweep  # noqa: E402


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    mode_ok = len(argv) > 2 and argv[2] in ("quick", "full")
    if cmd == "machine" and len(argv) == 3:
        sweep.machine(argv[2])
    elif cmd == "resilience" and len(argv) == 5 and mode_ok:
        sweep.resilience(argv[2], argv[3], argv[4])
    elif cmd == "sim" and len(argv) == 5 and mode_ok:
        sweep.sim(argv[2], argv[3], argv[4])
    elif cmd == "report" and len(argv) == 5 and mode_ok:
        report.report(argv[2], argv[3], argv[4])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
