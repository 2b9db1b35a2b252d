"""Fixtures for the reading tests: a main window with the reading features, synthetic studies,
and real mouse/wheel events sent to the slice views."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from engine.labels import LabelInfo, LabelTable
from engine.volume import Geometry, Volume

READING_FEATURES = ("reading", "view_menu", "screenshot", "help_shortcuts")
MOVE_INTERVAL_S = 0.012   # > pyqtgraph's 10 ms between accepted mouse moves


@pytest.fixture
def reading_window(qtbot):
    """A shown MainWindow with this issue's features (others' features are tested by their owners)."""
    import importlib

    from viewer.qt.app import create_application
    from viewer.qt.main_window import MainWindow

    create_application()
    window = MainWindow(install_features=False)
    for name in READING_FEATURES:
        importlib.import_module(f"viewer.qt.features.{name}").install(window.services)
    window.resize(1280, 760)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def synthetic_ct(shape=(24, 48, 40), spacing=(0.8, 0.8, 2.0)) -> Volume:
    """A CT phantom (int16 HU): air outside, a soft-tissue ellipsoid with a bone rim."""
    nz, ny, nx = shape
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in shape), indexing="ij")
    r = np.sqrt(((x - nx / 2) / (0.42 * nx)) ** 2 + ((y - ny / 2) / (0.42 * ny)) ** 2
                + ((z - nz / 2) / (0.45 * nz)) ** 2)
    arr = np.where(r < 1, 40, -1000).astype(np.int16)
    arr[(r > 0.88) & (r < 1)] = 900
    arr += (np.random.default_rng(1).integers(-6, 6, arr.shape)).astype(np.int16)
    return Volume(arr, Geometry((nx, ny, nz), spacing, (-20.0, -30.0, 10.0)), "CT",
                  metadata={"series_description": "phantom"})


def lesion_mask(volume: Volume, centre_zyx=None, radius=6) -> np.ndarray:
    nz, ny, nx = volume.array.shape
    cz, cy, cx = centre_zyx or (nz // 2, ny // 2 - 6, nx // 2 + 7)
    z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    return (((z - cz) * 2) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 < radius ** 2).astype(np.uint8)


def lesion_table() -> LabelTable:
    return LabelTable([LabelInfo(1, "lesion", (255, 0, 0))])


def gaussian_heat(volume: Volume, centre_zyx) -> np.ndarray:
    nz, ny, nx = volume.array.shape
    z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    cz, cy, cx = centre_zyx
    return np.exp(-(((z - cz) * 2.0) ** 2 + (y - cy) ** 2 + (x - cx) ** 2) / 40.0).astype(np.float32)


# Real input events ---------------------------------------------------------------------------
def viewport_pos(view, zyx) -> QPoint:
    """Where the centre of display voxel ``zyx`` is drawn in ``view``'s viewport (pixels)."""
    row_sp, col_sp = view.spacing
    point = QPointF((zyx[view.col_axis] + 0.5) * col_sp, (zyx[view.row_axis] + 0.5) * row_sp)
    scene = view.box.mapViewToScene(point)
    return view.canvas.mapFromScene(scene)


def send_wheel(widget, pos: QPoint, steps: int, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    glob = widget.mapToGlobal(pos)
    event = QWheelEvent(QPointF(pos), QPointF(glob), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def _mouse(widget, kind, pos: QPoint, button, buttons, modifiers) -> None:
    glob = widget.mapToGlobal(pos)
    QApplication.sendEvent(widget, QMouseEvent(kind, QPointF(pos), QPointF(glob), button, buttons,
                                               modifiers))


def send_drag(widget, start: QPoint, end: QPoint, button=Qt.MouseButton.LeftButton,
              modifiers=Qt.KeyboardModifier.NoModifier, steps: int = 8) -> None:
    """Press, move in ``steps`` and release, as a real mouse does (buttons held during moves).

    Moves are paced like a real mouse's: pyqtgraph drops moves closer than 10 ms apart
    (``mouseRateLimit``), so back-to-back moves could all be dropped and the drag read as a click.
    """
    _mouse(widget, QEvent.Type.MouseButtonPress, start, button, button, modifiers)
    for i in range(1, steps + 1):
        time.sleep(MOVE_INTERVAL_S)
        p = start + (end - start) * (i / steps)
        _mouse(widget, QEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, button, modifiers)
        QApplication.processEvents()
    _mouse(widget, QEvent.Type.MouseButtonRelease, end, button, Qt.MouseButton.NoButton, modifiers)
    QApplication.processEvents()


def send_click(widget, pos: QPoint, button=Qt.MouseButton.LeftButton) -> None:
    _mouse(widget, QEvent.Type.MouseButtonPress, pos, button, button, Qt.KeyboardModifier.NoModifier)
    _mouse(widget, QEvent.Type.MouseButtonRelease, pos, button, Qt.MouseButton.NoButton,
           Qt.KeyboardModifier.NoModifier)
    QApplication.processEvents()


def qimage_rgb(image) -> np.ndarray:
    """A QImage as an ``(h, w, 3)`` uint8 array."""
    from PySide6.QtGui import QImage

    img = image.convertToFormat(QImage.Format.Format_RGB888)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return arr[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()
