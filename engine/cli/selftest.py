"""``candor selftest`` (``Candor --selftest`` in the standalone app)."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("selftest", help="check the installation end to end (model, I/O, AI, export)",
                       description="Load the bundled model, write and read the demo series, segment "
                                   "it, compute uncertainty and saliency, export NIfTI and DICOM SEG. "
                                   "Exit code 0 only if every step succeeded.")
    p.add_argument("--mc-samples", type=int, default=4, help="MC-Dropout samples (default 4)")
    p.add_argument("--json", action="store_true", help="print the step results as JSON")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from engine.selftest import run_selftest

    result = run_selftest(mc_samples=args.mc_samples)
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
    print(result.summary())
    return 0 if result.ok else 1
