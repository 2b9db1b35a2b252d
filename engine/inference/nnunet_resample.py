"""nnU-Net v2's resampling, reimplemented with SciPy (Candor runs without nnunetv2 installed).

The same maths as ``nnunetv2.preprocessing.resampling.default_resampling.resample_data_or_seg``
with scikit-image's ``resize(order, mode="edge", anti_aliasing=False)`` (``scipy.ndimage.zoom``
with ``grid_mode=True``, ``mode="nearest"``, the output clipped to the input's range), including
the separate out-of-plane resampling of anisotropic data (in-plane order ``order``, along the
low-resolution axis ``order_z``). ``tests/engine/inference/test_nnunet_resample.py`` checks it
against nnU-Net's own function.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

ANISO_THRESHOLD = 3


def new_shape(shape, spacing, target_spacing) -> tuple[int, ...]:
    """nnU-Net's ``compute_new_shape``: ``round(spacing / target × shape)`` per axis."""
    return tuple(int(round(s / t * n)) for s, t, n in zip(spacing, target_spacing, shape))


def _lowres_axis(spacing) -> np.ndarray:
    spacing = np.asarray(spacing, dtype=float)
    return np.where(max(spacing) / spacing == 1)[0]


def separate_z(force: bool | None, spacing, target_spacing) -> tuple[bool, int | None]:
    """nnU-Net's ``determine_do_sep_z_and_axis``."""
    if force is not None:
        axis = _lowres_axis(spacing) if force else None
        do = bool(force)
    elif max(spacing) / min(spacing) > ANISO_THRESHOLD:
        do, axis = True, _lowres_axis(spacing)
    elif max(target_spacing) / min(target_spacing) > ANISO_THRESHOLD:
        do, axis = True, _lowres_axis(target_spacing)
    else:
        do, axis = False, None
    if axis is not None:
        if len(axis) != 1:
            return False, None
        return do, int(axis[0])
    return do, None


def resize(image: np.ndarray, shape, order: int) -> np.ndarray:
    """scikit-image ``resize(image, shape, order, mode="edge", anti_aliasing=False)`` on a float64 array."""
    image = np.asarray(image, dtype=np.float64)
    zoom = [o / i for i, o in zip(image.shape, shape)]
    out = ndi.zoom(image, zoom, order=order, mode="nearest", grid_mode=True)
    if order != 0:
        np.clip(out, image.min(), image.max(), out=out)
    return out


def resample(data: np.ndarray, shape, spacing, target_spacing, *, order: int = 3, order_z: int = 0,
             force_separate_z: bool | None = None) -> np.ndarray:
    """``(C, …)`` ``data`` resampled to ``shape`` as nnU-Net does (output dtype = input dtype)."""
    shape = tuple(int(s) for s in shape)
    if tuple(data.shape[1:]) == shape:
        return data
    do_sep, axis = separate_z(force_separate_z, spacing, target_spacing)
    out = np.zeros((data.shape[0], *shape), dtype=data.dtype)
    work = data.astype(float, copy=False)
    for c in range(data.shape[0]):
        out[c] = _separate(work[c], shape, axis, order, order_z) if do_sep else resize(work[c], shape, order)
    return out


def _separate(image: np.ndarray, shape, axis: int, order: int, order_z: int) -> np.ndarray:
    inplane = tuple(s for i, s in enumerate(shape) if i != axis)
    moved = np.moveaxis(image, axis, 0)
    stacked = np.stack([resize(sl, inplane, order) for sl in moved])
    here = np.moveaxis(stacked, 0, axis)
    if here.shape[axis] == shape[axis]:
        return here
    scales = [o / n for o, n in zip(here.shape, shape)]
    grids = np.mgrid[tuple(slice(0, n) for n in shape)].astype(float)
    coords = np.array([s * (g + 0.5) - 0.5 for s, g in zip(scales, grids)])
    return ndi.map_coordinates(here, coords, order=order_z, mode="nearest")
