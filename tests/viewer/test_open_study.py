"""Opening a generated DICOM folder through the series browser: scan and load on workers,
progress, Cancel, readable errors, and an event loop that keeps running."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from engine.io import write_series
from engine.jobs import report
from tests.viewer.conftest import synthetic_ct
from engine.volume import Geometry, Volume


@pytest.fixture
def study_folder(tmp_path):
    """A folder with two real DICOM series of one study: a CT and a smaller MR."""
    ct = synthetic_ct(shape=(12, 32, 28))
    mr_arr = (np.random.default_rng(3).normal(400, 60, (8, 20, 20))).astype(np.int16)
    mr = Volume(mr_arr, Geometry((20, 20, 8), (1.2, 1.2, 3.0), (0, 0, 0)), "MR")
    folder = tmp_path / "study"
    write_series(ct, folder / "ct", modality="CT", series_description="Head CT", study_uid="1.2.3.4",
                 series_number=2)
    write_series(mr, folder / "mr", modality="MR", series_description="T1 axial", study_uid="1.2.3.4",
                 series_number=3)
    return folder, ct


def _table_rows(browser):
    t = browser.table
    return [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]


def test_open_folder_pick_series_and_load(reading_window, qtbot, study_folder):
    folder, ct = study_folder
    with qtbot.waitSignal(reading_window.open_requested, timeout=2000):
        reading_window.open_path(str(folder))
    browser = reading_window.services.opener.browser
    assert browser.isVisible() and browser.windowTitle() == "Open study"
    qtbot.waitUntil(lambda: browser.table.rowCount() == 2, timeout=20000)
    rows = _table_rows(browser)
    assert {r[1] for r in rows} == {"CT", "MR"}
    assert {r[2] for r in rows} == {"Head CT", "T1 axial"}
    ct_row = next(i for i, r in enumerate(rows) if r[1] == "CT")
    assert rows[ct_row][4] == "12" and rows[ct_row][0] == "Study 1"
    assert all("ANONYMOUS" not in cell and "CANDOR0001" not in cell for r in rows for cell in r)
    browser.table.selectRow(ct_row)
    with qtbot.waitSignal(reading_window.services.opener.opened, timeout=20000):
        browser.open_button.click()
    assert browser.progress.value() == 1000
    image = reading_window.services.model.image
    assert image is not None and image.volume.modality == "CT"
    np.testing.assert_array_equal(image.volume.array, ct.array)
    assert reading_window.central.currentWidget() is reading_window.services.viewer
    pixels = reading_window.services.viewer.views["axial"].current_pixels()
    assert len(pixels) == 1 and next(iter(pixels.values())).std() > 0
    assert "CT" in reading_window.windowTitle()


def test_unreadable_file_shows_a_readable_error(reading_window, qtbot, tmp_path):
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"this is not a NIfTI file at all")
    reading_window.open_path(str(bad))
    browser = reading_window.services.opener.browser
    qtbot.waitUntil(lambda: not browser.busy and browser.status.text() != "Loading…", timeout=20000)
    errors = reading_window.services.messages.texts("error")
    assert errors and "Traceback" not in errors[0]
    assert reading_window.services.messages.isVisible()
    assert reading_window.services.model.image is None


def _slow_work(n, *, progress=None, cancel=None):
    for i in range(n):
        time.sleep(0.02)
        report(progress, cancel, (i + 1) / n, "Reading slices")
    return "done"


def test_progress_cancel_and_event_loop_keeps_running(reading_window, qtbot, tmp_path):
    """A long job in the browser: the progress bar moves, a timer keeps firing, Cancel stops it."""
    from viewer.qt.series_browser import SeriesBrowser

    browser = SeriesBrowser(str(tmp_path), reading_window.jobs, reading_window)
    qtbot.addWidget(browser)
    browser.open()
    finished = []
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    browser._run(_slow_work, 500, done=finished.append)
    qtbot.waitUntil(lambda: browser.progress.value() > 50, timeout=10000)
    assert browser.busy and "Reading slices" in browser.status.text()
    browser.cancel_button.click()
    qtbot.waitUntil(lambda: bool(finished), timeout=5000)
    timer.stop()
    job = finished[0]
    assert job.state.value == "cancelled"
    assert browser.progress.value() < 1000
    assert len(ticks) >= 5, "the GUI event loop stalled during the job"


def test_dropping_a_folder_opens_the_series_browser(reading_window, qtbot, study_folder):
    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    folder, _ct = study_folder
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    # Qt only routes drops that come from a real drag, so the window's handlers get real events.
    enter = QDragEnterEvent(QPoint(300, 300), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    reading_window.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(300, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    reading_window.dropEvent(drop)
    browser = reading_window.services.opener.browser
    assert browser is not None and browser.isVisible()
    qtbot.waitUntil(lambda: browser.table.rowCount() == 2, timeout=20000)
    assert reading_window.recent.paths[0] == str(folder.resolve())
