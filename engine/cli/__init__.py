"""The engine's command line: ``python -m engine`` and every ``candor`` subcommand but ``view``.

Each subcommand (or group) lives in its own module here, exposing ``register(subparsers)`` which
adds its parser and sets ``func`` (called with the parsed arguments, returning an exit code). Every
public module of this package is registered, in name order, in both ``candor`` and
``python -m engine``; modules whose name starts with ``_`` are helpers.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence

from engine import __version__
from engine.errors import CandorError

log = logging.getLogger("candor")


def command_modules() -> list[str]:
    """Modules under ``engine.cli`` that each register one subcommand (or a group of them)."""
    # pkgutil, not a folder listing: in the frozen app the modules live in PyInstaller's archive
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def quiet_blas_start() -> None:
    """Start numpy's OpenBLAS with one thread unless the user chose a number.

    OpenBLAS starts its thread pool when numpy is imported; on a busy 2-core machine that start
    alone made half of the ``import numpy`` runs take 0.12 s instead of 0.06 s
    (docs/PERFORMANCE.md), more than dcm2niix needs for a whole conversion. No command does heavy
    numpy linear algebra (the networks run in torch, which has its own threads), so one BLAS
    thread costs nothing. Must run before numpy is first imported; ``OPENBLAS_NUM_THREADS`` set by
    the user wins."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def build_parser(prog: str = "python -m engine") -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    quiet_blas_start()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Candor: a DICOM viewer with an embedded, honest AI engine.",
    )
    parser.add_argument("--version", action="version", version=f"candor {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-v info, -vv debug); logs never contain patient data")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        importlib.import_module(f"engine.cli.{name}").register(sub)
    return parser, sub


def configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Dispatch parsed arguments; user-facing errors become one line on stderr and exit code 2."""
    configure_logging(args.verbose)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(func(args) or EXIT_OK)
    except CandorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_USAGE)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so plainly; the type only, never data that may identify a patient
        log.debug("internal error", exc_info=True)
        print(f"internal error ({type(exc).__name__}); run with -vv for details", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        skip_final_collection()


def skip_final_collection() -> None:
    """In the ``candor`` / ``python -m engine`` process itself, freeze the heap after the command.

    The process ends right after: without this the interpreter's final collection walks every
    object numpy, argparse and the engine created, 9 of the 12 ms of teardown on this machine
    (docs/PERFORMANCE.md). Exit handlers and finalizers still run. Not done when ``main`` is
    called from a test or a script (``sys.argv[0]`` names neither), whose process goes on."""
    prog = sys.argv[0] if sys.argv else ""
    if os.path.basename(prog).lower().startswith("candor") or \
            prog.endswith(os.path.join("engine", "__main__.py")):
        gc.freeze()


def command_word(argv: Sequence[str]) -> int | None:
    """Where the command is in ``argv``: the first word that is not an option (the top-level
    options take no value); None when there is none or top-level help or version is asked for."""
    first = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if first is None or {"-h", "--help", "--version"} & set(argv[:first]):
        return None
    return first


def unknown_command(parser: argparse.ArgumentParser, commands: Sequence[str], word: str,
                    what: str = "unknown command") -> int:
    """Say that ``word`` is no command, suggest the closest one and list them all (exit code 2).

    ``word`` itself is not echoed: it may be a mistyped path, and like every Candor message about a
    path this one must not carry a folder name that may identify a patient."""
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: {what}", file=sys.stderr)
    import difflib

    close = difflib.get_close_matches(word.rstrip("/\\"), commands, n=1, cutoff=0.6)
    if close:
        print(f"did you mean '{parser.prog} {close[0]}'?", file=sys.stderr)
    print(f"commands: {', '.join(sorted(commands))} ({parser.prog} --help says what each does)",
          file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, sub = build_parser()
    first = command_word(argv)
    if first is not None and argv[first] not in sub.choices:
        return unknown_command(parser, list(sub.choices), argv[first])
    args = parser.parse_args(argv)
    return run(args, parser)
