"""DICOMweb against the real Orthanc: QIDO-RS find, WADO-RS retrieve (resumable), errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from engine.io import load
from engine.jobs import CancelToken
from engine.errors import Cancelled
from engine.pacs import PacsAuthError, PacsUnreachable, Query, ServerProfile, cache, connect
from tests.engine.pacs.conftest import CANARY_NAME, PASSWORD, USER, free_port


def web(orthanc, **kw) -> ServerProfile:
    return ServerProfile(name="test-web", url=orthanc.dicomweb_url, auth="basic", user=USER, **kw)


def test_find_by_patient_id_and_modality(orthanc, uploaded, caplog):
    caplog.set_level(logging.DEBUG)
    client = connect(web(orthanc), PASSWORD)
    found = client.find_studies(Query(patient_id=uploaded.patient_id, modality="CT"))
    assert [s.study_uid for s in found] == [uploaded.study_uid]
    assert found[0].patient_name == CANARY_NAME and found[0].modalities == ("CT",)
    assert client.find_studies(Query(patient_id=uploaded.patient_id, modality="MR")) == []
    series = client.find_series(uploaded.study_uid)
    assert [(s.series_uid, s.modality, s.instance_count) for s in series] == \
        [(uploaded.series_uid, "CT", len(uploaded.paths))]
    assert CANARY_NAME not in repr(found) and uploaded.patient_id not in repr(found)
    assert CANARY_NAME not in caplog.text and uploaded.patient_id not in caplog.text


def test_retrieve_is_voxel_identical_and_resumes(orthanc, uploaded, tmp_path):
    client = connect(web(orthanc), PASSWORD)
    dest = cache.series_folder(client.name, uploaded.study_uid, uploaded.series_uid)
    cancel, seen = CancelToken(), []

    def progress(fraction, stage):
        seen.append(fraction)
        if len(seen) == 2:
            cancel.cancel()  # instance 2 is fetched, the report before instance 3 stops

    with pytest.raises(Cancelled):
        client.retrieve(uploaded.study_uid, uploaded.series_uid, dest, progress=progress, cancel=cancel)
    assert cache.is_partial(dest) and len(list(dest.glob("*.dcm"))) == 2
    seen.clear()
    result = client.retrieve(uploaded.study_uid, uploaded.series_uid, dest, progress=lambda f, s: seen.append(f))
    assert (result.received, result.skipped, result.total) == (4, 2, 6)
    assert cache.is_complete(dest) and seen[-1] == 1.0
    got = load(dest)
    assert got.array.dtype == uploaded.volume.array.dtype
    np.testing.assert_array_equal(got.array, uploaded.volume.array)
    assert got.geometry.is_close(uploaded.volume.geometry)
    names = " ".join(p.name for p in cache.cache_root().rglob("*"))
    assert "CANARY" not in names and uploaded.series_uid not in names


def test_wrong_password_is_clear_and_caches_nothing(orthanc, uploaded):
    client = connect(web(orthanc), "not-the-password")
    dest = cache.series_folder(client.name, uploaded.study_uid, uploaded.series_uid)
    with pytest.raises(PacsAuthError, match="refused the credentials \\(HTTP 401\\)") as err:
        client.retrieve(uploaded.study_uid, uploaded.series_uid, dest)
    assert not dest.exists()
    assert CANARY_NAME not in str(err.value) and uploaded.patient_id not in str(err.value)
    with pytest.raises(PacsAuthError, match="needs a password"):
        connect(web(orthanc), None)


def test_unreachable_host_is_clear():
    profile = ServerProfile(name="gone", url=f"http://127.0.0.1:{free_port()}/dicom-web", timeout=5)
    with pytest.raises(PacsUnreachable, match="cannot reach 'gone'.*check the address and port"):
        connect(profile).echo()


def test_the_canary_check_would_catch_urllib3s_query_logging(orthanc, uploaded, caplog, monkeypatch):
    """Without the quieted loggers the patient ID does reach the log (urllib3 logs each request
    line with its query string): the canary assertions above are not vacuous."""
    import engine.pacs.dicomweb as dicomweb

    monkeypatch.setattr(dicomweb, "quiet_url_loggers", lambda: None)
    loggers = [logging.getLogger(n) for n in ("urllib3", "dicomweb_client")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.NOTSET)
        caplog.set_level(logging.DEBUG)
        connect(web(orthanc), PASSWORD).find_studies(Query(patient_id=uploaded.patient_id))
        assert uploaded.patient_id in caplog.text
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def test_tls_failure_is_clear(orthanc):
    """https to Orthanc's plain-HTTP port: the TLS handshake fails."""
    profile = ServerProfile(name="tls", url=orthanc.dicomweb_url.replace("http://", "https://"), timeout=5)
    with pytest.raises(PacsUnreachable, match="TLS failure talking to 'tls'.*CA bundle"):
        connect(profile).echo()
