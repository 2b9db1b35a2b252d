"""The GUI shell: a real main window under Xvfb with its menus, grabbed to PNG."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from viewer.qt.app import create_application
from viewer.qt.main_window import MainWindow


def _menu_texts(menu):
    return [a.text() for a in menu.actions() if a.text()]


def test_main_window_title_menus_and_screenshot(qtbot, tmp_path):
    create_application()
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.windowTitle() == "Candor"
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus[0] == "&File" and menus[-1] == "&Help"
    ai = window.menu("&AI")
    assert window.menu("&AI") is ai
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus.index("&AI") < menus.index("&Help")
    file_items = _menu_texts(window.file_menu)
    assert file_items[:3] == ["Open &Folder…", "Open F&ile…", "&Recent"]
    assert "&Quit" in file_items
    assert "&About Candor" in _menu_texts(window.help_menu)
    assert not window.windowIcon().isNull()

    png = tmp_path / "main_window.png"
    assert window.grab().save(str(png))
    img = QImage(str(png)).convertToFormat(QImage.Format.Format_RGB32)
    assert img.width() >= 600 and img.height() >= 400
    ptr = img.constBits()
    pixels = np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine())
    assert pixels.std() > 5, "the grabbed window is blank"


def test_open_path_records_recent_and_emits(qtbot, tmp_path):
    create_application()
    window = MainWindow()
    qtbot.addWidget(window)
    folder = tmp_path / "study"
    folder.mkdir()
    with qtbot.waitSignal(window.open_requested, timeout=2000) as blocker:
        window.open_path(str(folder))
    assert blocker.args == [str(folder.resolve())]
    assert window.recent.paths[0] == str(folder.resolve())
    assert [a.text() for a in window.recent_menu.actions()] == [str(folder.resolve())]


def test_every_feature_module_loads_and_installs(qtbot):
    """The window tolerates a broken feature at run time (it logs and opens without it), so this
    test is what catches one: every module under viewer/qt/features must import and install."""
    import pkgutil

    import viewer.qt.features as features

    create_application()
    names = sorted(m.name for m in pkgutil.iter_modules(features.__path__) if not m.name.startswith("_"))
    loaded = sorted(m.__name__.rsplit(".", 1)[1] for m in features.feature_modules())
    assert loaded == names
    window = MainWindow()
    qtbot.addWidget(window)
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&Edit", "&View", "&Measure", "&AI", "&Help"]
    assert window.services.selftest.action.text() == "Run &Self-Test…"
