"""Flood fill within one slice: the connected region of the clicked value, optionally windowed."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from engine.editing.history import Box
from engine.errors import InputError


def slice_box(shape: tuple[int, int, int], axis: int, index: int) -> Box:
    """The bounding box of slice ``index`` along array ``axis``."""
    if axis not in (0, 1, 2):
        raise InputError(f"slice axis must be 0, 1 or 2, got {axis}")
    if not 0 <= index < shape[axis]:
        raise InputError(f"slice {index} is outside the volume (0..{shape[axis] - 1})")
    box = [slice(0, n) for n in shape]
    box[axis] = slice(index, index + 1)
    return tuple(box)


def flood_region(labels: np.ndarray, seed_kji, axis: int, *, image: np.ndarray | None = None,
                 window: tuple[float, float] | None = None) -> tuple[Box, np.ndarray]:
    """``(slice_box, mask)``: the 4-connected region around ``seed_kji`` in its slice.

    The region holds the voxels with the seed's label value (and, with ``window``, an image value
    inside ``(low, high)``).
    """
    seed = [int(round(float(c))) for c in seed_kji]
    if any(not 0 <= s < n for s, n in zip(seed, labels.shape)):
        raise InputError("the fill point is outside the volume")
    box = slice_box(labels.shape, axis, seed[axis])
    plane = labels[box]
    candidates = plane == labels[tuple(seed)]
    if window is not None:
        if image is None:
            raise InputError("a windowed fill needs the image the labels are drawn on")
        values = image[box]
        candidates &= (values >= window[0]) & (values <= window[1])
    local_seed = list(seed)
    local_seed[axis] = 0
    if not candidates[tuple(local_seed)]:
        return box, np.zeros_like(candidates)
    structure = np.zeros((3, 3, 3), bool)
    structure[1, 1, 1] = True
    for ax in range(3):
        if ax != axis:
            s = [1, 1, 1]
            s[ax] = 0
            structure[tuple(s)] = True
            s[ax] = 2
            structure[tuple(s)] = True
    components, _ = ndimage.label(candidates, structure=structure)
    return box, components == components[tuple(local_seed)]
