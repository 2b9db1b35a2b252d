"""Durable files: atomic replace (temp + fsync + rename + directory fsync) and checked array files.

A reader sees either the previous complete file or the new complete one, never a torn write, even
if the process is killed (``kill -9``) or the machine loses power mid-save. Array files are
content-addressed: their name is the SHA-256 of what they hold, and reading re-checks it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.errors import CandorError

log = logging.getLogger(__name__)

_MAGIC = b"CNDA1\n"
_CHUNK = 8 * 1024 * 1024


class CorruptFileError(CandorError):
    """A saved file does not hold what its name or header promises."""


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (no-op where directories cannot be opened)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def _chunks(array: np.ndarray):
    flat = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    for start in range(0, flat.size, _CHUNK):
        yield flat[start:start + _CHUNK]


def array_digest(array: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes (its content address)."""
    h = hashlib.sha256(f"{np.dtype(array.dtype).str}{tuple(array.shape)}".encode())
    for chunk in _chunks(array):
        h.update(chunk)
    return h.hexdigest()


def write_array(folder: Path, array: np.ndarray) -> str:
    """Store ``array`` as ``folder/<digest>.cnda`` (zlib-compressed) unless already there."""
    digest = array_digest(array)
    path = Path(folder) / f"{digest}.cnda"
    if path.exists():
        return digest
    header = json.dumps({"dtype": np.dtype(array.dtype).str, "shape": list(array.shape),
                         "digest": digest}).encode()

    def write(fh) -> None:
        fh.write(_MAGIC + struct.pack("<I", len(header)) + header)
        comp = zlib.compressobj(1)
        for chunk in _chunks(array):
            fh.write(comp.compress(chunk))
        fh.write(comp.flush())

    atomic_write(path, write)
    return digest


def read_array(folder: Path, digest: str) -> np.ndarray:
    """Read back an array written by :func:`write_array`, checking its content address."""
    path = Path(folder) / f"{digest}.cnda"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorruptFileError(f"a saved label map is missing ({path.name}): {exc.strerror}") from None
    try:
        if not raw.startswith(_MAGIC):
            raise ValueError("bad magic")
        (n,) = struct.unpack("<I", raw[len(_MAGIC):len(_MAGIC) + 4])
        start = len(_MAGIC) + 4
        header = json.loads(raw[start:start + n])
        data = zlib.decompress(raw[start + n:])
        array = np.frombuffer(data, dtype=np.dtype(header["dtype"])).reshape(header["shape"]).copy()
    except (ValueError, KeyError, zlib.error, struct.error):
        raise CorruptFileError(f"a saved label map is damaged ({path.name})") from None
    if array_digest(array) != digest:
        raise CorruptFileError(f"a saved label map does not match its checksum ({path.name})")
    return array
