"""Mutations of NIfTI, NRRD and MetaImage files (see :mod:`tests.fuzz.mutations` for the contract),
and the choice of mutations for a case."""

from __future__ import annotations

import gzip
import random
import re
import struct

from tests.fuzz.mutations import (
    DICOM_MUTATIONS,
    ESCAPES,
    Context,
    Mutated,
    Mutation,
    bit_flip,
    byte_set,
    delete,
    duplicate_chunk,
    duplicate_sop_uid,
    insert,
    truncate,
)

# NIfTI-1 header fields: (offset, struct format, candidate values)
NIFTI_FIELDS = {
    "dim": (40, "<8h", None),
    "datatype": (70, "<h", [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 2304, 999, -1]),
    "bitpix": (72, "<h", [0, 1, 8, 16, 17, 64, -8]),
    "pixdim": (76, "<8f", None),
    "vox_offset": (108, "<f", [0.0, 1.0, 348.0, 352.0, 351.0, 1e9, -352.0, float("nan")]),
    "scl_slope": (112, "<f", [0.0, -1.0, float("nan"), float("inf"), 1e38]),
    "scl_inter": (116, "<f", [float("nan"), float("-inf"), 1e38]),
    "qform_code": (252, "<h", [0, 1, 2, 5, -1, 32767]),
    "sform_code": (254, "<h", [0, 1, 2, 5, -1, 32767]),
    "quatern": (256, "<6f", None),
    "srow": (280, "<12f", None),
    "magic": (344, "4s", [b"ni1\x00", b"n+2\x00", b"\x00\x00\x00\x00", b"n+1\x01"]),
}
ODD_FLOATS = [0.0, -1.0, 1e-30, 1e30, float("nan"), float("inf"), 0.5, 2.0]


def _gz(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


def _nifti_edit(data: bytes, edit) -> Mutated | None:
    packed = _gz(data)
    try:
        raw = bytearray(gzip.decompress(data) if packed else data)
    except Exception:
        return None
    if len(raw) < 348:
        return None
    detail, expect = edit(raw)
    out = bytes(raw)
    return Mutated(gzip.compress(out, mtime=0) if packed else out, detail, expect)


def nifti_field_lie(data, rng, ctx):
    name = rng.choice(list(NIFTI_FIELDS))
    offset, fmt, values = NIFTI_FIELDS[name]

    def edit(raw):
        current = list(struct.unpack_from(fmt, raw, offset))
        if values is not None:
            new = [rng.choice(values)]
        else:
            new = current[:]
            k = rng.randrange(len(new))
            choices = ([-1, 0, 1, 8, 30000, 32767] if "h" in fmt else ODD_FLOATS)
            new[k] = rng.choice(choices)
        struct.pack_into(fmt, raw, offset, *new)
        return f"NIfTI {name} {current} -> {new}", None
    return _nifti_edit(data, edit)


def nifti_zero_spacing(data, rng, ctx):
    """pixdim 0 or NaN with qform/sform off (spacing from pixdim alone): must be stated."""
    k = rng.randrange(1, 4)
    value = rng.choice([0.0, float("nan")])

    def edit(raw):
        struct.pack_into("<hh", raw, 252, 0, 0)
        struct.pack_into("<f", raw, 76 + 4 * k, value)
        return f"NIfTI pixdim[{k}] = {value}, qform/sform codes 0", "warn"
    return _nifti_edit(data, edit)


def nifti_short_gzip(data, rng, ctx):
    """A complete, valid gzip stream holding fewer voxel bytes than the header declares."""
    if not _gz(data):
        return None
    raw = gzip.decompress(data)
    keep = 352 + (len(raw) - 352) * rng.choice([0, 5, 50, 95]) // 100
    return Mutated(gzip.compress(raw[:keep], mtime=0),
                   f"gzip stream complete but holds {keep} of {len(raw)} bytes", "warn")


def _header_split(data: bytes) -> tuple[bytes, bytes]:
    """(text header, rest): NRRD's header ends at a blank line, MetaImage's at ElementDataFile."""
    m = re.search(rb"\n\n|ElementDataFile[^\n]*\n", data)
    if not m:
        return data, b""
    return data[:m.end()], data[m.end():]


HEADER_VALUES = [b"0", b"-1", b"1", b"46000 46000 46000", b"8 8", b"8 8 4 2", b"nan", b"1e308",
                 b"", b"(nan,0,0) (0,1,0) (0,0,1)", b"(0,0,0) (0,0,0) (0,0,0)", b"gzip",
                 b"bzip2", b"hex", b"ascii", b"MET_DOUBLE", b"MET_UCHAR_ARRAY", b"int64",
                 b"block", b"big", b"True", b"False", b"\xff\xfe"]


def header_field_lie(data, rng, ctx):
    head, rest = _header_split(data)
    lines = head.split(b"\n")
    fields = [i for i, line in enumerate(lines) if re.match(rb"[A-Za-z ]+(:|=)", line)
              and not re.match(rb"\s*(data file|ElementDataFile)", line)]
    if not fields:
        return None
    i = rng.choice(fields)
    key, sep, _ = re.split(rb"(:=|:|=)", lines[i], maxsplit=1)
    action = rng.random()
    if action < 0.15:
        lines.pop(i)
        detail = f"header line {key.strip()!r} removed"
    elif action < 0.25:
        lines.insert(i, lines[i])
        detail = f"header line {key.strip()!r} repeated"
    else:
        value = rng.choice(HEADER_VALUES)
        lines[i] = key + sep + b" " + value
        detail = f"header {key.strip()!r} = {value!r}"
    return Mutated(b"\n".join(lines) + rest, detail)


def data_file_escape(data, rng, ctx):
    """A header naming a data file outside its folder: must be refused."""
    target = rng.choice(ESCAPES)
    out, n = re.subn(rb"(data file: |ElementDataFile = )[^\n]*", lambda m: m.group(1)
                     + target.encode(), data, count=1)
    if not n:
        return None
    return Mutated(out, f"data file -> {target}", "refuse")


BYTE_MUTATIONS: list[Mutation] = [bit_flip, bit_flip, byte_set, truncate, insert, delete,
                                  duplicate_chunk]
NIFTI_MUTATIONS: list[Mutation] = [nifti_field_lie] * 4 + [nifti_zero_spacing, nifti_short_gzip]
TEXT_MUTATIONS: list[Mutation] = [header_field_lie] * 4 + [data_file_escape]


def choose(ctx: Context, rng: random.Random) -> Mutation:
    """A mutation for this file: structure-aware ones about two times in three."""
    if rng.random() < 0.35:
        return rng.choice(BYTE_MUTATIONS)
    if ctx.kind == "dicom":
        extra = [duplicate_sop_uid] if ctx.siblings else []
        return rng.choice(DICOM_MUTATIONS + extra)
    if ctx.name.endswith((".nii", ".nii.gz")):
        return rng.choice(NIFTI_MUTATIONS)
    return rng.choice(TEXT_MUTATIONS)


def mutate(data: bytes, rng: random.Random, ctx: Context) -> list[Mutated]:
    """One to three mutations in a row (the last ones see the first ones' output)."""
    steps = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        mutation = choose(ctx, rng)
        try:
            result = mutation(data, rng, ctx)
        except Exception:  # a mutation that cannot parse what an earlier one left: flip bits
            result = None
        result = result or bit_flip(data, rng, ctx) or Mutated(b"\0", "replaced by one byte")
        steps.append(result)
        data = result.data
    return steps
