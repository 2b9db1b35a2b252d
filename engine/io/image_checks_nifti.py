"""What SimpleITK does not say about a NIfTI header: missing spacing, two orientations, a shear.

The header is read here with NumPy (NIfTI-1: 348 bytes, NIfTI-2: 540 bytes; either byte order;
``.nii`` or ``.nii.gz``) and compared with the geometry SimpleITK produced:

* ``pixdim`` 0 or NaN: ITK silently uses 1 mm; the volume says so;
* ``qform`` and ``sform`` both set but placing the grid differently (by more than a tenth of a
  voxel, 0.1 mm at most, at any corner): the volume says which one SimpleITK used;
* a sheared ``sform``: ITK cannot represent a skewed grid and falls back to the ``qform``
  (without the shear, the volume says so) or, with no ``qform``, refuses the file.

Fields SimpleITK would trust are refused here first, with an :class:`InputError` naming the
field: ``dim[0]`` outside 1..7 or an axis size below 1, an unknown ``datatype``, a ``bitpix``
that does not match it, and a ``vox_offset`` that is not a finite number, is negative, absurdly
large (over :data:`MAX_VOX_OFFSET`) or, in a single ``.nii`` file, lies inside the header. A
``.nii.gz`` whose first bytes do not inflate is a :class:`engine.io.guard.DamagedData`.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import InputError, UnsupportedError
from engine.io.guard import boundary, check_allocation
from engine.io.image_checks import count_nonfinite, nonfinite_sentence

_FIELDS = {  # name: (NIfTI-1 offset, type, count), (NIfTI-2 offset, type, count)
    "dim": ((40, "i2", 8), (16, "i8", 8)),
    "datatype": ((70, "i2", 1), (12, "i2", 1)),
    "bitpix": ((72, "i2", 1), (14, "i2", 1)),
    "pixdim": ((76, "f4", 8), (104, "f8", 8)),
    "vox_offset": ((108, "f4", 1), (168, "i8", 1)),
    "qform_code": ((252, "i2", 1), (344, "i4", 1)),
    "sform_code": ((254, "i2", 1), (348, "i4", 1)),
    "quatern": ((256, "f4", 6), (352, "f8", 6)),  # b, c, d, qoffset x, y, z
    "srow": ((280, "f4", 12), (400, "f8", 12)),
}
_SHEAR_TOL = 1e-4
#: NIfTI datatype codes (nifti1.h) and their bytes per voxel
DATATYPE_BYTES = {2: 1, 4: 2, 8: 4, 16: 4, 32: 8, 64: 8, 128: 3, 256: 1, 512: 2, 768: 4, 1024: 8,
                  1280: 8, 1536: 16, 1792: 16, 2048: 32, 2304: 4}
MAX_VOX_OFFSET = 1 << 40  # no header, with its extensions, comes near a terabyte
_GZIP_MAX_RATIO = 1100  # deflate cannot compress beyond ~1032:1


@dataclass(frozen=True)
class NiftiHeader:
    dims: tuple[int, int, int]  # voxels along i, j, k (1 where the image has fewer axes)
    pixdim: tuple[float, float, float]
    qfac: float
    vox_offset: int
    bytes_per_voxel: int
    n_voxels: int
    qform_code: int
    sform_code: int
    quatern: tuple[float, ...]
    srow: np.ndarray  # 3×4
    datatype: int = 0
    byteorder: str = "<"

    @property
    def data_bytes(self) -> int:
        return self.n_voxels * self.bytes_per_voxel


def read_nifti_header(path: Path) -> NiftiHeader | None:
    """The header of a ``.nii``/``.nii.gz`` (``None`` when it is not NIfTI-1/2)."""
    with boundary("the NIfTI file"):  # a corrupt deflate stream: zlib.error
        try:
            opener = gzip.open if _is_gzip(path) else open
            with opener(path, "rb") as fp:
                raw = fp.read(540)
        except (OSError, EOFError):  # gzip.BadGzipFile too: not NIfTI, ITK says why
            return None
    for order in "<>":
        size = int(np.frombuffer(raw[:4], f"{order}i4")[0]) if len(raw) >= 4 else 0
        if size in (348, 540) and len(raw) >= size:
            return _parse(raw, order, 0 if size == 348 else 1)
    return None


def _parse(raw: bytes, order: str, version: int) -> NiftiHeader:
    def get(name):
        offset, kind, count = _FIELDS[name][version]
        return np.frombuffer(raw, f"{order}{kind}", count, offset)

    dim = [int(v) for v in get("dim")]
    if not 1 <= dim[0] <= 7:
        raise InputError("the NIfTI header declares an invalid number of dimensions (dim[0])")
    sizes = dim[1:1 + dim[0]]
    if any(v < 1 for v in sizes):
        raise InputError("the NIfTI header declares an empty or negative image size (dim)")
    dims = tuple((sizes + [1, 1, 1])[:3])
    pix = get("pixdim").astype(np.float64)
    datatype, bitpix = int(get("datatype")[0]), int(get("bitpix")[0])
    if datatype == 1:
        raise UnsupportedError("the NIfTI file holds 1-bit (binary) voxels, which Candor does "
                               "not read")
    if datatype not in DATATYPE_BYTES:
        raise InputError("the NIfTI header declares an unknown voxel type (datatype)")
    if bitpix != 8 * DATATYPE_BYTES[datatype]:
        raise InputError("the NIfTI header is inconsistent: its bits per voxel (bitpix) do not "
                         "match its voxel type (datatype)")
    magic = raw[344:348] if version == 0 else raw[4:8]
    nifti = magic[:3] in (b"n+1", b"ni1", b"n+2", b"ni2")  # else Analyze 7.5: no qform/sform
    offset = float(get("vox_offset")[0])
    if not np.isfinite(offset) or offset < 0 or offset > MAX_VOX_OFFSET:
        raise InputError("the NIfTI header declares an invalid voxel data offset (vox_offset)")
    if magic[:3] in (b"n+1", b"n+2") and offset < (352 if version == 0 else 544):
        raise InputError("the NIfTI header places the voxel data inside the header "
                         "(vox_offset too small); the file is damaged")
    n_voxels = 1
    for v in sizes:
        n_voxels *= v
    return NiftiHeader(
        dims=dims, pixdim=tuple(float(v) for v in pix[1:4]),
        qfac=-1.0 if pix[0] == -1 else 1.0, vox_offset=int(offset),
        bytes_per_voxel=DATATYPE_BYTES[datatype], n_voxels=n_voxels,
        qform_code=int(get("qform_code")[0]) if nifti else 0,
        sform_code=int(get("sform_code")[0]) if nifti else 0,
        quatern=tuple(float(v) for v in get("quatern")),
        srow=get("srow").astype(np.float64).reshape(3, 4),
        datatype=datatype, byteorder=order)


def check_fits(path: Path, h: NiftiHeader) -> None:
    """Before ITK reads anything: the declared voxels must fit the file (its deflate bound for a
    ``.nii.gz``) and :func:`engine.io.guard.check_allocation`. The exact inflated count is
    :func:`check_declared_size`'s, later."""
    size = path.stat().st_size
    packed = _is_gzip(path)
    if h.data_bytes > (size * _GZIP_MAX_RATIO if packed else size):
        raise InputError(f"the NIfTI file declares {'×'.join(map(str, h.dims))} voxels "
                         f"({h.data_bytes / 1e6:.0f} MB) but the file cannot hold them")
    if not packed:
        check_declared_size(path, h, size)
    check_allocation(h.data_bytes, "the NIfTI file")


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fp:
        return fp.read(2) == b"\x1f\x8b"


def spacing_warning(header: NiftiHeader, ndim_used: int = 3) -> str | None:
    """ITK reads pixdim 0/NaN as 1 mm: say which axes had no spacing."""
    missing = [axis for axis, p in zip("xyz", header.pixdim[:ndim_used]) if not (np.isfinite(p) and p != 0)]
    if not missing:
        return None
    return (f"voxel spacing missing in the file (pixdim of {', '.join(missing)} is 0 or not a number); "
            "1 mm assumed, so distances and volumes may be wrong")


def qform_affine(h: NiftiHeader) -> np.ndarray:
    """The qform as a 3×4 RAS matrix (nifticlib's quatern_to_mat44: spacing ≤ 0 counts as 1)."""
    b, c, d, x, y, z = h.quatern
    a = np.sqrt(max(0.0, 1.0 - (b * b + c * c + d * d)))
    r = np.array([[a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
                  [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
                  [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b]])
    sp = [p if np.isfinite(p) and p > 0 else 1.0 for p in h.pixdim]
    m = r @ np.diag([sp[0], sp[1], sp[2] * h.qfac])
    return np.column_stack([m, [x, y, z]])


def is_sheared(m: np.ndarray) -> bool:
    norms = np.linalg.norm(m, axis=0)
    if not np.all(np.isfinite(m)) or np.any(norms == 0):
        return True
    r = m / norms
    return not np.allclose(r.T @ r, np.eye(3), atol=_SHEAR_TOL)


def orientation_warnings(h: NiftiHeader, used_lps: np.ndarray) -> list[str]:
    """Compare the qform and sform with the 4×4 LPS affine SimpleITK produced (``used_lps``)."""
    used = (np.diag([-1.0, -1.0, 1.0]) @ used_lps[:3, :])  # RAS, 3×4
    corners = _corners(h.dims)
    spacing = np.linalg.norm(used[:, :3], axis=0)
    tol = min(0.1, 0.1 * float(spacing.min())) if np.all(spacing > 0) else 0.1
    q = qform_affine(h) if h.qform_code > 0 else None
    s = h.srow if h.sform_code > 0 and np.all(np.isfinite(h.srow)) else None
    if s is not None and is_sheared(s[:, :3]) and q is not None and _gap(used, q, corners) <= tol:
        return ["the file's sform describes a sheared (skewed) voxel grid, which cannot be "
                "represented; the qform was used instead, as SimpleITK does, so the shear is ignored"]
    if q is None or s is None:
        return []
    gap = _gap(q, s, corners)
    if gap <= tol:
        return []
    to_q, to_s = _gap(used, q, corners), _gap(used, s, corners)
    chosen = "sform" if to_s < to_q else "qform"
    return [f"the file's two orientations (qform and sform) disagree, placing the image up to "
            f"{gap:.1f} mm apart; the {chosen} was used, as SimpleITK does"]


def _corners(dims: tuple[int, int, int]) -> np.ndarray:
    ii, jj, kk = np.meshgrid(*[[0, n - 1] for n in dims], indexing="ij")
    return np.stack([ii.ravel(), jj.ravel(), kk.ravel(), np.ones(8)], axis=1)


def _gap(a: np.ndarray, b: np.ndarray, corners: np.ndarray) -> float:
    d = corners @ a.T - corners @ b.T
    return float(np.max(np.linalg.norm(d, axis=1))) if np.all(np.isfinite(d)) else float("inf")


_FLOAT_TYPES = {16: "f4", 64: "f8"}


def file_nonfinite_warning(path: Path, h: NiftiHeader) -> str | None:
    """ITK's NIfTI reader turns NaN/±inf voxels into 0 without a word: count them in the file.

    Streams the voxel bytes (inflating a ``.nii.gz`` on the fly), so memory stays constant.
    """
    kind = _FLOAT_TYPES.get(h.datatype)
    if kind is None:
        return None

    def chunks():
        opener = gzip.open if _is_gzip(path) else open
        with opener(path, "rb") as fp:
            fp.seek(h.vox_offset)
            left = h.data_bytes
            while left > 0 and (chunk := fp.read(min(left, 1 << 22))):
                left -= len(chunk)
                yield chunk

    n_nan, n_inf = count_nonfinite(chunks(), np.dtype(f"{h.byteorder}{kind}"))
    return nonfinite_sentence(n_nan, n_inf, h.n_voxels) if n_nan or n_inf else None


def check_declared_size(path: Path, h: NiftiHeader, have: int) -> None:
    """``have`` bytes (the file, or what its gzip stream inflates to) must hold header + voxels."""
    need = h.vox_offset + h.data_bytes
    if have < need:
        held = max(have - h.vox_offset, 0)
        share = 100.0 * held / h.data_bytes if h.data_bytes else 0.0
        raise InputError(f"the NIfTI file is damaged or truncated: it holds {share:.0f} % of the "
                         f"pixel bytes its header declares ({held:,} of {h.data_bytes:,}); the rest "
                         "would read as zeros, so the image was not loaded")


__all__ = ["DATATYPE_BYTES", "NiftiHeader", "check_declared_size", "check_fits", "file_nonfinite_warning", "is_sheared", "orientation_warnings",
           "qform_affine", "read_nifti_header", "spacing_warning"]
