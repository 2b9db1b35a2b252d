"""The generated OOD suite: in-distribution held-out T1 cases and shifted versions of them.

Every shift starts from a held-out generated case (``engine.synthesis.synth.generate_case`` with a
seed never used in training or calibration) and changes one thing:

==================  =====  ==============================================================
shift               far?   what
==================  =====  ==============================================================
inverted_contrast   no     intensities inverted inside the head (T2-like tissue ordering)
strong_noise        no     Gaussian noise with SD 35 % of the bright-tissue level
heavy_blur          no     Gaussian blur, σ = 6 mm
ct_like             yes    Hounsfield units: air −1000, brain 25–45, CSF 8, skull 900
non_brain           yes    a torso-like phantom (fat, muscle, organs, spine), MR-like values
wrong_orientation   no     content turned upside down and front-to-back, header unchanged
truncated_fov       no     only a 60 mm slab of the head (through the ventricles)
rescaled_x1000      yes    intensities × 1000
==================  =====  ==============================================================
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation, gaussian_filter

from engine.synthesis.synth import generate_case
from engine.synthesis.template import Template
from engine.volume import Geometry, Volume

OOD_SEED_BASE = 900_000_000       # held-out evaluation seeds (never used in training or calibration)
CALIBRATION_SEED_BASE = 800_000_000
SHIFTS = ("inverted_contrast", "strong_noise", "heavy_blur", "ct_like", "non_brain", "wrong_orientation",
          "truncated_fov", "rescaled_x1000")
FAR_SHIFTS = ("ct_like", "non_brain", "rescaled_x1000")


def case_volume(seed: int, template: Template) -> tuple[Volume, np.ndarray]:
    """A generated in-distribution case as an MR ``Volume`` (on the model grid) and its labels."""
    case = generate_case(seed, template)
    meta = {"series_description": f"generated T1 case {seed}", "body_part": "BRAIN"}
    return Volume(case.image, case.geometry, "MR", meta), case.labels


def _head_mask(image: np.ndarray) -> np.ndarray:
    return image > 0.12 * float(np.percentile(image, 99))


def shift_volume(name: str, volume: Volume, labels: np.ndarray, rng: np.random.Generator) -> Volume:
    a = np.asarray(volume.array, np.float32)
    top = float(np.percentile(a, 99))
    meta = dict(volume.metadata, series_description=f"OOD: {name}")
    if name == "inverted_contrast":
        head = _head_mask(a)
        out = np.where(head, top - np.clip(a, 0, top) + 0.1 * top, a)
    elif name == "strong_noise":
        out = a + rng.normal(0, 0.35 * top, a.shape).astype(np.float32)
    elif name == "heavy_blur":
        out = gaussian_filter(a, 6.0 / np.asarray(volume.spacing[::-1]))
    elif name == "ct_like":
        out = _ct_like(a, labels, rng)
        meta.pop("body_part", None)
        return Volume(out.astype(np.float32), volume.geometry, "OT", meta)   # content alone must tell
    elif name == "non_brain":
        out = _torso(volume.geometry, top, rng)
        meta.pop("body_part", None)
    elif name == "wrong_orientation":
        out = a[::-1, ::-1, :]
    elif name == "truncated_fov":
        return _slab(volume, meta, 60.0)
    elif name == "rescaled_x1000":
        out = a * 1000.0
    else:
        raise ValueError(f"unknown shift {name!r}")
    return Volume(np.ascontiguousarray(out, dtype=np.float32), volume.geometry, "MR", meta)


def _ct_like(a: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    head = _head_mask(a)
    brain = labels > 0
    skull = binary_dilation(brain, iterations=3) & ~binary_dilation(brain, iterations=1)
    hu = np.full(a.shape, -1000.0, np.float32)
    hu[head] = 30.0                                 # scalp and soft tissue
    hu[binary_dilation(brain, iterations=1) & head] = 8.0   # CSF rim
    hu[labels == 1] = 40.0
    hu[labels == 2] = 28.0
    hu[labels == 3] = 18.0
    hu[skull & head] = 900.0
    return gaussian_filter(hu, 0.7) + rng.normal(0, 4.0, a.shape).astype(np.float32)


def _torso(geometry: Geometry, level: float, rng: np.random.Generator) -> np.ndarray:
    """An abdomen-like cross-section extruded along S-I: fat ring, muscle, organs, a spine."""
    nz, ny, nx = geometry.shape
    z, y, x = np.mgrid[:nz, :ny, :nx].astype(np.float32)
    cy, cx = ny / 2, nx / 2
    body = ((y - cy) / (0.42 * ny)) ** 2 + ((x - cx) / (0.48 * nx)) ** 2
    img = np.zeros((nz, ny, nx), np.float32)
    img[body < 1.0] = 0.95 * level                      # subcutaneous fat (bright on T1)
    img[body < 0.75] = 0.35 * level                     # muscle wall
    img[body < 0.6] = 0.55 * level                      # viscera
    for _ in range(4):                                  # organs
        oy, ox = cy + rng.uniform(-0.2, 0.2) * ny, cx + rng.uniform(-0.25, 0.25) * nx
        r = rng.uniform(0.08, 0.16)
        organ = ((y - oy) / (r * ny)) ** 2 + ((x - ox) / (r * 1.3 * nx)) ** 2 + ((z - nz / 2) / (0.45 * nz)) ** 2
        img[organ < 1.0] = rng.uniform(0.25, 0.75) * level
    spine = ((y - (cy + 0.28 * ny)) / (0.06 * ny)) ** 2 + ((x - cx) / (0.06 * nx)) ** 2
    img[spine < 1.0] = 0.6 * level
    img = gaussian_filter(img, 1.0)
    return img + rng.normal(0, 0.03 * level, img.shape).astype(np.float32)


def _slab(volume: Volume, meta: dict, thickness_mm: float) -> Volume:
    """A physically consistent crop: the central ``thickness_mm`` of the array's k axis."""
    nk = volume.array.shape[0]
    keep = max(2, int(round(thickness_mm / volume.spacing[2])))
    start = (nk - keep) // 2
    g = volume.geometry
    origin = g.index_to_physical((0, 0, start))
    geometry = Geometry((g.size[0], g.size[1], keep), g.spacing, tuple(origin), g.direction)
    return Volume(np.ascontiguousarray(volume.array[start:start + keep]), geometry, "MR", meta)


def suite(template: Template, cases: int, seed_base: int = OOD_SEED_BASE):
    """Yield ``(shift_name or "in_distribution", case_index, Volume, labels-or-None)``."""
    rng = np.random.default_rng(seed_base)
    for i in range(cases):
        vol, labels = case_volume(seed_base + i, template)
        yield "in_distribution", i, vol, labels
        for name in SHIFTS:
            yield name, i, shift_volume(name, vol, labels, rng), None
