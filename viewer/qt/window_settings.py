"""What the main window remembers between sessions: its geometry, its docks, the view layout.

Kept with ``QSettings`` in an INI file in Candor's user data folder (``CANDOR_HOME`` when set),
next to ``recent.json``, instead of Qt's per-platform default (the registry on Windows), so one
folder holds all of a user's Candor state and tests never touch the real user's. A first start
(nothing saved) sizes the window to 90 % of the screen it opens on rather than a fixed size, so
the views are not tall and thin on a wide screen. Nothing in here is patient data: the last
study is offered from :class:`viewer.state.recent.RecentFiles`, not from these settings.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDockWidget, QMainWindow

from engine.resources import user_data_dir

log = logging.getLogger(__name__)

SETTINGS_FILE = "window.ini"
STATE_VERSION = 1          # bump when the docks change so much that an old state misplaces them
FIRST_START_FRACTION = 0.9


def settings() -> QSettings:
    return QSettings(str(user_data_dir() / SETTINGS_FILE), QSettings.Format.IniFormat)


def _name_docks(window: QMainWindow) -> None:
    """``saveState`` skips (and warns about) docks without an object name: give each one."""
    for dock in window.findChildren(QDockWidget):
        if not dock.objectName():
            dock.setObjectName(type(dock).__name__)


def save(window: QMainWindow, layout: str | None) -> None:
    """Write the window's geometry, dock state and the view layout."""
    _name_docks(window)
    s = settings()
    s.setValue("window/geometry", window.saveGeometry())
    s.setValue("window/state", window.saveState(STATE_VERSION))
    if layout is not None:
        s.setValue("viewer/layout", layout)
    s.sync()
    if s.status() != QSettings.Status.NoError:
        log.warning("the window settings could not be saved (%s)", s.status().name)


def restore_geometry(window: QMainWindow) -> bool:
    """The saved geometry, else 90 % of the available screen, centred. True if one was saved."""
    geometry = settings().value("window/geometry")
    if geometry is not None and window.restoreGeometry(geometry):
        return True
    screen = window.screen() or None
    if screen is not None:
        area = screen.availableGeometry()
        width, height = int(area.width() * FIRST_START_FRACTION), int(area.height() * FIRST_START_FRACTION)
        window.resize(max(width, 800), max(height, 600))
        window.move(area.x() + (area.width() - window.width()) // 2,
                    area.y() + (area.height() - window.height()) // 2)
    return False


def restore_state(window: QMainWindow) -> str | None:
    """Put the docks back where they were; return the saved view layout (or None)."""
    _name_docks(window)
    s = settings()
    state = s.value("window/state")
    if state is not None and not window.restoreState(state, STATE_VERSION):
        log.info("the saved dock layout is from another version; docks at their defaults")
    layout = s.value("viewer/layout")
    return str(layout) if layout else None
