"""A per-slice uncertainty strip under each slice slider: where does the model doubt itself?

Each column of the strip is one slice of that view, coloured by the mean uncertainty of the slice
(dark: sure, bright: unsure), with a tick at the current slice; clicking a column goes to that
slice. The values come from :func:`per_slice_means` (Qt-free, on the display grid).

"Most uncertain slice" is ranked by :func:`per_slice_foreground_means` instead: the mean
uncertainty over the slice's *segmented* voxels, slices with fewer than
``MIN_FOREGROUND_VOXELS`` of them left out, so an empty slice above the head (noise in the
background) or a slice grazing the mask by a few voxels cannot win.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from viewer.state.cursor import VIEW_AXIS


def per_slice_means(display_map: np.ndarray, view: str) -> np.ndarray:
    """Mean of a display-grid map (``[S, P, L]``) over each slice of ``view``."""
    axis = VIEW_AXIS[view]
    others = tuple(a for a in range(3) if a != axis)
    return np.asarray(display_map, dtype=np.float32).mean(axis=others)


MIN_FOREGROUND_VOXELS = 20


def per_slice_foreground_means(display_map: np.ndarray, display_foreground: np.ndarray, view: str,
                               min_voxels: int = MIN_FOREGROUND_VOXELS) -> np.ndarray:
    """Mean of ``display_map`` over the foreground voxels of each slice of ``view``; NaN for a slice
    with fewer than ``min_voxels`` foreground voxels (both arrays ``[S, P, L]`` on the display grid)."""
    axis = VIEW_AXIS[view]
    others = tuple(a for a in range(3) if a != axis)
    fg = np.asarray(display_foreground, dtype=bool)
    values = np.where(fg, np.asarray(display_map, dtype=np.float64), 0.0)
    counts = fg.sum(axis=others)
    sums = values.sum(axis=others)
    means = np.full(counts.shape, np.nan, dtype=np.float32)
    enough = counts >= max(int(min_voxels), 1)
    means[enough] = sums[enough] / counts[enough]
    return means


def _heat(t: float) -> QColor:
    """Black → red → yellow → white (an 'inferno'-like ramp) for t in [0, 1]."""
    t = float(np.clip(t, 0.0, 1.0))
    r = min(1.0, 2.2 * t)
    g = min(1.0, max(0.0, 2.0 * t - 0.6))
    b = max(0.0, 3.0 * t - 2.0)
    return QColor(int(40 + 215 * r), int(30 + 225 * g), int(40 + 215 * b))


class UncertaintyStrip(QWidget):
    """Paints ``values`` (one per slice); emits ``slice_clicked(index)``."""

    slice_clicked = Signal(int)

    def __init__(self, view: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.setObjectName(f"uncertainty_strip_{view}")
        self.values: np.ndarray | None = None
        self.ranking: np.ndarray | None = None    # what most_uncertain ranks (NaN: not a candidate)
        self.current = 0
        self.setFixedHeight(7)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Mean model uncertainty per slice (bright = the model doubts itself); click to go there")
        self.hide()

    def set_values(self, values: np.ndarray | None, ranking: np.ndarray | None = None) -> None:
        """Show ``values``; rank "most uncertain" by ``ranking`` (same length, NaN = skip) when given."""
        self.values = None if values is None else np.asarray(values, np.float32)
        self.ranking = None if values is None or ranking is None else np.asarray(ranking, np.float32)
        self.setVisible(self.values is not None and self.values.size > 0)
        self.update()

    def set_current(self, index: int) -> None:
        if index != self.current:
            self.current = int(index)
            self.update()

    @property
    def most_uncertain(self) -> int | None:
        """The slice with the highest ranking value; the plain per-slice mean when no slice qualifies."""
        if self.values is None or self.values.size == 0:
            return None
        if self.ranking is not None and np.isfinite(self.ranking).any():
            return int(np.nanargmax(self.ranking))
        return int(np.argmax(self.values))

    def _column_rect(self, i: int, n: int) -> QRectF:
        w = self.width() / max(n, 1)
        return QRectF(i * w, 0, max(w, 1.0), self.height())

    def paintEvent(self, _event) -> None:  # noqa: N802
        if self.values is None or self.values.size == 0:
            return
        painter = QPainter(self)
        top = float(self.values.max()) or 1.0
        n = self.values.size
        for i, v in enumerate(self.values):
            painter.fillRect(self._column_rect(i, n), _heat(float(v) / top))
        painter.fillRect(self._column_rect(self.current, n).adjusted(0, 0, 0, 0), QColor(80, 200, 255))
        painter.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if self.values is None or self.values.size == 0:
            return
        n = self.values.size
        i = int(np.clip(event.position().x() / max(self.width(), 1) * n, 0, n - 1))
        self.slice_clicked.emit(i)


def attach_under_slider(slice_view, strip: UncertaintyStrip) -> None:
    """Place ``strip`` right under ``slice_view.slider`` (same width), inside the view's slice bar."""
    slider = slice_view.slider
    bar = slider.parentWidget()
    row = bar.layout() if bar is not None else None
    index = row.indexOf(slider) if row is not None else -1
    if index < 0:
        slice_view.layout().insertWidget(1, strip)
        return
    holder = QWidget(bar)
    col = QVBoxLayout(holder)
    col.setContentsMargins(0, 0, 0, 0)
    col.setSpacing(1)
    row.removeWidget(slider)
    slider.setParent(holder)
    col.addWidget(slider)
    col.addWidget(strip)
    row.insertWidget(index, holder, 1)
    strip.setParent(holder)
    slider.show()
