"""The lesion table on generated label maps with known components, written to NIfTI and read back.

The truth comes from the boxes' sizes and, for positions, from SimpleITK's own index → physical
mapping of the file the test wrote (not from :class:`engine.volume.Geometry`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from engine.errors import InputError
from engine.export import read_label_file
from engine.io import read_image
from engine.reading import Lesion, lesion_table

SPACING = (0.5, 0.7, 2.0)                # (i, j, k) mm: anisotropic in-plane and through-plane
ORIGIN = (-12.3, 40.1, 7.5)
SIZE = (48, 40, 12)                      # (i, j, k)
VOXEL_ML = SPACING[0] * SPACING[1] * SPACING[2] / 1000.0


def _rotation(a: float, b: float, c: float) -> np.ndarray:
    ca, sa, cb, sb, cc, sc = (math.cos(a), math.sin(a), math.cos(b), math.sin(b), math.cos(c),
                              math.sin(c))
    rz = np.array([[ca, -sa, 0], [sa, ca, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, cb, -sb], [0, sb, cb]])
    ry = np.array([[cc, 0, sc], [0, 1, 0], [-sc, 0, cc]])
    return rz @ rx @ ry


DIRECTIONS = {"axial": np.eye(3), "oblique": _rotation(0.35, 0.25, -0.2)}

# Boxes as array slices [k, j, i]; in-plane sizes in mm are (pixels along i × 0.5, along j × 0.7).
BOX_A = (slice(2, 5), slice(3, 13), slice(4, 24))         # 10 × 7 mm, 3 slices: 600 voxels
BOX_B = (slice(6, 10), slice(20, 30), slice(30, 36))      # 3 × 7 mm, 4 slices …
BOX_B_WIDE = (slice(8, 9), slice(20, 30), slice(28, 40))  # … but 6 × 7 mm in slice 8
BOX_C = (slice(11, 12), slice(34, 36), slice(40, 42))     # 2 × 2 × 1 voxels: 0.0028 mL, small
BOX_OTHER = (slice(2, 5), slice(13, 15), slice(4, 24))    # label 2, touching A


def scene_labels() -> np.ndarray:
    a = np.zeros(SIZE[::-1], np.uint8)
    for box in (BOX_A, BOX_B, BOX_B_WIDE, BOX_C):
        a[box] = 1
    a[BOX_OTHER] = 2
    return a


def scene_uncertainty() -> np.ndarray:
    """0.05 everywhere; inside A a ramp along i (0.2 … 0.58), inside B 0.9 at one voxel."""
    u = np.full(SIZE[::-1], 0.05, np.float32)
    u[BOX_A] = (0.2 + 0.02 * np.arange(20, dtype=np.float32))[None, None, :]
    u[6, 25, 33] = 0.9
    return u


def write_image(array: np.ndarray, direction: np.ndarray, path: Path) -> Path:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(SPACING)
    image.SetOrigin(ORIGIN)
    image.SetDirection(tuple(direction.ravel()))
    sitk.WriteImage(image, str(path))
    return path


def write_labels_sidecar(mask_path: Path) -> None:
    """The JSON sidecar Candor's exporter writes beside a NIfTI label map: names for the ids."""
    side = mask_path.with_name(mask_path.name.replace(".nii.gz", ".json"))
    side.write_text(json.dumps({"format": "candor-labels/1", "labels": [
        {"id": 1, "name": "Lesion", "color": [230, 25, 75]},
        {"id": 2, "name": "oedema", "color": [60, 180, 75]}]}), encoding="utf-8")


@pytest.fixture(params=sorted(DIRECTIONS))
def scene(request, tmp_path):
    direction = DIRECTIONS[request.param]
    mask = write_image(scene_labels(), direction, tmp_path / "mask.nii.gz")
    unc = write_image(scene_uncertainty(), direction, tmp_path / "unc.nii.gz")
    sal = write_image((scene_labels() == 1).astype(np.float32) * 0.5, direction, tmp_path / "sal.nii.gz")
    labels, _ = read_label_file(mask)
    return {"labels": labels, "uncertainty": read_image(unc), "saliency": read_image(sal),
            "itk": sitk.ReadImage(str(mask)), "mask": mask}


def _physical(itk, ijk) -> np.ndarray:
    return np.array(itk.TransformContinuousIndexToPhysicalPoint([float(v) for v in ijk]))


def _by_voxels(rows: list[Lesion]) -> dict[int, Lesion]:
    return {r.voxels: r for r in rows}


N_A = 3 * 10 * 20
N_B = 4 * 10 * 6 + 10 * 6   # slice 8 is 12 wide instead of 6
N_C = 4


def test_components_sorted_by_volume_with_exact_volumes(scene):
    rows = lesion_table(scene["labels"], 1)
    assert [r.voxels for r in rows] == [N_A, N_B, N_C]
    assert [r.index for r in rows] == [1, 2, 3]
    assert all(r.label == 1 for r in rows)
    for r in rows:   # voxels × the voxel volume of the file read back, exactly
        assert r.volume_ml == r.voxels * np.prod(scene["labels"].spacing) / 1000.0
        assert r.volume_ml == pytest.approx(r.voxels * VOXEL_ML, rel=1e-6)


def test_box_diameters_are_the_diagonal_and_its_perpendicular(scene):
    a, b, _ = lesion_table(scene["labels"], 1)
    long_a = math.hypot(10.0, 7.0)
    assert a.long_diameter_mm == pytest.approx(long_a, abs=1e-3)
    # the longest chord of a 10 × 7 rectangle at right angles to its diagonal: 7 · L / 10
    assert a.short_diameter_mm == pytest.approx(7.0 * long_a / 10.0, abs=1e-3)
    assert a.diameter_slice == 2            # every slice of A ties: the first is taken
    long_b = math.hypot(6.0, 7.0)           # B is measured in its wide slice
    assert b.diameter_slice == 8
    assert b.long_diameter_mm == pytest.approx(long_b, abs=1e-3)
    assert b.short_diameter_mm == pytest.approx(6.0 * long_b / 7.0, abs=1e-3)


def test_long_axis_ends_are_opposite_box_corners_in_lps(scene):
    a = lesion_table(scene["labels"], 1)[0]
    lo_i, hi_i, lo_j, hi_j, k = 3.5, 23.5, 2.5, 12.5, 2
    diagonals = [((lo_i, lo_j), (hi_i, hi_j)), ((hi_i, lo_j), (lo_i, hi_j))]
    ends = np.array(a.long_axis_lps)
    matches = []
    for p, q in diagonals:
        truth = np.array([_physical(scene["itk"], (*p, k)), _physical(scene["itk"], (*q, k))])
        matches.append(np.allclose(ends, truth, atol=1e-3) or np.allclose(ends, truth[::-1], atol=1e-3))
    assert any(matches), ends
    assert np.linalg.norm(ends[1] - ends[0]) == pytest.approx(a.long_diameter_mm, abs=1e-6)


def _component(voxels: int) -> np.ndarray:
    sel = np.zeros(SIZE[::-1], bool)
    for box in {N_A: [BOX_A], N_B: [BOX_B, BOX_B_WIDE], N_C: [BOX_C]}[voxels]:
        sel[box] = True
    return sel


def test_centroid_is_the_physical_point_of_the_index_centroid(scene):
    for r in lesion_table(scene["labels"], 1):
        k, j, i = np.nonzero(_component(r.voxels))
        truth = _physical(scene["itk"], (i.mean(), j.mean(), k.mean()))
        assert np.allclose(r.centroid_lps, truth, atol=1e-3), (r.voxels, r.centroid_lps, truth)


def test_slice_ranges(scene):
    a, b, c = lesion_table(scene["labels"], 1)
    assert (a.slice_range, b.slice_range, c.slice_range) == ((2, 4), (6, 9), (11, 11))


def test_uncertainty_mean_max_and_saliency_inside_each_component(scene):
    a, b, c = lesion_table(scene["labels"], 1, uncertainty=scene["uncertainty"],
                           saliency=scene["saliency"])
    ramp = 0.2 + 0.02 * np.arange(20, dtype=np.float32)
    assert a.uncertainty_mean == pytest.approx(float(ramp.mean()), abs=1e-6)
    assert a.uncertainty_max == pytest.approx(float(ramp.max()), abs=1e-6)
    assert b.uncertainty_max == pytest.approx(0.9, abs=1e-6)
    assert b.uncertainty_mean == pytest.approx((0.9 + 0.05 * (N_B - 1)) / N_B, abs=1e-6)
    assert c.uncertainty_mean == pytest.approx(0.05) and c.uncertainty_max == pytest.approx(0.05)
    assert all(r.saliency_mean == pytest.approx(0.5) for r in (a, b, c))
    plain = lesion_table(scene["labels"], 1)[0]
    assert plain.uncertainty_mean is plain.uncertainty_max is plain.saliency_mean is None


def test_small_components_are_kept_and_marked(scene):
    rows = lesion_table(scene["labels"], 1)          # 0.01 mL by default
    assert [r.small for r in rows] == [False, False, True]
    assert rows[2].volume_ml == pytest.approx(N_C * VOXEL_ML) and rows[2].volume_ml < 0.01
    assert not any(r.small for r in lesion_table(scene["labels"], 1, min_ml=0.0))
    assert all(r.small for r in lesion_table(scene["labels"], 1, min_ml=1.0))


def test_another_label_is_counted_alone(scene):
    (other,) = lesion_table(scene["labels"], 2)
    assert other.voxels == 3 * 2 * 20 and other.slice_range == (2, 4)
    assert lesion_table(scene["labels"], 7) == []


def test_to_dict_is_json_ready(scene):
    rows = lesion_table(scene["labels"], 1, uncertainty=scene["uncertainty"])
    back = json.loads(json.dumps([r.to_dict() for r in rows]))
    assert back[0]["voxels"] == N_A and back[0]["slice_range"] == [2, 4]
    assert back[0]["volume_ml"] == round(N_A * VOXEL_ML, 3)
    assert back[2]["small"] is True and back[0]["saliency_mean"] is None
    assert len(back[0]["centroid_lps"]) == 3 and len(back[0]["long_axis_lps"]) == 2


# Geometry that is not a box: ellipses within one voxel, on the file's own grid ------------------

@pytest.mark.parametrize("angle", [0.0, 30.0])
def test_ellipse_diameters_within_one_voxel(angle, tmp_path):
    k, j, i = np.indices(SIZE[::-1])
    x, y = (i - 24) * SPACING[0], (j - 20) * SPACING[1]
    th = math.radians(angle)
    u, v = x * math.cos(th) + y * math.sin(th), -x * math.sin(th) + y * math.cos(th)
    mask = (((u / 8.0) ** 2 + (v / 4.0) ** 2) <= 1) & (k >= 3) & (k <= 6)
    labels, _ = read_label_file(write_image(mask.astype(np.uint8), DIRECTIONS["oblique"],
                                            tmp_path / "ellipse.nii.gz"))
    (row,) = lesion_table(labels, 1)
    voxel = math.hypot(SPACING[0], SPACING[1])
    assert abs(row.long_diameter_mm - 16.0) <= voxel
    assert abs(row.short_diameter_mm - 8.0) <= voxel


# Connectivity -----------------------------------------------------------------------------------

def test_cubes_touching_at_a_corner_are_one_lesion_only_with_26_connectivity(tmp_path):
    a = np.zeros((8, 8, 8), np.uint8)
    a[0:2, 0:2, 0:2] = 1
    a[2:4, 2:4, 2:4] = 1          # shares one corner with the first cube
    a[5:7, 0:2, 5:7] = 1          # shares one edge with the next one
    a[5:7, 2:4, 3:5] = 1
    labels, _ = read_label_file(write_image(a, np.eye(3), tmp_path / "cubes.nii.gz"))
    assert [r.voxels for r in lesion_table(labels, 1, connectivity=26)] == [16, 16]
    six = lesion_table(labels, 1, connectivity=6)
    assert [r.voxels for r in six] == [8, 8, 8, 8]
    assert [r.index for r in six] == [1, 2, 3, 4]


# Refusals ---------------------------------------------------------------------------------------

def test_refuses_other_connectivities_labels_and_thresholds(scene):
    with pytest.raises(InputError, match="connectivity must be 6 or 26"):
        lesion_table(scene["labels"], 1, connectivity=18)
    with pytest.raises(InputError, match="label must be an id"):
        lesion_table(scene["labels"], 0)
    with pytest.raises(InputError, match="0 mL or more"):
        lesion_table(scene["labels"], 1, min_ml=-1.0)


def test_refuses_a_map_on_another_grid(scene, tmp_path):
    other = write_image(np.zeros((12, 40, 47), np.float32), np.eye(3), tmp_path / "other.nii.gz")
    with pytest.raises(InputError, match="uncertainty map is not on the label map's grid"):
        lesion_table(scene["labels"], 1, uncertainty=read_image(other))
    with pytest.raises(InputError, match="saliency map"):
        lesion_table(scene["labels"], 1, saliency=read_image(other))
