"""Brush footprints in millimetres: a 2-D disc in one slice plane or a 3-D sphere.

Footprints are boolean arrays in array order ``[k, j, i]`` whose physical extent respects the
voxel spacing, so a 10 mm brush is 10 mm across on every axis of an anisotropic scan. They are
cached: a stroke reuses one footprint for all its dabs.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from engine.errors import InputError

#: Array axis that is constant in a slice view: 0 = axial (k), 1 = coronal (j), 2 = sagittal (i).
AXIAL, CORONAL, SAGITTAL = 0, 1, 2


def spacing_kji(spacing_ijk) -> tuple[float, float, float]:
    """Volume spacing (ITK ``(i, j, k)`` order) in array-axis order ``(k, j, i)``."""
    s = tuple(float(v) for v in spacing_ijk)
    if len(s) != 3 or any(v <= 0 for v in s):
        raise InputError(f"voxel spacing must be three positive numbers, got {spacing_ijk}")
    return (s[2], s[1], s[0])


def footprint(radius_mm: float, spacing_kji_: tuple[float, float, float],
              plane_axis: int | None) -> np.ndarray:
    """Boolean ball of ``radius_mm`` (a disc in the plane normal to ``plane_axis``, or a sphere).

    ``plane_axis`` is the array axis held constant by the slice view (``None`` = 3-D sphere). The
    centre voxel is always included, so the smallest brush paints one voxel.
    """
    if not np.isfinite(radius_mm) or radius_mm < 0:
        raise InputError(f"brush radius must be a non-negative number of mm, got {radius_mm}")
    if plane_axis not in (None, 0, 1, 2):
        raise InputError(f"slice axis must be 0, 1 or 2, got {plane_axis}")
    key = (round(float(radius_mm), 4), tuple(round(float(s), 6) for s in spacing_kji_), plane_axis)
    return _cached_footprint(*key)


@lru_cache(maxsize=64)
def _cached_footprint(radius_mm: float, spacing: tuple[float, float, float],
                      plane_axis: int | None) -> np.ndarray:
    half = [int(np.floor(radius_mm / s)) for s in spacing]
    if plane_axis is not None:
        half[plane_axis] = 0
    axes = [np.arange(-h, h + 1, dtype=np.float64) * s for h, s in zip(half, spacing)]
    dk, dj, di = np.meshgrid(*axes, indexing="ij")
    ball = dk * dk + dj * dj + di * di <= radius_mm * radius_mm + 1e-9
    ball[tuple(half)] = True
    ball.setflags(write=False)
    return ball


def place(footprint_: np.ndarray, center_kji, shape) -> tuple[tuple[slice, ...], np.ndarray] | None:
    """Clip a footprint centred on voxel ``center_kji`` to an array of ``shape``.

    Returns ``(bbox, mask)``: the slices of the array it covers and the matching part of the
    footprint; ``None`` when it lies entirely outside the array.
    """
    center = [int(round(float(c))) for c in center_kji]
    bbox, crop = [], []
    for c, n, size in zip(center, footprint_.shape, shape):
        half = n // 2
        lo, hi = c - half, c + half + 1
        clo, chi = max(lo, 0), min(hi, size)
        if clo >= chi:
            return None
        bbox.append(slice(clo, chi))
        crop.append(slice(clo - lo, n - (hi - chi)))
    return tuple(bbox), footprint_[tuple(crop)]
