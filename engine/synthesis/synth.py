"""Synthetic training cases from the template: deformed anatomy, synthetic lesions, varied contrast.

One case = a whole head on a ``spacing``-mm grid (the model's grid), built by

1. a random affine (rotation, anisotropic scale, shear, translation) plus a smooth elastic
   displacement, sampling the pre-smoothed T1 and tissue maps of :mod:`engine.synthesis.template`;
2. tissue labels = argmax of (background/CSF, grey matter, white matter) probabilities;
3. 0–3 synthetic lesions (``engine.synthesis.lesions``): ellipsoids with irregular, soft borders,
   hypo- or hyper-intense, mostly in white matter (label 3);
4. intensity augmentation (``engine.synthesis.augment``): tissue contrast, bias field, gamma, blur
   or thick-slice resolution loss, Gaussian or Rician noise, global scale.

Every random choice comes from the ``numpy.random.Generator`` passed in, so a seed gives one case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import map_coordinates

from engine.synthesis.augment import augment_intensity
from engine.synthesis.fields import random_field
from engine.synthesis.lesions import insert_lesions
from engine.synthesis.template import Template
from engine.volume import Geometry

BACKGROUND, GREY_MATTER, WHITE_MATTER, LESION = 0, 1, 2, 3


@dataclass(frozen=True)
class SynthConfig:
    max_rotation_deg: float = 12.0
    scale_range: tuple[float, float] = (0.88, 1.12)
    max_shear: float = 0.05
    max_translation_mm: float = 8.0
    elastic_sd_mm: float = 2.5
    elastic_grid: int = 6
    lesion_probability: float = 0.9
    max_lesions: int = 3
    lesion_radius_mm: tuple[float, float] = (2.5, 14.0)  # mean radius, log-uniform
    lr_flip: bool = True


@dataclass
class Case:
    """One generated case on the model grid: raw image, labels, and what was done."""

    image: np.ndarray  # float32 (z, y, x), raw (un-normalised) intensities
    labels: np.ndarray  # uint8 (z, y, x)
    geometry: Geometry
    lesions: list[dict] = field(default_factory=list)
    augment: dict = field(default_factory=dict)


def output_geometry(template: Template) -> Geometry:
    """The model grid covering the template's field of view at ``template.spacing``."""
    g = template.geometry
    s = template.spacing
    size = tuple(int(round(n * sp / s)) for n, sp in zip(g.size, g.spacing))
    return Geometry(size, (s, s, s), g.origin, g.direction)


def _random_matrix(rng: np.random.Generator, cfg: SynthConfig) -> np.ndarray:
    angles = np.deg2rad(rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg, 3))
    rot = np.eye(3)
    for axis, a in enumerate(angles):
        c, s = np.cos(a), np.sin(a)
        r = np.eye(3)
        i, j = [k for k in range(3) if k != axis]
        r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
        rot = rot @ r
    shear = np.eye(3) + np.triu(rng.uniform(-cfg.max_shear, cfg.max_shear, (3, 3)), 1)
    scale = np.diag(rng.uniform(*cfg.scale_range, 3))
    m = rot @ shear @ scale
    if cfg.lr_flip and rng.random() < 0.5:
        m = m @ np.diag([1.0, 1.0, -1.0])  # array axis 2 is left-right in the template
    return m


def sampling_coordinates(rng: np.random.Generator, shape: tuple[int, int, int], template: Template,
                         cfg: SynthConfig) -> np.ndarray:
    """``(3, z, y, x)`` template voxel coordinates for every output voxel (affine + elastic)."""
    s = template.spacing / template.geometry.spacing[0]
    out_centre = (np.asarray(shape) - 1) / 2.0
    tpl_centre = (np.asarray(template.t1.shape) - 1) / 2.0 + rng.uniform(-1, 1, 3) * cfg.max_translation_mm
    m = _random_matrix(rng, cfg) * s
    axes = [np.arange(n, dtype=np.float32) - c for n, c in zip(shape, out_centre)]
    coords = np.empty((3, *shape), dtype=np.float32)
    for i in range(3):
        coords[i] = (m[i, 0] * axes[0][:, None, None] + m[i, 1] * axes[1][None, :, None]
                     + m[i, 2] * axes[2][None, None, :] + tpl_centre[i])
    for i in range(3):
        coords[i] += random_field(rng, shape, cfg.elastic_grid, cfg.elastic_sd_mm)
    return coords


def generate_case(seed: int, template: Template, cfg: SynthConfig = SynthConfig()) -> Case:
    rng = np.random.default_rng(seed)
    geometry = output_geometry(template)
    shape = geometry.shape
    coords = sampling_coordinates(rng, shape, template, cfg)
    t1 = map_coordinates(template.t1, coords, order=1, mode="constant", cval=0.0, output=np.float32)
    gm = map_coordinates(template.gm, coords, order=1, mode="constant", cval=0.0, output=np.float32)
    wm = map_coordinates(template.wm, coords, order=1, mode="constant", cval=0.0, output=np.float32)
    del coords
    labels = np.argmax(np.stack([np.clip(1.0 - gm - wm, 0, 1), gm, wm]), axis=0).astype(np.uint8)
    lesions = []
    if rng.random() < cfg.lesion_probability:
        lesions = insert_lesions(rng, t1, labels, gm, wm, geometry.spacing[0], rng.integers(1, cfg.max_lesions + 1),
                                 cfg.lesion_radius_mm)
    image, aug = augment_intensity(rng, t1, gm, wm)
    return Case(image, labels, geometry, lesions, aug)


def sample_patch(rng: np.random.Generator, case_image: np.ndarray, labels: np.ndarray,
                 patch: tuple[int, int, int], lesion_fraction: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """A random ``patch`` crop (image, labels), centred on a lesion voxel ``lesion_fraction`` of the time."""
    shape = np.asarray(labels.shape)
    pool = np.flatnonzero(labels == LESION) if rng.random() < lesion_fraction else np.empty(0, dtype=np.int64)
    if pool.size == 0:
        pool = np.flatnonzero(labels[::2, ::2, ::2] > 0)
        centre = np.asarray(np.unravel_index(rng.choice(pool), labels[::2, ::2, ::2].shape)) * 2 if pool.size else shape // 2
    else:
        centre = np.asarray(np.unravel_index(rng.choice(pool), labels.shape))
    centre = centre + rng.integers(-8, 9, 3)
    start = np.clip(centre - np.asarray(patch) // 2, 0, np.maximum(shape - patch, 0))
    sl = tuple(slice(int(a), int(a) + p) for a, p in zip(start, patch))
    img, lab = case_image[sl], labels[sl]
    pad = [(0, max(0, p - n)) for p, n in zip(patch, img.shape)]
    if any(p[1] for p in pad):
        img = np.pad(img, pad, constant_values=float(img.min()))
        lab = np.pad(lab, pad)
    return img, lab
