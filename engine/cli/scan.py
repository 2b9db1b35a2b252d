"""``candor scan FOLDER [--json]``: list every series in a folder, DICOMDIR or file (headers only)."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="list the series in a folder, DICOMDIR or DICOM file",
                       description="Scan a folder (recursively), a DICOMDIR or a DICOM file, "
                                   "reading headers only, and list its series.")
    p.add_argument("path", metavar="FOLDER", help="folder, DICOMDIR or DICOM file")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine.io import scan

    result = scan(args.path)
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for s in result.series:
        kind = "" if s.kind == "image" else f" [{s.kind}]"
        size = "×".join(map(str, s.size))
        print(f"{s.modality:3} {size:>14}  {s.n_files:5d} files  {s.description}{kind}")
        print(f"    {s.series_uid}")
        for w in s.warnings:
            print(f"    warning: {w}")
        for g in s.segmentations:
            print(f"    segmentation: {g.description} ({g.series_uid})")
    if result.skipped:
        print(f"{len(result.skipped)} file(s) skipped:", file=sys.stderr)
        for k in result.skipped:
            print(f"  {k.path}: {k.reason}", file=sys.stderr)
    return 0
