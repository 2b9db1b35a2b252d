"""The one boundary between Candor and the third-party code that parses and decodes files.

pydicom's parser, its pixel decoders and their plugins (pylibjpeg-rle, -libjpeg, -openjpeg,
pyjpegls), zlib for deflated files: all of them meet damaged input sooner or later, and what they
raise is not ours to pass on. Some errors are raised lazily, long after ``dcmread`` returned (an
unknown VR raises ``NotImplementedError`` when the element is first read); Rust decoders raise
``pyo3_runtime.PanicException``, a ``BaseException`` that no ``except Exception`` catches. Every
such call therefore runs inside :func:`boundary` (or :func:`guarded_call`), which turns anything
but ``KeyboardInterrupt``, ``SystemExit`` and ``GeneratorExit`` into a Candor error for that file
or frame. Candor's own errors pass through unchanged.

Messages name the file by what the caller passes as ``subject`` (its position: "slice 3 of 40",
"frame 2 of the multi-frame file"), never by its name, and the damage by its kind
(:func:`damage`), never by the library's message, which may quote element values.

Memory limits (one documented place; the loader and the scan use them):

``MAX_VOXEL_BYTES`` (default 32 GiB)
    The largest single pixel array Candor allocates (a whole volume, or a decoded frame), and the
    most a deflated file may inflate to. Set the environment variable ``CANDOR_MAX_VOLUME_BYTES``
    (bytes; suffixes K, M, G, T accepted, e.g. ``8G``) to lower or raise it; it is read on each
    check, so a running process picks up a change. Available memory is checked as well.
``MAX_SLICE_PIXELS`` (16384 × 16384)
    The most pixels one slice or frame may declare: no CT, MR, PET or radiograph comes near it,
    while a small damaged or hostile file can declare 65535 × 65535. Larger slices are refused
    by the scan, before any pixel is read.
"""

from __future__ import annotations

import os
import re
import zlib
from types import TracebackType

from engine.errors import CandorError, InputError

MAX_VOXEL_BYTES = 32 * 1024**3
MAX_SLICE_PIXELS = 16384 * 16384
ENV_MAX_BYTES = "CANDOR_MAX_VOLUME_BYTES"

#: never converted: the user or the interpreter wants to stop
PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def max_voxel_bytes() -> int:
    """``MAX_VOXEL_BYTES``, or ``CANDOR_MAX_VOLUME_BYTES`` when that is set to a valid size."""
    raw = os.environ.get(ENV_MAX_BYTES, "").strip().upper().removesuffix("B").removesuffix("I")
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)", raw)
    if not m:
        return MAX_VOXEL_BYTES
    value = int(float(m.group(1)) * _UNITS[m.group(2)])
    return value if value > 0 else MAX_VOXEL_BYTES


def check_allocation(nbytes: int, what: str = "the volume") -> None:
    """Refuse an allocation of ``nbytes`` over :func:`max_voxel_bytes`, before it is attempted."""
    limit = max_voxel_bytes()
    if nbytes > limit:
        raise InputError(f"{what} would need {_size(nbytes)}; larger than Candor loads "
                         f"({_size(limit)}; set {ENV_MAX_BYTES} to change the limit)")


def _size(n: int) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GiB"
    return f"{n / 1024**2:.1f} MiB"


def is_panic(exc: BaseException) -> bool:
    """A Rust panic that crossed into Python (``pyo3_runtime.PanicException``)."""
    return type(exc).__name__ == "PanicException" or type(exc).__module__ == "pyo3_runtime"


def damage(exc: BaseException) -> str:
    """What kind of damage ``exc`` shows, in words that never quote the file's content."""
    if is_panic(exc):
        return "the decoder failed on inconsistent data"
    if isinstance(exc, MemoryError):
        return "an element declares an impossible length"
    if isinstance(exc, RecursionError):
        return "sequences nested too deeply"
    if isinstance(exc, zlib.error):
        return "the deflated data is corrupt"
    if isinstance(exc, EOFError):
        return "the data ends early"
    if isinstance(exc, OSError):
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    if isinstance(exc, NotImplementedError):
        return "an element has an invalid or unknown value representation"
    return type(exc).__name__


class DamagedData(InputError):
    """A file or frame that a parser or decoder could not read; the message says which and why."""


class boundary:  # noqa: N801 - used like a function: ``with boundary("slice 3 of 40"):``
    """Run third-party parsing/decoding; turn whatever it raises into a :class:`DamagedData`.

    ``subject`` names the file or frame by position ("the RLE Lossless pixel data of slice 3 of
    40"); the message reads "<subject> is damaged and cannot be <action> (<kind of damage>)".
    ``convert`` may map an exception to a more specific Candor error (a missing decoder, say)
    and return ``None`` to fall back to the default. Candor errors and :data:`PASS_THROUGH`
    exceptions are re-raised unchanged.
    """

    __slots__ = ("subject", "action", "convert", "error")

    def __init__(self, subject: str, action: str = "read", *, convert=None,
                 error: type[CandorError] = DamagedData) -> None:
        self.subject, self.action, self.convert, self.error = subject, action, convert, error

    def __enter__(self) -> boundary:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        if kind is None or issubclass(kind, PASS_THROUGH) or issubclass(kind, CandorError):
            return False
        raise self.translate(exc) from None

    def translate(self, exc: BaseException) -> CandorError:
        if self.convert is not None:
            mapped = self.convert(exc)
            if mapped is not None:
                return mapped
        return self.error(f"{self.subject} is damaged and cannot be {self.action} "
                          f"({damage(exc)})")


def guarded_call(subject: str, fn, *args, action: str = "read", convert=None, **kwargs):
    """``fn(*args, **kwargs)`` inside :class:`boundary` (same arguments)."""
    with boundary(subject, action, convert=convert):
        return fn(*args, **kwargs)


def position(k: int, n: int, noun: str = "slice") -> str:
    """How messages name the file of a slice: by its place in the stack, never by its name."""
    return f"{noun} {k + 1} of {n}"
