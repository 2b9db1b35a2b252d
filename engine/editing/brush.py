"""Brush and eraser dabs on a label array, optionally limited to an intensity window."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.editing.footprint import footprint, place
from engine.editing.history import Box
from engine.errors import InputError


@dataclass(frozen=True)
class Brush:
    """What one dab does.

    ``radius_mm``: half the brush diameter. ``plane_axis``: the slice view's constant array axis
    (0 axial, 1 coronal, 2 sagittal) for a 2-D disc, ``None`` for a 3-D sphere. ``label``: the
    value painted (or erased, with ``erase``). ``window``: ``(low, high)`` intensities; only voxels of
    the image inside it are painted. ``overwrite``: whether painting may replace other labels
    (otherwise it fills background only). An eraser clears ``label`` only, or any label when
    ``label`` is 0.
    """

    radius_mm: float
    label: int
    plane_axis: int | None = 0
    erase: bool = False
    window: tuple[float, float] | None = None
    overwrite: bool = True

    def __post_init__(self) -> None:
        if self.label < 0:
            raise InputError(f"label must be 0 or more, got {self.label}")
        if not self.erase and self.label == 0:
            raise InputError("choose a label to paint with (0 is background)")
        if self.window is not None and not self.window[0] <= self.window[1]:
            raise InputError(f"intensity window must be (low, high) with low ≤ high, got {self.window}")


def dab_mask(brush: Brush, labels: np.ndarray, region_box: Box, ball: np.ndarray,
             image: np.ndarray | None) -> np.ndarray:
    """Voxels of ``labels[region_box]`` a dab of ``brush`` writes (a boolean array)."""
    region = labels[region_box]
    mask = ball.copy()
    if brush.erase:
        mask &= (region != 0) if brush.label == 0 else (region == brush.label)
    else:
        if not brush.overwrite:
            mask &= (region == 0) | (region == brush.label)
        mask &= region != brush.label
    if brush.window is not None:
        if image is None:
            raise InputError("threshold painting needs the image the labels are drawn on")
        values = image[region_box]
        mask &= (values >= brush.window[0]) & (values <= brush.window[1])
    return mask


def apply_dab(labels: np.ndarray, center_kji, brush: Brush, spacing: tuple[float, float, float],
              image: np.ndarray | None = None) -> tuple[Box, np.ndarray, np.ndarray] | None:
    """Paint (or erase) one dab in place.

    ``spacing`` is in array-axis order ``(k, j, i)``. Returns ``(bbox, mask, old_values)`` — what an
    undo record needs — or ``None`` when the dab changed nothing.
    """
    placed = place(footprint(brush.radius_mm, spacing, brush.plane_axis), center_kji, labels.shape)
    if placed is None:
        return None
    box, ball = placed
    mask = dab_mask(brush, labels, box, ball, image)
    if not mask.any():
        return None
    region = labels[box]
    old = region[mask]
    region[mask] = 0 if brush.erase else brush.label
    return box, mask, old
