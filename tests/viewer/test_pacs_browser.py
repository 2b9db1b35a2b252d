"""File › Open from PACS… and Send to PACS…, driven through the real dialogs against the real
Orthanc of ``tests/engine/pacs/conftest.py`` (DICOMweb, basic auth): search, series listing,
retrieval as a job into the cache, opening through the normal study opener, Cancel mid-retrieval,
plain messages for bad servers, and a SEG exported from the viewer sent back and found in Orthanc.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from engine.labels import LabelInfo, LabelTable
from engine.pacs import ServerProfile, cache, profiles
from tests.engine.pacs import conftest as pacs_fixtures
from tests.engine.pacs.conftest import (CANARY_NAME, CANDOR_AET, PASSWORD, SERVER_AET, USER, free_port,
                                        upload_series)
from viewer.qt.app import create_application
from viewer.qt.features.pacs import PacsFeature
from viewer.qt.main_window import MainWindow

# the real Orthanc of the engine's PACS tests (one per session) and a CT series uploaded to it
orthanc, uploaded = pacs_fixtures.orthanc, pacs_fixtures.uploaded
WAIT_MS = 60_000   # generous: jobs may queue behind others on a busy machine
LEFT = Qt.MouseButton.LeftButton


def _pacs_jobs(window) -> list:
    """This feature's unfinished jobs (other features, e.g. the lesion table, run their own)."""
    return [job for job in window.services.jobs.active if job.name.startswith("pacs-")]


def _window(qtbot):
    create_application()
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    return window, window.findChild(PacsFeature)


def _browser(qtbot, orthanc, server: str | None = None):
    """The window and its PACS browser, the server typed as a URL (or a saved name) + password."""
    window, feature = _window(qtbot)
    assert feature.action_open in window.file_menu.actions()
    feature.action_open.trigger()
    browser = feature.browser
    assert browser.isVisible()
    browser.chooser.set_server(server or orthanc.dicomweb_url, USER, PASSWORD)
    return window, feature, browser


def _search(qtbot, browser, **fields):
    for key, value in fields.items():
        browser.fields[key].setText(value)
    with qtbot.waitSignal(browser.job_done, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(browser.search_button, LEFT)
    return blocker.args


def _search_and_list(qtbot, browser, patient_id: str) -> None:
    """Search by patient ID; the single study is selected and its series listed."""
    with qtbot.waitSignal(browser.job_done, timeout=WAIT_MS,
                          check_params_cb=lambda kind, ok: kind == "series") as listed:
        assert _search(qtbot, browser, patient_id=patient_id, modality="CT") == ["search", True]
    assert listed.args == ["series", True]


def test_search_finds_the_study_and_lists_its_series(qtbot, orthanc, uploaded, caplog):
    caplog.set_level(logging.DEBUG)
    profiles.save(ServerProfile(name="test-orthanc", url=orthanc.dicomweb_url, auth="basic", user=USER))
    window, _feature, browser = _browser(qtbot, orthanc, server="test-orthanc")
    assert browser.chooser.user.text() == USER   # the saved profile's user
    _search_and_list(qtbot, browser, uploaded.patient_id)
    table = browser.study_table
    assert table.rowCount() == 1
    assert table.item(0, 8).text() == uploaded.study_uid
    assert (table.item(0, 0).text(), table.item(0, 1).text()) == (CANARY_NAME, uploaded.patient_id)
    assert table.item(0, 3).text() == "CT" and table.item(0, 7).text() == str(len(uploaded.paths))
    assert browser.series_table.rowCount() == 1
    assert browser.series_table.item(0, 4).text() == uploaded.series_uid
    assert browser.selected_series().series_uid == uploaded.series_uid and browser.retrieve_button.isEnabled()
    assert browser.status.text() == "1 series; choose one and Retrieve (none chosen: the whole study)."

    browser.fields["modality"].setText("MR")
    with qtbot.waitSignal(browser.job_done, timeout=WAIT_MS) as searched:   # Enter searches, never retrieves
        qtbot.keyClick(browser.fields["modality"], Qt.Key.Key_Return)
    assert searched.args == ["search", True] and window.services.opener.browser is None
    assert table.rowCount() == 0 and browser.series_table.rowCount() == 0
    assert browser.status.text() == "No study matches this search." and not browser.retrieve_button.isEnabled()
    # names and IDs are on screen only: not in the log, the status bar or the Messages dock
    assert CANARY_NAME not in caplog.text and uploaded.patient_id not in caplog.text
    assert "PACS search on test-orthanc: 1 study" in caplog.text


def test_retrieve_opens_the_series_like_a_folder(qtbot, orthanc, uploaded, caplog):
    caplog.set_level(logging.DEBUG)
    window, feature, browser = _browser(qtbot, orthanc)
    _search_and_list(qtbot, browser, uploaded.patient_id)
    opener, model = window.services.opener, window.services.model
    with qtbot.waitSignal(opener.opened, timeout=WAIT_MS) as opened:
        qtbot.mouseClick(browser.retrieve_button, LEFT)
    volume = opened.args[0]
    assert model.image is not None and model.image.volume is volume
    assert volume.size == uploaded.volume.size == (12, 10, 6)
    np.testing.assert_array_equal(volume.array, uploaded.volume.array)
    assert volume.geometry.is_close(uploaded.volume.geometry)
    assert not browser.isVisible() and browser.progress.value() == 1000
    assert browser.status.text() == "Retrieved 6 instances; opening…"
    folder = cache.series_folder(orthanc.dicomweb_url, uploaded.study_uid, uploaded.series_uid)
    assert cache.is_complete(folder) and opener.browser.path == str(folder)
    assert _pacs_jobs(window) == []
    names = " ".join(p.name for p in cache.cache_root().rglob("*"))
    assert "CANARY" not in names and uploaded.series_uid not in names
    assert CANARY_NAME not in caplog.text and uploaded.patient_id not in caplog.text
    assert browser.study_table.item(0, 0).text() == CANARY_NAME   # reopening keeps the search
    assert feature.open_browser() is browser and browser.study_table.rowCount() == 1


def test_a_saved_dimse_server_retrieves_over_c_get(qtbot, orthanc, uploaded, caplog):
    caplog.set_level(logging.DEBUG)
    profiles.save(ServerProfile(name="test-dimse", ae_title=SERVER_AET, host="127.0.0.1",
                                port=orthanc.dicom_port, calling_ae=CANDOR_AET, timeout=10))
    window, _feature, browser = _browser(qtbot, orthanc, server="test-dimse")
    assert not browser.chooser.user.isEnabled() and not browser.chooser.password.isEnabled()
    _search_and_list(qtbot, browser, uploaded.patient_id)
    assert browser.study_table.item(0, 8).text() == uploaded.study_uid
    with qtbot.waitSignal(window.services.opener.opened, timeout=WAIT_MS) as opened:
        qtbot.mouseClick(browser.retrieve_button, LEFT)
    np.testing.assert_array_equal(opened.args[0].array, uploaded.volume.array)
    assert cache.is_complete(cache.series_folder("test-dimse", uploaded.study_uid, uploaded.series_uid))
    assert CANARY_NAME not in caplog.text and uploaded.patient_id not in caplog.text


def test_cancel_mid_retrieval_opens_nothing_and_retrieve_resumes(qtbot, orthanc, tmp_path):
    series = upload_series(orthanc, tmp_path / "upload", slices=12)
    window, _feature, browser = _browser(qtbot, orthanc)
    _search_and_list(qtbot, browser, series.patient_id)
    reached, go, seen = threading.Event(), threading.Event(), []

    def hold(event) -> None:   # runs on the worker: the retrieval waits here until Cancel is clicked
        seen.append(event.fraction)
        if len(seen) == 2:
            reached.set()
            go.wait(WAIT_MS / 1000)

    qtbot.mouseClick(browser.retrieve_button, LEFT)
    browser.watcher.progress.connect(hold, Qt.ConnectionType.DirectConnection)
    qtbot.waitUntil(reached.is_set, timeout=WAIT_MS)
    assert browser.cancel_button.text() == "Cancel" and not browser.search_button.isEnabled()
    with qtbot.waitSignal(browser.job_done, timeout=WAIT_MS) as done:
        qtbot.mouseClick(browser.cancel_button, LEFT)
        go.set()
    assert done.args == ["retrieve", False]
    assert browser.status.text().startswith("Retrieval cancelled; nothing was opened.")
    assert _pacs_jobs(window) == [] and not browser.busy
    QApplication.processEvents()
    assert window.services.model.image is None and window.services.opener.browser is None
    folder = cache.series_folder(orthanc.dicomweb_url, series.study_uid, series.series_uid)
    fetched = len(list(folder.glob("*.dcm")))
    assert cache.is_partial(folder) and 0 < fetched < 12
    assert browser.isVisible() and browser.cancel_button.text() == "Close"

    with qtbot.waitSignal(window.services.opener.opened, timeout=WAIT_MS) as opened:
        qtbot.mouseClick(browser.retrieve_button, LEFT)
    assert browser.status.text() == f"Retrieved 12 instances ({fetched} already in the cache); opening…"
    np.testing.assert_array_equal(opened.args[0].array, series.volume.array)
    assert cache.is_complete(folder)


def test_bad_servers_and_bad_input_get_plain_messages(qtbot, orthanc, uploaded, monkeypatch):
    monkeypatch.delenv("CANDOR_PACS_PASSWORD", raising=False)   # the empty password stays empty
    window, _feature, browser = _browser(qtbot, orthanc)
    cases = [
        (f"http://127.0.0.1:{free_port()}/dicom-web", PASSWORD, {},
         "Search failed: cannot reach http://127.0.0.1:", "check the address and port, and that the "
                                                          "server is running"),
        (orthanc.dicomweb_url, "not-the-password", {}, "Search failed: ", "refused the credentials (HTTP 401)"),
        (orthanc.dicomweb_url, "", {}, "Search failed: ", "needs a password or token: type it in the "
                                                          "Password field"),
        ("no-such-server", PASSWORD, {}, "Not searched: no saved PACS server named 'no-such-server'", ""),
        (orthanc.dicomweb_url, PASSWORD, {"since": "31/01/2024"}, "Not searched: give the date since as "
                                                                  "YYYY-MM-DD", ""),
    ]
    for server, password, fields, start, part in cases:
        browser.chooser.set_server(server, USER, password)
        assert _search(qtbot, browser, **({"since": ""} | fields)) == ["search", False]
        text = browser.status.text()
        assert text.startswith(start) and part in text, text
        assert "Traceback" not in text and CANARY_NAME not in text
    assert browser.study_table.rowCount() == 0 and _pacs_jobs(window) == []
    assert window.services.model.image is None


def _retrieve_and_open(qtbot, window, browser, patient_id):
    _search_and_list(qtbot, browser, patient_id)
    with qtbot.waitSignal(window.services.opener.opened, timeout=WAIT_MS):
        qtbot.mouseClick(browser.retrieve_button, LEFT)


def test_send_uploads_the_seg_exported_from_the_retrieved_series(qtbot, orthanc, uploaded, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    window, feature, browser = _browser(qtbot, orthanc)
    _retrieve_and_open(qtbot, window, browser, uploaded.patient_id)
    model = window.services.model
    mask = np.zeros(model.image.volume.array.shape, np.uint8)
    mask[1:4, 2:7, 3:9] = 1
    model.layers.add_labels(model.image.volume.with_array(mask), LabelTable([LabelInfo(1, "lesion", (230, 25, 75))]),
                            name="lesion")
    export = window.services.export.export()
    export.set_format("seg")
    seg = tmp_path / "lesion.dcm"
    export.destination.setText(str(seg))
    with qtbot.waitSignal(export.exported, timeout=WAIT_MS):
        qtbot.mouseClick(export.export_button, LEFT)
    assert seg.is_file()

    assert feature.action_send in window.file_menu.actions()
    feature.action_send.trigger()
    dialog = feature.send_dialog
    assert dialog.isVisible() and dialog.files() == [seg]   # the last exported SEG by default
    dialog.chooser.set_server(orthanc.dicomweb_url, USER, PASSWORD)
    with qtbot.waitSignal(dialog.sent, timeout=WAIT_MS) as sent:
        qtbot.mouseClick(dialog.send_button, LEFT)
    assert [(r.path, r.ok) for r in sent.args[0]] == [(seg, True)]
    assert dialog.status.text() == f"Sent 1 of 1 file to {orthanc.dicomweb_url}."
    assert dialog.progress.value() == 1000 and _pacs_jobs(window) == []
    assert window.statusBar().currentMessage() == "Sent 1 file to the PACS"
    stored = {s["MainDicomTags"]["Modality"]: s for s in orthanc.series_of_study(uploaded.study_uid)}
    assert set(stored) == {"CT", "SEG"}
    tags = orthanc.rest("GET", f"/instances/{stored['SEG']['Instances'][0]}/tags?simplify").json()
    assert tags["ReferencedSeriesSequence"][0]["SeriesInstanceUID"] == uploaded.series_uid
    assert CANARY_NAME not in caplog.text and uploaded.patient_id not in caplog.text


def test_send_names_each_refused_file(qtbot, orthanc, tmp_path):
    window, feature = _window(qtbot)
    junk = tmp_path / "notes.dcm"
    junk.write_text("not a DICOM file")
    dialog = feature.open_send()
    assert dialog.files() == []   # nothing exported yet: the user adds files
    with qtbot.waitSignal(dialog.failed, timeout=WAIT_MS) as failed:
        qtbot.mouseClick(dialog.send_button, LEFT)
    assert failed.args == ["choose at least one file to send (Add files…)"]
    dialog.set_files([junk])
    dialog.chooser.set_server(orthanc.dicomweb_url, USER, PASSWORD)
    with qtbot.waitSignal(dialog.sent, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.send_button, LEFT)
    assert dialog.status.text() == (f"Sent 0 of 1 file to {orthanc.dicomweb_url}. Not stored: "
                                    "notes.dcm (not a readable DICOM file).")
    assert window.services.messages.texts("warning") == [
        "1 of 1 files were not stored by the PACS (see Send to PACS)"]
