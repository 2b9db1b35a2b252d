"""Putting a mask on the reference image's grid before it is written.

A mask drawn in Candor lives on the displayed series' grid, so export normally copies the
reference geometry bit for bit (no float drift from a round trip through another format). A mask
that comes from elsewhere (a label file on another grid) is resampled onto the reference with
nearest-neighbour interpolation in patient coordinates, and the result says so in a warning.
"""

from __future__ import annotations

import logging

import numpy as np

from engine.errors import InputError
from engine.volume import Geometry, Volume, sitk_reference

log = logging.getLogger(__name__)


def label_dtype(max_label: int) -> np.dtype:
    """The smallest unsigned integer type that holds every label id."""
    if max_label < 256:
        return np.dtype(np.uint8)
    if max_label < 65536:
        return np.dtype(np.uint16)
    raise InputError(f"label id {max_label} is too large (at most 65535)")


def as_label_array(array: np.ndarray) -> np.ndarray:
    """The label array as uint8/uint16 (not copied when it already is); refuses other values."""
    if array.dtype in (np.uint8, np.uint16):
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(np.mod(array, 1) != 0):
            raise InputError("the mask holds fractional values; export it as a probability map "
                             "or threshold it first")
    elif array.dtype.kind not in "iu":
        raise InputError(f"a mask must hold integers, got {array.dtype}")
    lo = int(array.min()) if array.size else 0
    hi = int(array.max()) if array.size else 0
    if lo < 0:
        raise InputError("the mask holds negative values; label ids start at 1 (0 is background)")
    return array.astype(label_dtype(hi), copy=True)


def present_labels(labels: np.ndarray) -> list[int]:
    """Label ids (> 0) that occur in an unsigned label array (one counting pass)."""
    counts = np.bincount(labels.ravel(), minlength=1)
    return [int(v) for v in np.flatnonzero(counts) if v > 0]


def place_on_subgrid(volume: Volume, target: Geometry) -> np.ndarray | None:
    """``volume`` placed exactly on ``target`` when its voxels are ``target`` voxels, else ``None``.

    True when both grids share spacing and axes (up to order and sign) and ``volume``'s first
    voxel centre is a ``target`` voxel centre: then voxels are copied by index, no interpolation
    (a SEG stored on some of the displayed series' slices, a cropped mask). Parts outside
    ``target`` are dropped.
    """
    src = volume.geometry
    dots = target.matrix.T @ src.matrix          # [target axis, source axis]
    axis_of = np.argmax(np.abs(dots), axis=0)    # target axis of each source axis
    if sorted(axis_of.tolist()) != [0, 1, 2]:
        return None
    signs = np.sign(dots[axis_of, [0, 1, 2]])
    if not np.allclose(np.abs(dots[axis_of, [0, 1, 2]]), 1.0, atol=1e-4):
        return None
    if not np.allclose(np.asarray(src.spacing), np.asarray(target.spacing)[axis_of], rtol=1e-4):
        return None
    start = target.physical_to_index(src.origin)
    if not np.allclose(start, np.round(start), atol=1e-3):
        return None
    start = np.round(start).astype(int)
    ijk = np.asarray(volume.array).transpose(2, 1, 0)           # [i, j, k] of the source
    order = [int(np.flatnonzero(axis_of == a)[0]) for a in range(3)]
    block = ijk.transpose(order)                                 # axes now target i, j, k
    lo = np.empty(3, int)
    for a in range(3):
        if signs[order[a]] < 0:
            block = np.flip(block, axis=a)
            lo[a] = start[a] - (block.shape[a] - 1)
        else:
            lo[a] = start[a]
    out = np.zeros(target.size, dtype=volume.array.dtype)       # [i, j, k]
    t_lo = np.maximum(lo, 0)
    t_hi = np.minimum(lo + np.asarray(block.shape), np.asarray(target.size))
    if np.any(t_hi <= t_lo):
        return out.transpose(2, 1, 0)
    src_sl = tuple(slice(t_lo[a] - lo[a], t_hi[a] - lo[a]) for a in range(3))
    out[tuple(slice(t_lo[a], t_hi[a]) for a in range(3))] = block[src_sl]
    return np.ascontiguousarray(out.transpose(2, 1, 0))


def _overlaps(a: Geometry, b: Geometry) -> bool:
    """Whether the physical boxes of two grids intersect (compared in b's index space)."""
    corners = np.array([[i, j, k] for i in (0, a.size[0] - 1) for j in (0, a.size[1] - 1)
                        for k in (0, a.size[2] - 1)], dtype=float)
    idx = b.physical_to_index(a.index_to_physical(corners))
    lo, hi = idx.min(axis=0), idx.max(axis=0)
    return bool(np.all(hi >= -0.5) and np.all(lo <= np.asarray(b.size) - 0.5))


def resample_nearest(volume: Volume, target: Geometry, fill: float = 0) -> np.ndarray:
    """``volume``'s array sampled at ``target``'s voxel centres (nearest neighbour)."""
    import SimpleITK as sitk

    ref = sitk_reference(target)
    out = sitk.Resample(volume.to_sitk(), ref, sitk.Transform(), sitk.sitkNearestNeighbor, fill,
                        volume.to_sitk().GetPixelID())
    return sitk.GetArrayFromImage(out)


def resample_linear(volume: Volume, target: Geometry) -> np.ndarray:
    """Float ``volume`` sampled at ``target``'s voxel centres (linear; 0 outside)."""
    import SimpleITK as sitk

    ref = sitk_reference(target)
    img = sitk.Cast(volume.to_sitk(), sitk.sitkFloat32)
    out = sitk.Resample(img, ref, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(out)


def labels_on_grid(mask: Volume, reference: Geometry) -> tuple[np.ndarray, list[str]]:
    """The mask's labels on ``reference``'s grid and any warning about how they got there."""
    labels = as_label_array(mask.array)
    if mask.geometry.is_close(reference):
        return labels, []
    if not _overlaps(mask.geometry, reference):
        raise InputError("the mask does not overlap the reference image at all; it was drawn "
                         "on another scan or in another coordinate system")
    placed = place_on_subgrid(mask.with_array(labels), reference)
    if placed is not None:
        return placed, ["the mask covered part of the reference image's voxel grid and was "
                        "placed on it voxel for voxel"]
    log.info("mask grid differs from the reference grid; resampling (nearest neighbour)")
    out = resample_nearest(mask.with_array(labels), reference)
    warning = ("the mask was on a different voxel grid from the reference image and was "
               "resampled onto it (nearest neighbour)")
    return out.astype(labels.dtype, copy=False), [warning]


def same_grid_or_refuse(mask: Geometry, reference: Geometry, what: str = "DICOM SEG") -> None:
    """Refuse (``InputError``) when the mask is not on the reference grid: no silent resampling."""
    if mask.is_close(reference):
        return
    if mask.size != reference.size:
        detail = f"size {mask.size} vs {reference.size}"
    elif not np.allclose(mask.spacing, reference.spacing, atol=1e-4):
        detail = f"spacing {mask.spacing} vs {reference.spacing} mm"
    elif not np.allclose(mask.direction, reference.direction, atol=1e-4):
        detail = f"orientation {mask.axis_codes()} vs {reference.axis_codes()}"
    else:
        detail = "origin differs"
    raise InputError(f"the mask's geometry does not match the reference series ({detail}); a "
                     f"{what} must lie exactly on the frames it references. Resample the mask "
                     "onto the series first or export to NIfTI/NRRD instead")
