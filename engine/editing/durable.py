"""Checked array files for autosave: content-addressed, written through :mod:`engine.durable`.

An array file's name is the SHA-256 of what it holds, and reading re-checks it; the write itself
is :func:`engine.durable.atomic_write` (temp + fsync + rename + directory fsync), so a reader sees
the previous complete file or the new one, never a torn write.
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
import zlib
from pathlib import Path

import numpy as np

from engine.durable import atomic_write
from engine.errors import CandorError

log = logging.getLogger(__name__)

_MAGIC = b"CNDA1\n"
_CHUNK = 8 * 1024 * 1024


class CorruptFileError(CandorError):
    """A saved file does not hold what its name or header promises."""


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
