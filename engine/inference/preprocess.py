"""Preprocessing shared by inference and training: resample to the model's spacing, normalise.

Resampling keeps the input's origin and direction and changes only spacing and size, so the way
back (:func:`resample_to_grid` onto the original geometry) is exact in physical space. Downsampling
first smooths with a Gaussian (anti-aliasing) whose width matches the spacing change, the same
smoothing the training-data generator applies to the template.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.models.manifest import Normalization
from engine.volume import Geometry, Volume

FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))


def antialias_sigmas(source_spacing, target_spacing) -> tuple[float, float, float]:
    """Gaussian sigmas (mm, (x, y, z)) that bring ``source`` resolution down to ``target``."""
    return tuple(
        math.sqrt(max(t * t - s * s, 0.0)) * FWHM_TO_SIGMA for s, t in zip(source_spacing, target_spacing)
    )


def model_grid(geometry: Geometry, target_spacing) -> Geometry:
    """Same origin and direction, ``target_spacing``, a size covering the same field of view."""
    size = tuple(max(1, int(round(n * s / t))) for n, s, t in zip(geometry.size, geometry.spacing, target_spacing))
    return Geometry(size, tuple(target_spacing), geometry.origin, geometry.direction)


def resample_to_grid(image, grid: Geometry, *, linear: bool = True, default: float = 0.0):
    """Resample a SimpleITK image onto ``grid`` (linear or nearest); returns a SimpleITK image."""
    import SimpleITK as sitk

    f = sitk.ResampleImageFilter()
    f.SetSize([int(v) for v in grid.size])
    f.SetOutputSpacing(grid.spacing)
    f.SetOutputOrigin(grid.origin)
    f.SetOutputDirection(grid.direction)
    f.SetInterpolator(sitk.sitkLinear if linear else sitk.sitkNearestNeighbor)
    f.SetDefaultPixelValue(float(default))
    f.SetOutputPixelType(image.GetPixelID())
    return f.Execute(image)


def to_model_spacing(volume: Volume, target_spacing) -> tuple[np.ndarray, Geometry]:
    """The volume's intensities on the model grid as float32 ``(z, y, x)``, and that grid."""
    import SimpleITK as sitk

    grid = model_grid(volume.geometry, target_spacing)
    if grid.is_close(volume.geometry, spacing_tol=1e-6):
        return np.asarray(volume.array, dtype=np.float32), volume.geometry
    image = sitk.Cast(volume.to_sitk(), sitk.sitkFloat32)
    sigmas = antialias_sigmas(volume.spacing, target_spacing)
    if any(s > 0 for s in sigmas):
        image = sitk.SmoothingRecursiveGaussian(image, [max(s, 1e-6) for s in sigmas])
    low = float(np.min(volume.array))
    out = resample_to_grid(image, grid, linear=True, default=low)
    return sitk.GetArrayFromImage(out).astype(np.float32, copy=False), grid


@dataclass(frozen=True)
class IntensityStats:
    """Statistics of the foreground before and after normalisation (for reports and OOD checks)."""

    lower: float
    upper: float
    mean: float
    std: float
    foreground_fraction: float


def normalize(array: np.ndarray, cfg: Normalization) -> tuple[np.ndarray, IntensityStats]:
    """Normalised float32 copy of ``array`` per ``cfg`` (see :class:`Normalization`)."""
    a = np.asarray(array, dtype=np.float32)
    if cfg.kind == "ct_window":
        out = (np.clip(a, cfg.hu_min, cfg.hu_max) - cfg.hu_min) / (cfg.hu_max - cfg.hu_min)
        return out.astype(np.float32), IntensityStats(cfg.hu_min, cfg.hu_max, float(out.mean()), float(out.std()), 1.0)
    sample = a.ravel()[:: max(1, a.size // 2_000_000)]  # percentiles of ≤2 M voxels are exact enough
    top = float(np.percentile(sample, cfg.upper_percentile))
    fg = sample[sample > cfg.foreground_fraction * top] if top > 0 else sample
    if fg.size < 16:
        fg = sample
    lower, upper = (float(v) for v in np.percentile(fg, [cfg.lower_percentile, cfg.upper_percentile]))
    clipped_fg = np.clip(fg, lower, upper)
    mean, std = float(clipped_fg.mean()), float(clipped_fg.std())
    std = std if std > 1e-6 * max(abs(upper), 1.0) else 1.0
    out = np.clip(a, lower, upper + cfg.upper_headroom * (upper - lower))
    out -= mean
    out /= std
    return out, IntensityStats(lower, upper, mean, std, float(fg.size) / float(sample.size))


def labels_to_model_grid(labels: Volume, grid: Geometry, num_classes: int) -> np.ndarray:
    """A label map on the model grid (uint8 ``(z, y, x)``): per-class anti-aliased fractions, argmax.

    For fine-tuning on corrected masks: the same smoothing and grid as the image, so image and
    labels stay aligned; nearest-neighbour would drop thin structures at random.
    """
    import SimpleITK as sitk

    best = np.full(grid.shape, -1.0, dtype=np.float32)
    out = np.zeros(grid.shape, dtype=np.uint8)
    sigmas = [max(s, 1e-6) for s in antialias_sigmas(labels.spacing, grid.spacing)]
    smooth = any(s > 1e-6 for s in sigmas)
    for c in range(num_classes):
        onehot = labels.with_array((labels.array == c).astype(np.float32)).to_sitk()
        if smooth:
            onehot = sitk.SmoothingRecursiveGaussian(onehot, sigmas)
        frac = sitk.GetArrayFromImage(resample_to_grid(onehot, grid, linear=True, default=float(c == 0)))
        better = frac > best
        out[better] = c
        np.copyto(best, frac, where=better)
    return out


def prepare_pair(volume: Volume, labels: Volume | None, target_spacing, cfg: Normalization,
                 num_classes: int) -> tuple[np.ndarray, np.ndarray | None, Geometry]:
    """Image (normalised) and optional labels on the model grid, as training/fine-tuning needs them."""
    raw, grid = to_model_spacing(volume, target_spacing)
    image, _ = normalize(raw, cfg)
    lab = None
    if labels is not None:
        if not labels.geometry.is_close(volume.geometry):
            from engine.errors import InputError

            raise InputError("the label map is not on the image's grid")
        lab = labels_to_model_grid(labels, grid, num_classes)
    return image, lab, grid
