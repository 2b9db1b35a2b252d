"""``candor export-seg``: label files and queued corrections, through the real CLI entry point."""

from __future__ import annotations

import json
import shutil

import highdicom as hd
import numpy as np

from engine.cli import main
from engine.corrections import CorrectionQueue, ModelRef
from engine.export import export_labels

from .data import make_series
from .dicom_checks import dciodvfy_errors


def test_label_file_to_seg_with_names_from_its_sidecar(series, mask, table, tmp_path, capsys):
    nii = tmp_path / "mask.nii.gz"
    export_labels(mask, table, series.reference, nii)
    out = tmp_path / "mask.dcm"
    code = main(["export-seg", str(nii), "--reference", str(series.folder), "--out", str(out),
                 "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["format"] == "seg" and result["labels"] == [1, 2, 3]
    assert dciodvfy_errors(out) == []
    seg = hd.seg.segread(out)
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["grey matter", "white matter", "lesion"]
    assert seg.SegmentSequence[0].SegmentAlgorithmType == "SEMIAUTOMATIC"   # from the sidecar
    pixels = seg.get_pixels_by_source_instance(series.reference.metadata["sop_instance_uids"],
                                               combine_segments=True)
    assert np.array_equal(pixels, mask.array)


def test_nrrd_and_only_option(series, mask, table, tmp_path):
    nii = tmp_path / "mask.nii.gz"
    export_labels(mask, table, series.reference, nii)
    out = tmp_path / "lesion.nrrd"
    assert main(["export-seg", str(nii), "--reference", str(series.folder), "--out", str(out),
                 "--only", "3"]) == 0
    import SimpleITK as sitk

    assert set(np.unique(sitk.GetArrayFromImage(sitk.ReadImage(str(out))))) == {0, 3}


def _queue_correction(series, mask, table) -> str:
    ai = mask.array.copy()
    ai[ai == 3] = 0                                   # the AI missed the lesion; a person drew it
    with CorrectionQueue() as queue:
        item = queue.add(series.reference, ai, mask.array, table,
                         model=ModelRef("candor-brain-t1", "1.2.0"))
    return item.id


def test_queued_correction_to_seg(series, mask, table, tmp_path):
    item_id = _queue_correction(series, mask, table)
    out = tmp_path / "corr.dcm"
    assert main(["export-seg", item_id, "--reference", str(series.folder), "--out", str(out)]) == 0
    seg = hd.seg.segread(out)
    segment = seg.SegmentSequence[2]
    assert segment.SegmentLabel == "lesion" and segment.SegmentAlgorithmType == "SEMIAUTOMATIC"
    assert segment.SegmentationAlgorithmIdentificationSequence[0].AlgorithmName == "candor-brain-t1"
    assert dciodvfy_errors(out) == []


def test_queued_correction_with_missing_reference_series(series, mask, table, tmp_path, capsys):
    item_id = _queue_correction(series, mask, table)
    shutil.rmtree(series.folder)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code = main(["export-seg", item_id, "--reference", str(series.folder),
                 "--out", str(out_dir / "corr.dcm")])
    assert code == 2
    assert "reference series is missing" in capsys.readouterr().err
    assert list(out_dir.iterdir()) == []


def test_queued_correction_on_another_series_is_refused(series, mask, table, tmp_path, capsys):
    item_id = _queue_correction(series, mask, table)
    other = make_series(tmp_path / "other")
    code = main(["export-seg", item_id, "--reference", str(other.folder),
                 "--out", str(tmp_path / "x.dcm")])
    assert code == 2 and "not the series this correction was drawn on" in capsys.readouterr().err
    assert not (tmp_path / "x.dcm").exists()


def test_unknown_mask_and_bad_output_name(series, tmp_path, capsys):
    assert main(["export-seg", "nosuchid", "--reference", str(series.folder),
                 "--out", str(tmp_path / "x.dcm")]) == 2
    assert "no queued correction" in capsys.readouterr().err
    assert main(["export-seg", str(tmp_path / "missing.nii.gz"), "--reference",
                 str(series.folder), "--out", str(tmp_path / "x.dcm")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_probability_map_to_float_nifti_and_fractional_seg(series, mask, tmp_path, capsys):
    from engine.io import write_image

    p = (mask.array == 2).astype(np.float32) * 0.75
    prob = tmp_path / "p_wm.nii.gz"
    write_image(series.reference.with_array(p), prob)
    nii = tmp_path / "out.nii.gz"
    assert main(["export-seg", str(prob), "--map", "uncertainty", "--reference",
                 str(series.folder), "--out", str(nii)]) == 0
    import nibabel as nib

    assert np.array_equal(np.asarray(nib.load(nii).dataobj).transpose(2, 1, 0), p)
    dcm = tmp_path / "out.dcm"
    assert main(["export-seg", str(prob), "--map", "probability", "--reference", str(series.folder),
                 "--out", str(dcm), "--model", "candor-brain-t1", "--model-version", "1.2.0"]) == 0
    seg = hd.seg.segread(dcm)
    assert seg.SegmentationType == "FRACTIONAL"
    assert seg.SegmentSequence[0].SegmentAlgorithmType == "AUTOMATIC"
    assert dciodvfy_errors(dcm) == []
    assert main(["export-seg", str(prob), "--map", "uncertainty", "--reference", str(series.folder),
                 "--out", str(tmp_path / "u.dcm")]) == 2
    assert "uncertainty" in capsys.readouterr().err


def test_label_names_from_an_installed_model(series, mask, tmp_path):
    from engine.io import write_image
    from engine.resources import user_subdir
    from tests.engine.models.tiny import write_tiny_package

    write_tiny_package(user_subdir("models") / "tiny", members=1)   # labels Bright (1), Dark (2)
    bare = tmp_path / "bare.nii.gz"
    two = np.where(mask.array == 3, 0, mask.array).astype(np.uint8)
    write_image(series.reference.with_array(two), bare)                # no sidecar: ids only
    out = tmp_path / "named.nrrd"
    assert main(["export-seg", str(bare), "--labels", "tiny-test", "--reference",
                 str(series.folder), "--out", str(out)]) == 0
    import nrrd

    _, header = nrrd.read(str(out))
    assert (header["Segment0_Name"], header["Segment1_Name"]) == ("Bright", "Dark")
    assert header["Segment0_Color"] == "1 0 0"


def test_no_patient_identifier_in_output_or_logs(series, mask, table, tmp_path, capsys, caplog):
    import logging

    from .data import CANARY_ID

    caplog.set_level(logging.DEBUG)
    nii = tmp_path / "mask.nii.gz"
    export_labels(mask, table, series.reference, nii)
    runs = [["--out", str(tmp_path / "a.dcm"), "--json"],
            ["--out", str(tmp_path / "b.dcm"), "--deidentify", "--include-image"],
            ["--out", str(tmp_path / "c.nrrd"), "--only", "9"]]           # fails: no label 9
    for extra in runs:
        main(["-vv", "export-seg", str(nii), "--reference", str(series.folder), *extra])
    captured = capsys.readouterr()
    text = captured.out + captured.err + caplog.text
    assert "CANARY" not in text and CANARY_ID not in text
    assert "nothing to export" in captured.err
