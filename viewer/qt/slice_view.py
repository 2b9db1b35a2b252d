"""One slice view (axial, coronal or sagittal): pyqtgraph ImageItems bound to the ViewerModel.

True physical aspect (the image rectangle is in millimetres, aspect locked), orientation letters
at the edges, slice number and position, a crosshair linked through the model's cursor. Mouse:
wheel = slices, Ctrl+wheel = zoom, left click/drag = crosshair, right-drag or Ctrl+left-drag =
window/level, middle-drag = pan, double-click = maximise. Keys: Up/Down, PageUp/PageDown, Home,
1–5 (window presets).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from viewer.qt.slice_items import LayerItem, take_slice
from viewer.qt.view_box import SliceViewBox
from viewer.state.cursor import VIEW_AXIS
from viewer.state.viewer_model import ViewerModel

# view → (row axis, column axis of the display array, y axis inverted, letters left/right/top/bottom)
VIEW_SPEC = {
    "axial": (1, 2, True, ("R", "L", "A", "P")),
    "coronal": (0, 2, False, ("R", "L", "S", "I")),
    "sagittal": (0, 1, False, ("A", "P", "S", "I")),
}
#: 3D Slicer's colours: red axial, green coronal, yellow sagittal.
VIEW_COLOR = {"axial": "#e8574f", "coronal": "#5fbf5f", "sagittal": "#e6c84a", "3d": "#8fa8c8"}
PAGE_STEP = 10


class _Canvas(pg.GraphicsView):
    """GraphicsView that hands keys to the slice view before QAbstractScrollArea eats arrows."""

    def __init__(self, owner: SliceView) -> None:
        super().__init__(background="k")
        self._owner = owner

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if not self._owner.handle_key(event):
            super().keyPressEvent(event)


class SliceView(QWidget):
    """A slice view; ``hovered(zyx or None)`` reports the display voxel under the mouse."""

    hovered = Signal(object)

    def __init__(self, model: ViewerModel, view: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model, self.view = model, view
        self.axis = VIEW_AXIS[view]
        self.row_axis, self.col_axis, invert_y, letters = VIEW_SPEC[view]
        self.setObjectName(f"slice_view_{view}")
        self.canvas = _Canvas(self)
        self.canvas.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.box = SliceViewBox(self)
        self.box.invertY(invert_y)
        self.canvas.setCentralItem(self.box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._make_bar())
        layout.addWidget(self.canvas, 1)
        self._items: dict[int, LayerItem] = {}
        self._shown_slice: int | None = None
        self._make_crosshair()
        self._make_labels(letters)
        self._connections: list = []
        self._connect_model()
        self.setMinimumSize(160, 160)
        if model.image is not None:
            self._on_image(model.image)

    # Construction ---------------------------------------------------------------------------
    def _make_crosshair(self) -> None:
        other = {"axial": ("sagittal", "coronal"), "coronal": ("sagittal", "axial"),
                 "sagittal": ("coronal", "axial")}[self.view]
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(VIEW_COLOR[other[0]], width=1))
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(VIEW_COLOR[other[1]], width=1))
        for line in (self.vline, self.hline):
            line.setOpacity(0.75)
            line.setZValue(1000)
            self.box.addItem(line, ignoreBounds=True)

    def _make_bar(self) -> QWidget:
        """The bar above the view: name, slice slider, slice number and position (3D Slicer-like)."""
        bar = QWidget(self)
        bar.setObjectName("slice_bar")
        bar.setFixedHeight(22)          # same height with or without the slider
        bar.setStyleSheet("#slice_bar { background: #1d1f24; } QLabel { color: #d0d0d0; font-size: 11px; }")
        name = QLabel(self.view.capitalize(), bar)
        name.setStyleSheet(f"color: {VIEW_COLOR[self.view]}; font-weight: 700; font-size: 11px;")
        name.setMinimumWidth(48)
        self.slider = QSlider(Qt.Orientation.Horizontal, bar)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.valueChanged.connect(self._slider_moved)
        self.header = QLabel(bar)
        self.header.setMinimumWidth(120)
        self.header.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row = QHBoxLayout(bar)
        row.setContentsMargins(6, 1, 6, 1)
        row.addWidget(name)
        row.addWidget(self.slider, 1)
        row.addWidget(self.header)
        return bar

    def _slider_moved(self, value: int) -> None:
        if self.model.grid is not None and value != self.model.cursor.slice_of(self.view):
            self.model.cursor.set_slice(self.view, value)

    def _make_labels(self, letters) -> None:
        style = "color: %s; background: transparent; font-size: 11px; font-weight: 600;"
        vp = self.canvas
        self.footer = QLabel(vp)
        self.footer.setStyleSheet(style % "#c8c8c8")
        self.letters = []
        for text in letters:
            lab = QLabel(text, vp)
            lab.setStyleSheet("color: #f0c040; background: transparent; font-size: 13px; font-weight: 700;")
            lab.adjustSize()
            self.letters.append(lab)

    def _connect_model(self) -> None:
        m = self.model
        pairs = [(m.events.image, self._on_image), (m.cursor.events.changed, self._on_cursor),
                 (m.window.events.changed, self._on_window), (m.layers.events.inserted, self._on_inserted),
                 (m.layers.events.removed, self._on_removed), (m.layers.events.reordered, self._restack),
                 (m.events.reset, self.reset_zoom)]
        for signal, slot in pairs:
            signal.connect(slot)
            self._connections.append((signal, slot))

    def cleanup(self) -> None:
        """Disconnect from the model (the model may outlive this widget)."""
        for signal, slot in self._connections:
            signal.disconnect(slot)
        self._connections.clear()
        for entry in list(self._items.values()):
            self._disconnect_layer(entry)
        self._items.clear()

    # Geometry -------------------------------------------------------------------------------
    @property
    def spacing(self) -> tuple[float, float]:
        zyx = self.model.grid.display_spacing_zyx
        return zyx[self.row_axis], zyx[self.col_axis]

    def scene_to_index(self, point: QPointF) -> tuple[float, float, float] | None:
        """View coordinates (mm) → continuous display index, or None outside the image."""
        if self.model.grid is None:
            return None
        row_sp, col_sp = self.spacing
        zyx = [0.0, 0.0, 0.0]
        zyx[self.axis] = self.model.cursor.index[self.axis]
        zyx[self.row_axis] = point.y() / row_sp - 0.5
        zyx[self.col_axis] = point.x() / col_sp - 0.5
        shape = self.model.grid.shape
        if any(v < -0.5 or v > n - 0.5 for v, n in zip(zyx, shape)):
            return None
        return tuple(zyx)

    # Model events ---------------------------------------------------------------------------
    def _on_image(self, layer) -> None:
        for entry in list(self._items.values()):
            self._remove_item(entry)
        self._shown_slice = None
        if layer is None or self.model.grid is None:
            self._update_text()
            return
        for i, existing in enumerate(self.model.layers):
            self._add_item(existing, i)
        self._on_window(self.model.window.center, self.model.window.width)
        self.reset_zoom()
        self._on_cursor(self.model.cursor.index)

    def _on_inserted(self, index: int, layer) -> None:
        if layer.kind == "image":
            return  # the image arrives with model.events.image (after the grid and cursor are set)
        if self.model.grid is not None and id(layer) not in self._items and self.model.image is not None:
            self._add_item(layer, index)
            self._redraw_layer(self._items[id(layer)])

    def _on_removed(self, _index: int, layer) -> None:
        entry = self._items.get(id(layer))
        if entry is not None:
            self._remove_item(entry)

    def _add_item(self, layer, index: int) -> None:
        entry = LayerItem(layer, index)
        if layer.kind == "image":
            entry.set_window(*self.model.window.range)
        rows, cols = (self.model.grid.shape[self.row_axis], self.model.grid.shape[self.col_axis])
        row_sp, col_sp = self.spacing
        self.box.addItem(entry.item)
        entry.rect = QRectF(0, 0, cols * col_sp, rows * row_sp)
        self._items[id(layer)] = entry
        ev = layer.events
        # field events emit (new, old): ``*_`` takes the old value, ``e`` stays bound to the entry
        entry.slots = [(ev.visible, lambda v, *_, e=entry: self._on_visible(e, v)),
                       (ev.opacity, lambda *_, e=entry: self._restyle(e)),
                       (ev.data, lambda e=entry: self._redraw_layer(e)),
                       (ev.style, lambda e=entry: self._restyle(e))]
        for signal, slot in entry.slots:
            signal.connect(slot)

    def _disconnect_layer(self, entry: LayerItem) -> None:
        for signal, slot in getattr(entry, "slots", []):
            signal.disconnect(slot)
        entry.slots = []

    def _remove_item(self, entry: LayerItem) -> None:
        self._disconnect_layer(entry)
        self.box.removeItem(entry.item)
        self._items.pop(id(entry.layer), None)

    def _restack(self) -> None:
        for i, layer in enumerate(self.model.layers):
            entry = self._items.get(id(layer))
            if entry is not None:
                entry.item.setZValue(i)

    def _on_visible(self, entry: LayerItem, visible: bool) -> None:
        entry.item.setVisible(visible)
        if visible:
            self._redraw_layer(entry)

    def _restyle(self, entry: LayerItem) -> None:
        entry.restyle()
        self._redraw_layer(entry)

    def _redraw_layer(self, entry: LayerItem) -> None:
        if self.model.grid is None or not entry.layer.visible:
            return
        display = self.model.display(entry.layer)
        entry.draw(take_slice(display, self.axis, self.model.cursor.index[self.axis]))

    def _on_window(self, center: float, width: float) -> None:
        image = self.model.image
        entry = self._items.get(id(image)) if image is not None else None
        if entry is not None:
            entry.set_window(*self.model.window.range)
            self._redraw_layer(entry)
        self._update_text()

    def _on_cursor(self, zyx) -> None:
        if self.model.grid is None:
            return
        if zyx[self.axis] != self._shown_slice and self.isVisible():  # hidden views catch up on show
            self._shown_slice = zyx[self.axis]
            for entry in self._items.values():
                self._redraw_layer(entry)
        row_sp, col_sp = self.spacing
        for line, value in ((self.vline, (zyx[self.col_axis] + 0.5) * col_sp),
                            (self.hline, (zyx[self.row_axis] + 0.5) * row_sp)):
            if line.value() != value:        # an unchanged line costs no repaint
                line.setPos(value)
        self._update_text()

    # Text -----------------------------------------------------------------------------------
    def _update_text(self) -> None:
        """Header (slice number, position) and footer (window); Qt is touched only on change."""
        cursor, grid = self.model.cursor, self.model.grid
        if grid is None:
            header, footer, n, index = "", "", 1, 0
        else:
            n, index = cursor.n_slices(self.view), cursor.slice_of(self.view)
            axis_name = "xyz"[2 - self.axis].upper()
            header = (f"{index + 1}/{n}  "
                      f"{axis_name} {cursor.slice_position_mm(self.view):+.1f} mm")
            w = self.model.window
            name = f"  {w.preset_name}" if w.preset_name else ""
            footer = f"W {w.width:.0f}  L {w.center:.0f}{name}"
        if header != self.header.text():
            self.header.setText(header)
            self.slider.blockSignals(True)
            self.slider.setRange(0, n - 1)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        if footer != self.footer.text():
            self.footer.setText(footer)
            self.footer.adjustSize()
            self._place_labels()

    def _place_labels(self) -> None:
        w, h = self.canvas.width(), self.canvas.height()
        self.footer.move(6, h - self.footer.height() - 4)
        left, right, top, bottom = self.letters
        left.move(4, (h - left.height()) // 2)
        right.move(w - right.width() - 4, (h - right.height()) // 2)
        top.move((w - top.width()) // 2, 4)
        x = (w - bottom.width()) // 2
        y = h - bottom.height() - 4
        if x < 6 + self.footer.width() + 6:          # narrow view: keep clear of the W/L text
            y -= self.footer.height() + 2
        bottom.move(x, y)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self.model.grid is not None and self._shown_slice != self.model.cursor.slice_of(self.view):
            self._on_cursor(self.model.cursor.index)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.slider.setVisible(self.width() >= 300)     # narrow views keep the text readable
        self._place_labels()

    # Actions --------------------------------------------------------------------------------
    def reset_zoom(self) -> None:
        if self.model.grid is None:
            return
        rows, cols = (self.model.grid.shape[self.row_axis], self.model.grid.shape[self.col_axis])
        row_sp, col_sp = self.spacing
        self.box.setRange(QRectF(0, 0, cols * col_sp, rows * row_sp), padding=0.02)

    def step(self, delta: int) -> None:
        self.model.cursor.step(self.view, delta)

    def set_cursor_at(self, point: QPointF) -> None:
        zyx = self.scene_to_index(point)
        if zyx is not None:
            self.model.cursor.set_index(zyx)

    def handle_key(self, event) -> bool:
        key = event.key()
        steps = {Qt.Key.Key_Up: 1, Qt.Key.Key_Down: -1, Qt.Key.Key_PageUp: PAGE_STEP,
                 Qt.Key.Key_PageDown: -PAGE_STEP}
        if key in steps:
            self.step(steps[key])
        elif key == Qt.Key.Key_Home:
            self.model.reset()
        elif event.text() in ("1", "2", "3", "4", "5"):
            self.model.apply_preset_key(event.text())
        else:
            return False
        event.accept()
        return True

    def hover(self, point: QPointF | None) -> None:
        self.hovered.emit(None if point is None else self.scene_to_index(point))

    def wl_scale(self) -> float:
        """Window/level change per pixel dragged: ~1/400 of the window, at least 1 unit for CT."""
        return max(self.model.window.width / 400.0, 0.01 if self.model.modality != "CT" else 1.0)

    def current_pixels(self) -> dict[str, np.ndarray]:
        """The pixels each layer currently shows (for tests and screenshots)."""
        return {e.layer.name: e.item.image for e in self._items.values() if e.item.image is not None}
