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


def probabilities_to_input(probs: np.ndarray, model_grid: Geometry, target: Geometry, *, keep: bool = False,
                           dtype=np.float16, cancel=None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(K, …)`` model-grid probabilities onto ``target``: (argmax labels, probabilities or ``None``).

    The one place probabilities are resampled: each class linearly (outside the model grid:
    background), one class at a time with a running maximum, so no K full-resolution float32
    arrays exist at once; ties go to the lower class. ``keep`` also returns the resampled
    probabilities as ``(K, z, y, x)`` ``dtype``. Labels are uint8 (uint16 beyond 256 classes).
    """
    from engine.jobs import report

    k = probs.shape[0]
    label_dtype = np.uint8 if k <= 256 else np.uint16
    if model_grid.is_close(target, spacing_tol=1e-6):
        return probs.argmax(0).astype(label_dtype), (probs.astype(dtype) if keep else None)
    out = np.empty((k, *target.shape), dtype=dtype) if keep else None
    best = np.full(target.shape, -1.0, dtype=np.float32)
    labels = np.zeros(target.shape, label_dtype)
    for c in range(k):
        report(None, cancel, 0.0)
        chan = map_to_input(np.ascontiguousarray(probs[c], dtype=np.float32), model_grid, target,
                            default=1.0 if c == 0 else 0.0)
        better = chan > best
        labels[better] = c
        np.copyto(best, chan, where=better)
        if out is not None:
            out[c] = chan
    return labels, out


def as_volume(array: np.ndarray, like: Volume, kind: str, **meta) -> Volume:
    """A derived map on ``like``'s grid, with a note of what it is (no patient data copied)."""
    metadata = {k: like.metadata[k] for k in ("series_uid", "study_uid", "frame_of_reference_uid")
                if k in like.metadata}
    metadata.update({"map_kind": kind, **meta})
    return Volume(array, like.geometry, "OT", metadata, [])
