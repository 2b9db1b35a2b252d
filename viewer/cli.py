"""The ``candor`` command: ``candor [view] [PATH]`` opens the GUI, everything else is the engine's CLI."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from engine import cli as engine_cli


def _add_view(sub) -> None:
    p = sub.add_parser("view", help="open the viewer (the default when no command is given)",
                       description="Open the Candor viewer, optionally on a folder or a file.")
    p.add_argument("path", nargs="?", help="a DICOM folder, a DICOMDIR, or an image file to open")
    p.add_argument("--screenshot", metavar="PNG",
                   help="save a screenshot of the window once it is shown, then quit")
    p.set_defaults(func=_view)


def _view(args) -> int:
    from viewer.qt.app import run_gui  # Qt is imported only when the GUI is really wanted

    return run_gui(args.path, screenshot=args.screenshot)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, sub = engine_cli.build_parser(prog="candor")
    _add_view(sub)
    if argv[:1] == ["--selftest"]:  # the standalone app's spelling of `candor selftest`
        argv = ["selftest", *argv[1:]]
    if not argv or (argv[0] not in sub.choices and not argv[0].startswith("-")):
        argv = ["view", *argv]  # `candor` and `candor PATH` open the viewer
    args = parser.parse_args(argv)
    return engine_cli.run(args, parser)


def gui_main() -> int:
    """Entry point for the windowed launcher (``candor-gui``): same as ``candor view``."""
    return main(["view", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
