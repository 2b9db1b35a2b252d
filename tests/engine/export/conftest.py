"""A small oblique DICOM series and an asymmetric mask on it, shared by the export tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from engine.io import load, write_series
from engine.labels import LabelInfo, LabelTable
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


@pytest.fixture(scope="session")
def _series_master(tmp_path_factory) -> Series:
    return make_series(tmp_path_factory.mktemp("oblique") / "series")


@pytest.fixture
def series(_series_master, tmp_path) -> Series:
    """A private copy of the oblique series (tests may damage it)."""
    folder = tmp_path / "series"
    shutil.copytree(_series_master.folder, folder)
    paths = [folder / p.name for p in _series_master.paths]
    ref = _series_master.reference
    meta = dict(ref.metadata, source_files=[str(p) for p in paths])
    return Series(folder, paths, ref.with_array(ref.array, metadata=meta))


@pytest.fixture
def table() -> LabelTable:
    return LabelTable([LabelInfo(1, "grey matter", (170, 170, 170)),
                       LabelInfo(2, "white matter", (250, 250, 225)),
                       LabelInfo(3, "lesion", (230, 25, 75))])


@pytest.fixture
def mask(series) -> Volume:
    lab = asymmetric_mask(series.reference.geometry.shape)
    return series.reference.with_array(lab, modality="SEG", metadata={
        "model_name": "candor-brain-t1", "model_version": "1.2.0", "edited": True})
