"""``candor info PATH [--series UID] [--json]``: size, spacing, origin, direction of a volume."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="geometry and type of an image (SimpleITK conventions)",
                       description="Load an image (folder, DICOM file, DICOMDIR, NIfTI, NRRD, "
                                   "MHA) and print its geometry as SimpleITK reports it.")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--series", metavar="UID", help="series (stack) UID from `candor scan`")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(func=run)


def load_announced(path: str, series: str | None):
    """Load ``path``; when the largest of several series was picked, say so on stderr."""
    from engine.io import load

    volume = load(path, series)
    n = volume.metadata.get("picked_largest_of")
    if n:
        print(f"note: {n} image series found; loaded the largest, "
              f"{volume.metadata.get('series_uid', '')} (choose one with --series)", file=sys.stderr)
    return volume


def describe(volume) -> dict:
    g = volume.geometry
    return {
        "size": list(g.size),
        "spacing": list(g.spacing),
        "origin": list(g.origin),
        "direction": list(g.direction),
        "modality": volume.modality,
        "dtype": str(volume.array.dtype),
        "warnings": list(volume.warnings),
    }


def run(args: argparse.Namespace) -> int:
    volume = load_announced(args.path, args.series)
    doc = describe(volume)
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for key in ("size", "spacing", "origin", "direction", "modality", "dtype"):
        print(f"{key:9} {doc[key]}")
    for w in doc["warnings"]:
        print(f"warning   {w}")
    return 0
