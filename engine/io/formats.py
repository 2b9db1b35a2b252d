"""NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr) and MetaImage (.mha, .mhd) through SimpleITK.

SimpleITK converts every format's own convention (NIfTI's RAS qform/sform, NRRD's space
directions) to ITK's LPS geometry, so an image and a mask written by any tool line up. Before
any pixel is read the header is checked: the declared size must fit the file (a 2 GB array
declared in a 300-byte file is refused before allocating), spacing must be finite and positive
and the direction orthonormal, and the array must fit ``CANDOR_MAX_VOLUME_BYTES``
(:func:`engine.io.guard.check_allocation`). Header fields that would crash ITK outright (an
``NDims`` of 1e308, a ``DimSize`` that is not numbers, a NaN ``vox_offset``) are refused before
SimpleITK opens the file (:mod:`engine.io.header_checks`, :mod:`engine.io.image_checks_nifti`).
SimpleITK's reads run inside
:class:`engine.io.guard.boundary`, so whatever ITK raises becomes an ``InputError``.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np

from engine.errors import InputError, UnsupportedError
from engine.io.detached import HeaderRefs, data_files, existing_data_files
from engine.io.guard import boundary, check_allocation
from engine.io.image_checks import inflated_size, sanitize_nonfinite, short_stream_error
from engine.io.header_checks import check_header
from engine.io.image_checks_nifti import (check_declared_size, check_fits, file_nonfinite_warning,
                                          orientation_warnings, read_nifti_header, spacing_warning)
from engine.volume import Volume, sitk_image

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
    """Read a NIfTI/NRRD/MetaImage file into a :class:`Volume` (orientation in LPS).

    A detached header may only name data files in its own folder (checked before SimpleITK opens
    anything); what SimpleITK fills in silently (1 mm for a missing spacing, one of two
    disagreeing orientations, zeros for a short stream, NaN voxels) is refused or stated in
    ``volume.warnings``.
    """
    import SimpleITK as sitk

    path = Path(path)
    refs = data_files(path)
    check_header(path, refs)  # MetaImage/NRRD fields ITK would trust (a crash, not an error)
    nifti = read_nifti_header(path) if suffix_of(path) in (".nii", ".nii.gz", ".hdr") else None
    if nifti is not None and _format_name(path) == "nifti":
        check_fits(path, nifti)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.SetImageIO(_IMAGE_IO.get(_format_name(path), ""))
    with _itk_warnings_off():
        with boundary(f"the {_kind(path)}", convert=partial(_header_error, path)):
            reader.ReadImageInformation()
        size = list(reader.GetSize())
        comps = reader.GetNumberOfComponents()
        _check_header(path, reader, size, comps, refs)
        _check_complete(path, reader, size, nifti, refs)
        with boundary(f"the {_kind(path)}", convert=partial(_pixel_error, path)):
            image = reader.Execute()
    warnings: list[str] = []
    dim = image.GetDimension()
    image = _to_3d(image, warnings)
    meta = {"source_format": _format_name(path), "source_files": [str(path)]}
    volume = Volume.from_sitk(image, "OT", meta, warnings)
    with boundary(f"the {_kind(path)}"):  # the NaN count streams the file once more
        volume.warnings.extend(_geometry_warnings(path, nifti, refs, volume, min(dim, 3)))
    nonfinite = sanitize_nonfinite(volume.array)
    if nonfinite:
        volume.warnings.append(nonfinite)
    return volume


def _header_error(path: Path, exc: BaseException) -> InputError | None:
    """ITK's header errors (RuntimeError) in words; anything else: :class:`guard.boundary`'s."""
    if not isinstance(exc, RuntimeError):
        return None
    if "orthonormal" in str(exc):
        return InputError(f"the {_kind(path)} declares a skewed (non-orthonormal) orientation; "
                          "its geometry cannot be represented")
    return InputError(f"the {_kind(path)} is not readable (damaged or truncated header)")


def _pixel_error(path: Path, exc: BaseException) -> InputError | None:
    if not isinstance(exc, RuntimeError):
        return None
    return InputError(f"the {_kind(path)} is damaged or truncated: its pixel data cannot be read")


_IMAGE_IO = {"nifti": "NiftiImageIO", "nrrd": "NrrdImageIO", "metaimage": "MetaImageIO",
             "analyze": "NiftiImageIO"}


@contextmanager
def _itk_warnings_off():
    """ITK prints warnings with the file's path on stderr (a path can identify a patient)."""
    import SimpleITK as sitk

    before = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(before)


def _check_header(path: Path, reader, size: list[int], comps: int, refs: HeaderRefs) -> None:
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
    have = _data_bytes_bound(path, refs)
    if need > have:
        raise InputError(f"the {_kind(path)} declares {'×'.join(map(str, size))} voxels "
                         f"({need / 1e6:.0f} MB) but the file cannot hold them")
    check_allocation(need, f"the {_kind(path)}")


def _check_complete(path: Path, reader, size: list[int], nifti, refs: HeaderRefs) -> None:
    """The bytes a file holds (inflated when compressed) must cover what its header declares.

    ITK zero-fills the rest of a short stream without a word (a NIfTI cut before it was gzipped,
    a MetaImage whose zlib stream is short). Streams are counted in constant memory.
    """
    import SimpleITK as sitk

    if nifti is not None and _format_name(path) == "nifti":
        have = inflated_size(path, 0, _kind(path)) if _is_gzip(path) else path.stat().st_size
        check_declared_size(path, nifti, have)
        return
    if _is_gzip(path):  # any other whole-file gzip: at least a complete stream
        inflated_size(path, 0, _kind(path))
        return
    if _format_name(path) != "metaimage" or refs.fields.get("compresseddata", "").lower() != "true":
        return
    need = int(np.prod(size, dtype=np.int64)) * _bytes_per_pixel(
        sitk.GetPixelIDValueAsString(reader.GetPixelID()))
    if refs.files:
        have = sum(inflated_size(f, 0, _kind(path)) for f in existing_data_files(refs.files))
    else:
        offset = _int(refs.fields.get("headersize")) or refs.header_end
        have = inflated_size(path, max(offset, 0), _kind(path))
    if have < need:
        raise short_stream_error(_kind(path), have, need)


def _int(text: str | None) -> int:
    try:
        return int(float(text)) if text else 0
    except ValueError:
        return 0


def _geometry_warnings(path: Path, nifti, refs: HeaderRefs, volume: Volume, ndim: int) -> list[str]:
    """What the header left out or contradicts, in words (never guess geometry silently)."""
    if nifti is not None:
        out = [w for w in [spacing_warning(nifti, ndim)] if w]
        if _format_name(path) == "nifti":
            out += [w for w in [file_nonfinite_warning(path, nifti)] if w]
        return out + orientation_warnings(nifti, volume.geometry.affine_lps)
    fields = refs.fields
    if _format_name(path) == "metaimage" and not ({"elementspacing", "elementsize"} & fields.keys()):
        return ["voxel spacing missing in the file (no ElementSpacing); 1 mm assumed, so distances "
                "and volumes may be wrong"]
    if _format_name(path) == "nrrd" and not ({"spacings", "space directions"} & fields.keys()):
        return ["voxel spacing missing in the file (no spacings or space directions); 1 mm "
                "assumed, so distances and volumes may be wrong"]
    return []


def _bytes_per_pixel(name: str) -> int:
    for token, n in (("64", 8), ("32", 4), ("16", 2), ("8", 1), ("double", 8), ("float", 4)):
        if token in name:
            return n
    return 1


def _data_bytes_bound(path: Path, refs: HeaderRefs) -> int:
    """Most pixel bytes the file (and, for .mhd/.nhdr, its data files) could decompress to."""
    files = [path] + existing_data_files(refs.files)
    total = 0
    for f in files:
        try:
            size = f.stat().st_size
        except OSError:
            continue
        compressed = f.name.lower().endswith((".gz", ".raw.gz", ".zraw", ".z")) or _is_gzip(f)
        total += size * _GZIP_MAX_RATIO if compressed or _maybe_compressed(path) else size
    return total


def _is_gzip(path: Path) -> bool:
    try:
        with open(path, "rb") as fp:
            return fp.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def _maybe_compressed(path: Path) -> bool:
    """MetaImage/NRRD may compress data inside the file (zlib/gzip encodings)."""
    if suffix_of(path) not in (".mha", ".nrrd", ".mhd", ".nhdr"):
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
    return {"nifti": "NIfTI file", "nrrd": "NRRD file", "metaimage": "MetaImage file",
            "analyze": "Analyze/NIfTI pair"}.get(
        _format_name(path), "image file")


def _format_name(path: Path) -> str:
    return {".nii": "nifti", ".nii.gz": "nifti", ".nrrd": "nrrd", ".nhdr": "nrrd",
            ".mha": "metaimage", ".mhd": "metaimage", ".hdr": "analyze", ".img": "analyze"}.get(
                suffix_of(path), "image")


def write_image(volume: Volume, path: str | os.PathLike) -> Path:
    """Write ``volume`` with its geometry to .nii.gz / .nii / .nrrd / .mha.

    ``.nii`` is written by :mod:`engine.io.nifti_write` (the header ITK writes, then the array
    buffer: no copy, no SimpleITK import); everything else by SimpleITK."""
    path = Path(path)
    if suffix_of(path) not in WRITE_SUFFIXES:
        raise InputError(f"cannot write a {suffix_of(path) or 'suffix-less'} file: use one of {', '.join(WRITE_SUFFIXES)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    from engine.io import nifti_write

    if suffix_of(path) == ".nii" and nifti_write.can_write(volume):
        return nifti_write.write_nifti(volume, path)
    import SimpleITK as sitk

    sitk.WriteImage(volume.to_sitk(), str(path), useCompression=suffix_of(path) != ".nii")
    return path


def write_vector_image(stack: np.ndarray, geometry, path: str | os.PathLike) -> Path:
    """Write ``(C, z, y, x)`` maps on ``geometry`` as one vector image (C float32 components per
    voxel: probabilities, uncertainty maps) to .nii.gz / .nii / .nrrd / .mha."""
    import SimpleITK as sitk

    path = Path(path)
    if suffix_of(path) not in WRITE_SUFFIXES:
        raise InputError(f"cannot write a {suffix_of(path) or 'suffix-less'} file: use one of {', '.join(WRITE_SUFFIXES)}")
    image = sitk_image(np.moveaxis(stack.astype(np.float32, copy=False), 0, -1), geometry, is_vector=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), useCompression=suffix_of(path) != ".nii")
    return path


__all__ = ["READ_SUFFIXES", "WRITE_SUFFIXES", "read_image", "suffix_of", "write_image",
           "write_vector_image"]
