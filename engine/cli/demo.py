"""``candor demo [--no-view] [--out DIR]``: write the sample study (the viewer then opens it).

The engine only writes the study and prints its folder; ``candor`` (``viewer/cli.py``) wraps this
command to open the folder in the viewer unless ``--no-view`` is given, so the engine never
imports the GUI. ``python -m engine demo`` writes and prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="write the bundled sample study (a synthetic T1 brain MR) and open it",
                       description="Write the sample DICOM study (MNI152 template with a synthetic lesion; no "
                                   "real person's data) into Candor's data folder; `candor demo` also opens "
                                   "it in the viewer.")
    p.add_argument("--no-view", action="store_true", help="only write the study and print its folder")
    p.add_argument("--out", metavar="DIR", help="write the series here instead of the data folder")
    p.set_defaults(func=run)


def write(args: argparse.Namespace) -> Path:
    """Write the study (``--out`` or the data folder), print its folder and return it."""
    from engine.demo import write_demo

    folder = write_demo(args.out)
    print(folder)
    return folder


def run(args: argparse.Namespace) -> int:
    write(args)
    return 0
