"""The pyqtgraph items of one slice view: one ImageItem per layer, updated from the model."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QImage

from viewer.qt.luts import GreyTable, heatmap_rgba, label_argb, pack_argb, scale_to_uint8
from viewer.state.layers import HeatmapLayer, ImageLayer, LabelsLayer, Layer


def take_slice(display: np.ndarray, axis: int, index: int) -> np.ndarray:
    key = [slice(None)] * 3
    key[axis] = index
    return display[tuple(key)]


class ArgbImageItem(pg.ImageItem):
    """An ImageItem fed ready-made uint32 pixels in Qt's native format: no conversion at paint."""

    def __init__(self, opaque: bool) -> None:
        super().__init__(axisOrder="row-major")
        self._format = (QImage.Format.Format_RGB32 if opaque
                        else QImage.Format.Format_ARGB32_Premultiplied)

    def render(self) -> None:  # pyqtgraph calls this from paint() when the image changed
        image = self.image
        if image is None or image.dtype != np.uint32:
            super().render()
            return
        image = np.ascontiguousarray(image)
        h, w = image.shape
        self._buffer = image            # QImage does not own the memory
        self.qimage = QImage(image.data, w, h, 4 * w, self._format)
        self._renderRequired = False
        self._unrenderable = False


class LayerItem:
    """One layer drawn in one view: the ImageItem plus how to turn a slice into its pixels."""

    def __init__(self, layer: Layer, z: int) -> None:
        self.layer = layer
        self.item = ArgbImageItem(opaque=isinstance(layer, ImageLayer))
        self.item.setZValue(z)
        self.item.setVisible(layer.visible)
        self.grey = GreyTable(layer.volume.array.dtype) if isinstance(layer, ImageLayer) else None
        self._table: np.ndarray | None = None
        self.rect = None            # the slice's extent in mm (set by the view)
        self._rect_shape = None
        self.slots: list = []
        self._buffers: list[np.ndarray] = []   # two pixel buffers used in turn: no allocation per slice
        self._turn = 0

    def set_window(self, lo: float, hi: float) -> None:
        if self.grey is not None:
            self.grey.set_window(lo, hi)

    def restyle(self) -> None:
        """Rebuild the colour table (label colours/visibility, colormap, opacity)."""
        layer = self.layer
        if isinstance(layer, LabelsLayer):
            self._table = pack_argb(layer.lut(), layer.opacity)
        elif isinstance(layer, HeatmapLayer):
            self._table = pack_argb(heatmap_rgba(layer.colormap), layer.opacity)

    def _buffer(self, shape) -> np.ndarray:
        if not self._buffers or self._buffers[0].shape != shape:
            self._buffers = [np.empty(shape, np.uint32), np.empty(shape, np.uint32)]
        self._turn ^= 1
        return self._buffers[self._turn]

    def draw(self, slice2d: np.ndarray) -> None:
        layer = self.layer
        out = self._buffer(slice2d.shape)
        if isinstance(layer, ImageLayer):
            pixels = self.grey.apply(slice2d, out)  # type: ignore[union-attr]
        else:
            if self._table is None:
                self.restyle()
            if isinstance(layer, LabelsLayer):
                pixels = label_argb(slice2d, self._table, out)  # type: ignore[arg-type]
            else:
                lo, hi = layer.value_range  # type: ignore[attr-defined]
                pixels = np.take(self._table, scale_to_uint8(slice2d, lo, hi), out=out, mode="clip")
        self.item.setImage(pixels, autoLevels=False, levels=None)
        if self.rect is not None and self._rect_shape != pixels.shape[:2]:
            self.item.setRect(self.rect)        # needs the image's size, so after setImage
            self._rect_shape = pixels.shape[:2]
