"""NIfTI and NRRD export on the reference grid, read back by independent readers."""

from __future__ import annotations

import json

import nibabel as nib
import nrrd
import numpy as np
import pytest
import SimpleITK as sitk

from engine.errors import Cancelled, InputError
from engine.export import ExportOptions, export_labels, read_label_file
from engine.io import load
from engine.jobs import CancelToken
from engine.volume import Geometry

from .data import OBLIQUE

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def test_series_is_the_oblique_grid_and_mask_is_asymmetric(series, mask):
    assert series.reference.geometry.is_close(OBLIQUE)
    lab = mask.array
    for axis in range(3):
        assert not np.array_equal(lab, np.flip(lab, axis=axis))


def test_nifti_round_trip_with_nibabel(series, mask, table, tmp_path):
    out = tmp_path / "mask.nii.gz"
    result = export_labels(mask, table, series.reference, out)
    assert result.labels == [1, 2, 3] and out.is_file()
    img = nib.load(out)
    assert img.get_data_dtype() == np.uint8
    data = np.asarray(img.dataobj)                        # nibabel: [i, j, k]
    assert np.array_equal(data.transpose(2, 1, 0), mask.array)
    expected = LPS_TO_RAS @ series.reference.geometry.affine_lps
    assert np.allclose(img.affine, expected, atol=1e-4)
    assert int(img.header["sform_code"]) > 0 and int(img.header["qform_code"]) > 0
    # the lesion lies where it was drawn in patient space (RAS from nibabel vs LPS from Candor)
    ijk = np.argwhere(data == 3).mean(axis=0)
    ras = img.affine @ np.append(ijk, 1.0)
    lps = series.reference.geometry.index_to_physical(np.argwhere(mask.array == 3)[:, ::-1].mean(0))
    assert np.allclose(ras[:3] * [-1, -1, 1], lps, atol=1e-3)


def test_nifti_sidecar_names_colours_codes(series, mask, table, tmp_path):
    out = tmp_path / "seg.nii.gz"
    export_labels(mask, table, series.reference, out)
    side = json.loads((tmp_path / "seg.json").read_text())
    assert [(l["id"], l["name"], tuple(l["color"])) for l in side["labels"]] == \
        [(i.id, i.name, i.color) for i in table]
    assert side["labels"][0]["type"]["value"] == "389081007"      # SNOMED CT grey matter
    assert side["labels"][2]["category"]["value"] == "49755003"   # morphologically abnormal
    assert side["provenance"]["kind"] == "corrected"
    assert side["reference"]["series_uid"] == series.reference.metadata["series_uid"]
    back, back_table = read_label_file(out)
    assert back_table == table and np.array_equal(back.array, mask.array)
    assert back.geometry.is_close(series.reference.geometry)
    assert back.metadata["model_name"] == "candor-brain-t1"
    loaded = load(out)                                  # Candor's general loader too
    assert np.array_equal(loaded.array, mask.array)
    assert loaded.geometry.is_close(series.reference.geometry)


def test_nrrd_round_trip_with_pynrrd_and_slicer_fields(series, mask, table, tmp_path):
    out = tmp_path / "mask.nrrd"
    export_labels(mask, table, series.reference, out)
    data, header = nrrd.read(str(out))                    # pynrrd: [i, j, k]
    assert data.dtype == np.uint8
    assert np.array_equal(data.transpose(2, 1, 0), mask.array)
    g = series.reference.geometry
    assert header["space"] == "left-posterior-superior"
    assert np.allclose(header["space origin"], g.origin, atol=1e-6)
    assert np.allclose(np.asarray(header["space directions"]).T, g.matrix * np.asarray(g.spacing),
                       atol=1e-6)
    assert header["Segment0_Name"] == "grey matter"
    assert header["Segment2_LabelValue"] == "3" and header["Segment2_Layer"] == "0"
    assert header["Segment1_ID"] == "Segment_2"
    assert [float(v) for v in header["Segment2_Color"].split()] == pytest.approx(
        [230 / 255, 25 / 255, 75 / 255], abs=1e-5)
    i, j, k = np.nonzero(data == 1)
    assert header["Segment0_Extent"] == f"{i.min()} {i.max()} {j.min()} {j.max()} {k.min()} {k.max()}"
    assert "SCT^389080008^White Matter" in header["Segment1_Tags"]
    assert header["Segmentation_MasterRepresentation"] == "Binary labelmap"
    img = sitk.ReadImage(str(out))
    assert np.array_equal(sitk.GetArrayFromImage(img), mask.array)
    assert Geometry(img.GetSize(), img.GetSpacing(), img.GetOrigin(), img.GetDirection()).is_close(g)
    back, back_table = read_label_file(out)
    assert back_table == table and np.array_equal(back.array, mask.array)
    assert back.geometry.is_close(g)
    loaded = load(out)
    assert np.array_equal(loaded.array, mask.array) and loaded.geometry.is_close(g)


def test_label_selection_and_empty_label_warning(series, mask, table, tmp_path):
    out = tmp_path / "sel.nii.gz"
    lab = mask.array.copy()
    lab[lab == 2] = 0
    result = export_labels(mask.with_array(lab), table, series.reference, out,
                           ExportOptions(labels=(2, 3)))
    assert result.labels == [3]
    assert any("white matter" in w for w in result.warnings)
    data = sitk.GetArrayFromImage(sitk.ReadImage(str(out)))
    assert set(np.unique(data)) == {0, 3}


def test_cropped_mask_is_placed_voxel_for_voxel(series, mask, table, tmp_path):
    g = series.reference.geometry
    # the same labels on a cropped grid: starts at voxel (2, 1, 1) of the reference
    crop = mask.array[1:, 1:, 2:]
    origin = g.index_to_physical([2, 1, 1])
    sub = mask.with_array(np.ascontiguousarray(crop),
                          geometry=Geometry(crop.shape[::-1], g.spacing, origin, g.direction))
    out = tmp_path / "placed.nrrd"
    result = export_labels(sub, table, series.reference, out)
    assert any("voxel for voxel" in w for w in result.warnings)
    data = sitk.GetArrayFromImage(sitk.ReadImage(str(out)))
    expected = mask.array.copy()
    expected[0, :, :] = 0
    expected[:, 0, :] = 0
    expected[:, :, :2] = 0
    assert np.array_equal(data, expected)


def test_mask_on_a_finer_grid_is_resampled_nearest_neighbour(series, mask, table, tmp_path):
    g = series.reference.geometry
    fine = np.repeat(np.repeat(np.repeat(mask.array, 2, 0), 2, 1), 2, 2)   # 2× finer, same extent
    spacing = np.asarray(g.spacing) / 2
    origin = g.index_to_physical([-0.25, -0.25, -0.25])
    sub = mask.with_array(fine, geometry=Geometry(fine.shape[::-1], spacing, origin, g.direction))
    result = export_labels(sub, table, series.reference, tmp_path / "r.nii.gz")
    assert any("resampled" in w for w in result.warnings)
    data = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "r.nii.gz")))
    assert np.array_equal(data, mask.array)


def test_include_image_writes_the_reference_beside_the_mask(series, mask, table, tmp_path):
    out = tmp_path / "case.nii.gz"
    result = export_labels(mask, table, series.reference, out, ExportOptions(include_image=True))
    image_path = tmp_path / "case_image.nii.gz"
    assert image_path in result.extra_paths
    img = nib.load(image_path)
    assert np.array_equal(np.asarray(img.dataobj).transpose(2, 1, 0), series.reference.array)
    assert np.allclose(img.affine, nib.load(out).affine)


def test_bad_output_name_and_empty_mask_are_refused(series, mask, table, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match=r"\.nii\.gz"):
        export_labels(mask, table, series.reference, out / "mask.png")
    empty = mask.with_array(np.zeros_like(mask.array))
    with pytest.raises(InputError, match="nothing to export"):
        export_labels(empty, table, series.reference, out / "e.nii.gz")
    with pytest.raises(InputError, match="does not exist"):
        export_labels(mask, table, series.reference, out / "missing" / "m.nii.gz")
    assert list(out.iterdir()) == []


def test_cancelled_export_leaves_nothing(series, mask, table, tmp_path):
    token = CancelToken()
    seen = []

    def progress(fraction, stage=""):
        seen.append(stage)
        if len(seen) == 2:
            token.cancel()

    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(Cancelled):
        export_labels(mask, table, series.reference, out / "c.nii.gz",
                      progress=progress, cancel=token)
    assert len(seen) == 2 and list(out.iterdir()) == []
