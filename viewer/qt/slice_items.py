"""The pyqtgraph items of one slice view: one ImageItem per layer, updated from the model."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from viewer.qt.luts import GreyTable, heatmap_lut, label_pixels, scale_to_uint8
from viewer.state.layers import HeatmapLayer, ImageLayer, LabelsLayer, Layer


def take_slice(display: np.ndarray, axis: int, index: int) -> np.ndarray:
    key = [slice(None)] * 3
    key[axis] = index
    return display[tuple(key)]


class LayerItem:
    """One layer drawn in one view: the ImageItem plus how to turn a slice into its pixels."""

    def __init__(self, layer: Layer, z: int) -> None:
        self.layer = layer
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(z)
        self.item.setOpacity(layer.opacity if not isinstance(layer, ImageLayer) else 1.0)
        self.item.setVisible(layer.visible)
        self.grey = GreyTable(layer.volume.array.dtype) if isinstance(layer, ImageLayer) else None
        self._lut: np.ndarray | None = None
        self.rect = None            # the slice's extent in mm (set by the view)
        self._rect_shape = None

    def set_window(self, lo: float, hi: float) -> None:
        if self.grey is not None:
            self.grey.set_window(lo, hi)

    def restyle(self) -> None:
        """Rebuild the lookup table (label colours/visibility, heatmap colormap)."""
        layer = self.layer
        if isinstance(layer, LabelsLayer):
            self._lut = layer.lut()
        elif isinstance(layer, HeatmapLayer):
            self._lut = heatmap_lut(layer.colormap)

    def draw(self, slice2d: np.ndarray) -> None:
        layer = self.layer
        if isinstance(layer, ImageLayer):
            pixels, lut = self.grey.apply(slice2d), None  # type: ignore[union-attr]
        elif isinstance(layer, LabelsLayer):
            if self._lut is None:
                self.restyle()
            pixels, lut = label_pixels(slice2d, self._lut)  # type: ignore[arg-type]
        else:
            if self._lut is None:
                self.restyle()
            lo, hi = layer.value_range  # type: ignore[attr-defined]
            pixels, lut = scale_to_uint8(slice2d, lo, hi), self._lut
        self.item.setLookupTable(lut, update=False)
        self.item.setImage(pixels, autoLevels=False, levels=None)
        if self.rect is not None and self._rect_shape != pixels.shape[:2]:
            self.item.setRect(self.rect)        # needs the image's size, so after setImage
            self._rect_shape = pixels.shape[:2]
