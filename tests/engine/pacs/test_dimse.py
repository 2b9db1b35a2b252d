"""DIMSE against the real Orthanc: C-ECHO, C-FIND, C-GET (resumable), C-STORE, refusals."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from engine.io import load
from engine.pacs import PacsError, PacsUnreachable, Query, ServerProfile, cache, connect
from tests.engine.pacs.conftest import CANARY_NAME, CANDOR_AET, SERVER_AET, free_port


def dimse(orthanc, **kw) -> ServerProfile:
    base = dict(name="test-dimse", ae_title=SERVER_AET, host="127.0.0.1", port=orthanc.dicom_port,
                calling_ae=CANDOR_AET, timeout=10)
    return ServerProfile(**(base | kw))


def test_echo_and_find_by_patient_id_and_modality(orthanc, uploaded, caplog):
    caplog.set_level(logging.DEBUG)
    client = connect(dimse(orthanc))
    assert "answered C-ECHO" in client.echo()
    found = client.find_studies(Query(patient_id=uploaded.patient_id, modality="CT"))
    assert [s.study_uid for s in found] == [uploaded.study_uid]
    assert found[0].patient_name == CANARY_NAME and found[0].instance_count == len(uploaded.paths)
    assert client.find_studies(Query(patient_id=uploaded.patient_id, modality="MR")) == []
    series = client.find_series(uploaded.study_uid)
    assert [(s.series_uid, s.modality) for s in series] == [(uploaded.series_uid, "CT")]
    assert CANARY_NAME not in caplog.text and uploaded.patient_id not in caplog.text


def test_c_get_is_voxel_identical_and_resumes(orthanc, uploaded):
    client = connect(dimse(orthanc))
    dest = cache.series_folder(client.name, uploaded.study_uid, uploaded.series_uid)
    # an interrupted earlier retrieval: two instances in, the marker still there
    cache.begin(dest)
    from pydicom import dcmread

    for path in uploaded.paths[:2]:
        cache.write_instance(dest, str(dcmread(path).SOPInstanceUID), path.read_bytes())
    seen = []
    result = client.retrieve(uploaded.study_uid, uploaded.series_uid, dest,
                             progress=lambda f, s: seen.append(f))
    assert (result.received, result.skipped, result.total) == (4, 2, 6)
    assert cache.is_complete(dest) and seen[-1] == 1.0
    got = load(dest)
    np.testing.assert_array_equal(got.array, uploaded.volume.array)
    assert got.geometry.is_close(uploaded.volume.geometry)


def test_wrong_called_ae_title_is_refused_clearly(orthanc):
    with pytest.raises(PacsError, match="refused the association.*not called 'NOT-ORTHANC'"):
        connect(dimse(orthanc, ae_title="NOT-ORTHANC")).echo()


def test_unknown_calling_ae_cannot_find(orthanc, uploaded):
    client = connect(dimse(orthanc, calling_ae="STRANGER"))
    with pytest.raises(PacsError) as err:
        client.find_studies(Query(patient_id=uploaded.patient_id))
    assert "may not know Candor's AE title 'STRANGER'" in str(err.value)
    assert uploaded.patient_id not in str(err.value)


def test_unreachable_port_is_clear():
    profile = ServerProfile(name="gone", ae_title="X", host="127.0.0.1", port=free_port(), timeout=3)
    with pytest.raises(PacsUnreachable, match="cannot reach 'gone'.*check the host, the port"):
        connect(profile).echo()


@pytest.mark.parametrize("transport", ["dimse", "dicomweb"])
def test_compressed_series_comes_back_as_stored(orthanc, tmp_path, transport, monkeypatch):
    """A JPEG-LS lossless series, C-GET in batches of 2 UIDs (or WADO-RS): same transfer syntax,
    same voxels."""
    import pydicom
    from pydicom.uid import JPEGLSLossless

    import engine.pacs.dimse as dimse_module
    from engine.io import write_series
    from tests.engine.pacs.conftest import PASSWORD, USER

    from engine.volume import Geometry, Volume

    monkeypatch.setattr(dimse_module, "GET_BATCH", 2)
    rng = np.random.default_rng(3)
    geometry = Geometry((16, 8, 5), (0.5, 0.5, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    volume = Volume(rng.integers(0, 4000, geometry.shape).astype(np.int16), geometry, "MR")
    paths = write_series(volume, tmp_path / "jls", modality="MR", patient_name=CANARY_NAME,
                         patient_id="CANARYJLS", transfer_syntax=JPEGLSLossless)
    first = pydicom.dcmread(paths[0], stop_before_pixels=True)
    orthanc.upload(paths)
    if transport == "dimse":
        client = connect(dimse(orthanc))
    else:
        client = connect(ServerProfile(name="web", url=orthanc.dicomweb_url, auth="basic", user=USER), PASSWORD)
    dest = tmp_path / "got"
    result = client.retrieve(str(first.StudyInstanceUID), str(first.SeriesInstanceUID), dest)
    assert result.received == 5
    syntaxes = {str(pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID)
                for p in dest.glob("*.dcm")}
    assert syntaxes == {JPEGLSLossless}
    np.testing.assert_array_equal(load(dest).array, volume.array)
