"""The colour legend beside each slice view: the heatmap on show, its colormap and its values.

Which heatmap: the selected layer when it is a visible heatmap (the one the layer properties
edit), else the topmost visible heatmap (the one drawn over the others). None shown → the bar
hides. The bar is drawn with the same 256-entry table the views colour the map with
(:func:`viewer.qt.luts.colormap_rgb`), its maximum at the top, with the minimum, middle and
maximum of the layer's value range written beside it and the layer's full name in a tooltip.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from viewer.qt.luts import colormap_rgb
from viewer.state.layers import HeatmapLayer, LayerList

BAR_WIDTH = 12
MARGIN = 4


def heatmap_on_show(layers: LayerList) -> HeatmapLayer | None:
    """The heatmap the legend describes (see the module doc)."""
    active = layers.active
    if isinstance(active, HeatmapLayer) and active.visible:
        return active
    for layer in reversed(list(layers)):
        if isinstance(layer, HeatmapLayer) and layer.visible:
            return layer
    return None


def tick_values(value_range: tuple[float, float]) -> list[float]:
    """Maximum, middle, minimum (top to bottom)."""
    lo, hi = value_range
    return [hi, (lo + hi) / 2, lo]


def tick_text(value: float) -> str:
    return f"{value:.3g}"


class ColorBar(QWidget):
    """A vertical legend bound to a :class:`LayerList` (see the module doc)."""

    def __init__(self, layers: LayerList, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layers = layers
        self.layer: HeatmapLayer | None = None
        self.setObjectName("colorbar")
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self._layer_slots: list = []
        self._connections = [(layers.events.inserted, self._changed), (layers.events.removed, self._changed),
                             (layers.events.reordered, self._changed), (layers.events.active, self._changed)]
        for signal, slot in self._connections:
            signal.connect(slot)
        self._changed()

    # binding ----------------------------------------------------------------------------------
    def _changed(self, *_args) -> None:
        self._disconnect_layers()
        for layer in self.layers:
            if isinstance(layer, HeatmapLayer):
                for signal in (layer.events.style, layer.events.visible, layer.events.name):
                    signal.connect(self._changed)
                    self._layer_slots.append(signal)
        self.layer = heatmap_on_show(self.layers)
        self.setVisible(self.layer is not None)
        if self.layer is not None:
            lo, hi = self.layer.value_range
            self.setToolTip(f"{self.layer.name}\n{self.layer.colormap}, {tick_text(lo)} – {tick_text(hi)}")
        self.updateGeometry()
        self.update()

    def _disconnect_layers(self) -> None:
        for signal in self._layer_slots:
            signal.disconnect(self._changed)
        self._layer_slots = []

    def cleanup(self) -> None:
        """Disconnect from the state (the layers outlive this widget)."""
        self._disconnect_layers()
        for signal, slot in self._connections:
            signal.disconnect(slot)
        self._connections = []

    # drawing ----------------------------------------------------------------------------------
    def labels(self) -> list[str]:
        return [tick_text(v) for v in tick_values(self.layer.value_range)] if self.layer else []

    def sizeHint(self) -> QSize:  # noqa: N802
        metrics = QFontMetrics(self.font())
        text = max((metrics.horizontalAdvance(t) for t in self.labels()), default=0)
        return QSize(MARGIN * 3 + BAR_WIDTH + text, 120)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.sizeHint().width(), 60)

    def bar_rect(self) -> QRect:
        metrics = QFontMetrics(self.font())
        half = metrics.height() // 2 + 1
        return QRect(MARGIN, MARGIN + half, BAR_WIDTH, max(self.height() - 2 * (MARGIN + half), 8))

    def paintEvent(self, _event) -> None:  # noqa: N802
        if self.layer is None:
            return
        rgb = colormap_rgb(self.layer.colormap)[::-1]          # maximum at the top
        strip = np.ascontiguousarray(np.repeat(rgb[:, None, :], 2, axis=1))
        image = QImage(strip.data, 2, 256, 6, QImage.Format.Format_RGB888)
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), QColor("#101010"))
            bar = self.bar_rect()
            painter.drawImage(bar, image)
            painter.setPen(QColor("#808080"))
            painter.drawRect(bar.adjusted(0, 0, -1, -1))
            painter.setPen(QColor("#e0e0e0"))
            metrics = QFontMetrics(self.font())
            x = bar.right() + MARGIN
            for i, text in enumerate(self.labels()):
                y = bar.top() + round(i * (bar.height() - 1) / 2)
                painter.drawText(x, y + metrics.ascent() // 2, text)
        finally:
            painter.end()
