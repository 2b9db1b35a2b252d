"""Fill between slices: shape-based interpolation of one label across skipped slices.

The user draws a label on some slices (every third, say); each run of empty slices between two
drawn ones is filled by blending the two outlines' signed distance maps (negative inside, in mm
with the in-plane spacing), the classic shape-based interpolation of Raya & Udupa (1990). Only
background voxels are filled: other labels and the drawn slices are never changed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from engine.editing.history import Box
from engine.errors import InputError


def drawn_slices(labels: np.ndarray, label: int, axis: int) -> np.ndarray:
    """Indices of the slices along ``axis`` holding at least one voxel of ``label``."""
    other = tuple(a for a in range(3) if a != axis)
    return np.flatnonzero(np.any(labels == label, axis=other))


def _signed_distance(mask: np.ndarray, sampling: tuple[float, float]) -> np.ndarray:
    inside = ndimage.distance_transform_edt(mask, sampling=sampling)
    outside = ndimage.distance_transform_edt(~mask, sampling=sampling)
    return outside - inside


def _plane(labels: np.ndarray, axis: int, index: int) -> np.ndarray:
    return np.take(labels, index, axis=axis)


def interpolation_box(labels: np.ndarray, label: int, axis: int) -> Box | None:
    """Bounding box of the slices to fill (first to last drawn slice, in-plane extent of the label)."""
    slices = drawn_slices(labels, label, axis)
    if slices.size < 2 or np.all(np.diff(slices) == 1):
        return None
    coords = np.nonzero(labels == label)
    box = [slice(int(c.min()), int(c.max()) + 1) for c in coords]
    box[axis] = slice(int(slices[0]), int(slices[-1]) + 1)
    return tuple(box)


def fill_between(labels: np.ndarray, label: int, axis: int,
                 spacing: tuple[float, float, float]) -> int:
    """Fill the gaps of ``label`` along ``axis`` in place; returns the number of voxels written.

    ``spacing`` is in array-axis order ``(k, j, i)``. Gaps are filled independently between each
    pair of consecutive drawn slices.
    """
    if label <= 0:
        raise InputError("choose a label to interpolate (0 is background)")
    if axis not in (0, 1, 2):
        raise InputError(f"slice axis must be 0, 1 or 2, got {axis}")
    box = interpolation_box(labels, label, axis)
    if box is None:
        return 0
    sub = labels[box]  # a view: writes land in ``labels``
    sampling = tuple(s for a, s in enumerate(spacing) if a != axis)
    slices = drawn_slices(sub, label, axis)
    pad = [(1, 1), (1, 1)]
    written = 0
    for lo, hi in zip(slices[:-1], slices[1:]):
        if hi - lo < 2:
            continue
        d_lo = _signed_distance(np.pad(_plane(sub, axis, lo) == label, pad), sampling)[1:-1, 1:-1]
        d_hi = _signed_distance(np.pad(_plane(sub, axis, hi) == label, pad), sampling)[1:-1, 1:-1]
        for t in range(lo + 1, hi):
            w = (t - lo) / (hi - lo)
            inside = (1.0 - w) * d_lo + w * d_hi < 0
            plane = _plane(sub, axis, t)
            fill = inside & (plane == 0)
            if fill.any():
                index = [slice(None)] * 3
                index[axis] = t
                target = sub[tuple(index)]
                target[fill] = label
                written += int(fill.sum())
    return written
