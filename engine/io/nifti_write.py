"""Write an uncompressed NIfTI-1 file (``.nii``) in one pass: a 352-byte header, then the voxels.

``candor convert … --out x.nii`` spends most of its time writing: SimpleITK copies the volume
into an ITK image first (``GetImageFromArray``) and importing it costs ~0.05 s, nibabel's import
alone costs ~0.2 s, which is more than dcm2niix needs for the whole conversion
(docs/PERFORMANCE.md). The header is 43 fixed fields, so it is written here with ``struct`` and
the array goes to the file straight from its buffer, with no copy.

The header is the one ITK's NiftiImageIO writes (what :func:`engine.io.write_image` wrote
before): ``qform_code`` = ``sform_code`` = 1 (scanner), both from the same geometry, millimetres
and seconds, no scaling (``scl_slope`` 1, ``scl_inter`` 0); ITK's LPS is turned into NIfTI's RAS
by negating x and y. The quaternion follows ``nifti_mat44_to_quatern`` of nifti1_io.c (the
reference implementation ITK and nibabel use), with ``pixdim[0]`` = −1 for a left-handed grid.
``tests/engine/io/test_nifti_write.py`` reads every case back with SimpleITK and nibabel.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from engine.volume import Geometry, Volume

# NIfTI-1 datatype codes of the numpy types ITK writes as themselves
DATATYPES = {
    np.dtype(np.uint8): 2, np.dtype(np.int16): 4, np.dtype(np.int32): 8,
    np.dtype(np.float32): 16, np.dtype(np.float64): 64, np.dtype(np.int8): 256,
    np.dtype(np.uint16): 512, np.dtype(np.uint32): 768, np.dtype(np.int64): 1024,
    np.dtype(np.uint64): 1280,
}
_HEADER = struct.Struct("<i10s18sihcb8h3fhhhh8ffffhbbffffii80s24shh6f4f4f4f16s4s")
_VOX_OFFSET = 352  # 348 header bytes + 4 bytes saying "no extensions"
_NIFTI_UNITS_MM_SEC = 2 | 8
_XFORM_SCANNER = 1


def can_write(volume: Volume) -> bool:
    """Whether this writer stores ``volume`` exactly as ITK would (else SimpleITK is used)."""
    return volume.array.dtype.newbyteorder("<") in DATATYPES


def write_nifti(volume: Volume, path: str | os.PathLike) -> Path:
    """Write ``volume`` to the ``.nii`` file ``path``, header first, voxels from the array buffer."""
    path = Path(path)
    array = volume.array
    little = array.dtype.newbyteorder("<")  # the header says little endian (struct "<")
    header = nifti_header(volume.geometry, little)
    with open(path, "wb") as fp:
        fp.write(header)
        if array.flags.c_contiguous and array.dtype == little:
            fp.write(memoryview(array).cast("B"))
        else:  # a view or swapped bytes: one slice at a time, never a copy of the whole volume
            for k in range(array.shape[0]):
                fp.write(memoryview(np.ascontiguousarray(array[k], dtype=little)).cast("B"))
    return path


def nifti_header(geometry: Geometry, dtype: np.dtype) -> bytes:
    """The 352 bytes before the voxels of a ``.nii`` file on ``geometry`` holding ``dtype``."""
    dtype = np.dtype(dtype).newbyteorder("<")
    nx, ny, nz = geometry.size
    to_ras = np.diag([-1.0, -1.0, 1.0])
    rotation = to_ras @ geometry.matrix  # columns: i, j, k axes in RAS
    origin = to_ras @ np.asarray(geometry.origin)
    spacing = np.asarray(geometry.spacing)
    srow = np.column_stack([rotation * spacing[None, :], origin])
    (b, c, d), qfac = quaternion(rotation)
    fields = (
        348, b"", b"", 0, 0, b"r", 0,
        3, nx, ny, nz, 1, 1, 1, 1,  # dim
        0.0, 0.0, 0.0, 0,  # intent_p1..3, intent_code
        DATATYPES[dtype], dtype.itemsize * 8, 0,  # datatype, bitpix, slice_start
        qfac, *spacing, 0.0, 0.0, 0.0, 0.0,  # pixdim
        float(_VOX_OFFSET), 1.0, 0.0,  # vox_offset, scl_slope, scl_inter
        0, 0, _NIFTI_UNITS_MM_SEC,  # slice_end, slice_code, xyzt_units
        0.0, 0.0, 0.0, 0.0, 0, 0,  # cal_max, cal_min, slice_duration, toffset, glmax, glmin
        b"", b"", _XFORM_SCANNER, _XFORM_SCANNER,  # descrip, aux_file, qform_code, sform_code
        b, c, d, *origin, *srow[0], *srow[1], *srow[2],
        b"", b"n+1\0",
    )
    return _HEADER.pack(*fields) + b"\0\0\0\0"


def quaternion(rotation: np.ndarray) -> tuple[tuple[float, float, float], float]:
    """``((b, c, d), qfac)`` of a 3×3 direction matrix, as ``nifti_mat44_to_quatern`` computes."""
    u, _, vt = np.linalg.svd(rotation)  # the nearest orthogonal matrix (nifti_mat33_polar)
    r = u @ vt
    qfac = 1.0
    if np.linalg.det(r) < 0:
        qfac = -1.0
        r[:, 2] = -r[:, 2]
    a = r[0, 0] + r[1, 1] + r[2, 2] + 1.0
    if a > 0.5:
        a = 0.5 * np.sqrt(a)
        b, c, d = (0.25 * (r[2, 1] - r[1, 2]) / a, 0.25 * (r[0, 2] - r[2, 0]) / a,
                   0.25 * (r[1, 0] - r[0, 1]) / a)
    else:
        xd, yd = 1.0 + r[0, 0] - (r[1, 1] + r[2, 2]), 1.0 + r[1, 1] - (r[0, 0] + r[2, 2])
        zd = 1.0 + r[2, 2] - (r[0, 0] + r[1, 1])
        if xd > 1.0:
            b = 0.5 * np.sqrt(xd)
            c, d, a = (0.25 * (r[0, 1] + r[1, 0]) / b, 0.25 * (r[0, 2] + r[2, 0]) / b,
                       0.25 * (r[2, 1] - r[1, 2]) / b)
        elif yd > 1.0:
            c = 0.5 * np.sqrt(yd)
            b, d, a = (0.25 * (r[0, 1] + r[1, 0]) / c, 0.25 * (r[1, 2] + r[2, 1]) / c,
                       0.25 * (r[0, 2] - r[2, 0]) / c)
        else:
            d = 0.5 * np.sqrt(zd)
            b, c, a = (0.25 * (r[0, 2] + r[2, 0]) / d, 0.25 * (r[1, 2] + r[2, 1]) / d,
                       0.25 * (r[1, 0] - r[0, 1]) / d)
        if a < 0.0:
            b, c, d = -b, -c, -d
    return (float(b), float(c), float(d)), qfac
