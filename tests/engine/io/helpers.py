"""Small phantoms and DICOM series for the loader tests (real files written with pydicom)."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from engine.volume import Geometry, Volume


def rotation(ax: float, ay: float, az: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def phantom(nz: int = 6, ny: int = 20, nx: int = 24, *, oblique: bool = False, seed: int = 0,
            spacing=(0.7, 0.8, 2.5), origin=(10.0, -20.0, 30.0), lo=-1000, hi=2000) -> Volume:
    """A random int16 CT-like volume (every voxel distinct enough to catch any reordering)."""
    rng = np.random.default_rng(seed)
    array = rng.integers(lo, hi, size=(nz, ny, nx)).astype(np.int16)
    direction = rotation(0.2, -0.15, 0.3) if oblique else np.eye(3)
    return Volume(array, Geometry((nx, ny, nz), spacing, origin, direction.ravel()), "CT")


def lr_phantom() -> Volume:
    """A block on the patient's left only (LPS +x), so any left-right flip is visible."""
    array = np.zeros((8, 16, 16), dtype=np.int16)
    array[2:6, 4:12, 10:15] = 500  # high i = patient left with an identity direction
    return Volume(array, Geometry((16, 16, 8), (1.0, 1.0, 2.0), (-8.0, -8.0, 0.0)), "CT")


def sitk_read_series(folder) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def assert_matches_sitk(volume: Volume, image: sitk.Image) -> None:
    assert volume.size == image.GetSize()
    np.testing.assert_allclose(volume.spacing, image.GetSpacing(), atol=1e-4)
    np.testing.assert_allclose(volume.origin, image.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(volume.geometry.direction, image.GetDirection(), atol=1e-4)
    np.testing.assert_array_equal(volume.array, sitk.GetArrayFromImage(image))
