"""``candor finetune``: fine-tune the active model on the queued corrections, with safeguards."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "finetune", help="fine-tune a model on the queued corrections (refused if it gets worse)",
        description="Fine-tune the active version of a model on the correction queue. The new "
                    "version is kept only if it improves the corrections' validation split and "
                    "does not lose more than the tolerance on the model's frozen regression set. "
                    "Exits 0 when accepted, 1 when refused.")
    p.add_argument("--model", metavar="NAME", help="model to fine-tune (default: the default model)")
    p.add_argument("--epochs", type=int, default=10, metavar="N", help="at most N epochs (default 10)")
    p.add_argument("--steps-per-epoch", type=int, default=20, metavar="N", help="default 20")
    p.add_argument("--patience", type=int, default=6, metavar="N",
                   help="stop after N epochs without a better validation Dice (default 6)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, mps or auto")
    p.add_argument("--tolerance", type=float, default=0.02,
                   help="largest allowed drop of Dice on the regression set (default 0.02)")
    p.add_argument("--lr", type=float, default=1e-4, help="AdamW learning rate (default 1e-4)")
    p.add_argument("--anchor", type=float, default=0.0,
                   help="L2-SP weight pulling towards the starting weights (default 0: off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report", metavar="REPORT.json", help="write the full report (JSON) here")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from engine.corrections.finetune import finetune
    from engine.corrections.finetune_train import FinetuneConfig
    from engine.errors import InputError

    if args.epochs < 1 or args.steps_per_epoch < 1 or args.patience < 1:
        raise InputError("--epochs, --steps-per-epoch and --patience must be at least 1")

    def progress(fraction: float, stage: str = "") -> None:
        print(f"\r{fraction * 100:5.1f}%  {stage:<40}", end="", file=sys.stderr, flush=True)

    cfg = FinetuneConfig(epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, lr=args.lr,
                         patience=args.patience,
                         anchor=args.anchor, tolerance=args.tolerance, seed=args.seed)
    result = finetune(args.model, cfg, device=args.device,
                      progress=progress if sys.stderr.isatty() else None)
    if args.report:
        Path(args.report).write_text(json.dumps(result, indent=1), encoding="utf-8")
    if args.json:
        print(json.dumps(result, indent=1))
    print(("\n" if sys.stderr.isatty() else "") + result["reason"], file=sys.stderr)
    if result["accepted"]:
        print(f"new version {result['model']}@{result['new_version']} is now active "
              f"(roll back: candor models use {result['model']}@{result['base_version']})", file=sys.stderr)
    return 0 if result["accepted"] else 1
