"""Durable writes, the one implementation: temp + fsync + rename + directory fsync.

A reader sees either the previous complete file (or folder) or the new complete one, never a
torn write, even if the process is killed (``kill -9``) or the machine loses power mid-save.
:func:`atomic_write` fills a temp file beside the target; :func:`replace_durably` commits a file
or a whole folder that some other writer (SimpleITK, highdicom, ``save_model``) produced under a
temporary name. Used by autosave, the correction queue, active model versions, fine-tuned
packages and exports.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (no-op where directories cannot be opened)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a file that another library wrote (and closed) to the disk."""
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def fsync_tree(path: Path) -> None:
    """Flush a file, or every file and folder under ``path`` (deepest first), to the disk."""
    path = Path(path)
    if not path.is_dir():
        fsync_file(path)
        return
    for root, _dirs, files in os.walk(path, topdown=False):
        for name in files:
            fsync_file(Path(root) / name)
        fsync_dir(Path(root))


def replace_durably(temp: Path, final: Path) -> None:
    """Rename a complete temp file or folder onto ``final`` (same file system) so it survives a crash."""
    temp, final = Path(temp), Path(final)
    fsync_tree(temp)
    os.replace(temp, final)
    fsync_dir(final.parent)


def atomic_write(path: Path, write: Callable[[object], None], suffix: str = "") -> None:
    """Create or replace ``path`` atomically: ``write(file)`` fills a temp file, then rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda fh: fh.write(data))


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, sort_keys=True).encode("utf-8"))
