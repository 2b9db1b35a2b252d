"""Checks on what an image file holds, shared by every reader: non-finite voxels, short streams.

``sanitize_nonfinite(array)`` is the one rule for NaN/±inf voxels in any float image (NIfTI,
NRRD, MetaImage, DICOM float pixel data): they are counted and set to 0 in place (what ITK's
NIfTI reader does on its own, silently), and the returned warning says so. Keeping NaN would
poison every later step (window levels, normalisation before a network, statistics).
``nonfinite_sentence`` words the same warning for counts made elsewhere (in the file itself).

``inflated_size(path, offset)`` counts, in constant memory, the bytes a gzip/zlib stream inflates
to, so a complete but short stream (a file cut *before* it was compressed) is caught instead of
being zero-filled by ITK.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from engine.errors import InputError

_CHUNK = 1 << 20
_SLAB = 1 << 22  # voxels examined at a time, so the masks stay small


def sanitize_nonfinite(array: np.ndarray) -> str | None:
    """Set NaN/±inf voxels of a float ``array`` to 0 in place; a sentence saying so.

    Returns ``None`` when every voxel is finite (and for integer arrays, which cannot hold them).
    """
    if array.dtype.kind not in "fc" or array.size == 0:
        return None
    flat = array.reshape(-1)  # a view for the contiguous arrays readers return
    if not np.shares_memory(flat, array):
        raise ValueError("sanitize_nonfinite needs an array it can change in place")
    n_nan = n_inf = 0
    for start in range(0, flat.size, _SLAB):
        part = flat[start:start + _SLAB]
        finite = np.isfinite(part)
        if finite.all():
            continue
        nan = np.isnan(part)
        n_nan += int(nan.sum())
        n_inf += int((~finite & ~nan).sum())
        part[~finite] = 0
    return nonfinite_sentence(n_nan, n_inf, flat.size) if n_nan or n_inf else None


def nonfinite_sentence(n_nan: int, n_inf: int, total: int) -> str:
    parts = []
    if n_nan:
        parts.append(f"{n_nan:,} voxel{'s' if n_nan != 1 else ''} hold{'s' if n_nan == 1 else ''} no number (NaN)")
    if n_inf:
        parts.append(f"{n_inf:,} {'are' if n_inf != 1 else 'is'} infinite")
    share = 100.0 * (n_nan + n_inf) / total if total else 100.0
    return (f"{' and '.join(parts)} ({share:.2g} % of the image); they were set to 0 and carry "
            "no measurement")


def count_nonfinite(chunks, dtype: np.dtype) -> tuple[int, int]:
    """NaN and ±inf counts over an iterable of byte chunks holding ``dtype`` items."""
    n_nan = n_inf = 0
    rest = b""
    for chunk in chunks:
        chunk = rest + chunk
        cut = len(chunk) - len(chunk) % dtype.itemsize
        values, rest = np.frombuffer(chunk[:cut], dtype), chunk[cut:]
        nan = np.isnan(values)
        n_nan += int(nan.sum())
        n_inf += int(np.isinf(values).sum())
    return n_nan, n_inf


def inflated_size(path: Path, offset: int = 0, kind: str = "image file") -> int:
    """Bytes the gzip/zlib stream(s) in ``path`` from ``offset`` inflate to (constant memory).

    Concatenated gzip members are followed, as gzread does; anything else after the stream is
    ignored. A corrupt stream or one that ends early is an :class:`InputError`.
    """
    total = 0
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, auto-detected
    with open(path, "rb") as fp:
        fp.seek(offset)
        pending = b""
        while True:
            chunk = pending or fp.read(_CHUNK)
            pending = b""
            if not chunk:
                raise InputError(f"the {kind} is damaged or truncated: its compressed data ends early")
            try:
                while chunk:
                    total += len(inflater.decompress(chunk, _SLAB))
                    chunk = inflater.unconsumed_tail
            except zlib.error:
                raise InputError(f"the {kind} is damaged: its compressed data is corrupt") from None
            if inflater.eof:
                rest = inflater.unused_data or fp.read(2)
                if rest[:2] != b"\x1f\x8b":
                    return total
                pending = inflater.unused_data or rest + fp.read(_CHUNK)
                inflater = zlib.decompressobj(wbits=31)


def short_stream_error(kind: str, have: int, need: int) -> InputError:
    share = 100.0 * have / need if need else 0.0
    return InputError(f"the {kind} is damaged: its compressed data holds {share:.0f} % of the "
                      f"pixel bytes its header declares ({have:,} of {need:,}); the rest would "
                      "read as zeros, so the image was not loaded")


__all__ = ["count_nonfinite", "inflated_size", "nonfinite_sentence", "sanitize_nonfinite",
           "short_stream_error"]
