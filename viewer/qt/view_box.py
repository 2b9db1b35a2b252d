"""Mouse handling of a slice view, in the conventions of 3D Slicer / ITK-SNAP / OsiriX."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt


class SliceViewBox(pg.ViewBox):
    """Wheel = slices (Ctrl: zoom), left = crosshair, right or Ctrl+left = window/level, middle = pan."""

    def __init__(self, view) -> None:
        super().__init__(lockAspect=True, enableMenu=False)
        self._view = view
        self.setMouseEnabled(True, True)
        self.setBackgroundColor("k")

    def wheelEvent(self, ev, axis=None) -> None:  # noqa: N802
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        if delta:
            self._view.step(1 if delta > 0 else -1)
        ev.accept()

    def mouseClickEvent(self, ev) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            if ev.double():
                self._view.model.toggle_maximise(self._view.view)
            elif not ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
                self._view.set_cursor_at(self.mapToView(ev.pos()))
            ev.accept()
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802
        button, ctrl = ev.button(), bool(ev.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if button == Qt.MouseButton.MiddleButton:
            super().mouseDragEvent(ev, axis)              # pan
        elif button == Qt.MouseButton.RightButton or (button == Qt.MouseButton.LeftButton and ctrl):
            ev.accept()
            delta = ev.screenPos() - ev.lastScreenPos()
            scale = self._view.wl_scale()
            self._view.model.window.drag(delta.x(), delta.y(), scale)
        elif button == Qt.MouseButton.LeftButton:
            ev.accept()
            self._view.set_cursor_at(self.mapToView(ev.pos()))
        else:
            ev.ignore()

    def hoverEvent(self, ev) -> None:  # noqa: N802
        if ev.isExit():
            self._view.hover(None)
        else:
            self._view.hover(self.mapToView(ev.pos()))
