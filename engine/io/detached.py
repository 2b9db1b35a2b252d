"""Detached headers are confined to their own folder: a header never makes Candor read a file elsewhere.

A MetaImage (``.mhd``, and ``.mha`` too) names its voxel file in ``ElementDataFile``; a NRRD
(``.nhdr``, and ``.nrrd`` too) in ``data file:``; an Analyze/NIfTI pair (``.hdr`` + ``.img``) by
its sibling's name. Left alone, ITK opens whatever is named, so ``ElementDataFile = /etc/passwd``
would load that file's bytes as voxels. Like DICOMDIR entries (``engine/io/dicomdir.py``), every
named file must lie inside the header's folder: absolute paths, ``..`` components and symbolic
links leading outside are refused with an :class:`InputError` before SimpleITK opens anything.
Every form is covered: a single file (and the ``.gz``/``.Z`` names MetaIO also tries), ``LIST``
(one name per following line) and printf-style patterns (``slice%03d.raw 1 40 1``). Patterns are
expanded exactly as the readers do; ones the readers would crash on (a conversion other than one
``%d``, a zero step) are refused. Messages name the format, never a file or the header's text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import InputError

HEADER_LIMIT = 16 << 20  # a detached header (with its LIST) larger than this is not a header
MAX_DATA_FILES = 65536
_PATTERN = re.compile(r"%[-+ 0]*\d{0,2}[di]")
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass
class HeaderRefs:
    """What a header makes the reader open: ``files`` (checked), and where its own text ends."""

    files: list[Path] = field(default_factory=list)
    header_end: int = 0  # byte offset just past the header (MetaImage LOCAL/NRRD attached data)
    fields: dict[str, str] = field(default_factory=dict)  # header fields, first occurrence, lower-case keys
    values: dict[str, list[str]] = field(default_factory=dict)  # every occurrence, lower-case keys


def header_kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith((".mha", ".mhd")):
        return "metaimage"
    if name.endswith((".nrrd", ".nhdr")):
        return "nrrd"
    if name.endswith((".hdr", ".img", ".hdr.gz", ".img.gz")):
        return "analyze"
    return None


def data_files(path: str | os.PathLike) -> HeaderRefs:
    """The files the header at ``path`` names, each confined to its folder (else ``InputError``)."""
    path = Path(path)
    kind = header_kind(path)
    if kind == "metaimage":
        refs, names = _metaimage(path)
        label, extra = "MetaImage header", (".gz", ".Z")
    elif kind == "nrrd":
        refs, names = _nrrd(path)
        label, extra = "NRRD header", ()
    elif kind == "analyze":
        return HeaderRefs(files=_analyze_pair(path))
    else:
        return HeaderRefs()
    folder = path.parent
    for name in names:
        refs.files.append(confined(folder, name, label))
        for suffix in extra:  # MetaIO falls back to name.gz / name.Z when name is absent
            alt = folder / (name + suffix)
            if os.path.lexists(alt):
                confined(folder, name + suffix, label)
    return refs


def confined(folder: Path, name: str, label: str = "header") -> Path:
    """``folder / name`` resolved, if it stays inside ``folder``; an ``InputError`` otherwise."""
    bare = name.strip()
    if not bare:
        raise InputError(f"the {label} names an empty data file")
    if any(ord(c) < 32 and c != "\t" for c in name):  # NUL or control bytes: no file name
        raise InputError(f"the {label} names its data file with control characters; the header "
                         "is damaged, so the image was not read")
    if bare.startswith(("/", "\\", "~")) or _DRIVE.match(bare) or os.path.isabs(name):
        raise InputError(f"the {label} names a data file by an absolute path; a header may only "
                         "use data files in its own folder, so the image was not read")
    if any(part.strip() == ".." for part in re.split(r"[\\/]", name)):
        raise InputError(f"the {label} names a data file outside its own folder ('..'); a header "
                         "may only use data files in its own folder, so the image was not read")
    root = folder.resolve()
    try:
        resolved = (folder / name).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise InputError(f"the {label} names a data file through a broken link") from None
    if resolved != root and root not in resolved.parents:
        raise InputError(f"the {label} names a data file that links outside its own folder; a "
                         "header may only use data files in its own folder, so the image was not read")
    return resolved


def _lines(path: Path) -> Iterator[tuple[str, int]]:
    """Header lines (without line ends) and the byte offset just past each; binary-safe."""
    with open(path, "rb") as fp:
        offset = 0
        while True:
            raw = fp.readline(1 << 16)
            if not raw:
                return
            offset += len(raw)
            if offset > HEADER_LIMIT:
                raise InputError("the image header is too large to be a header")
            yield raw.decode("latin-1").rstrip("\r\n"), offset


def _metaimage(path: Path) -> tuple[HeaderRefs, list[str]]:
    """MetaIO: ``Key = value`` (or ``Key: value``) lines; ``ElementDataFile`` ends the header."""
    refs, names = HeaderRefs(), []
    lines = _lines(path)
    for line, end in lines:
        key, value = _split_meta(line)
        if key is None:
            continue
        refs.fields.setdefault(key.lower(), value)
        refs.values.setdefault(key.lower(), []).append(value)
        if key.lower() != "elementdatafile":
            continue
        names += _metaimage_value(value, lines, refs.fields)
        if key == "ElementDataFile":  # MetaIO's exact, case-sensitive terminator
            refs.header_end = end
            break
    return refs, names


def _split_meta(line: str) -> tuple[str | None, str]:
    cut = [i for i in (line.find("="), line.find(":")) if i >= 0]
    if not cut:
        return None, ""
    i = min(cut)
    return line[:i].strip(), line[i + 1:].strip()


def _metaimage_value(value: str, lines: Iterator[tuple[str, int]], fields: dict[str, str]) -> list[str]:
    if value in ("LOCAL", "Local", "local"):
        return []
    if value.startswith("LIST"):
        return _list_names(lines)
    if "%" in value:
        return _metaimage_pattern(value, fields)
    return [value]


def _list_names(lines: Iterator[tuple[str, int]]) -> list[str]:
    names = [line.rstrip() for line, _ in lines if line.strip()]
    if len(names) > MAX_DATA_FILES:
        raise InputError(f"the image header lists more than {MAX_DATA_FILES} data files")
    return names


def _metaimage_pattern(value: str, fields: dict[str, str]) -> list[str]:
    """``name%03d.raw [min [max [step]]]``, numbered as MetaIO numbers them."""
    words = value.split()
    try:
        nz = int(float(fields.get("dimsize", "").split()[-1]))
    except (IndexError, ValueError):
        raise InputError("the MetaImage header names numbered data files but no image size") from None
    try:
        lo, hi, step = 1, nz, 1
        if len(words) >= 5:
            lo, hi, step = (int(w) for w in words[-3:])
            words = [" ".join(words[:-3])] + words[-3:]
        else:
            if len(words) >= 2:
                lo = int(float(words[1]))
                hi = lo + nz - 1
            if len(words) >= 3:
                hi = int(float(words[2]))
                step = int((hi - lo) / nz) if nz else 0
            if len(words) >= 4:
                step = int(float(words[3]))
    except ValueError:
        raise InputError("the MetaImage header's numbered data files are malformed") from None
    if step <= 0:
        raise InputError("the MetaImage header numbers its data files with a zero or negative step")
    if 1 + (hi - lo) // step > nz:
        hi = (nz - 1) * step + lo
    return _expand(words[0], range(lo, hi + 1, step), "MetaImage header")


def _expand(template: str, numbers: range, label: str) -> list[str]:
    """Every name a one-``%d`` template gives; other conversions (``%s``, ``%n``…) crash C readers."""
    bare = template.replace("%%", "")
    if bare.count("%") != 1 or not _PATTERN.search(bare):
        raise InputError(f"the {label} numbers its data files with an unsupported pattern")
    if len(numbers) > MAX_DATA_FILES:
        raise InputError(f"the {label} numbers more than {MAX_DATA_FILES} data files")
    return [template % n for n in numbers]


def _nrrd(path: Path) -> tuple[HeaderRefs, list[str]]:
    """NRRD: magic line, ``field: value`` lines, ``key:=value`` pairs, ``#`` comments; a blank
    line ends the header (``data file: LIST`` instead takes every following line as a name)."""
    refs, names = HeaderRefs(), []
    lines = _lines(path)
    first = next(lines, ("", 0))[0]
    if not first.startswith("NRRD"):
        raise InputError("the NRRD file has no NRRD header")
    for line, end in lines:
        refs.header_end = end
        if not line.strip():
            break
        if line.startswith("#"):
            continue
        kv, sep = line.find(":="), line.find(": ")
        if sep < 0 and line.rstrip().endswith(":"):
            sep = len(line.rstrip()) - 1
        if sep < 0 or 0 <= kv < sep:
            continue
        key, value = line[:sep].strip().lower(), line[sep + 1:].strip()
        refs.fields.setdefault(key, value)
        refs.values.setdefault(key, []).append(value)
        if key.replace(" ", "") not in ("datafile", "datafiles"):
            continue
        if value.startswith("LIST"):
            names += _list_names(lines)
            break
        names += _nrrd_pattern(value) if "%" in value else [value]
    return refs, names


def _nrrd_pattern(value: str) -> list[str]:
    """``<format> <min> <max> <step> [<subdim>]``, as teem expands it (negative steps count down)."""
    words = value.split()
    try:
        lo, hi, step = (int(w) for w in words[1:4])
    except ValueError:
        raise InputError("the NRRD header's numbered data files are malformed") from None
    if len(words) not in (4, 5):
        raise InputError("the NRRD header's numbered data files are malformed")
    if step == 0 or (step > 0 and hi < lo) or (step < 0 and hi > lo):
        raise InputError("the NRRD header numbers its data files with an impossible step")
    return _expand(words[0], range(lo, hi + (1 if step > 0 else -1), step), "NRRD header")


def _analyze_pair(path: Path) -> list[Path]:
    """The other half of a ``.hdr``/``.img`` pair (nifticlib also tries ``.gz`` and upper case)."""
    name = path.name
    low = name.lower()
    stem = name[: -len(".hdr.gz")] if low.endswith((".hdr.gz", ".img.gz")) else name[:-4]
    out = []
    for ext in (".hdr", ".img", ".HDR", ".IMG"):
        for gz in ("", ".gz"):
            other = stem + ext + gz
            if other != name and os.path.lexists(path.parent / other):
                out.append(confined(path.parent, other, "Analyze/NIfTI pair"))
    return out




def existing_data_files(files: list[Path]) -> list[Path]:
    """Each data file as the readers open it (MetaIO, NRRD): the name, else ``name.gz``/``.Z``."""
    out = []
    for f in files:
        for candidate in (f, f.with_name(f.name + ".gz"), f.with_name(f.name + ".Z")):
            if candidate.is_file():
                out.append(candidate)
                break
    return out


__all__ = ["HeaderRefs", "confined", "data_files", "existing_data_files", "header_kind"]
