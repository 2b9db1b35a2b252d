"""Mutations: each edits the bytes of one file of a seed and says what it did.

A mutation is ``f(data, rng, ctx) -> Mutated | None`` (``None``: it does not apply to this file;
the caller falls back to a byte flip). ``Mutated.expect`` is what Candor must do with the result
beyond not failing: ``"warn"`` (a warning or a clear error), ``"refuse"`` (a clear error), or
``None`` (any handled outcome). DICOM element edits parse the file with pydicom, change the value
and write it again, so the lie is well formed; byte-level edits leave it malformed.
"""

from __future__ import annotations

import random
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO

INTERESTING_32 = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
                  0x80000000, 0xFFFFFFF0, 0xFFFFFFFE, 0xFFFFFFFF]
INTERESTING_DIMS = [0, 1, 2, 3, 7, 255, 256, 4095, 32767, 46000, 65535]
LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT",
            b"UV"}
TRANSFER_SYNTAXES = [
    "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.100",
    "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.5", "1.2.840.113619.5.2", "1.2.3.4", "",
    "9" * 64,
]
CONTAINER_MAGIC = {"zip": b"PK\x03\x04", "pdf": b"%PDF-1.7\n", "pe": b"MZ\x90\x00",
                   "elf": b"\x7fELF\x02\x01\x01"}
OTHER_MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "gif": b"GIF89a", "sh": b"#!/bin/sh\n",
               "html": b"<html><script>"}
ESCAPES = ["../outside.raw", "./../outside.raw", "../../outside.raw", "/etc/passwd",
           "/proc/self/environ"]


@dataclass(frozen=True)
class Mutated:
    data: bytes
    detail: str
    expect: str | None = None


@dataclass(frozen=True)
class Context:
    name: str  # file name
    kind: str  # "dicom", "volume", "header"
    siblings: dict[str, bytes]  # the other files of the seed


Mutation = Callable[[bytes, random.Random, Context], "Mutated | None"]


# ---- byte level (every file) ----------------------------------------------------------------
def _pos(data: bytes, rng: random.Random) -> int:
    """A position, half of the time in the first 2 KB (where headers live)."""
    limit = len(data) if rng.random() < 0.5 else min(len(data), 2048)
    return rng.randrange(max(limit, 1))


def bit_flip(data, rng, ctx):
    if not data:
        return None
    buf = bytearray(data)
    n = rng.choice([1, 1, 2, 4, 8])
    spots = [_pos(data, rng) for _ in range(n)]
    for p in spots:
        buf[p] ^= 1 << rng.randrange(8)
    return Mutated(bytes(buf), f"bit flips at {spots}")


def byte_set(data, rng, ctx):
    if not data:
        return None
    buf = bytearray(data)
    p = _pos(data, rng)
    value = rng.choice([0x00, 0xFF, 0x7F, 0x80, 0x20, rng.randrange(256)])
    buf[p] = value
    return Mutated(bytes(buf), f"byte {p} = 0x{value:02x}")


def truncate(data, rng, ctx):
    if len(data) < 2:
        return None
    p = rng.choice([_pos(data, rng), len(data) - rng.randrange(1, 64), 132, 128, 0])
    p = max(0, min(p, len(data) - 1))
    return Mutated(data[:p], f"truncated to {p} of {len(data)} bytes")


def insert(data, rng, ctx):
    p = _pos(data, rng)
    blob = rng.choice([bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))),
                       b"\x00" * rng.randrange(1, 300), b"\xff" * rng.randrange(1, 16)])
    return Mutated(data[:p] + blob + data[p:], f"{len(blob)} bytes inserted at {p}")


def delete(data, rng, ctx):
    p = _pos(data, rng)
    n = rng.randrange(1, 256)
    return Mutated(data[:p] + data[p + n:], f"{n} bytes deleted at {p}")


def duplicate_chunk(data, rng, ctx):
    p = _pos(data, rng)
    n = rng.randrange(4, 512)
    return Mutated(data[:p] + data[p:p + n] * rng.randrange(2, 5) + data[p + n:],
                   f"{n} bytes at {p} repeated")


# ---- DICOM: element table (byte positions of top-level elements) ------------------------------
@dataclass(frozen=True)
class Element:
    tag: int
    vr: bytes | None  # None: implicit VR
    length: int
    value_at: int
    little: bool

    @property
    def long_form(self) -> bool:
        return self.vr is None or self.vr in LONG_VRS

    @property
    def length_at(self) -> int:
        return self.value_at - (4 if self.long_form else 2)

    @property
    def vr_at(self) -> int | None:
        if self.vr is None:
            return None
        return self.value_at - (8 if self.long_form else 4)


def element_table(data: bytes) -> list[Element]:
    """Top-level elements pydicom left raw (not deflated bodies: their offsets are inflated)."""
    import pydicom
    from pydicom.dataelem import RawDataElement

    try:
        ds = pydicom.dcmread(BytesIO(data), force=True, defer_size=None)
        groups = [ds.file_meta]
        syntax = str(ds.file_meta.get("TransferSyntaxUID", ""))
        if syntax != "1.2.840.10008.1.2.1.99":
            groups.append(ds)
        out = []
        for group in groups:
            for tag, raw in dict.items(group._dict):
                if isinstance(raw, RawDataElement) and raw.value_tell:
                    vr = None if raw.is_implicit_VR else (raw.VR or "").encode("ascii", "replace")
                    out.append(Element(int(tag), vr, raw.length, raw.value_tell,
                                       raw.is_little_endian))
        return [e for e in out if 8 <= e.value_at <= len(data)]
    except Exception:
        return []


def length_lie(data, rng, ctx):
    elements = element_table(data)
    if not elements:
        return None
    e = rng.choice(elements)
    value = rng.choice(INTERESTING_32 + [e.length + 1, max(e.length - 1, 0), e.length * 2,
                                         len(data) - e.value_at + rng.randrange(1, 9)])
    size = 4 if e.long_form else 2
    value &= (1 << (8 * size)) - 1
    buf = bytearray(data)
    struct.pack_into(("<" if e.little else ">") + ("I" if size == 4 else "H"), buf, e.length_at,
                     value)
    return Mutated(bytes(buf), f"length of ({e.tag >> 16:04X},{e.tag & 0xFFFF:04X}) "
                               f"{e.length} -> {value}")


def vr_corrupt(data, rng, ctx):
    elements = [e for e in element_table(data) if e.vr_at is not None]
    if not elements:
        return None
    e = rng.choice(elements)
    new = rng.choice([b"SQ", b"UN", b"OB", b"US", b"DS", b"XX", b"\x00\x00", b"ob",
                      bytes([e.vr[0] ^ (1 << rng.randrange(8)), e.vr[1]])])
    buf = bytearray(data)
    buf[e.vr_at:e.vr_at + 2] = new
    return Mutated(bytes(buf), f"VR of ({e.tag >> 16:04X},{e.tag & 0xFFFF:04X}) "
                               f"{e.vr!r} -> {new!r}")


def pixel_damage(data, rng, ctx):
    """Bytes of the pixel data (for encapsulated data: item lengths, fragment starts)."""
    pixels = [e for e in element_table(data) if e.tag == 0x7FE00010]
    if not pixels:
        return None
    start = pixels[0].value_at
    buf = bytearray(data)
    items = [m.start() for m in re.finditer(rb"\xfe\xff\x00\xe0", data[start:])]
    if items and rng.random() < 0.4:
        at = start + rng.choice(items) + 4
        value = rng.choice(INTERESTING_32 + [rng.randrange(1 << 16)])
        struct.pack_into("<I", buf, at, value)
        return Mutated(bytes(buf), f"pixel data item length at {at} -> {value}")
    base = start + (rng.choice(items) + 8 if items else 0)
    span = max(1, min(len(data) - base, 96 if rng.random() < 0.6 else len(data)))
    spots = sorted(base + rng.randrange(span) for _ in range(rng.choice([1, 2, 8])))
    for p in spots:
        if p < len(buf):
            buf[p] = rng.randrange(256)
    return Mutated(bytes(buf), f"pixel data bytes at {spots}")


# ---- DICOM: well-formed lies (edit the value, write the file again) --------------------------
def _rewrite(data: bytes, edit: Callable) -> bytes | None:
    import pydicom

    try:
        ds = pydicom.dcmread(BytesIO(data), force=True)
        edit(ds)
        out = BytesIO()
        ds.save_as(out, enforce_file_format=False)
        return out.getvalue()
    except Exception:
        return None


def _lie(keyword: str, choices: list) -> Callable:
    def mutation(data, rng, ctx):
        value = rng.choice(choices)

        def edit(ds):
            if value is None:
                if keyword in ds:
                    delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)
        out = _rewrite(data, edit)
        return None if out is None else Mutated(out, f"{keyword} = {value!r}")
    mutation.__name__ = f"lie_{keyword}"
    return mutation


PIXEL_LIES = [
    _lie("Rows", INTERESTING_DIMS + [None]),
    _lie("Columns", INTERESTING_DIMS + [None]),
    _lie("NumberOfFrames", ["0", "-1", "2", "11", "100000", "2.5", "x", None]),
    _lie("BitsAllocated", [0, 1, 7, 8, 12, 16, 24, 32, 64, 65535, None]),
    _lie("BitsStored", [0, 1, 8, 12, 16, 17, 33, None]),
    _lie("HighBit", [0, 7, 15, 16, 31, 255]),
    _lie("PixelRepresentation", [0, 1, 2, None]),
    _lie("SamplesPerPixel", [0, 1, 2, 3, 4, None]),
    _lie("PhotometricInterpretation", ["MONOCHROME1", "RGB", "PALETTE COLOR", "YBR_FULL_422",
                                       "YBR_ICT", "", "CMYK", None]),
    _lie("PlanarConfiguration", [0, 1, 2]),
]
GEOMETRY_LIES = [
    _lie("ImagePositionPatient", [["nan", 0, 0], ["inf", 0, 0], [0, 0], [1e30, 0, 0], None]),
    _lie("ImageOrientationPatient", [[0, 0, 0, 0, 0, 0], [1, 0, 0, 1, 0, 0], [1, 0, 0],
                                     ["nan", 0, 0, 0, 1, 0], None]),
    _lie("PixelSpacing", [[0, 0], [-1, 1], ["nan", 1], [1e-30, 1e30], [1], None]),
    _lie("SliceThickness", [0, -5, "nan", None]),
    _lie("RescaleSlope", [0, -1, "1e308", "nan", "inf", None]),
    _lie("RescaleIntercept", ["1e308", "-inf", "nan"]),
    _lie("GridFrameOffsetVector", [[0], [0, 0, 0], ["nan"] * 15, None]),
    _lie("WindowWidth", [0, -1, "nan"]),
]


def transfer_syntax_lie(data, rng, ctx):
    """Declare another transfer syntax in the file meta; the body keeps its encoding."""
    import pydicom
    from pydicom.filereader import _read_file_meta_info
    from pydicom.filewriter import write_file_meta_info

    if data[128:132] != b"DICM":
        return None
    try:
        fp = BytesIO(data)
        fp.seek(132)
        meta = _read_file_meta_info(fp)
        body = data[fp.tell():]
        syntax = rng.choice(TRANSFER_SYNTAXES)
        meta.TransferSyntaxUID = pydicom.uid.UID(syntax)
        if "FileMetaInformationGroupLength" in meta:
            del meta.FileMetaInformationGroupLength
        out = BytesIO()
        write_file_meta_info(out, meta, enforce_standard=False)
        group = struct.pack("<HH2sHI", 2, 0, b"UL", 4, len(out.getvalue()))
        return Mutated(data[:132] + group + out.getvalue() + body,
                       f"TransferSyntaxUID -> {syntax!r}")
    except Exception:
        return None


def preamble(data, rng, ctx):
    if data[128:132] != b"DICM":
        return None
    kind, magic = rng.choice(list(CONTAINER_MAGIC.items()) + list(OTHER_MAGIC.items()))
    expect = "warn" if kind in CONTAINER_MAGIC else None
    return Mutated(magic + data[len(magic):], f"preamble starts with {kind} magic", expect)


def duplicate_sop_uid(data, rng, ctx):
    """A slice takes another slice's SOPInstanceUID (a de-identification bug): must be stated."""
    import pydicom

    others = [v for k, v in sorted(ctx.siblings.items()) if k.endswith(".dcm")]
    if not others:
        return None
    uid = pydicom.dcmread(BytesIO(others[0]), stop_before_pixels=True).SOPInstanceUID
    out = _rewrite(data, lambda ds: setattr(ds, "SOPInstanceUID", uid))
    return None if out is None else Mutated(out, "SOPInstanceUID of another slice", "warn")


DICOM_MUTATIONS: list[Mutation] = ([length_lie, vr_corrupt, pixel_damage, pixel_damage,
                                    transfer_syntax_lie, preamble] + PIXEL_LIES * 2
                                   + GEOMETRY_LIES)
