"""MetaImage and NRRD header fields checked by Candor before SimpleITK opens the file.

ITK's readers trust their headers: MetaIO reads ``NDims = 1e308`` as a double and converts it to
an int (a segfault), ``NDims = 46000 46000 46000`` with ``DimSize = True`` ends in an ITK abort,
and a ``DimSize`` of 46000³ in a 300-byte file is allocated before the short read is noticed. No
``except`` catches a crash, so the header text is validated here first, from the fields
:func:`engine.io.detached.data_files` parsed (every occurrence of a field, so a repeated line
cannot hide a bad value):

MetaImage (``.mha``/``.mhd``)
    ``NDims`` an integer, 2 to 4 (:data:`MAX_DIMS`; 1-D and 5-D images are not volumes Candor
    shows); ``DimSize`` exactly ``NDims`` positive integers; ``ElementSpacing``/``ElementSize``,
    ``Offset``/``Position``/``Origin`` and ``CenterOfRotation`` ``NDims`` finite numbers;
    ``TransformMatrix``/``Rotation``/``Orientation`` ``NDims``² finite numbers;
    ``ElementType`` a known ``MET_`` type; ``ElementNumberOfChannels``, ``HeaderSize`` and
    ``CompressedDataSize`` integers in range.
NRRD (``.nrrd``/``.nhdr``)
    ``dimension`` an integer, 1 to :data:`MAX_NRRD_DIMS` (a vector axis counts);  ``sizes``
    exactly ``dimension`` positive integers; ``type`` a known NRRD type; ``spacings`` and
    ``thicknesses`` ``dimension`` numbers (``nan`` allowed, as NRRD does for non-spatial axes);
    ``space dimension`` 1 to 8; ``space directions`` one ``(x,y,z)`` vector or ``none`` per
    axis with finite components; ``space origin`` one finite vector; ``byte skip``/``line skip``
    integers.

Then the declared voxel bytes must fit :func:`engine.io.guard.check_allocation` and, for
uncompressed (raw) data, the bytes the file (or its data files) actually hold. Messages name the
format and the field, never the file or the header's text (a header may hold a patient's name).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError, UnsupportedError
from engine.io.detached import HeaderRefs, existing_data_files, header_kind
from engine.io.guard import check_allocation

MAX_DIMS = 4  # MetaImage: 2-D, 3-D and 4-D (the first volume shown) load; SimpleITK reads ≤ 5
MAX_NRRD_DIMS = 5  # NRRD: up to four domain axes and one vector (component) axis
MAX_CHANNELS = 4096
_GZIP_MAX_RATIO = 1100  # deflate cannot compress beyond ~1032:1; bzip2 is bounded separately
_BZIP2_MAX_RATIO = 50_000

_INT = re.compile(r"[+]?\d{1,18}")
_SIGNED_INT = re.compile(r"[+-]?\d{1,18}")

#: MetaIO element types (``_ARRAY`` forms hold vectors) and their sizes in bytes
MET_TYPES = {"MET_CHAR": 1, "MET_ASCII_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2,
             "MET_INT": 4, "MET_UINT": 4, "MET_LONG": 4, "MET_ULONG": 4, "MET_LONG_LONG": 8,
             "MET_ULONG_LONG": 8, "MET_FLOAT": 4, "MET_DOUBLE": 8}
MET_TYPES.update({f"{k}_ARRAY": v for k, v in list(MET_TYPES.items())})

#: NRRD type names (teem's, case-insensitive) and their sizes in bytes
NRRD_TYPES = {
    **dict.fromkeys(("signed char", "int8", "int8_t", "uchar", "unsigned char", "uint8",
                     "uint8_t"), 1),
    **dict.fromkeys(("short", "short int", "signed short", "signed short int", "int16", "int16_t",
                     "ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"), 2),
    **dict.fromkeys(("int", "signed int", "int32", "int32_t", "uint", "unsigned int", "uint32",
                     "uint32_t", "float"), 4),
    **dict.fromkeys(("longlong", "long long", "long long int", "signed long long",
                     "signed long long int", "int64", "int64_t", "ulonglong", "unsigned long long",
                     "unsigned long long int", "uint64", "uint64_t", "double"), 8),
}
_NRRD_SPACES = {"right-anterior-superior", "ras", "left-anterior-superior", "las",
                "left-posterior-superior", "lps", "scanner-xyz", "3d-right-handed",
                "3d-left-handed", "right-anterior-superior-time", "rast",
                "left-anterior-superior-time", "last", "left-posterior-superior-time", "lpst",
                "scanner-xyz-time", "3d-right-handed-time", "3d-left-handed-time"}
_NRRD_ENCODINGS = {"raw": "raw", "txt": "text", "text": "text", "ascii": "text", "hex": "hex",
                   "gz": "gzip", "gzip": "gzip", "bz2": "bzip2", "bzip2": "bzip2"}


@dataclass(frozen=True)
class Declared:
    """What a header declares: the size of each axis and the bytes of one voxel (all channels)."""

    sizes: tuple[int, ...]
    voxel_bytes: int
    encoding: str = "raw"  # raw, gzip, bzip2, text or hex

    @property
    def nbytes(self) -> int:
        return math.prod(self.sizes) * self.voxel_bytes


def check_header(path: str | os.PathLike, refs: HeaderRefs) -> Declared | None:
    """Validate a MetaImage/NRRD header (``refs`` from ``data_files(path)``) before ITK reads it.

    Raises :class:`InputError` (or :class:`UnsupportedError`) naming the field at fault; returns
    what the header declares, or ``None`` for other formats.
    """
    path = Path(path)
    kind = header_kind(path)
    if kind == "metaimage":
        declared = _metaimage(refs)
        label = "MetaImage file"
    elif kind == "nrrd":
        declared = _nrrd(refs)
        label = "NRRD file"
    else:
        return None
    have = _available(path, refs, declared)
    if have is not None and declared.nbytes > have:
        raise InputError(f"the {label} declares {'×'.join(map(str, declared.sizes))} voxels "
                         f"({declared.nbytes / 1e6:.0f} MB) but the file cannot hold them "
                         f"({max(have, 0):,} bytes of pixel data)")
    check_allocation(declared.nbytes, f"the {label}")
    return declared


# MetaImage ----------------------------------------------------------------------------------

def _metaimage(refs: HeaderRefs) -> Declared:
    values = refs.values
    label = "MetaImage header"
    ndims = _one_int(values, "ndims", label, "NDims", required=True)
    if ndims < 1 or ndims > 16:
        raise InputError(f"the {label} declares an invalid number of dimensions (NDims)")
    if not 2 <= ndims <= MAX_DIMS:
        raise UnsupportedError(f"{ndims}-D images are not supported (the MetaImage file "
                               f"declares NDims {ndims}; Candor reads 2-D to {MAX_DIMS}-D)")
    sizes = _int_lists(values, "dimsize", label, "DimSize", ndims, required=True)
    if any(s < 1 for s in sizes):
        raise InputError(f"the {label} declares an empty axis (a DimSize of 0)")
    for keys, name, count in ((("elementspacing",), "ElementSpacing", ndims),
                              (("elementsize",), "ElementSize", ndims),
                              (("offset", "position", "origin"), "Offset", ndims),
                              (("centerofrotation",), "CenterOfRotation", ndims),
                              (("transformmatrix", "rotation", "orientation"), "TransformMatrix",
                               ndims * ndims)):
        for key in keys:
            _float_lists(values, key, label, name, count)
    types = values.get("elementtype", [])
    if not types:
        raise InputError(f"the {label} declares no ElementType")
    if any(t.strip() not in MET_TYPES for t in types):
        raise InputError(f"the {label} declares an unknown ElementType")
    element = MET_TYPES[types[0].strip()]
    channels = _one_int(values, "elementnumberofchannels", label, "ElementNumberOfChannels")
    channels = 1 if channels is None else channels
    if not 1 <= channels <= MAX_CHANNELS:
        raise InputError(f"the {label} declares an invalid ElementNumberOfChannels")
    header_size = _one_int(values, "headersize", label, "HeaderSize", signed=True)
    if header_size is not None and header_size < -1:
        raise InputError(f"the {label} declares an invalid HeaderSize")
    if _one_int(values, "compresseddatasize", label, "CompressedDataSize") is None and \
            "compresseddatasize" in values:
        raise InputError(f"the {label} declares an invalid CompressedDataSize")
    compressed = refs.fields.get("compresseddata", "").strip().lower() in ("true", "1")
    return Declared(tuple(sizes), element * channels, "gzip" if compressed else "raw")


# NRRD ---------------------------------------------------------------------------------------

def _nrrd(refs: HeaderRefs) -> Declared:
    values = refs.values
    label = "NRRD header"
    ndims = _one_int(values, "dimension", label, "dimension", required=True)
    if ndims < 1 or ndims > 16:
        raise InputError(f"the {label} declares an invalid dimension")
    if ndims > MAX_NRRD_DIMS:
        raise UnsupportedError(f"{ndims}-D images are not supported (the NRRD file declares "
                               f"dimension {ndims})")
    sizes = _int_lists(values, "sizes", label, "sizes", ndims, required=True)
    if any(s < 1 for s in sizes):
        raise InputError(f"the {label} declares an empty axis (a size of 0)")
    types = values.get("type", [])
    if not types:
        raise InputError(f"the {label} declares no type")
    if any(" ".join(t.lower().split()) not in NRRD_TYPES for t in types):
        raise InputError(f"the {label} declares an unknown or unsupported voxel type")
    element = NRRD_TYPES[" ".join(types[0].lower().split())]
    for key in ("spacings", "thicknesses", "axis mins", "axis maxs"):
        _float_lists(values, key, label, key, ndims, allow_nan=True)
    space_dim = _one_int(values, "space dimension", label, "space dimension")
    if space_dim is not None and not 1 <= space_dim <= 8:
        raise InputError(f"the {label} declares an invalid space dimension")
    if space_dim is None and values.get("space"):
        name = values["space"][0].strip().lower()
        space_dim = (None if name not in _NRRD_SPACES else
                     4 if name.endswith("-time") or name in ("rast", "last", "lpst") else 3)
    for text in values.get("space directions", []):
        vectors = _vectors(text, label, "space directions", allow_none=True)
        if len(vectors) != ndims:
            raise InputError(f"the {label}'s space directions do not give one vector per axis")
        given = [v for v in vectors if v is not None]
        _same_length(given, space_dim, label, "space directions")
        space_dim = len(given[0]) if given and space_dim is None else space_dim
    for text in values.get("space origin", []):
        vectors = _vectors(text, label, "space origin")
        if len(vectors) != 1:
            raise InputError(f"the {label}'s space origin is not one vector")
        _same_length(vectors, space_dim, label, "space origin")
    for key in ("byte skip", "line skip"):
        skip = _one_int(values, key, label, key, signed=True)
        if skip is not None and skip < (-1 if key == "byte skip" else 0):
            raise InputError(f"the {label} declares an invalid {key}")
    encodings = values.get("encoding", [])
    if not encodings:
        raise InputError(f"the {label} declares no encoding")
    encoding = _NRRD_ENCODINGS.get(encodings[0].strip().lower())
    if encoding is None or any(e.strip().lower() not in _NRRD_ENCODINGS for e in encodings):
        raise InputError(f"the {label} declares an unknown or unsupported encoding")
    return Declared(tuple(sizes), element, encoding)


def _vectors(text: str, label: str, name: str, allow_none: bool = False) -> list:
    """``(x,y,z) (x,y,z) none`` → ``[[x, y, z], [x, y, z], None]`` (finite components)."""
    out: list = []
    rest = text.strip()
    while rest:
        if allow_none and rest[:4].lower() == "none":
            out.append(None)
            rest = rest[4:].lstrip()
            continue
        m = re.match(r"\(([^()]*)\)\s*", rest)
        if not m:
            raise InputError(f"the {label}'s {name} are malformed")
        parts = m.group(1).split(",")
        numbers = [_number(p) for p in parts]
        if len(parts) > 16 or any(v is None or not math.isfinite(v) for v in numbers):
            raise InputError(f"the {label}'s {name} hold invalid numbers")
        out.append(numbers)
        rest = rest[m.end():]
        if len(out) > 64:
            raise InputError(f"the {label}'s {name} are malformed")
    return out


def _same_length(vectors: list, space_dim: int | None, label: str, name: str) -> None:
    lengths = {len(v) for v in vectors}
    if len(lengths) > 1 or (space_dim is not None and lengths and lengths != {space_dim}):
        raise InputError(f"the {label}'s {name} do not match its space dimension")


# Shared parsing -----------------------------------------------------------------------------

def _number(text: str) -> float | None:
    word = text.strip()
    if not word or len(word) > 64:
        return None
    try:
        return float(word)
    except ValueError:
        return None


def _one_int(values: dict[str, list[str]], key: str, label: str, name: str, *,
             required: bool = False, signed: bool = False) -> int | None:
    texts = values.get(key, [])
    if not texts:
        if required:
            raise InputError(f"the {label} declares no {name}")
        return None
    pattern = _SIGNED_INT if signed else _INT
    if any(not pattern.fullmatch(t.strip()) for t in texts):
        raise InputError(f"the {label}'s {name} is not a whole number")
    if len({int(t) for t in texts}) > 1:
        raise InputError(f"the {label} declares {name} twice, differently")
    return int(texts[0])


def _int_lists(values: dict[str, list[str]], key: str, label: str, name: str, count: int, *,
               required: bool = False) -> list[int]:
    texts = values.get(key, [])
    if not texts:
        if required:
            raise InputError(f"the {label} declares no {name}")
        return []
    lists = []
    for text in texts:
        words = text.split()
        if len(words) != count:
            raise InputError(f"the {label}'s {name} gives {len(words)} values for {count} axes")
        if not all(_INT.fullmatch(w) for w in words):
            raise InputError(f"the {label}'s {name} holds values that are not whole numbers")
        lists.append([int(w) for w in words])
    if any(v != lists[0] for v in lists):
        raise InputError(f"the {label} declares {name} twice, differently")
    return lists[0]


def _float_lists(values: dict[str, list[str]], key: str, label: str, name: str, count: int, *,
                 allow_nan: bool = False) -> None:
    for text in values.get(key, []):
        words = text.split()
        if len(words) != count:
            raise InputError(f"the {label}'s {name} gives {len(words)} values where {count} "
                             "are needed")
        numbers = [_number(w) for w in words]
        if any(v is None or math.isinf(v) or (math.isnan(v) and not allow_nan) for v in numbers):
            raise InputError(f"the {label}'s {name} holds values that are not finite numbers")


# What the file holds ------------------------------------------------------------------------

def _available(path: Path, refs: HeaderRefs, declared: Declared) -> int | None:
    """The most pixel bytes the file (or its data files) can yield; ``None``: not bounded here."""
    files = existing_data_files(refs.files)
    if refs.files and not files:
        return None  # a missing data file: ITK's read fails, with its own message
    if declared.encoding == "text":
        return None  # at least one character a value: bounded below, not a size
    sizes = [f.stat().st_size for f in files] if refs.files else [_attached(path, refs)]
    if declared.encoding == "hex":
        return sum(sizes) // 2
    if declared.encoding == "gzip" or any(f.name.lower().endswith((".gz", ".z", ".zraw"))
                                          for f in files):
        return sum(sizes) * _GZIP_MAX_RATIO
    if declared.encoding == "bzip2":
        return sum(sizes) * _BZIP2_MAX_RATIO
    skip = _skip(refs)
    return sum(sizes) - (skip if len(sizes) == 1 else 0)


def _attached(path: Path, refs: HeaderRefs) -> int:
    return max(path.stat().st_size - refs.header_end, 0)


def _skip(refs: HeaderRefs) -> int:
    """Bytes a detached data file skips before its pixels (``HeaderSize``/``byte skip``)."""
    if not refs.files:
        return 0
    text = refs.fields.get("headersize") or refs.fields.get("byte skip") or "0"
    value = int(text) if _SIGNED_INT.fullmatch(text.strip()) else 0
    return max(value, 0)


__all__ = ["MAX_DIMS", "MAX_NRRD_DIMS", "MET_TYPES", "NRRD_TYPES", "Declared", "check_header"]
