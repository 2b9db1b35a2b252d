"""``candor stats MASK --image PATH``: voxels, mL and intensity statistics of every label."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.errors import InputError


def register(sub) -> None:
    p = sub.add_parser(
        "stats", help="per-label statistics of a mask on its image: voxels, mL, mean/SD/min/max",
        description="For every label of MASK (those its label table names and any other id "
                    "present): voxel count, volume (mL) and the mean, sample SD, min and max of "
                    "the image inside it (HU for CT). The mask must be on the image's grid.")
    p.add_argument("mask", metavar="MASK",
                   help="a label map file (NIfTI/NRRD/MHA) or the id of a queued correction")
    p.add_argument("--image", required=True, metavar="PATH",
                   help="the image the mask was drawn on (DICOM folder/file or image file)")
    p.add_argument("--series", metavar="UID", help="series to use when PATH holds several")
    p.add_argument("--csv", metavar="OUT", help="also write the table as CSV here")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(func=run)


def run(args) -> int:
    from engine.cli._mask_source import check_same_series, load_mask
    from engine.cli.info import load_announced
    from engine.reading.stats import label_stats, write_csv

    source = load_mask(args.mask)
    if not Path(args.image).exists():
        raise InputError(f"the image does not exist: {Path(args.image).name}")
    image = load_announced(args.image, args.series)
    check_same_series(source, image)
    rows = label_stats(image, source.mask, source.table)
    if args.csv:
        print(f"wrote {write_csv(rows, args.csv).name}", file=sys.stderr)
    if args.json:
        print(json.dumps({"labels": [r.to_dict() for r in rows]}, indent=2))
    else:
        print(format_stats(rows))
    return 0


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def format_stats(rows) -> str:
    unit = next((r.unit for r in rows if r.unit), "")
    head = f"{'id':>4} {'name':<24} {'voxels':>9} {'mL':>10} " + " ".join(
        f"{c + (f' {unit}' if unit else ''):>11}" for c in ("mean", "sd", "min", "max"))
    lines = [head]
    for r in rows:
        lines.append(f"{r.id:>4} {r.name[:24]:<24} {r.voxels:>9} {r.volume_ml:>10.3f} "
                     + " ".join(f"{_num(v):>11}" for v in (r.mean, r.sd, r.min, r.max)))
    return "\n".join(lines)
