"""The Volume/Geometry type agrees with SimpleITK's conventions exactly."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from engine.errors import InputError
from engine.volume import Geometry, Volume


def _oblique_direction() -> np.ndarray:
    a, b = np.deg2rad(20), np.deg2rad(-35)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx


def test_index_physical_matches_simpleitk():
    rng = np.random.default_rng(0)
    arr = rng.integers(-1000, 2000, size=(7, 11, 13), dtype=np.int16)
    d = _oblique_direction()
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.7, 0.9, 2.5))
    img.SetOrigin((-120.0, 33.5, 80.25))
    img.SetDirection(d.ravel().tolist())
    vol = Volume.from_sitk(img, modality="CT")
    assert vol.size == (13, 11, 7)
    assert vol.array.shape == (7, 11, 13)
    for ijk in [(0, 0, 0), (12, 10, 6), (3.5, 2.25, 1.0)]:
        expected = img.TransformContinuousIndexToPhysicalPoint(ijk)
        np.testing.assert_allclose(vol.geometry.index_to_physical(ijk), expected, atol=1e-9)
        np.testing.assert_allclose(vol.geometry.physical_to_index(expected), ijk, atol=1e-9)
    back = vol.to_sitk()
    assert back.GetSpacing() == img.GetSpacing()
    np.testing.assert_allclose(back.GetDirection(), img.GetDirection())
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), arr)


def test_axis_codes_and_affine():
    g = Geometry((4, 5, 6), (1, 1, 2), (0, 0, 0), np.diag([-1.0, -1.0, 1.0]).ravel())
    assert g.axis_codes() == "RAS"
    np.testing.assert_allclose(g.affine_lps @ [1, 1, 1, 1], [-1, -1, 2, 1])
    assert g.voxel_volume_ml == pytest.approx(0.002)


@pytest.mark.parametrize("kwargs, message", [
    (dict(size=(4, 4, 0), spacing=(1, 1, 1), origin=(0, 0, 0)), "size"),
    (dict(size=(4, 4, 4), spacing=(1, np.nan, 1), origin=(0, 0, 0)), "spacing"),
    (dict(size=(4, 4, 4), spacing=(1, 1, 1), origin=(0, np.inf, 0)), "origin"),
    (dict(size=(4, 4, 4), spacing=(1, 1, 1), origin=(0, 0, 0), direction=(1, 0, 0, 1, 0, 0, 0, 0, 1)),
     "orthonormal"),
])
def test_invalid_geometry_is_a_clear_error(kwargs, message):
    with pytest.raises(InputError, match=message):
        Geometry(**kwargs)


def test_array_must_match_geometry():
    g = Geometry((4, 5, 6), (1, 1, 1), (0, 0, 0))
    with pytest.raises(InputError, match="does not match"):
        Volume(np.zeros((4, 5, 6)), g)
    v = Volume(np.zeros(g.shape, np.int16), g, "MR")
    mask = v.with_array(np.ones(g.shape, np.uint8))
    assert mask.geometry == v.geometry and mask.modality == "MR"
