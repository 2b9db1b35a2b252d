"""NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr) and MetaImage (.mha, .mhd) through SimpleITK.

SimpleITK converts every format's own convention (NIfTI's RAS qform/sform, NRRD's space
directions) to ITK's LPS geometry, so an image and a mask written by any tool line up. Before
any pixel is read the header is checked: the declared size must fit the file (a 2 GB array
declared in a 300-byte file is refused before allocating), spacing must be finite and positive
and the direction orthonormal.
"""

from __future__ import annotations

import logging
import os
import zlib
from pathlib import Path

import numpy as np

from engine.errors import InputError, UnsupportedError
from engine.volume import Volume

log = logging.getLogger(__name__)

READ_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
WRITE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")
_GZIP_MAX_RATIO = 1100  # deflate cannot compress beyond ~1032:1


def suffix_of(path: str | os.PathLike) -> str:
    name = Path(path).name.lower()
    for suffix in sorted(READ_SUFFIXES + WRITE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return Path(path).suffix.lower()


def read_image(path: str | os.PathLike) -> Volume:
    """Read a NIfTI/NRRD/MetaImage file into a :class:`Volume` (orientation in LPS)."""
    import SimpleITK as sitk

    path = Path(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        if "orthonormal" in str(exc):
            raise InputError(f"the {_kind(path)} declares a skewed (non-orthonormal) orientation; "
                             "its geometry cannot be represented") from None
        raise InputError(f"the {_kind(path)} is not readable (damaged or truncated header)") from None
    size = list(reader.GetSize())
    comps = reader.GetNumberOfComponents()
    _check_header(path, reader, size, comps)
    _check_gzip_complete(path)
    try:
        image = reader.Execute()
    except RuntimeError:
        raise InputError(f"the {_kind(path)} is damaged or truncated: its pixel data cannot be read") from None
    warnings: list[str] = []
    image = _to_3d(image, warnings)
    meta = {"source_format": _format_name(path), "source_files": [str(path)]}
    volume = Volume.from_sitk(image, "OT", meta, warnings)
    return volume


def _check_header(path: Path, reader, size: list[int], comps: int) -> None:
    import SimpleITK as sitk

    if comps != 1:
        raise UnsupportedError(f"the {_kind(path)} holds {comps}-component (colour or vector) pixels; "
                               "only scalar images load as volumes")
    spacing = reader.GetSpacing()
    if not all(np.isfinite(spacing)) or any(s <= 0 for s in spacing):
        raise InputError(f"the {_kind(path)} declares an invalid voxel spacing {tuple(spacing)}")
    if not all(np.isfinite(reader.GetOrigin())) or not all(np.isfinite(reader.GetDirection())):
        raise InputError(f"the {_kind(path)} declares an invalid origin or orientation")
    itemsize = sitk.GetPixelIDValueAsString(reader.GetPixelID())
    bytes_per = _bytes_per_pixel(itemsize)
    need = int(np.prod(size, dtype=np.int64)) * bytes_per
    have = _data_bytes_bound(path)
    if need > have:
        raise InputError(f"the {_kind(path)} declares {'×'.join(map(str, size))} voxels "
                         f"({need / 1e6:.0f} MB) but the file cannot hold them")


def _check_gzip_complete(path: Path) -> None:
    """ITK reads a cut .gz as if it were whole (the rest zero-filled): check the stream first.

    Streams through the file in 1 MiB pieces, so memory stays constant.
    """
    if not _is_gzip(path):
        return
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, auto-detected
    with open(path, "rb") as fp:
        while chunk := fp.read(1 << 20):
            try:
                while chunk:
                    inflater.decompress(chunk, 1 << 22)
                    chunk = inflater.unconsumed_tail
            except zlib.error:
                raise InputError(f"the {_kind(path)} is damaged: its compressed data is corrupt") from None
            if inflater.eof:
                return
    raise InputError(f"the {_kind(path)} is damaged or truncated: its compressed data ends early")


def _bytes_per_pixel(name: str) -> int:
    for token, n in (("64", 8), ("32", 4), ("16", 2), ("8", 1), ("double", 8), ("float", 4)):
        if token in name:
            return n
    return 1


def _data_bytes_bound(path: Path) -> int:
    """Most pixel bytes the file (and, for .mhd/.nhdr, its data files) could decompress to."""
    files = [path] + _detached_data(path)
    total = 0
    for f in files:
        try:
            size = f.stat().st_size
        except OSError:
            continue
        compressed = f.name.lower().endswith((".gz", ".raw.gz", ".zraw")) or _is_gzip(f)
        total += size * _GZIP_MAX_RATIO if compressed or _maybe_compressed(path) else size
    return total


def _detached_data(path: Path) -> list[Path]:
    if suffix_of(path) not in (".mhd", ".nhdr"):
        return []
    try:
        text = path.read_text(errors="replace")[:65536]
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        key, _, value = line.partition("=") if "=" in line else line.partition(":")
        if key.strip().lower() in ("elementdatafile", "data file", "datafile"):
            name = value.strip()
            if name and name.upper() != "LOCAL":
                out.append(path.parent / name)
    return out


def _is_gzip(path: Path) -> bool:
    try:
        with open(path, "rb") as fp:
            return fp.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def _maybe_compressed(path: Path) -> bool:
    """MetaImage/NRRD may compress data inside the file (zlib/gzip encodings)."""
    if suffix_of(path) not in (".mha", ".nrrd"):
        return False
    with open(path, "rb") as fp:
        head = fp.read(4096).lower()
    return b"compresseddata = true" in head or b"encoding: gz" in head or b"encoding: gzip" in head \
        or b"encoding: bz" in head


def _to_3d(image, warnings: list[str]):
    import SimpleITK as sitk

    dim = image.GetDimension()
    if dim == 3:
        return image
    if dim == 2:
        return sitk.JoinSeries(image)
    if dim == 4:
        n = image.GetSize()[3]
        warnings.append(f"4-D image with {n} volumes; the first is shown")
        size = list(image.GetSize())
        size[3] = 0
        return sitk.Extract(image, size, [0, 0, 0, 0])
    raise UnsupportedError(f"{dim}-D images are not supported")


def _kind(path: Path) -> str:
    """How errors name a file: by format, never by name (names can identify a patient)."""
    return {"nifti": "NIfTI file", "nrrd": "NRRD file", "metaimage": "MetaImage file"}.get(
        _format_name(path), "image file")


def _format_name(path: Path) -> str:
    return {".nii": "nifti", ".nii.gz": "nifti", ".nrrd": "nrrd", ".nhdr": "nrrd",
            ".mha": "metaimage", ".mhd": "metaimage"}.get(suffix_of(path), "image")


def write_image(volume: Volume, path: str | os.PathLike) -> Path:
    """Write ``volume`` with its geometry to .nii.gz / .nii / .nrrd / .mha."""
    import SimpleITK as sitk

    path = Path(path)
    if suffix_of(path) not in WRITE_SUFFIXES:
        raise InputError(f"cannot write a {suffix_of(path) or 'suffix-less'} file: use one of {', '.join(WRITE_SUFFIXES)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(volume.to_sitk(), str(path), useCompression=suffix_of(path) != ".nii")
    return path


def write_vector_image(stack: np.ndarray, geometry, path: str | os.PathLike) -> Path:
    """Write ``(C, z, y, x)`` maps on ``geometry`` as one vector image (C float32 components per
    voxel: probabilities, uncertainty maps) to .nii.gz / .nii / .nrrd / .mha."""
    import SimpleITK as sitk

    path = Path(path)
    if suffix_of(path) not in WRITE_SUFFIXES:
        raise InputError(f"cannot write a {suffix_of(path) or 'suffix-less'} file: use one of {', '.join(WRITE_SUFFIXES)}")
    image = sitk.GetImageFromArray(np.moveaxis(stack.astype(np.float32, copy=False), 0, -1), isVector=True)
    image.SetSpacing(geometry.spacing)
    image.SetOrigin(geometry.origin)
    image.SetDirection(geometry.direction)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), useCompression=suffix_of(path) != ".nii")
    return path


__all__ = ["READ_SUFFIXES", "WRITE_SUFFIXES", "read_image", "suffix_of", "write_image",
           "write_vector_image"]
