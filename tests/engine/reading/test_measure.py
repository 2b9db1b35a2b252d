"""Measurements on generated anisotropic and oblique grids with known values.

Physical positions are checked against SimpleITK's own continuous-index → physical mapping of the
same grid (not against :class:`engine.volume.Geometry`); ROI truths come from the generated
image's formula and hand-counted pixel sets.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk

from engine.errors import InputError
from engine.io import load, write_series
from engine.reading.measure import (Measurement, angle, distance, dumps, label_roi, loads,
                                    plane_roi)
from engine.volume import Geometry, Volume

from .test_lesions import DIRECTIONS

SPACING = (0.5, 0.7, 2.0)
SIZE = (20, 16, 8)   # (i, j, k)


def _geometry(orientation: str) -> Geometry:
    return Geometry(SIZE, SPACING, (-3.0, 12.5, 40.0), DIRECTIONS[orientation].ravel())


def _ramp(geometry: Geometry, modality: str = "MR") -> Volume:
    """value = i + 10 j + 100 k, so any ROI's statistics follow from its pixel set."""
    k, j, i = np.indices(geometry.shape)
    return Volume((i + 10 * j + 100 * k).astype(np.float32), geometry, modality)


def _sitk_point(geometry: Geometry, ijk) -> np.ndarray:
    img = sitk.Image(list(geometry.size), sitk.sitkUInt8)
    img.SetSpacing(geometry.spacing)
    img.SetOrigin(geometry.origin)
    img.SetDirection(geometry.direction)
    return np.array(img.TransformContinuousIndexToPhysicalPoint([float(v) for v in ijk]))


@pytest.mark.parametrize("orientation", ["axial", "oblique"])
def test_distance_is_physical_on_anisotropic_and_oblique_grids(orientation):
    g = _geometry(orientation)
    m = distance(g, (1.0, 2.0, 1.0), (4.0, 6.0, 3.5), name="ruler")
    assert m.value == pytest.approx(math.sqrt((3 * 0.5) ** 2 + (4 * 0.7) ** 2 + (2.5 * 2.0) ** 2), abs=1e-9)
    assert (m.kind, m.name, m.unit) == ("distance", "ruler", "mm")
    np.testing.assert_allclose(m.points_lps[1], _sitk_point(g, (4.0, 6.0, 3.5)), atol=1e-9)
    assert m.points_ijk == ((1.0, 2.0, 1.0), (4.0, 6.0, 3.5))


@pytest.mark.parametrize("orientation", ["axial", "oblique"])
def test_angle_uses_millimetres_not_voxels(orientation):
    g = _geometry(orientation)
    assert angle(g, (3, 0, 0), (0, 0, 0), (0, 5, 0)).value == pytest.approx(90.0, abs=1e-9)
    # one voxel along i is 0.5 mm, 5/7 voxel along j is 0.5 mm: 45° in mm (in voxels it is 35.5°)
    assert angle(g, (1, 0, 0), (0, 0, 0), (1, 5 / 7, 0)).value == pytest.approx(45.0, abs=1e-9)
    with pytest.raises(InputError, match="away from the vertex"):
        angle(g, (0, 0, 0), (0, 0, 0), (1, 0, 0))


def test_rectangle_roi_on_an_axial_slice():
    image = _ramp(_geometry("oblique"))
    m = plane_roi(image, 2, (2.0, 3.0, 5.0), (5.4, 6.0, 5.2))   # pixels i 2…5, j 3…6 of k = 5
    values = [i + 10 * j + 500 for i in range(2, 6) for j in range(3, 7)]
    s = m.stats
    assert (s.voxels, m.slice, m.axis, m.unit) == (16, 5, 2, "mm2")
    assert m.value == s.area_mm2 == pytest.approx(16 * 0.5 * 0.7, abs=1e-12)
    assert s.mean == pytest.approx(np.mean(values))
    assert s.sd == pytest.approx(np.std(values, ddof=1))
    assert (s.min, s.max, s.median) == (532.0, 565.0, float(np.median(values)))


def test_ellipse_roi_counts_the_pixel_centres_inside():
    image = _ramp(_geometry("axial"))
    # box i 7…13, j 4…8 in slice k = 2: the inscribed ellipse has radii 3 (i) and 2 (j) about
    # (10, 6). Centres inside, by hand: row j=6 → i 7…13 (7), j=5,7 → |di| ≤ 2.6 (5 each),
    # j=4,8 → i=10 (1 each): 19 pixels.
    m = plane_roi(image, 2, (7, 4, 2), (13, 8, 2), shape="ellipse")
    pixels = ([(i, 6) for i in range(7, 14)] + [(i, j) for j in (5, 7) for i in range(8, 13)]
              + [(10, 4), (10, 8)])
    values = [i + 10 * j + 200 for i, j in pixels]
    assert m.stats.voxels == 19 and m.kind == "ellipse"
    assert m.stats.area_mm2 == pytest.approx(19 * 0.35)
    assert m.stats.mean == pytest.approx(np.mean(values))
    assert m.stats.sd == pytest.approx(np.std(values, ddof=1))


@pytest.mark.parametrize(("axis", "pixel_mm2", "truth"), [
    (0, 0.7 * 2.0, [4 + 10 * j + 100 * k for j in range(2, 5) for k in range(1, 3)]),   # sagittal-like
    (1, 0.5 * 2.0, [i + 30 + 100 * k for i in range(6, 10) for k in range(1, 3)]),      # coronal-like
])
def test_rois_in_the_other_index_planes(axis, pixel_mm2, truth):
    image = _ramp(_geometry("oblique"))
    a, b = {0: ((4, 2, 1), (4, 4, 2)), 1: ((6, 3, 1), (9, 3, 2))}[axis]
    m = plane_roi(image, axis, a, b)
    assert m.stats.voxels == len(truth)
    assert m.stats.area_mm2 == pytest.approx(len(truth) * pixel_mm2)
    assert m.stats.mean == pytest.approx(np.mean(truth))
    assert (m.stats.min, m.stats.max) == (min(truth), max(truth))


def test_ct_roi_reads_hounsfield_units(tmp_path):
    g = Geometry((12, 10, 3), (0.8, 0.8, 3.0), (0.0, 0.0, 0.0))
    hu = np.full(g.shape, -1000, np.int16)
    hu[1, 2:6, 3:7] = 40          # soft tissue, 16 pixels
    write_series(Volume(hu, g, "CT"), tmp_path / "ct", modality="CT", rescale=(1.0, -1024.0))
    ct = load(tmp_path / "ct")
    m = plane_roi(ct, 2, (3, 2, 1), (6, 5, 1))
    assert m.stats.unit == "HU"
    assert (m.stats.voxels, m.stats.mean, m.stats.sd) == (16, 40.0, 0.0)


def test_label_roi_volume_and_intensity():
    g = _geometry("oblique")
    image = _ramp(g)
    lab = np.zeros(g.shape, np.uint8)
    lab[2:4, 5:8, 10:15] = 3            # k 2…3, j 5…7, i 10…14: 30 voxels
    m = label_roi(image, image.with_array(lab), 3)
    values = [i + 10 * j + 100 * k for k in (2, 3) for j in range(5, 8) for i in range(10, 15)]
    assert (m.kind, m.unit, m.label, m.stats.voxels) == ("label", "mL", 3, 30)
    assert m.value == m.stats.volume_ml == pytest.approx(30 * 0.5 * 0.7 * 2.0 / 1000)
    assert m.stats.mean == pytest.approx(np.mean(values))
    assert m.stats.sd == pytest.approx(np.std(values, ddof=1))
    assert m.points_ijk == ((10.0, 5.0, 2.0), (14.0, 7.0, 3.0))
    with pytest.raises(InputError, match="no voxel"):
        label_roi(image, image.with_array(lab), 1)


def test_measurements_round_trip_through_json():
    image = _ramp(_geometry("oblique"))
    items = [distance(image.geometry, (0, 0, 0), (1, 1, 1)),
             angle(image.geometry, (1, 0, 0), (0, 0, 0), (0, 1, 0), name="knee"),
             plane_roi(image, 2, (1, 1, 3), (4, 5, 3), shape="ellipse").renamed("lesion ROI")]
    back = loads(dumps(items))
    assert back == items
    assert back[2].name == "lesion ROI" and isinstance(back[2], Measurement)


@pytest.mark.parametrize(("call", "message"), [
    (lambda im: plane_roi(im, 2, (1, 1, 30), (2, 2, 30)), "outside the image"),
    (lambda im: plane_roi(im, 3, (1, 1, 1), (2, 2, 1)), "plane axis"),
    (lambda im: plane_roi(im, 2, (1, 1, 1), (2, 2, 1), shape="circle"), "rectangle"),
    (lambda im: plane_roi(im, 2, (1.2, 1.2, 1), (1.4, 1.4, 1)), "no voxel centre"),
    (lambda im: distance(im.geometry, (0, 0, float("nan")), (1, 1, 1)), "finite"),
    (lambda im: loads('{"measurements": [{"kind": "distance"}]}'), "malformed"),
])
def test_bad_input_is_a_plain_error(call, message):
    with pytest.raises(InputError, match=message):
        call(_ramp(_geometry("axial")))
