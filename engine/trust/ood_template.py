"""Does the image look like a head, in the orientation its header claims? (template similarity)

The scan and the bundled MNI T1 template are both resampled onto a coarse 6 mm cube in patient
(LPS) axes, each centred on its own intensity centroid. The Pearson correlation of the two says
how brain-like the scan is; correlating the scan's cube under all 48 axis permutations/flips says
whether some *other* orientation fits the template better than the header's (a flipped or swapped
orientation). A left-right mirror counts as the header's orientation (brains are near-symmetric).
Intensity scale and offset do not matter (correlation); contrast inversion does, which is wanted.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.volume import Geometry, Volume

CUBE = 40          # voxels per side
STEP_MM = 6.0      # voxel size of the comparison cube


@dataclass(frozen=True)
class TemplateMatch:
    similarity: float          # correlation in the header's orientation (or its L-R mirror)
    best_other: float          # best correlation of any other orientation
    best_other_name: str

    @property
    def orientation_gap(self) -> float:
        """How much better the best other orientation fits (positive: the header looks wrong)."""
        return self.best_other - self.similarity


def _cube_grid(centre: np.ndarray) -> Geometry:
    half = (CUBE - 1) / 2.0 * STEP_MM
    return Geometry((CUBE,) * 3, (STEP_MM,) * 3, tuple(centre - half))


def _centroid(volume: Volume) -> np.ndarray:
    a = np.asarray(volume.array[::2, ::2, ::2], dtype=np.float32)
    hi = float(np.percentile(a, 99.5))
    lo = float(np.percentile(a, 0.5))
    w = np.clip((a - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    w = np.where(w > 0.15, w, 0.0)
    if w.sum() <= 0:
        w = np.ones_like(w)
    kji = np.stack(np.meshgrid(*[np.arange(n) * 2 for n in a.shape], indexing="ij"), -1).reshape(-1, 3)
    mean_kji = (kji * w.reshape(-1, 1)).sum(0) / w.sum()
    return volume.geometry.index_to_physical(mean_kji[::-1])


def _to_cube(volume: Volume) -> np.ndarray:
    import SimpleITK as sitk

    from engine.inference.preprocess import resample_to_grid

    image = sitk.Cast(volume.to_sitk(), sitk.sitkFloat32)
    sigma = [max(0.5 * STEP_MM, s) for s in volume.spacing]
    image = sitk.SmoothingRecursiveGaussian(image, sigma)
    low = float(np.percentile(volume.array[::3, ::3, ::3], 1))
    cube = sitk.GetArrayFromImage(resample_to_grid(image, _cube_grid(_centroid(volume)), default=low))
    return _standardise(cube)


def _standardise(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float32)
    lo, hi = np.percentile(a, [1, 99])
    a = np.clip(a, lo, hi)
    a -= a.mean()
    sd = a.std()
    return a / sd if sd > 0 else a


@lru_cache(maxsize=1)
def template_cube() -> np.ndarray:
    from engine.synthesis.template import read_raw_template

    raw = read_raw_template()
    g: Geometry = raw["geometry"]
    return _to_cube(Volume(raw["t1"].astype(np.float32), g, "MR"))


def _orientations():
    for perm in itertools.permutations(range(3)):
        for flips in itertools.product((False, True), repeat=3):
            yield perm, flips


def _apply(cube: np.ndarray, perm, flips) -> np.ndarray:
    out = np.transpose(cube, perm)
    for axis, flip in enumerate(flips):
        if flip:
            out = np.flip(out, axis)
    return out


def _name(perm, flips) -> str:
    axes = "SPL"  # cube array axes: z = S, y = P, x = L (LPS, identity direction)
    return "/".join(("-" if f else "+") + axes[p] for p, f in zip(perm, flips))


def match_template(volume: Volume) -> TemplateMatch:
    cube = _to_cube(volume)
    tpl = template_cube()
    n = float(cube.size)
    header = -1.0
    best, best_name = -1.0, ""
    for perm, flips in _orientations():
        r = float((_apply(cube, perm, flips) * tpl).sum() / n)
        if perm == (0, 1, 2) and not flips[0] and not flips[1]:   # identity or L-R mirror
            header = max(header, r)
        elif r > best:
            best, best_name = r, _name(perm, flips)
    return TemplateMatch(header, best, best_name)
