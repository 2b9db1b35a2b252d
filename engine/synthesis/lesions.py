"""Synthetic lesions: irregular ellipsoids with soft borders, hypo- or hyper-intense.

Size (2.5–14 mm mean radius), shape (anisotropic radii, random rotation, low-frequency surface
ripple), border width (0.5–2.5 mm), location (70 % centred in white matter, 30 % anywhere in the
brain) and contrast (0.25–0.7× or 1.15–1.6× the local white-matter intensity, with texture) vary.
The lesion label is set where the soft lesion weight exceeds 0.5 inside the brain.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import zoom

LESION = 3


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _centre(rng: np.random.Generator, gm: np.ndarray, wm: np.ndarray) -> np.ndarray | None:
    mask = wm > 0.6 if rng.random() < 0.7 else (gm + wm) > 0.6
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return None
    return np.asarray(np.unravel_index(rng.choice(idx), mask.shape), dtype=np.float64)


def insert_lesions(rng: np.random.Generator, image: np.ndarray, labels: np.ndarray, gm: np.ndarray,
                   wm: np.ndarray, spacing: float, count: int,
                   radius_mm: tuple[float, float] = (2.5, 14.0)) -> list[dict]:
    """Paint ``count`` random lesions into ``image`` and ``labels`` in place; return their descriptions."""
    wm_level = white_matter_level(image, wm)
    out = []
    for _ in range(int(count)):
        centre = _centre(rng, gm, wm)
        if centre is None:
            break
        hyper = bool(rng.random() < 0.5)
        out.append(paint_lesion(
            rng, image, labels, gm, wm, centre, spacing,
            radius_mm=float(np.exp(rng.uniform(np.log(radius_mm[0]), np.log(radius_mm[1])))),
            contrast=rng.uniform(1.15, 1.6) if hyper else rng.uniform(0.25, 0.7),
            border_mm=rng.uniform(0.5, 2.5), wm_level=wm_level))
    return out


def white_matter_level(image: np.ndarray, wm: np.ndarray) -> float:
    return float(np.median(image[wm > 0.8])) if np.any(wm > 0.8) else float(np.percentile(image, 95))


def paint_lesion(rng: np.random.Generator, image: np.ndarray, labels: np.ndarray, gm: np.ndarray, wm: np.ndarray,
                 centre, spacing: float, *, radius_mm: float, contrast: float, border_mm: float,
                 wm_level: float) -> dict:
    """One lesion at ``centre`` (voxel index, array order): ``contrast`` × white matter, soft border."""
    centre = np.asarray(centre, dtype=np.float64)
    radii = radius_mm * rng.uniform(0.65, 1.35, 3) / spacing  # voxels
    border = border_mm / spacing
    reach = int(np.ceil(radii.max() * 1.4 + 3 * border)) + 1
    lo = np.maximum(centre.astype(int) - reach, 0)
    hi = np.minimum(centre.astype(int) + reach + 1, labels.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    grid = np.stack(np.meshgrid(*[np.arange(a, b) - c for a, b, c in zip(lo, hi, centre)], indexing="ij"))
    local = np.einsum("ij,j...->i...", _rotation(rng).T, grid) / radii[:, None, None, None]
    dist = np.sqrt((local ** 2).sum(0))
    ripple = zoom(rng.normal(0, 0.12, (4, 4, 4)), [n / 4 for n in dist.shape], order=3, grid_mode=True,
                  mode="nearest")[: dist.shape[0], : dist.shape[1], : dist.shape[2]]
    dist = dist * (1.0 + ripple)
    weight = 1.0 / (1.0 + np.exp(-(1.0 - dist) * radii.mean() / max(border, 0.2)))
    weight *= np.clip((gm[box] + wm[box] - 0.2) / 0.4, 0.0, 1.0)
    target = wm_level * contrast * (1.0 + rng.normal(0, 0.04, weight.shape))
    image[box] = (image[box] * (1.0 - weight) + target * weight).astype(image.dtype)
    inside = weight > 0.5
    labels[box][inside] = LESION
    return {"centre_vox": centre.tolist(), "radius_mm": float(radius_mm), "hyperintense": bool(contrast > 1),
            "contrast": float(contrast), "voxels": int(inside.sum())}
