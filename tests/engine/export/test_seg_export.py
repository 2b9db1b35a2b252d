"""DICOM SEG export on an oblique series: read back by highdicom and by Candor, validated by dciodvfy."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest

from engine.errors import InputError
from engine.export import ExportOptions, Provenance, export_labels, import_seg
from engine.volume import Geometry

from .data import asymmetric_mask
from .dicom_checks import dciodvfy_errors


def _highdicom_labels(seg: hd.seg.Segmentation, sop_uids: list[str]) -> np.ndarray:
    """The SEG's pixels per source instance (k order) as a label map of segment numbers."""
    return seg.get_pixels_by_source_instance(sop_uids, combine_segments=True)


def test_seg_round_trip_highdicom_candor_and_validator(series, mask, table, tmp_path):
    out = tmp_path / "mask.dcm"
    result = export_labels(mask, table, series.reference, out)
    assert result.format == "seg" and result.labels == [1, 2, 3]
    assert dciodvfy_errors(out) == []
    seg = hd.seg.segread(out)
    uids = series.reference.metadata["sop_instance_uids"]
    assert np.array_equal(_highdicom_labels(seg, uids), mask.array)      # segment n == label n
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["grey matter", "white matter", "lesion"]
    gm, wm, lesion = seg.SegmentSequence
    assert gm.SegmentedPropertyTypeCodeSequence[0].CodeValue == "389081007"
    assert wm.SegmentedPropertyTypeCodeSequence[0].CodeValue == "389080008"
    assert lesion.SegmentedPropertyTypeCodeSequence[0].CodeValue == "52988006"
    assert lesion.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "49755003"
    assert gm.SegmentAlgorithmType == "SEMIAUTOMATIC"        # an AI result a person corrected
    algo = gm.SegmentationAlgorithmIdentificationSequence[0]
    assert (algo.AlgorithmName, algo.AlgorithmVersion) == ("candor-brain-t1", "1.2.0")
    assert seg.SegmentationType == "BINARY"
    assert seg.FrameOfReferenceUID == series.reference.metadata["frame_of_reference_uid"]
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == series.reference.metadata["series_uid"]
    assert seg.StudyInstanceUID == series.reference.metadata["study_uid"]  # PACS: same study
    # sparse: one frame per (label, slice holding it), each referencing its own source slice
    expected_frames = sum(int(np.any(mask.array[k] == v)) for v in (1, 2, 3)
                          for k in range(mask.array.shape[0]))
    assert int(seg.NumberOfFrames) == expected_frames < 3 * mask.array.shape[0]
    for frame in seg.PerFrameFunctionalGroupsSequence:
        number = frame.SegmentIdentificationSequence[0].ReferencedSegmentNumber
        src = frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        k = uids.index(src)
        assert np.any(mask.array[k] == number)
        assert np.allclose([float(v) for v in frame.PlanePositionSequence[0].ImagePositionPatient],
                           series.reference.geometry.index_to_physical([0, 0, k]), atol=1e-3)
    back = import_seg(out, series.reference, label_names=table)
    assert np.array_equal(back.labels.array, mask.array)
    assert back.labels.geometry.is_close(series.reference.geometry)
    assert [(l.id, l.name) for l in back.table] == [(l.id, l.name) for l in table]
    assert all(np.abs(np.subtract(back.table[i].color, table[i].color)).max() <= 2 for i in (1, 2, 3))
    assert back.labels.metadata["provenance"] == "corrected"
    assert back.labels.metadata["model_name"] == "candor-brain-t1"


def test_seg_import_on_native_grid_is_the_same_physical_mask(series, mask, table, tmp_path):
    out = tmp_path / "m.dcm"
    export_labels(mask, table, series.reference, out)
    native = import_seg(out).labels          # no reference: the SEG's own (cropped) grid
    g = native.geometry
    for label in (1, 2, 3):
        got = g.index_to_physical(np.argwhere(native.array == label)[:, ::-1].mean(axis=0))
        want = mask.geometry.index_to_physical(np.argwhere(mask.array == label)[:, ::-1].mean(axis=0))
        assert np.allclose(got, want, atol=1e-3)


def test_non_consecutive_label_ids_come_back_by_name(series, mask, table, tmp_path):
    from engine.labels import LabelInfo, LabelTable

    lab = mask.array.astype(np.uint16) * 0
    lab[mask.array == 1] = 4
    lab[mask.array == 3] = 300
    big = LabelTable([LabelInfo(4, "grey matter", (1, 2, 3)), LabelInfo(300, "lesion", (200, 0, 0))])
    out = tmp_path / "ids.dcm"
    export_labels(mask.with_array(lab), big, series.reference, out)
    back = import_seg(out, series.reference, label_names=big)
    assert np.array_equal(back.labels.array, lab)
    plain = import_seg(out, series.reference)       # no table: ids from the tracking IDs
    assert np.array_equal(plain.labels.array, lab)
    assert [(l.id, l.name) for l in plain.table] == [(4, "grey matter"), (300, "lesion")]


@pytest.mark.parametrize("kind, algorithm_type", [("ai", "AUTOMATIC"), ("manual", "MANUAL")])
def test_provenance_sets_algorithm_type(series, mask, table, tmp_path, kind, algorithm_type):
    out = tmp_path / f"{kind}.dcm"
    prov = Provenance(kind, "candor-brain-t1" if kind == "ai" else None, "1.2.0")
    export_labels(mask, table, series.reference, out, ExportOptions(provenance=prov, labels=(2,)))
    seg = hd.seg.segread(out)
    (segment,) = seg.SegmentSequence
    assert segment.SegmentAlgorithmType == algorithm_type
    assert ("SegmentationAlgorithmIdentificationSequence" in segment) == (kind == "ai")
    assert dciodvfy_errors(out) == []


def test_fractional_seg_of_a_label_map(series, mask, table, tmp_path):
    out = tmp_path / "frac.dcm"
    export_labels(mask, table, series.reference, out, ExportOptions(seg_type="FRACTIONAL"))
    seg = hd.seg.segread(out)
    assert seg.SegmentationType == "FRACTIONAL" and seg.SegmentationFractionalType == "PROBABILITY"
    assert dciodvfy_errors(out) == []
    back = import_seg(out, series.reference, label_names=table)
    assert np.array_equal(back.labels.array, mask.array)


def test_geometry_mismatch_is_refused_and_nothing_written(series, mask, table, tmp_path):
    g = series.reference.geometry
    shifted = mask.with_array(mask.array, geometry=Geometry(g.size, g.spacing,
                                                            np.add(g.origin, 1.5), g.direction))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="geometry does not match"):
        export_labels(shifted, table, series.reference, out / "x.dcm")
    assert list(out.iterdir()) == []


def test_missing_reference_series_gives_clear_error_and_no_file(series, mask, table, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    series.paths[3].unlink()
    with pytest.raises(InputError, match="reference series is missing"):
        export_labels(mask, table, series.reference, out / "x.dcm")
    assert list(out.iterdir()) == []


def test_mixed_frames_of_reference_are_refused(series, mask, table, tmp_path):
    ds = pydicom.dcmread(series.paths[5])
    ds.FrameOfReferenceUID = pydicom.uid.generate_uid()
    ds.save_as(series.paths[5])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="frames of reference"):
        export_labels(mask, table, series.reference, out / "x.dcm")
    assert list(out.iterdir()) == []


def test_moved_slice_on_disk_is_a_geometry_mismatch(series, mask, table, tmp_path):
    ds = pydicom.dcmread(series.paths[2])
    ds.ImagePositionPatient = [float(v) + 3.0 for v in ds.ImagePositionPatient]
    ds.save_as(series.paths[2])
    with pytest.raises(InputError, match="slice 2.*different position"):
        export_labels(mask, table, series.reference, tmp_path / "x.dcm")
    assert not (tmp_path / "x.dcm").exists()


def test_non_dicom_reference_is_refused_for_seg(series, mask, table, tmp_path):
    from engine.io import load, write_image

    nii = tmp_path / "ref.nii.gz"
    write_image(series.reference, nii)
    with pytest.raises(InputError, match="not loaded from a DICOM series"):
        export_labels(mask, table, load(nii), tmp_path / "x.dcm")


def test_seg_on_an_enhanced_multiframe_source(mask, table, tmp_path):
    """pydicom-data's Enhanced CT (two frames, stored in reverse k order)."""
    from pydicom.data import get_testdata_file

    from engine.io import load

    reference = load(get_testdata_file("eCT_Supplemental.dcm"))
    assert reference.metadata["frame_numbers"] == [2, 1]
    lab = np.zeros(reference.geometry.shape, np.uint8)
    lab[0, 100:140, 300:360] = 1          # k = 0 is frame 2
    lab[1, 200:220, 50:90] = 3
    labels = reference.with_array(lab, modality="SEG", metadata={})
    out = tmp_path / "ect.dcm"
    export_labels(labels, table, reference, out)
    assert dciodvfy_errors(out) == []
    seg = hd.seg.segread(out)
    by_frame = {}
    for f in seg.PerFrameFunctionalGroupsSequence:
        source = f.DerivationImageSequence[0].SourceImageSequence[0]
        by_frame[int(source.ReferencedFrameNumber)] = \
            int(f.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
    assert by_frame == {2: 1, 1: 2}       # grey matter on frame 2, lesion (segment 2) on frame 1
    back = import_seg(out, reference, label_names=table)
    assert np.array_equal(back.labels.array, lab)


def test_seg_on_an_irregular_stack_references_each_true_slice(tmp_path, table):
    """A series with a missing slice: each SEG frame lies on its own source slice."""
    from engine.io import load

    from .data import make_series

    full = make_series(tmp_path / "full")
    full.paths[6].unlink()                              # a gap between slices 5 and 7
    reference = load(full.folder)
    assert reference.metadata["irregular_slices"] and reference.geometry.size[2] == 13
    lab = asymmetric_mask(reference.geometry.shape)
    labels = reference.with_array(lab, modality="SEG", metadata={})
    out = tmp_path / "irregular.dcm"
    export_labels(labels, table, reference, out)
    assert dciodvfy_errors(out) == []
    seg = hd.seg.segread(out)
    positions = np.asarray(reference.metadata["slice_positions"])
    uids = reference.metadata["sop_instance_uids"]
    for frame in seg.PerFrameFunctionalGroupsSequence:
        k = uids.index(frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID)
        ipp = [float(v) for v in frame.PlanePositionSequence[0].ImagePositionPatient]
        assert np.allclose(ipp, positions[k], atol=1e-3)
    back = import_seg(out, reference, label_names=table)      # placed by reference: exact
    assert np.array_equal(back.labels.array, lab)


def test_seg_placed_by_position_on_a_reference_without_dicom_identity(series, mask, table, tmp_path):
    from engine.io import load, write_image

    out = tmp_path / "m.dcm"
    export_labels(mask, table, series.reference, out)
    nii = tmp_path / "ref.nii.gz"
    write_image(series.reference, nii)
    back = import_seg(out, load(nii), label_names=table)      # no UIDs: by patient coordinates
    assert any("frame of reference" in w for w in back.warnings)
    assert np.array_equal(back.labels.array, mask.array)
