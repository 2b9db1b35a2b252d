"""Measurements drawn on the slice views: a line or outline with its value beside it.

Each measurement is drawn only in the view whose plane holds it, and only on its slice (the
view's slice index equal to the measurement's); a ruler that is not in one view's plane (drawn
on another series grid) is listed but not drawn. Coordinates: the view's scene is in mm of the
display grid (:meth:`viewer.qt.slice_view.SliceView.scene_to_index`).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from viewer.qt.tools.measure_base import ijk_to_display, plane_axis

PEN = pg.mkPen((0, 230, 230), width=2, cosmetic=True)
PREVIEW_PEN = pg.mkPen((255, 230, 0), width=1, cosmetic=True)
SELECTED_PEN = pg.mkPen((255, 140, 0), width=3, cosmetic=True)


def label_text(m) -> str:
    """The value shown beside a measurement (and in the list)."""
    if m.kind == "distance":
        return f"{m.value:.1f} mm"
    if m.kind == "angle":
        return f"{m.value:.1f}°"
    s = m.stats
    unit = f" {s.unit}" if s is not None and s.unit else ""
    if m.kind == "label":
        return f"{m.value:.2f} mL, mean {s.mean:.1f}{unit}"
    return f"{m.value:.1f} mm², mean {s.mean:.1f} ± {s.sd:.1f}{unit}"


def placement(grid, m) -> tuple[int, int] | None:
    """``(display axis, slice)`` of the view and slice that show ``m``, or None."""
    pts = [ijk_to_display(grid, p) for p in m.points_ijk]
    if m.kind in ("rectangle", "ellipse"):
        axes = [d for d in range(3) if plane_axis(grid, d) == m.axis]
    elif m.kind in ("distance", "angle"):
        axes = [d for d in range(3) if all(abs(p[d] - pts[0][d]) < 1e-6 for p in pts)]
    else:
        return None
    if not axes:
        return None
    d = axes[0]
    return d, int(round(pts[0][d]))


def outline(view, m_kind: str, pts_zyx) -> tuple[np.ndarray, np.ndarray]:
    """Scene (x, y) of the polyline that draws a measurement of ``m_kind`` through ``pts_zyx``."""
    row_sp, col_sp = view.spacing
    xs = np.array([(p[view.col_axis] + 0.5) * col_sp for p in pts_zyx])
    ys = np.array([(p[view.row_axis] + 0.5) * row_sp for p in pts_zyx])
    if m_kind == "rectangle":
        x0, x1, y0, y1 = xs[0], xs[1], ys[0], ys[1]
        return np.array([x0, x1, x1, x0, x0]), np.array([y0, y0, y1, y1, y0])
    if m_kind == "ellipse":
        t = np.linspace(0, 2 * np.pi, 65)
        cx, cy = xs[:2].mean(), ys[:2].mean()
        rx, ry = abs(xs[1] - xs[0]) / 2, abs(ys[1] - ys[0]) / 2
        return cx + rx * np.cos(t), cy + ry * np.sin(t)
    return xs, ys


class MeasurementOverlay:
    """The drawn measurements of one slice view, kept in step with a MeasurementList."""

    def __init__(self, view, measurements) -> None:
        self.view = view
        self.measurements = measurements
        self.items: dict[int, tuple[pg.PlotCurveItem, pg.TextItem, int]] = {}
        self.preview = pg.PlotCurveItem(pen=PREVIEW_PEN)
        self.preview.setZValue(1900)
        self.preview.setVisible(False)
        view.box.addItem(self.preview, ignoreBounds=True)
        measurements.changed.connect(self.rebuild)
        measurements.selected.connect(self._restyle)
        view.model.cursor.events.changed.connect(self._on_cursor)

    def cleanup(self) -> None:
        self.measurements.changed.disconnect(self.rebuild)
        self.measurements.selected.disconnect(self._restyle)
        self.view.model.cursor.events.changed.disconnect(self._on_cursor)
        self._clear()
        self.view.box.removeItem(self.preview)

    def show_preview(self, kind: str, a, b) -> None:
        if a is None or b is None:
            self.preview.setVisible(False)
            return
        xs, ys = outline(self.view, kind, [a, b])
        self.preview.setData(xs, ys)
        self.preview.setVisible(True)

    def rebuild(self) -> None:
        self._clear()
        grid = self.view.model.grid
        if grid is None:
            return
        for mid, m in self.measurements.items():
            where = placement(grid, m)
            if where is None or where[0] != self.view.axis:
                continue
            pts = [ijk_to_display(grid, p) for p in m.points_ijk]
            xs, ys = outline(self.view, m.kind, pts)
            curve = pg.PlotCurveItem(xs, ys, pen=PEN)
            text = pg.TextItem(f"{m.name}: {label_text(m)}", color=(0, 230, 230), anchor=(0, 1))
            text.setPos(float(xs.max()), float(ys[np.argmax(xs)]))
            for item in (curve, text):
                item.setZValue(1800)
                self.view.box.addItem(item, ignoreBounds=True)
            self.items[mid] = (curve, text, where[1])
        self._on_cursor(self.view.model.cursor.index)
        self._restyle(self.measurements.selection)

    def visible_ids(self) -> list[int]:
        return [mid for mid, (curve, _t, _s) in self.items.items() if curve.isVisible()]

    def _on_cursor(self, zyx) -> None:
        here = zyx[self.view.axis]
        for curve, text, s in self.items.values():
            curve.setVisible(s == here)
            text.setVisible(s == here)

    def _restyle(self, selected) -> None:
        for mid, (curve, _text, _s) in self.items.items():
            curve.setPen(SELECTED_PEN if mid == selected else PEN)

    def _clear(self) -> None:
        for curve, text, _s in self.items.values():
            self.view.box.removeItem(curve)
            self.view.box.removeItem(text)
        self.items.clear()
