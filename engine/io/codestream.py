"""Check a compressed frame against its DICOM header before a decoder sees it.

Decoders trust the bytes they are given: pylibjpeg-rle panics (a Rust ``index out of bounds``,
printed on stderr) when Rows × Columns disagree with its segments, or silently returns the first
part of a larger image when the header claims a smaller one; JPEG decoders allocate what their
own frame header declares. So, per frame and without decoding:

* RLE Lossless: the segment count must match samples × bytes per sample, the offsets must lie
  inside the frame, and every segment must expand to exactly Rows × Columns bytes.
* JPEG (baseline, extended, lossless), JPEG-LS and JPEG 2000 / HTJ2K: the size the codestream
  declares (SOF/SOF55/SIZ marker) must be Rows × Columns with SamplesPerPixel components.
  A stream without its end marker loads, with a warning that part of the image may be missing.

A mismatch raises :class:`engine.io.guard.DamagedData`; anything this module cannot parse is
left to the decoder, which runs behind :class:`engine.io.guard.boundary` anyway.
"""

from __future__ import annotations

import struct

from engine.io.dicomlib import pydicom as _configured_pydicom
from engine.io.guard import PASS_THROUGH, DamagedData

pydicom = _configured_pydicom()  # this module is imported only when compressed data is checked

try:
    from rle.rle import decode_segment as _decode_segment
except ImportError:  # pydicom's own RLE decoder is used then
    _decode_segment = None

ENDS_EARLY = ("the compressed data of a slice ends without its end marker: part of that image "
              "may be missing")

_JPEG = set(pydicom.uid.JPEGTransferSyntaxes) | set(pydicom.uid.JPEGLSTransferSyntaxes)
_J2K = set(pydicom.uid.JPEG2000TransferSyntaxes) | {
    pydicom.uid.HTJ2KLossless, pydicom.uid.HTJ2KLosslessRPCL, pydicom.uid.HTJ2K}
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7}


def check_frame(frame: bytes, syntax: str, rows: int, columns: int, samples: int,
                bits_allocated: int, subject: str) -> list[str]:
    """Warnings for ``frame`` (one frame's compressed bytes); raise if it contradicts the header."""
    if syntax == pydicom.uid.RLELossless:
        _check_rle(frame, rows * columns, samples * ((bits_allocated + 7) // 8), subject)
        return []
    if syntax in _JPEG:
        declared, complete = _jpeg_size(frame)
    elif syntax in _J2K:
        declared, complete = _j2k_size(frame)
    else:
        return []
    if declared is not None:
        h, w, n = declared
        if (h and h != rows) or w != columns or n != samples:
            raise _damaged(subject, f"its codestream declares {w}×{h or '?'} pixels with {n} "
                                    f"component(s), the header {columns}×{rows} with {samples}")
    return [] if complete else [ENDS_EARLY]


def _damaged(subject: str, why: str) -> DamagedData:
    return DamagedData(f"{subject} is damaged and cannot be decoded ({why})")


def _check_rle(frame: bytes, pixels: int, segments: int, subject: str) -> None:
    if len(frame) < 64:
        raise _damaged(subject, "the RLE header is incomplete")
    header = struct.unpack_from("<16I", frame, 0)
    count, offsets = header[0], list(header[1:1 + min(header[0], 15)])
    if count != segments:
        raise _damaged(subject, f"{count} RLE segments for {segments} expected")
    ends = offsets[1:] + [len(frame)]
    if offsets[0] != 64 or any(not a < b <= len(frame) for a, b in zip(offsets, ends)):
        raise _damaged(subject, "the RLE segment offsets are inconsistent")
    for start, end in zip(offsets, ends):
        got = _segment_length(frame, start, end, pixels)
        if got != pixels:
            raise _damaged(subject, f"an RLE segment holds {'more' if got > pixels else 'fewer'} "
                                    f"than the {pixels} pixels of Rows × Columns")


def _segment_length(data: bytes, start: int, end: int, pixels: int) -> int:
    """Expanded length of one segment: pylibjpeg-rle's segment decoder when it is installed
    (it has no output buffer to overrun), else, or when it rejects the segment, a walk here
    that also accepts a trailing pad byte."""
    if _decode_segment is not None:
        try:
            return len(_decode_segment(data[start:end]))
        except PASS_THROUGH:
            raise
        except BaseException:  # noqa: BLE001 - judged by the walk below
            pass
    return _rle_length(data, start, end, pixels)


def _rle_length(data: bytes, pos: int, end: int, limit: int) -> int:
    """Bytes one PackBits segment expands to (stops counting once past ``limit``)."""
    out = 0
    while pos < end and out <= limit:
        n = data[pos]
        if n < 128:  # literal run of n + 1 bytes
            if pos + 1 + n + 1 > end:  # a trailing pad byte, or a cut run
                return out if n == 0 and pos + 1 == end else out + (end - pos - 1)
            out += n + 1
            pos += n + 2
        elif n > 128:  # one byte repeated 257 - n times
            out += 257 - n
            pos += 2
        else:
            pos += 1
    return out


def _jpeg_size(frame: bytes) -> tuple[tuple[int, int, int] | None, bool]:
    """((rows, columns, components) from the SOF marker, whether the stream ends with EOI)."""
    complete = frame.rstrip(b"\0").endswith(b"\xff\xd9")
    if frame[:2] != b"\xff\xd8":
        return None, complete
    pos, n = 2, len(frame)
    for _ in range(4096):
        while pos < n and frame[pos] == 0xFF and pos + 1 < n and frame[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 4 > n or frame[pos] != 0xFF:
            return None, complete
        marker = frame[pos + 1]
        if marker in _SOF and pos + 10 <= n:
            rows, cols = struct.unpack_from(">HH", frame, pos + 5)
            return (rows, cols, frame[pos + 9]), complete
        if marker == 0xDA:  # start of scan before any frame header
            return None, complete
        pos += 2 + struct.unpack_from(">H", frame, pos + 2)[0]
    return None, complete


def _j2k_size(frame: bytes) -> tuple[tuple[int, int, int] | None, bool]:
    complete = frame.rstrip(b"\0").endswith(b"\xff\xd9")
    at = frame.find(b"\xff\x4f\xff\x51", 0, 4096)
    if at < 0 or at + 42 > len(frame):
        return None, complete
    xsiz, ysiz, xo, yo = struct.unpack_from(">IIII", frame, at + 8)
    components = struct.unpack_from(">H", frame, at + 40)[0]
    if xo >= xsiz or yo >= ysiz:  # an image offset beyond the image: nothing to show
        return (1 << 32, 0, components), complete
    return (ysiz - yo, xsiz - xo, components), complete
