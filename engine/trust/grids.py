"""Moving results between the model grid and the input grid (SimpleITK resampling, exact geometry)."""

from __future__ import annotations

import numpy as np

from engine.inference.preprocess import resample_to_grid
from engine.volume import Geometry, Volume


def _image(array: np.ndarray, geometry: Geometry):
    from engine.volume import sitk_image

    return sitk_image(array, geometry)


def map_to_input(array: np.ndarray, model_grid: Geometry, target: Geometry, *, linear: bool = True,
                 default: float = 0.0) -> np.ndarray:
    """A ``(z, y, x)`` array on the model grid, resampled onto ``target`` (same dtype)."""
    import SimpleITK as sitk

    if model_grid.is_close(target, spacing_tol=1e-6):
        return array
    out = resample_to_grid(_image(array, model_grid), target, linear=linear, default=default)
    return sitk.GetArrayFromImage(out)


def labels_to_input(probs: np.ndarray, model_grid: Geometry, target: Geometry) -> np.ndarray:
    """Argmax of the probabilities after resampling each class linearly onto ``target`` (uint8/uint16).

    One class at a time with a running maximum: never K full-resolution float arrays at once.
    """
    k = probs.shape[0]
    dtype = np.uint8 if k <= 256 else np.uint16
    if model_grid.is_close(target, spacing_tol=1e-6):
        return probs.argmax(0).astype(dtype)
    best = map_to_input(np.ascontiguousarray(probs[0], dtype=np.float32), model_grid, target, default=1.0)
    labels = np.zeros(best.shape, dtype)
    for c in range(1, k):
        p = map_to_input(np.ascontiguousarray(probs[c], dtype=np.float32), model_grid, target, default=0.0)
        better = p > best
        labels[better] = c
        np.maximum(best, p, out=best)
    return labels


def as_volume(array: np.ndarray, like: Volume, kind: str, **meta) -> Volume:
    """A derived map on ``like``'s grid, with a note of what it is (no patient data copied)."""
    metadata = {k: like.metadata[k] for k in ("series_uid", "study_uid", "frame_of_reference_uid")
                if k in like.metadata}
    metadata.update({"map_kind": kind, **meta})
    return Volume(array, like.geometry, "OT", metadata, [])
