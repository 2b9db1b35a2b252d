"""``candor extract-brain PATH --out MASK.nii.gz``: a brain mask on the scan's exact grid.

    candor extract-brain PATH [--series UID] --out MASK.nii.gz [--model NAME|DIR]
                         [--dilate N] [--json]

The model is a brain-extraction package (``candor models import deepbet --allow-torchscript``);
the mask is uint8 (1 = brain). ``--json`` prints the report (brain volume in mL, voxels, model,
timings, warnings, outputs) on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

DEFAULT_EXTRACTION_MODEL = "deepbet"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("extract-brain", help="brain mask of a T1 MR scan (deepbet, imported)",
                       description="Extract the brain of a T1-weighted MR scan with a brain-extraction model "
                                   "package and write the mask on the scan's geometry.")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--series", metavar="UID", help="series (stack) UID from `candor scan`")
    p.add_argument("--out", required=True, metavar="MASK", help="mask file: .nii.gz, .nii, .nrrd or .mha")
    p.add_argument("--model", metavar="NAME|DIR", default=DEFAULT_EXTRACTION_MODEL,
                   help=f"brain-extraction package (default: {DEFAULT_EXTRACTION_MODEL}; import it first with "
                        "`candor models import deepbet --allow-torchscript`)")
    p.add_argument("--dilate", type=int, default=None, metavar="N",
                   help="grow (N > 0) or shrink (N < 0) the mask by N voxels (default: the model's, 0)")
    p.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine.cli.info import load_announced
    from engine.errors import InputError, ModelError
    from engine.extraction import extract_brain, load_extraction_model
    from engine.io import write_image
    from engine.io.formats import WRITE_SUFFIXES, suffix_of
    from engine.labels import volume_ml

    if suffix_of(args.out) not in WRITE_SUFFIXES:
        raise InputError(f"--out must end in one of {', '.join(WRITE_SUFFIXES)}")
    t0 = time.perf_counter()
    try:
        model = load_extraction_model(args.model)
    except ModelError as exc:
        if args.model != DEFAULT_EXTRACTION_MODEL:
            raise
        raise ModelError(f"{exc}; import deepbet's weights once with "
                         "`candor models import deepbet --allow-torchscript`") from None
    t1 = time.perf_counter()
    volume = load_announced(args.path, args.series)
    t2 = time.perf_counter()
    mask = extract_brain(volume, model, n_dilate=args.dilate)
    t3 = time.perf_counter()
    write_image(mask, args.out)
    t4 = time.perf_counter()
    voxels = int((mask.array > 0).sum())
    rep = {"model": {"name": model.name, "version": model.model.manifest.version},
           "brain": {"voxels": voxels, "volume_ml": round(volume_ml(voxels, mask.geometry.voxel_volume_ml), 3)},
           "geometry": mask.geometry.to_dict(), "warnings": list(mask.warnings),
           "timings": {"load_model_s": t1 - t0, "read_s": t2 - t1, "extract_s": t3 - t2,
                       "write_s": t4 - t3, "total_s": t4 - t0},
           "outputs": {"mask": str(args.out)}}
    for w in mask.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        json.dump(rep, sys.stdout, indent=2)
        print()
    print(f"brain: {rep['brain']['volume_ml']:.1f} mL; wrote {args.out} in {t4 - t0:.1f} s", file=sys.stderr)
    return 0
