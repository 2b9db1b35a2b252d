"""Folder scan: studies → series → stacks, localizers apart, SEG attached, DICOMDIR, progress."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.fileset import FileSet

from engine.errors import Cancelled, InputError
from engine.io import load, scan, write_series
from engine.jobs import CancelToken
from tests.engine.io.corpus import series, set_attr
from tests.engine.io.helpers import phantom


def test_studies_series_and_largest(tmp_path):
    series(tmp_path / "s1" / "ct", nz=4, study_uid="1.9.1", series_uid="1.9.1.1", series_number=2)
    series(tmp_path / "s1" / "mr", nz=7, study_uid="1.9.1", series_uid="1.9.1.2", modality="MR",
           series_number=1)
    series(tmp_path / "s2", nz=3, study_uid="1.9.2", series_uid="1.9.2.1")
    result = scan(tmp_path)
    assert [st.study_uid for st in result.studies] == ["1.9.1", "1.9.2"]
    assert [s.series_uid for s in result.studies[0].series] == ["1.9.1.2", "1.9.1.1"]  # by number
    assert result.largest().series_uid == "1.9.1.2"
    assert result.find("1.9.2.1").size == (14, 12, 3)
    volume = load(tmp_path)
    assert volume.modality == "MR" and volume.metadata["picked_largest_of"] == 3
    assert load(tmp_path, "1.9.2.1").size[2] == 3
    with pytest.raises(InputError, match="no series 9.9"):
        load(tmp_path, "9.9")


def test_localizer_kept_apart(tmp_path):
    series(tmp_path / "ax", nz=5, series_uid="1.7.1", study_uid="1.7")
    write_series(phantom(nz=2, ny=12, nx=14), tmp_path / "loc", series_uid="1.7.1", study_uid="1.7",
                 extra={"ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"],
                        "ImageOrientationPatient": [1, 0, 0, 0, 0, -1]})
    result = scan(tmp_path)
    study = result.studies[0]
    assert [s.size[2] for s in study.series] == [5]
    assert [s.kind for s in study.localizers] == ["localizer"]
    assert result.series[-1].kind == "localizer"
    assert load(tmp_path).size[2] == 5


def test_segmentation_attached_to_its_series(tmp_path):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    files = series(tmp_path / "ct", nz=4, series_uid="1.8.1", study_uid="1.8")
    sources = [pydicom.dcmread(f) for f in files]
    mask = np.zeros((4, 12, 14), dtype=bool)
    mask[1:3, 3:8, 4:9] = True
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label="lesion",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Lesion,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=mask,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description], series_instance_uid=pydicom.uid.generate_uid(),
        series_number=50, sop_instance_uid=pydicom.uid.generate_uid(), instance_number=1,
        manufacturer="Candor", manufacturer_model_name="test", software_versions="1",
        device_serial_number="1")
    seg.save_as(tmp_path / "seg.dcm")
    result = scan(tmp_path)
    (image,) = result.series
    assert [g.kind for g in image.segmentations] == ["segmentation"]
    assert image.segmentations[0].referenced_series == ["1.8.1"]
    assert result.segmentations[0].headers[0].path.endswith("seg.dcm")
    assert not result.skipped


def test_dicomdir_lists_series_and_refuses_paths_outside(tmp_path):
    files = series(tmp_path / "src", nz=4)
    fs = FileSet()
    for f in files:
        fs.add(pydicom.dcmread(f))
    cd = tmp_path / "cd"
    fs.write(cd)
    secret = tmp_path / "outside.dcm"
    secret.write_bytes(files[0].read_bytes())
    index = pydicom.dcmread(cd / "DICOMDIR")
    images = [r for r in index.DirectoryRecordSequence if r.DirectoryRecordType == "IMAGE"]
    images[0].ReferencedFileID = ["..", "outside.dcm"]
    index.save_as(cd / "DICOMDIR")
    result = scan(cd / "DICOMDIR")
    assert any(s.reason == "DICOMDIR entry points outside its folder" for s in result.skipped)
    assert result.series[0].n_files == 4  # the record's own file is still found in the folder
    assert all(str(cd.resolve()) in f for f in result.series[0].files)
    np.testing.assert_array_equal(load(cd / "DICOMDIR").array, phantom(nz=4, ny=12, nx=14).array)


def test_scan_reports_progress_and_can_be_cancelled(tmp_path):
    series(tmp_path, nz=5)
    seen = []
    scan(tmp_path, progress=lambda f, stage="": seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        scan(tmp_path, cancel=token)


def test_load_progress_reaches_one(tmp_path):
    series(tmp_path, nz=5)
    seen = []
    load(tmp_path, progress=lambda f, stage="": seen.append((f, stage)))
    assert seen[-1][0] == pytest.approx(1.0) and any("pixels" in s for _, s in seen)


def test_single_file_and_split_stack_uids(tmp_path):
    files = series(tmp_path, nz=3, series_uid="1.6.1", study_uid="1.6")
    one = load(files[1])
    assert one.size == (14, 12, 1)
    np.testing.assert_array_equal(one.array[0], phantom(nz=3, ny=12, nx=14).array[1])
    write_series(phantom(nz=2, ny=10, nx=10), tmp_path / "b", series_uid="1.6.1", study_uid="1.6",
                 edit=set_attr())
    stacks = scan(tmp_path).series
    assert load(tmp_path, stacks[1].series_uid).metadata["stack_id"] == "1.6.1#2"


def test_pydicom_sample_collection_never_crashes():
    """~150 real-world and deliberately odd files (GDCM, DCMTK, vendors): each stack loads or
    gives a CandorError; nothing else escapes."""
    import os

    from pydicom.data import get_testdata_file

    from engine.errors import CandorError
    from engine.io import load_series

    folder = os.path.dirname(get_testdata_file("CT_small.dcm"))
    result = scan(folder)
    assert len(result.series) > 30 and result.skipped
    loaded = 0
    for info in result.series:
        try:
            volume = load_series(info)
        except CandorError:
            continue
        assert volume.array.ndim == 3 and np.isfinite(volume.geometry.affine_lps).all()
        loaded += 1
    assert loaded > 25
