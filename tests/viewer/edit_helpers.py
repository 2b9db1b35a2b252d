"""Helpers of the edit GUI tests: a main window with a scan and an AI layer, real mouse events."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from engine.labels import LabelInfo, LabelTable
from engine.volume import Geometry, Volume
from viewer.qt.app import create_application
from viewer.qt.main_window import MainWindow

GEOMETRY = Geometry((64, 64, 12), (1.0, 1.0, 2.5), (-32.0, -32.0, 0.0))


def make_scan() -> Volume:
    zz, yy, xx = np.mgrid[0:12, 0:64, 0:64]
    image = (100 + 200 * (((yy - 32) ** 2 + (xx - 32) ** 2) < 15 ** 2)).astype(np.int16)
    return Volume(image, GEOMETRY, "CT", {"study_uid": "1.2.3.4", "series_uid": "1.2.3.4.5"})


def make_ai() -> Volume:
    ai = np.zeros(GEOMETRY.shape, np.uint8)
    ai[4:8, 26:38, 26:38] = 1
    return Volume(ai, GEOMETRY, "OT", {"model": "candor-test", "version": "0.1"})


AI_TABLE = LabelTable([LabelInfo(1, "Lesion", (255, 0, 0))])


def activate(qtbot, window) -> None:
    """Make ``window`` the active window (keyboard shortcuts need it)."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)


def open_window(qtbot, with_ai: bool = True, active: bool = True) -> MainWindow:
    create_application()
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    if active:
        activate(qtbot, window)
    window.services.model.open_volume(make_scan())
    if with_ai:
        window.services.model.layers.add_labels(make_ai(), AI_TABLE, name="AI lesion")
    QApplication.processEvents()
    return window


def voxel_pos(view, row: float, col: float):
    """Viewport pixel of display voxel (row, col) in ``view``'s current slice."""
    row_sp, col_sp = view.spacing
    scene = view.box.mapViewToScene(QPointF((col + 0.5) * col_sp, (row + 0.5) * row_sp))
    return view.canvas.mapFromScene(scene)


def send_mouse(view, kind, row, col, buttons=Qt.MouseButton.LeftButton, ctrl: bool = False) -> None:
    pos = QPointF(voxel_pos(view, row, col))
    viewport = view.canvas.viewport()
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    mods = Qt.KeyboardModifier.ControlModifier if ctrl else Qt.KeyboardModifier.NoModifier
    event = QMouseEvent(kind, pos, viewport.mapToGlobal(pos), button, buttons, mods)
    QApplication.sendEvent(viewport, event)


def drag(view, points, ctrl: bool = False) -> None:
    """Left-drag through display voxels ``[(row, col), …]`` of the view's current slice."""
    (r0, c0), rest = points[0], points[1:]
    send_mouse(view, QEvent.Type.MouseButtonPress, r0, c0, ctrl=ctrl)
    for r, c in rest:
        send_mouse(view, QEvent.Type.MouseMove, r, c, ctrl=ctrl)
    r, c = points[-1]
    send_mouse(view, QEvent.Type.MouseButtonRelease, r, c, buttons=Qt.MouseButton.NoButton, ctrl=ctrl)
    QApplication.processEvents()
