"""Builders for the bad-input corpus: each writes one malformed or tricky input into a folder."""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from engine.io import write_series
from tests.engine.io.helpers import phantom

PIXEL_TAG = b"\xe0\x7f\x10\x00OW"


def series(folder: Path, nz: int = 5, **kw) -> list[Path]:
    return write_series(phantom(nz=nz, ny=12, nx=14), folder, **kw)


def splice_before_pixels(path: Path, blob: bytes) -> None:
    data = path.read_bytes()
    i = data.index(PIXEL_TAG)
    path.write_bytes(data[:i] + blob + data[i:])


def nested_sequence(depth: int) -> bytes:
    """ContentSequence items nested ``depth`` deep, all of undefined length."""
    opening = struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, 0xFFFFFFFF)
    opening += struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    closing = struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return opening * depth + closing * depth


def set_attr(**values) -> Callable:
    def edit(ds, k):
        for key, value in values.items():
            setattr(ds, key, value)
    return edit


@contextmanager
def peak_allocation():
    """Yields a dict whose ``"peak"`` is the largest traced Python/NumPy allocation total."""
    out = {"peak": 0}
    tracemalloc.start()
    try:
        yield out
    finally:
        out["peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def write_nifti_with_header(path: Path, dims, pixdim, data: bytes = b"") -> None:
    """A minimal NIfTI-1 single file written byte by byte (tools refuse to write bad headers)."""
    hdr = bytearray(348)
    struct.pack_into("<i", hdr, 0, 348)
    d = [len(dims)] + list(dims) + [1] * (7 - len(dims))
    struct.pack_into("<8h", hdr, 40, *d)
    struct.pack_into("<h", hdr, 70, 4)  # datatype int16
    struct.pack_into("<h", hdr, 72, 16)  # bitpix
    struct.pack_into("<8f", hdr, 76, 1.0, *pixdim, *([1.0] * (7 - len(pixdim))))
    struct.pack_into("<f", hdr, 108, 352.0)  # vox_offset
    struct.pack_into("<h", hdr, 254, 1)  # sform_code: scanner
    struct.pack_into("<4f", hdr, 280, pixdim[0], 0, 0, 0)
    struct.pack_into("<4f", hdr, 296, 0, pixdim[1], 0, 0)
    struct.pack_into("<4f", hdr, 312, 0, 0, pixdim[2], 0)
    hdr[344:348] = b"n+1\x00"
    path.write_bytes(bytes(hdr) + b"\x00" * 4 + data)


def int16_bytes(n: int) -> bytes:
    return np.zeros(n, dtype="<i2").tobytes()
