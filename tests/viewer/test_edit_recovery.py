"""Crash recovery through the GUI: idle autosave, an abandoned session offered at start-up,
recovered, edited, abandoned again and recovered again. (The engine test kills a real process
with SIGKILL mid-save; here the "crash" is a window whose session lock is dropped without the
normal close, exactly what the OS does to a killed process.)"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from engine.editing.autosave import pending_sessions
from tests.viewer.edit_helpers import AI_TABLE, activate, drag, make_ai, make_scan, open_window


def _crash(window) -> None:
    """Drop the session's OS lock as a killed process would, then let the window go."""
    session = window.services.edit.session
    session.timer.stop()
    if session._save_watcher is not None:
        session._save_watcher.job.wait()
    store, session.store = session.store, None
    store._lock.release()


def _paint_and_wait_for_autosave(qtbot, window, row: int, col: int) -> None:
    window.services.edit.session.timer.setInterval(50)  # idle time, shortened for the test
    qtbot.keyClick(window, Qt.Key.Key_B)
    assert window.services.edit.state.tool == "brush"
    with qtbot.waitSignal(window.services.edit.session.autosaved, timeout=60000):
        drag(window.services.viewer.views["axial"], [(row, col)])


def _recover_from_prompt(qtbot, window):
    session = window.services.edit.session
    qtbot.waitUntil(lambda: session.recovery_box is not None and session.recovery_box.isVisible(),
                    timeout=30000)
    assert "did not close normally" in session.recovery_box.text()
    with qtbot.waitSignal(session.recovered, timeout=60000) as blocker:
        session.recovery_box.button(QMessageBox.StandardButton.Yes).click()
    return blocker.args[0]


def test_session_is_recovered_after_crashes_twice(qtbot, tmp_path):
    scan_path = tmp_path / "scan.nii.gz"
    sitk.WriteImage(make_scan().to_sitk(), str(scan_path))

    first = open_window(qtbot, with_ai=False)
    with qtbot.waitSignal(first.services.opener.opened, timeout=60000):
        first.open_path(str(scan_path))
    activate(qtbot, first)
    first.services.model.layers.add_labels(make_ai(), AI_TABLE, name="AI lesion")
    first.services.model.cursor.set_slice("axial", 6)
    _paint_and_wait_for_autosave(qtbot, first, 10, 10)
    expected = first.services.edit.current_layer().volume.array.copy()
    _crash(first)
    first.close()
    assert len(pending_sessions()) == 1

    second = open_window(qtbot, with_ai=False, active=False)
    second.services.model.layers.clear()  # start-up: nothing open, the recovery reopens the scan itself
    snapshot = _recover_from_prompt(qtbot, second)
    activate(qtbot, second)
    assert [l.role for l in snapshot.layers] == ["ai", "corrected"]
    names = [l.name for l in second.services.model.layers]
    assert names[1:] == ["AI lesion", "AI lesion (corrected)"]
    corrected = second.services.model.layers[2]
    assert second.services.edit.editing.is_editable(corrected)
    assert second.services.edit.editing.ai_source(corrected) is second.services.model.layers[1]
    np.testing.assert_array_equal(corrected.volume.array, expected)
    np.testing.assert_array_equal(second.services.model.layers[1].volume.array, make_ai().array)
    assert second.services.model.image.volume.geometry.is_close(make_scan().geometry)

    # keep editing the recovered session, crash again, recover again
    second.services.model.layers.active = corrected
    second.services.model.cursor.set_slice("axial", 6)
    _paint_and_wait_for_autosave(qtbot, second, 50, 50)
    expected = corrected.volume.array.copy()
    assert expected[6, 50, 50] == 1 and expected[6, 10, 10] == 1
    _crash(second)
    second.close()
    (pending,) = pending_sessions()
    assert len(pending.recovered_from) == 1

    third = open_window(qtbot, with_ai=False, active=False)
    _recover_from_prompt(qtbot, third)
    np.testing.assert_array_equal(third.services.model.layers[2].volume.array, expected)
    assert len(third.services.edit.session.store.recovered_from) == 2
    # a normal close with edits never accepted keeps them for the next start
    third.close()
    assert len(pending_sessions()) == 1
