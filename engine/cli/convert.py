"""``candor convert PATH [--series UID] --out FILE``: write a volume as .nii.gz / .nrrd / .mha."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert a series or image to NIfTI, NRRD or MHA",
                       description="Load an image (folder, DICOM file, DICOMDIR, NIfTI, NRRD, "
                                   "MHA) and write it with its geometry.")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--series", metavar="UID", help="series (stack) UID from `candor scan`")
    p.add_argument("--out", required=True, metavar="FILE", help=".nii.gz, .nii, .nrrd or .mha")
    p.add_argument("--regular", action="store_true",
                   help="when slices are missing, unevenly spaced or tilted, write the volume "
                        "resampled to a regular grid instead of the stored slices")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine.cli.info import load_announced
    from engine.io import write_image
    from engine.io.formats import WRITE_SUFFIXES, suffix_of
    from engine.errors import InputError

    if suffix_of(args.out) not in WRITE_SUFFIXES:
        raise InputError(f"--out must end in one of {', '.join(WRITE_SUFFIXES)}")
    volume = load_announced(args.path, args.series)
    for w in volume.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.regular and volume.metadata.get("irregular_slices"):
        from engine.io import regularize

        volume = regularize(volume)
        print(f"note: {volume.warnings[0]}", file=sys.stderr)
    out = write_image(volume, args.out)
    print(f"wrote {out} ({'×'.join(map(str, volume.size))}, {volume.array.dtype})", file=sys.stderr)
    return 0
