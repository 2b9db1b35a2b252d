"""The long fuzz run (``make fuzz``): counts per outcome class, failing cases into the corpus.

    python -m tests.fuzz.run --cases 20000 --seed 1 --json fuzz.json
    python -m tests.fuzz.run --seed 1 --case 1234 --keep /tmp/case   # rebuild one case, run it
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from tests.fuzz.harness import CLASSES, CORPUS, FAILURES, Limits, describe, fuzz


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=20000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--case", type=int, help="run only this case index (with --keep to inspect)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    p.add_argument("--memory-mib", type=int, default=2048, help="address-space limit per worker")
    p.add_argument("--json", type=Path, help="write the counts and every failure here")
    p.add_argument("--corpus", type=Path, default=CORPUS,
                   help="where failing cases are saved (default tests/fuzz/corpus)")
    p.add_argument("--no-save", action="store_true", help="do not save failing cases")
    p.add_argument("--keep", type=Path, help="work folder to keep (seeds and cases)")
    args = p.parse_args(argv)
    limits = Limits(args.timeout, args.memory_mib, args.workers)
    start, done = time.monotonic(), [0]

    def progress(case, result):
        done[0] += 1
        if result["outcome"] in FAILURES:
            print(describe(result), flush=True)
        if done[0] % 500 == 0:
            print(f"... {done[0]} cases, {time.monotonic() - start:.0f} s", file=sys.stderr,
                  flush=True)

    report = fuzz(args.cases if args.case is None else args.case + 1, args.seed, limits,
                  work=args.keep, keep_failures=None if args.no_save else args.corpus,
                  on_result=progress, only=args.case)
    counts = report.counts()
    seconds = time.monotonic() - start
    print(f"\n{len(report.results)} cases, seed {args.seed}, {seconds:.0f} s, "
          f"{args.workers} workers, CPU {_cpu_model()}")
    for name in CLASSES:
        print(f"  {name:13} {counts.get(name, 0)}")
    retried = sum(1 for r in report.results if r.get("retried_after_timeout"))
    if retried:
        print(f"  ({retried} passed only when retried after {args.timeout:g} s: a busy machine?)")
    if args.json:
        doc = {"seed": args.seed, "cases": len(report.results), "seconds": round(seconds, 1),
               "workers": args.workers, "cpu": _cpu_model(), "limits": vars(limits),
               "counts": counts, "failures": report.failures()}
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 1 if report.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
