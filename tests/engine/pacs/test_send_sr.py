"""Candor's DICOM SR Measurement Report, sent back over each transport with ``candor pacs``.

The whole round trip through the ``candor`` entry point: a generated series uploaded to the real
Orthanc, retrieved (``pacs get``), a 'lesion' mask drawn on what came back, the SR written by
``candor report --sr``, sent (``pacs send``), found by Orthanc's REST API in the right study,
retrieved again and checked by the peers: dicom3tools' ``dciodvfy`` and highdicom's SR reader,
which must read the same lesion volumes as the lesion table.
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from engine.export import export_labels, read_label_file
from engine.io import load
from engine.labels import LabelInfo, LabelTable
from engine.reading import lesion_table
from tests.engine.export.dicom_checks import dciodvfy_errors
from tests.engine.pacs.conftest import CANARY_NAME, CANDOR_AET, PASSWORD, SERVER_AET, USER
from viewer.cli import main

COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"


def candor(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def server_for(transport: str, orthanc, capsys, monkeypatch) -> str:
    """SERVER as ``candor pacs`` takes it: the DICOMweb URL (credentials from the environment)
    or a saved DIMSE server."""
    if transport == "dicomweb":
        monkeypatch.setenv("CANDOR_PACS_USER", USER)
        monkeypatch.setenv("CANDOR_PACS_PASSWORD", PASSWORD)
        return orthanc.dicomweb_url
    code, _, err = candor(capsys, "pacs", "servers", "add", "orthanc-dimse", "--dimse",
                          f"{SERVER_AET}@127.0.0.1:{orthanc.dicom_port}", "--calling-ae", CANDOR_AET)
    assert code == 0, err
    return "orthanc-dimse"


def lesion_mask(image, folder):
    """Two lesions (60 and 8 voxels) and a 'brain' label around them, as a NIfTI label file."""
    lab = np.zeros(image.geometry.shape, np.uint8)
    lab[1:5, 1:9, 1:11] = 1
    lab[1:4, 2:6, 2:7] = 2
    lab[5, 6:8, 7:11] = 2
    mask = image.with_array(lab, modality="SEG")
    out = folder / "mask.nii.gz"
    table = LabelTable([LabelInfo(1, "brain", (170, 170, 170)), LabelInfo(2, "lesion", (230, 25, 75))])
    export_labels(mask, table, image, out)
    return out


@pytest.mark.parametrize("transport", ["dicomweb", "dimse"])
def test_sr_report_sent_to_pacs_comes_back_valid(orthanc, uploaded, tmp_path, capsys, monkeypatch,
                                                 transport):
    server = server_for(transport, orthanc, capsys, monkeypatch)
    got = tmp_path / "got"
    code, _, err = candor(capsys, "pacs", "get", server, uploaded.study_uid, uploaded.series_uid,
                          "--out", got)
    assert code == 0, err
    image = load(got)
    np.testing.assert_array_equal(image.array, uploaded.volume.array)
    mask_file = lesion_mask(image, tmp_path)
    sr = tmp_path / "report.dcm"
    code, _, err = candor(capsys, "report", mask_file, "--reference", got, "--sr", sr)
    assert code == 0, err
    assert "2 findings of label 2 (lesion)" in err

    code, out, err = candor(capsys, "pacs", "send", server, sr)
    assert (code, out, err) == (0, f"sent      {sr}\n", "")
    sent = pydicom.dcmread(sr)
    stored = {s["MainDicomTags"]["Modality"]: s for s in orthanc.series_of_study(uploaded.study_uid)}
    assert set(stored) == {"CT", "SR"}  # in the reference's study, a series of its own
    (instance,) = stored["SR"]["Instances"]
    tags = orthanc.rest("GET", f"/instances/{instance}/tags?simplify").json()
    assert tags["SOPInstanceUID"] == sent.SOPInstanceUID and tags["SOPClassUID"] == COMPREHENSIVE_3D_SR
    assert tags["StudyInstanceUID"] == uploaded.study_uid and tags["PatientID"] == uploaded.patient_id
    evidence = tags["CurrentRequestedProcedureEvidenceSequence"][0]["ReferencedSeriesSequence"][0]
    assert evidence["SeriesInstanceUID"] == uploaded.series_uid

    back_dir = tmp_path / "back"
    code, out, err = candor(capsys, "pacs", "get", server, uploaded.study_uid,
                            tags["SeriesInstanceUID"], "--out", back_dir)
    assert code == 0, err
    (back,) = back_dir.glob("*.dcm")
    assert pydicom.dcmread(back).SOPInstanceUID == sent.SOPInstanceUID
    assert dciodvfy_errors(back) == []
    doc = hd.sr.srread(back)
    groups = doc.content.get_volumetric_roi_measurement_groups()
    rows = lesion_table(read_label_file(mask_file)[0], 2)  # the mask as `candor report` read it
    assert [g.tracking_identifier for g in groups] == ["lesion 1", "lesion 2"]
    volumes = [float(m.value) for g in groups for m in g.get_measurements(name=codes.SCT.Volume)]
    assert volumes == pytest.approx([r.volume_ml for r in rows], rel=1e-12)
    voxel_ml = 0.8 * 0.9 * 2.5 / 1000  # the uploaded spacing, stored as float32 in the NIfTI
    assert volumes == pytest.approx([60 * voxel_ml, 8 * voxel_ml], rel=1e-6)
    assert CANARY_NAME not in err + out and uploaded.patient_id not in err + out
