"""``candor segment PATH --out MASK.nii.gz``: segment a scan with a model package.

    candor segment PATH [--series UID] [--model NAME|DIR] --out MASK.nii.gz
                   [--probabilities PROBS.nii.gz] [--report REPORT.json]
                   [--device auto|cpu|cuda|mps] [--members N] [--trust-model]

The mask is written on the input's exact geometry; the probabilities as a vector image (one
component per class, background first) on the same grid; the report as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("segment", help="segment a scan with an AI model (default: the brain T1 model)",
                       description="Segment a scan (DICOM folder/file, DICOMDIR, NIfTI, NRRD, MHA) with a "
                                   "Candor model package and write the label map on the scan's geometry.")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--series", metavar="UID", help="series (stack) UID from `candor scan`")
    p.add_argument("--model", metavar="NAME|DIR", default=None,
                   help="model name (see `candor models list`) or package folder; default: candor-brain-t1")
    p.add_argument("--out", required=True, metavar="MASK", help="label map: .nii.gz, .nii, .nrrd or .mha")
    p.add_argument("--probabilities", metavar="FILE", help="also write class probabilities (vector image)")
    p.add_argument("--report", metavar="FILE", help="write the JSON report here ('-' for stdout)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--members", type=int, default=None, metavar="N", help="use only the first N ensemble members")
    p.add_argument("--force", action="store_true",
                   help="run even when a hard input check says the model was not made for this scan "
                        "(e.g. a CT given to an MR model); without it Candor stops before inference, exit code 3")
    p.add_argument("--trust-model", action="store_true",
                   help="allow pickled/TorchScript weights (they can run code: only for models you trust)")
    add_extra_arguments(p)
    p.set_defaults(func=run)


def add_extra_arguments(parser: argparse.ArgumentParser) -> None:
    """Hook for later layers (the trust layer adds --uncertainty, --saliency, … here)."""
    from engine.trust.cli_segment import add_arguments

    add_arguments(parser)


class _Progress:
    """Progress on stderr: a rewritten line on a terminal, stage changes otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.stage = None

    def __call__(self, fraction: float, stage: str = "") -> None:
        if self.tty:
            print(f"\r{stage or 'working'}… {fraction * 100:3.0f}%   ", end="", file=sys.stderr, flush=True)
        elif stage != self.stage:
            print(f"{stage}…", file=sys.stderr)
        self.stage = stage

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def _check_suffixes(args: argparse.Namespace) -> None:
    from engine.errors import InputError
    from engine.io.formats import WRITE_SUFFIXES, suffix_of

    for name in ("out", "probabilities"):
        value = getattr(args, name)
        if value and suffix_of(value) not in WRITE_SUFFIXES:
            raise InputError(f"--{name} must end in one of {', '.join(WRITE_SUFFIXES)}")


def write_probabilities(result, path: str | Path) -> Path:
    """``(K, z, y, x)`` probabilities of an analysis → one vector image (K float32 components) on the mask's grid."""
    from engine.io.formats import write_vector_image

    return write_vector_image(result.probabilities, result.labels.geometry, path)


def run(args: argparse.Namespace) -> int:
    """Analyse once (:func:`engine.trust.analyze`), then only write files from the result."""
    from engine.cli.info import load_announced
    from engine.errors import Unsuitable
    from engine.trust.cli_segment import analyze_for_cli, cli_report, write_outputs
    from engine.io import write_image
    from engine.models import DEFAULT_MODEL, load_model

    _check_suffixes(args)
    model = load_model(args.model or DEFAULT_MODEL, trust=args.trust_model, members=args.members)
    volume = load_announced(args.path, args.series)
    progress = _Progress()
    try:
        result = analyze_for_cli(args, volume, model, progress)
    except Unsuitable as exc:
        raise Unsuitable(exc.model_name, exc.reasons, hint="add --force to segment it anyway "
                         "(the result will carry the OOD warning)") from None
    finally:
        progress.close()
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    write_image(result.labels, args.out)
    outputs = {"mask": str(args.out)}
    if args.probabilities:
        outputs["probabilities"] = str(write_probabilities(result, args.probabilities))
    outputs.update(write_outputs(args, result))
    rep = {**cli_report(result, volume), "outputs": outputs}
    forced = [c.reason for c in result.ood.checks if c.hard and c.fired]
    if args.force and forced:   # the reader's choice is part of the record, as in the viewer
        rep["forced"] = {"by": "--force", "input_checks": forced}
        print("warning: run with --force although the model was not made for this scan", file=sys.stderr)
    if args.report == "-":
        json.dump(rep, sys.stdout, indent=2)
        print()
    elif args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(rep, indent=2) + "\n", encoding="utf-8")
    for entry in rep["labels"]:
        print(f"{entry['name']}: {entry['volume_ml']:.1f} mL", file=sys.stderr)
    print(f"wrote {args.out} in {rep['timings']['total_s']:.1f} s on {rep['device']}", file=sys.stderr)
    return 0
