"""``candor demo [--no-view] [--out DIR]``: write the sample study and open it in the viewer."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="write the bundled sample study (a synthetic T1 brain MR) and open it",
                       description="Write the sample DICOM study (MNI152 template with a synthetic lesion; no "
                                   "real person's data) into Candor's data folder and open it in the viewer.")
    p.add_argument("--no-view", action="store_true", help="only write the study and print its folder")
    p.add_argument("--out", metavar="DIR", help="write the series here instead of the data folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine.demo import write_demo

    folder = write_demo(args.out)
    print(folder)
    if args.no_view:
        return 0
    print("opening the viewer…", file=sys.stderr)
    from viewer.qt.app import run_gui  # Qt only when the GUI is really wanted

    return run_gui(str(folder))
