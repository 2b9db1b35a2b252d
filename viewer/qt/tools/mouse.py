"""Route left-button mouse events of the slice views to the active edit tool.

An event filter on each view's canvas: while a tool is active, left press/drag/release (with or
without Ctrl) go to the tool as display-grid indices instead of moving the crosshair; the wheel,
right-drag (window/level) and middle-drag (pan) keep their usual meaning. A circle shows the brush
size in millimetres under the mouse.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsEllipseItem

LEFT = Qt.MouseButton.LeftButton
CTRL = Qt.KeyboardModifier.ControlModifier


class ToolMouseFilter(QObject):
    """Installed on one slice view; ``current()`` returns the active tool (or None)."""

    def __init__(self, view, current, brush_diameter) -> None:
        super().__init__(view)
        self.view = view
        self._current = current
        self._diameter = brush_diameter
        self._dragging = False
        self.outline = QGraphicsEllipseItem()
        pen = QPen(Qt.GlobalColor.yellow)
        pen.setCosmetic(True)
        self.outline.setPen(pen)
        self.outline.setZValue(2000)
        self.outline.setVisible(False)
        view.box.addItem(self.outline, ignoreBounds=True)
        view.canvas.viewport().installEventFilter(self)

    def detach(self) -> None:
        self.view.canvas.viewport().removeEventFilter(self)
        self.view.box.removeItem(self.outline)

    def view_point(self, event) -> QPointF:
        scene = self.view.canvas.mapToScene(event.position().toPoint())
        return self.view.box.mapSceneToView(scene)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        kind = event.type()
        if kind not in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
                        QEvent.Type.MouseButtonRelease, QEvent.Type.Leave):
            return False
        tool = self._current()
        if kind == QEvent.Type.Leave:
            self.outline.setVisible(False)
            return False
        point = self.view_point(event)
        self._show_outline(tool, point)
        if tool is None:
            return False
        if kind == QEvent.Type.MouseButtonPress and event.button() == LEFT:
            return self._send(tool.press, point, event)
        if kind == QEvent.Type.MouseMove and self._dragging and event.buttons() & LEFT:
            return self._send(tool.drag, point, event)
        if kind == QEvent.Type.MouseButtonRelease and event.button() == LEFT and self._dragging:
            self._dragging = False
            zyx = self.view.scene_to_index(point)
            tool.release(self.view, zyx, bool(event.modifiers() & CTRL))
            return True
        return False

    def _send(self, handler, point: QPointF, event) -> bool:
        zyx = self.view.scene_to_index(point)
        if zyx is None:
            return self._dragging  # outside the image: nothing to paint, keep the drag
        used = handler(self.view, zyx, bool(event.modifiers() & CTRL))
        if used and event.type() == QEvent.Type.MouseButtonPress:
            self._dragging = True
        return bool(used)

    def _show_outline(self, tool, point: QPointF) -> None:
        if tool is None or not tool.shows_brush:
            self.outline.setVisible(False)
            return
        d = float(self._diameter())
        self.outline.setRect(point.x() - d / 2, point.y() - d / 2, d, d)
        self.outline.setVisible(True)
