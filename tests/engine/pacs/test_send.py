"""Sending Candor's DICOM SEG back over each transport: stored, found, referencing the right series.

One file the server refuses (a CT slice without its Series Instance UID: Orthanc cannot index it;
a Lua ``ReceivedInstanceFilter`` would not do, Orthanc 1.10 answers "success" for what it filters
out over STOW-RS and C-STORE) and one that is not DICOM are sent with it: each is named with its reason and the SEG is stored all the same.
"""

from __future__ import annotations

import logging

import numpy as np
import pydicom
import pytest

from engine.export import export_labels
from engine.io import load, write_series
from engine.labels import LabelInfo, LabelTable
from engine.pacs import ServerProfile, cache, connect
from tests.engine.pacs.conftest import CANARY_NAME, CANDOR_AET, PASSWORD, SERVER_AET, USER
from tests.engine.export.dicom_checks import dciodvfy_errors


def profile(orthanc, transport: str) -> ServerProfile:
    if transport == "dicomweb":
        return ServerProfile(name="web", url=orthanc.dicomweb_url, auth="basic", user=USER)
    return ServerProfile(name="dimse", ae_title=SERVER_AET, host="127.0.0.1", port=orthanc.dicom_port,
                         calling_ae=CANDOR_AET, timeout=10)


def candor_seg(uploaded, tmp_path):
    reference = load(uploaded.paths[0].parent)
    labels = np.zeros(reference.array.shape, np.uint8)
    labels[1:4, 2:7, 3:9] = 1
    labels[4, 5:8, 1:4] = 2
    table = LabelTable([LabelInfo(1, "lesion", (230, 25, 75)), LabelInfo(2, "oedema", (60, 180, 75))])
    out = tmp_path / "seg.dcm"
    export_labels(reference.with_array(labels), table, reference, out)
    return out


@pytest.mark.parametrize("transport", ["dicomweb", "dimse"])
def test_send_seg_keeps_going_past_refused_files(orthanc, uploaded, tmp_path, transport, caplog):
    caplog.set_level(logging.DEBUG)
    seg = candor_seg(uploaded, tmp_path)
    refused = write_series(uploaded.volume, tmp_path / "refused", patient_name=CANARY_NAME,
                           patient_id=uploaded.patient_id, study_uid=uploaded.study_uid,
                           edit=lambda ds, k: delattr(ds, "SeriesInstanceUID"))[0]
    junk = tmp_path / "notes.dcm"
    junk.write_text("not a DICOM file")
    client = connect(profile(orthanc, transport), PASSWORD)
    results = client.send([refused, seg, junk])
    assert [(r.path, r.ok) for r in results] == [(refused, False), (seg, True), (junk, False)]
    assert "refused" in results[0].reason and results[2].reason == "not a readable DICOM file"
    stored = {s["MainDicomTags"]["Modality"]: s for s in orthanc.series_of_study(uploaded.study_uid)}
    assert set(stored) == {"CT", "SEG"}  # the refused CT slice made no second series
    tags = orthanc.rest("GET", f"/instances/{stored['SEG']['Instances'][0]}/tags?simplify").json()
    assert tags["ReferencedSeriesSequence"][0]["SeriesInstanceUID"] == uploaded.series_uid
    assert CANARY_NAME not in caplog.text and uploaded.patient_id not in caplog.text
    assert all(CANARY_NAME not in r.reason and uploaded.patient_id not in r.reason for r in results)


def test_sent_seg_comes_back_valid(orthanc, uploaded, tmp_path):
    seg = candor_seg(uploaded, tmp_path)
    client = connect(profile(orthanc, "dicomweb"), PASSWORD)
    assert client.send([seg])[0].ok
    (seg_series,) = [s for s in client.find_series(uploaded.study_uid) if s.modality == "SEG"]
    dest = cache.series_folder(client.name, uploaded.study_uid, seg_series.series_uid)
    client.retrieve(uploaded.study_uid, seg_series.series_uid, dest)
    (back,) = dest.glob("*.dcm")
    sent, got = pydicom.dcmread(seg), pydicom.dcmread(back)
    assert got.SOPInstanceUID == sent.SOPInstanceUID and got.PixelData == sent.PixelData
    assert dciodvfy_errors(back) == []
