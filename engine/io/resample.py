"""A regular volume from an irregular stack (missing slices, varying spacing, gantry tilt).

The loader keeps each slice's true position in ``metadata["slice_positions"]``; :func:`regularize`
resamples (linear in-plane and along the normal) onto an orthogonal grid with even slice spacing,
so distances and 3-D views are right. Voxels that no slice covers get the volume's minimum.
"""

from __future__ import annotations

import numpy as np

from engine.errors import InputError
from engine.jobs import CancelToken, ProgressCallback, report
from engine.volume import Geometry, Volume


def regularize(volume: Volume, spacing: float | None = None, *,
               progress: ProgressCallback | None = None,
               cancel: CancelToken | None = None) -> Volume:
    """Resample ``volume`` onto an even, unsheared grid using its true slice positions.

    The slice spacing is ``spacing`` or else the smallest gap between slices (no detail lost).
    """
    from scipy import ndimage

    positions = np.asarray(volume.metadata.get("slice_positions", []), dtype=np.float64)
    if positions.shape != (volume.size[2], 3):
        raise InputError("this volume does not carry its slice positions; it cannot be resampled")
    g = volume.geometry
    row, col, normal = g.matrix.T
    rel = positions - positions[0]
    dist = rel @ normal
    offsets = np.column_stack([rel @ col / g.spacing[1], rel @ row / g.spacing[0]])  # (j, i)
    # A shift of 1.0000001 rows would put row 0 a hair outside the slice, and ndimage's constant
    # mode fills such a row with the fill value: whole-row shifts are snapped to whole rows.
    whole = np.rint(offsets)
    offsets = np.where(np.abs(offsets - whole) < 1e-6, whole, offsets)
    gaps = np.diff(dist)
    step = float(spacing or (np.min(gaps[gaps > 1e-3]) if np.any(gaps > 1e-3) else g.spacing[2]))
    n_out = int(np.floor(dist[-1] / step + 1e-6)) + 1
    fill_value = float(volume.array.min())
    out = np.empty((n_out, g.size[1], g.size[0]), dtype=np.float32)
    cache: dict[int, np.ndarray] = {}

    def shifted(k: int) -> np.ndarray:
        if k not in cache:
            cache.clear() if len(cache) > 2 else None
            src = volume.array[k].astype(np.float32)
            if np.any(np.abs(offsets[k]) > 1e-3):
                src = ndimage.shift(src, offsets[k], order=1, mode="constant", cval=fill_value)
            cache[k] = src
        return cache[k]

    for z in range(n_out):
        if z % 16 == 0:
            report(progress, cancel, z / n_out, "resampling to a regular grid")
        d = z * step
        b = int(np.clip(np.searchsorted(dist, d), 1, len(dist) - 1)) if len(dist) > 1 else 0
        a = max(b - 1, 0)
        t = 0.0 if b == a else float(np.clip((d - dist[a]) / (dist[b] - dist[a]), 0.0, 1.0))
        out[z] = shifted(a) * (1 - t) + shifted(b) * t if t > 0 else shifted(a)
    geometry = Geometry((g.size[0], g.size[1], n_out), (g.spacing[0], g.spacing[1], step),
                        positions[0], g.direction)
    meta = dict(volume.metadata)
    for key in ("slice_positions", "source_files", "sop_instance_uids"):
        meta.pop(key, None)
    meta["irregular_slices"] = False
    meta["resampled_from"] = meta.get("series_uid", "")
    return Volume(out, geometry, volume.modality, meta,
                  [f"resampled to a regular grid of {step:.3f} mm slices from an irregular stack"])
