"""Test data of the export tests: an oblique DICOM series written by Candor and an asymmetric mask."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from engine.io import load, write_series
from engine.volume import Geometry, Volume

CANARY_NAME = "CANARY^SECRETPATIENT"
CANARY_ID = "CANARY-ID-4711"

#: Oblique (rotated about all three axes), right-handed, anisotropic grid.
OBLIQUE = Geometry((24, 20, 14), (0.9, 1.1, 2.0), (-12.0, 8.0, 31.0),
                   Rotation.from_euler("xyz", [14, -9, 22], degrees=True).as_matrix().ravel())


@dataclass
class Series:
    folder: Path
    paths: list[Path]
    reference: Volume


def asymmetric_mask(shape: tuple[int, int, int]) -> np.ndarray:
    """Three labels, none symmetric left-right, front-back or head-foot (so any flip shows)."""
    lab = np.zeros(shape, np.uint8)
    lab[2:6, 3:9, 2:7] = 1            # low k, low i: one corner
    lab[5:11, 10:17, 12:21] = 2       # a larger block towards high i, high j
    lab[11, 2:4, 18:22] = 3           # one slice near the top, towards high i
    lab[10:12, 4, 21] = 3             # an L-shaped tail
    return lab


def make_series(folder: Path, geometry: Geometry = OBLIQUE, **kw) -> Series:
    rng = np.random.default_rng(7)
    image = Volume(rng.integers(0, 800, geometry.shape).astype(np.int16), geometry, "MR")
    paths = write_series(image, folder, modality="MR", patient_name=CANARY_NAME,
                         patient_id=CANARY_ID, **kw)
    reference = load(folder)
    return Series(folder, paths, reference)
