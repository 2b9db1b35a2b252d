"""``candor pacs …`` end to end against the real Orthanc, through ``viewer.cli.main`` (the
``candor`` entry point), with credentials from the environment, stdin and saved profiles."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging

import numpy as np
import pytest

from engine.io import load
from engine.pacs import profiles
from tests.engine.pacs.conftest import CANARY_NAME, CANDOR_AET, PASSWORD, SERVER_AET, USER
from viewer.cli import main


def candor(capsys, *argv, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def env_login(monkeypatch):
    monkeypatch.setenv("CANDOR_PACS_USER", USER)
    monkeypatch.setenv("CANDOR_PACS_PASSWORD", PASSWORD)


def test_find_by_url_with_env_credentials(orthanc, uploaded, env_login, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    since = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    code, out, err = candor(capsys, "-vv", "pacs", "find", orthanc.dicomweb_url, "--patient-id",
                            uploaded.patient_id, "--modality", "CT", "--since", since, "--series", "--json")
    assert code == 0, err
    (study,) = json.loads(out)["studies"]
    assert study["study_uid"] == uploaded.study_uid and study["patient_name"] == CANARY_NAME
    assert [s["series_uid"] for s in study["series"]] == [uploaded.series_uid]
    future = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    code, out, _ = candor(capsys, "pacs", "find", orthanc.dicomweb_url, "--patient-id",
                          uploaded.patient_id, "--since", future)
    assert code == 0 and out.startswith("0 studies")
    assert CANARY_NAME not in err and CANARY_NAME not in caplog.text
    assert uploaded.patient_id not in caplog.text and PASSWORD not in caplog.text


def test_saved_dimse_server_get_and_echo(orthanc, uploaded, capsys, tmp_path):
    code, out, err = candor(capsys, "pacs", "servers", "add", "orthanc-dimse", "--dimse",
                            f"{SERVER_AET}@127.0.0.1:{orthanc.dicom_port}", "--calling-ae", CANDOR_AET)
    assert code == 0, err
    assert candor(capsys, "pacs", "echo", "orthanc-dimse")[1].startswith("'orthanc-dimse'")
    out_dir = tmp_path / "got"
    code, out, err = candor(capsys, "pacs", "get", "orthanc-dimse", uploaded.study_uid,
                            uploaded.series_uid, "--out", out_dir)
    assert code == 0, err
    assert f"retrieved {len(uploaded.paths)} instances of {len(uploaded.paths)}" in out
    np.testing.assert_array_equal(load(out_dir).array, uploaded.volume.array)
    code, out, _ = candor(capsys, "pacs", "get", "orthanc-dimse", uploaded.study_uid, "--out", out_dir / "study")
    assert code == 0 and f"of {len(uploaded.paths)}" in out  # the whole study: one series here


def test_saved_web_server_never_holds_the_password(orthanc, uploaded, capsys, monkeypatch, tmp_path):
    code, _, err = candor(capsys, "pacs", "servers", "add", "orthanc-web", "--url", orthanc.dicomweb_url,
                          "--user", USER, "--timeout", "10")
    assert code == 0, err
    assert PASSWORD not in profiles.store_path().read_text()
    listed = json.loads(candor(capsys, "pacs", "servers", "list", "--json")[1])["servers"]
    assert [(s["name"], s["auth"], s["user"]) for s in listed] == [("orthanc-web", "basic", USER)]
    code, out, err = candor(capsys, "pacs", "get", "orthanc-web", uploaded.study_uid, uploaded.series_uid,
                            "--password-stdin", stdin=PASSWORD + "\n", monkeypatch=monkeypatch)
    assert code == 0, err
    assert "CANARY" not in out  # the folder (Candor's cache) is named by hashed UIDs
    assert candor(capsys, "pacs", "servers", "remove", "orthanc-web")[0] == 0
    code, _, err = candor(capsys, "pacs", "echo", "orthanc-web")
    assert code == 2 and "no saved PACS server named 'orthanc-web'" in err


def test_wrong_password_exits_2_and_caches_nothing(orthanc, uploaded, capsys, monkeypatch, tmp_path):
    out_dir = tmp_path / "got"
    code, out, err = candor(capsys, "pacs", "get", orthanc.dicomweb_url, uploaded.study_uid,
                            uploaded.series_uid, "--out", out_dir, "--user", USER, "--password-stdin",
                            stdin="wrong\n", monkeypatch=monkeypatch)
    assert code == 2 and "refused the credentials (HTTP 401)" in err
    assert not out_dir.exists() and out == ""
    assert CANARY_NAME not in err and uploaded.patient_id not in err and "wrong" not in err


def test_send_reports_each_file(orthanc, uploaded, env_login, capsys, tmp_path):
    from tests.engine.pacs.test_send import candor_seg

    seg, junk = candor_seg(uploaded, tmp_path), tmp_path / "junk.dcm"
    junk.write_bytes(b"\0" * 300)
    code, out, err = candor(capsys, "pacs", "send", orthanc.dicomweb_url, seg, junk)
    assert code == 1 and "1 of 2 files were not stored" in err
    assert f"sent      {seg}" in out and f"NOT SENT  {junk}: not a readable DICOM file" in out
    modalities = {s["MainDicomTags"]["Modality"] for s in orthanc.series_of_study(uploaded.study_uid)}
    assert modalities == {"CT", "SEG"}
