"""The ``candor`` command: ``candor [view] [PATH]`` opens the GUI, everything else is the engine's CLI.

Only no argument or an existing path opens the viewer; an unknown word is an error that suggests
the closest command. ``candor demo`` opens the study the engine's ``demo`` command wrote; ``candor report --pdf`` prints
the engine's report page with Qt.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from engine import cli as engine_cli
from engine.cli import demo as engine_demo


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


def _demo(args) -> int:
    """``candor demo``: the engine writes the sample study, then the viewer opens it."""
    folder = engine_demo.write(args)
    if args.no_view:
        return 0
    print("opening the viewer…", file=sys.stderr)
    from viewer.qt.app import run_gui

    return run_gui(str(folder))


def _write_pdf(html: str, out: str):
    """``candor report --pdf``: the engine builds the page, Qt prints it (offscreen, no window)."""
    from viewer.qt.report_pdf import write_pdf

    return write_pdf(html, out)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, sub = engine_cli.build_parser(prog="candor")
    _add_view(sub)
    sub.choices["demo"].set_defaults(func=_demo)
    sub.choices["report"].set_defaults(pdf_writer=_write_pdf)
    if argv[:1] == ["--selftest"]:  # the standalone app's spelling of `candor selftest`
        argv = ["selftest", *argv[1:]]
    first = engine_cli.command_word(argv)
    if not argv:
        argv = ["view"]  # `candor` alone opens the viewer
    elif first is not None and argv[first] not in sub.choices:
        if not Path(argv[first]).exists():  # a mistyped command must not open the viewer
            return engine_cli.unknown_command(
                parser, list(sub.choices), argv[first],
                "unknown command, and no file or folder of that name to open")
        argv.insert(first, "view")  # `candor PATH` opens the viewer on it
    args = parser.parse_args(argv)
    return engine_cli.run(args, parser)


def gui_main() -> int:
    """Entry point for the windowed launcher (``candor-gui``): same as ``candor view``."""
    return main(["view", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
