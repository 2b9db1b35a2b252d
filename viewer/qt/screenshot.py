"""Screenshots of one view or of the whole window (PNG). The 3D view is read back from VTK."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage, QPainter

TARGETS = ("window", "axial", "coronal", "sagittal", "3d")


def numpy_to_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def grab_3d(view3d) -> QImage:
    return numpy_to_qimage(view3d.grab_image())


def grab(services, target: str) -> QImage:
    """The picture of ``target`` (one of :data:`TARGETS`) as a QImage (``services``: the
    window's :class:`viewer.qt.services.Services`, for its window and central views)."""
    window, viewer = services.window, services.viewer
    if target == "3d":
        return grab_3d(viewer.view3d)
    if target in viewer.views:
        return viewer.frames[target].grab().toImage()
    image = window.grab().toImage()
    view3d = viewer._view3d
    if view3d is not None and hasattr(view3d, "grab_image") and view3d.isVisible():
        # QWidget.grab() cannot see VTK's OpenGL surface: paint VTK's own frame over it.
        painter = QPainter(image)
        widget = view3d.vtk_widget
        top_left = widget.mapTo(window, QPoint(0, 0)) * image.devicePixelRatio()
        frame = grab_3d(view3d)
        painter.drawImage(top_left, frame.scaled(int(widget.width() * image.devicePixelRatio()),
                                                 int(widget.height() * image.devicePixelRatio())))
        painter.end()
    return image


def save_screenshot(services, target: str, path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_suffix(".png")
    if not grab(services, target).save(str(path), "PNG"):
        from engine.errors import InputError

        raise InputError(f"could not write the screenshot to {path}")
    return path
