"""Rough edge 4 of issue 20: the window remembers its size, docks and layout, and offers the last
study; a first start fills most of the screen instead of a fixed 1280×800."""

from __future__ import annotations

import importlib

from viewer.qt import window_settings
from viewer.state.recent import RecentFiles


def _window(qtbot, recent=None):
    from viewer.qt.app import create_application
    from viewer.qt.main_window import MainWindow

    create_application()
    window = MainWindow(recent=recent, install_features=False)
    importlib.import_module("viewer.qt.features.reading").install(window.services)
    window._restore_settings()          # as after install_all: the docks exist now
    qtbot.addWidget(window)
    return window


def test_geometry_docks_and_layout_come_back(qtbot, candor_home):
    first = _window(qtbot)
    area = first.screen().availableGeometry()
    expected = max(int(area.width() * window_settings.FIRST_START_FRACTION), 800)
    assert first.width() == min(expected, area.width())         # not a fixed 1280 px
    first.show()
    qtbot.waitExposed(first)
    start = first.size()
    first.resize(start.width() - 37, start.height() - 41)
    first.services.model.layout = "2x2"
    first.services.layers_panel.hide()
    qtbot.waitUntil(lambda: first.size() != start)
    size = first.size()
    messages_shown = first.services.messages.isVisible()
    first.close()
    assert (candor_home / window_settings.SETTINGS_FILE).is_file()   # in the Candor home

    second = _window(qtbot)
    # Qt fits a restored geometry to the screen (Xvfb's is 800 px wide, below this window's
    # minimum width with its docks), so the height is the part that shows the saved geometry
    assert second.height() == size.height() != start.height()
    assert second.services.model.layout == "2x2"
    second.show()
    qtbot.waitExposed(second)
    assert not second.services.layers_panel.isVisible()
    assert second.services.messages.isVisible() == messages_shown


def test_the_last_study_is_offered_when_it_still_exists(qtbot, tmp_path):
    study = tmp_path / "study-folder"
    study.mkdir()
    recent = RecentFiles(tmp_path / "recent.json")
    recent.add(study)
    window = _window(qtbot, recent)
    assert not window.reopen_button.isHidden()
    assert window.reopen_button.text() == "Reopen last study: study-folder"
    with qtbot.waitSignal(window.open_requested) as opened:
        window.reopen_button.click()
    assert opened.args == [str(study.resolve())]

    gone = RecentFiles(tmp_path / "recent2.json")
    gone.add(tmp_path / "deleted")
    assert not _window(qtbot, gone).reopen_button.isVisible()
