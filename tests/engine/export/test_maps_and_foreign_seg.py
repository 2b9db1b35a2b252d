"""Probability/uncertainty maps, and SEG objects made by other tools (pydicom-data's liver SEG)."""

from __future__ import annotations

import json

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from engine.errors import InputError
from engine.export import export_float_map, export_probability_seg, import_seg
from engine.labels import LabelInfo, LabelTable
from engine.volume import Geometry

from .data import make_series
from .dicom_checks import dciodvfy_errors


@pytest.fixture
def probability(series, mask):
    rng = np.random.default_rng(3)
    p = np.where(mask.array == 2, 0.5 + 0.5 * rng.random(mask.array.shape), 0.0)
    p[mask.array == 3] = 0.25
    return series.reference.with_array(p.astype(np.float32), modality="OT", metadata={
        "model_name": "candor-brain-t1", "model_version": "1.2.0"})


def test_float_nifti_of_uncertainty_and_probability(series, probability, tmp_path):
    for kind in ("uncertainty", "probability"):
        out = tmp_path / f"{kind}.nii.gz"
        export_float_map(probability, series.reference, out, kind=kind)
        img = nib.load(out)
        assert img.get_data_dtype() == np.float32
        assert np.array_equal(np.asarray(img.dataobj).transpose(2, 1, 0), probability.array)
        assert np.allclose(img.affine, np.diag([-1, -1, 1, 1]) @ series.reference.geometry.affine_lps,
                           atol=1e-4)
        side = json.loads((tmp_path / f"{kind}.json").read_text())
        assert side["kind"] == kind


def test_uncertainty_cannot_be_a_seg(series, probability, tmp_path):
    with pytest.raises(InputError, match="uncertainty"):
        export_float_map(probability, series.reference, tmp_path / "u.dcm", kind="uncertainty")
    assert not (tmp_path / "u.dcm").exists()


def test_fractional_probability_seg_round_trip(series, probability, tmp_path):
    out = tmp_path / "prob.dcm"
    table = LabelTable([LabelInfo(2, "white matter", (250, 250, 225)),
                        LabelInfo(3, "lesion", (230, 25, 75))])
    lesion = probability.with_array((probability.array == 0.25).astype(np.float32) * 0.8)
    export_probability_seg({2: probability, 3: lesion}, table, series.reference, out)
    assert dciodvfy_errors(out) == []
    seg = hd.seg.segread(out)
    assert seg.SegmentationType == "FRACTIONAL"
    assert seg.SegmentSequence[0].SegmentAlgorithmType == "AUTOMATIC"
    uids = series.reference.metadata["sop_instance_uids"]
    stacked = seg.get_pixels_by_source_instance(uids, rescale_fractional=True)
    assert np.abs(stacked[..., 0] - probability.array).max() <= 0.5 / 255 + 1e-6
    back = import_seg(out, series.reference, label_names=table)
    assert sorted(back.probabilities) == [2, 3]
    assert np.abs(back.probabilities[2].array - probability.array).max() <= 0.5 / 255 + 1e-6
    assert np.array_equal(back.labels.array == 3, lesion.array >= 0.5)
    bad = probability.with_array(probability.array * 3)
    with pytest.raises(InputError, match="not a probability"):
        export_probability_seg({2: bad}, table, series.reference, tmp_path / "bad.dcm")


LIVER = get_testdata_file("liver.dcm")


def _liver_reference(tmp_path, frame_uid: str):
    """A 4× coarser series (128×128×5) around the liver SEG's three frames, in its frame."""
    src = pydicom.dcmread(LIVER, stop_before_pixels=True)
    spacing = float(src.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing[0])
    first = [float(v) for v in src.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0]
             .ImagePositionPatient]
    origin = (first[0] + 2 * spacing, first[1] + 2 * spacing, first[2] - 1.0)
    g = Geometry((128, 128, 5), (4 * spacing, 4 * spacing, 1.0), origin)
    return make_series(tmp_path / "liver_ref", g, frame_of_reference_uid=frame_uid).reference


def test_foreign_seg_is_resampled_onto_the_displayed_series(tmp_path):
    seg = hd.seg.segread(LIVER)
    reference = _liver_reference(tmp_path, str(seg.FrameOfReferenceUID))
    back = import_seg(LIVER, reference)
    assert [l.name for l in back.table] == ["Liver"] and back.warnings == []
    frames = seg.pixel_array                         # (3, 512, 512), z ascending as stored
    positions = [float(f.PlanePositionSequence[0].ImagePositionPatient[2])
                 for f in seg.PerFrameFunctionalGroupsSequence]
    order = np.argsort(positions)
    expected = np.zeros(reference.geometry.shape, np.uint8)
    expected[1:4] = frames[order][:, 2::4, 2::4]     # ref voxel (i, j) centre = SEG pixel (4i+2, 4j+2)
    assert expected.sum() > 0
    assert np.array_equal(back.labels.array, expected)


def test_foreign_seg_of_another_frame_of_reference_is_refused(tmp_path):
    reference = _liver_reference(tmp_path, pydicom.uid.generate_uid())
    with pytest.raises(InputError, match="another scan"):
        import_seg(LIVER, reference)


def test_non_seg_file_is_refused(series):
    with pytest.raises(InputError, match="not a segmentation"):
        import_seg(series.paths[0], series.reference)


def test_overlapping_segments_of_another_tool(series, tmp_path):
    """A SEG written straight with highdicom (as another tool would), segments overlapping."""
    from pydicom.sr.codedict import codes

    sources = [pydicom.dcmread(p) for p in series.paths]
    shape = series.reference.geometry.shape
    stacked = np.zeros((*shape, 2), np.uint8)
    stacked[3:8, 4:10, 5:12, 0] = 1
    stacked[6:10, 8:14, 10:16, 1] = 1                 # overlaps segment 1 on slices 6–7
    descriptions = [hd.seg.SegmentDescription(
        n, name, codes.SCT.Tissue, codes.SCT.Tissue, "MANUAL") for n, name in ((1, "A"), (2, "B"))]
    seg = hd.seg.Segmentation(sources, stacked, "BINARY", descriptions, hd.UID(), 5, hd.UID(), 1,
                              "Other", "Other", "1", "1")
    out = tmp_path / "other.dcm"
    seg.save_as(out)
    back = import_seg(out, series.reference)
    assert any("overlap" in w for w in back.warnings)
    expected = np.zeros(shape, np.uint8)
    expected[stacked[..., 0] > 0] = 1
    expected[stacked[..., 1] > 0] = 2
    assert np.array_equal(back.labels.array, expected)
    assert back.labels.metadata["provenance"] == "manual"
