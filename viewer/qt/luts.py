"""Turning slices into display pixels with lookup tables (no float64, no whole-volume work).

* Grey image: integer data of up to 16 bits goes through a 65 536-entry uint8 table rebuilt only
  when the window changes (int16 is read through its uint16 bit pattern, a free reinterpretation);
  other data is scaled in float32 per slice.
* Labels: uint8 slices keep their ids and are drawn through a 256-colour RGBA table (Qt's indexed
  8-bit images); wider ids are mapped through the table with ``np.take``.
* Heatmaps: scaled to uint8 in float32 and drawn through a colormap table whose alpha ramps up
  from the bottom of the range, so low values stay transparent.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


class GreyTable:
    """Window/level as a lookup table for one image dtype."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.indexed = self.dtype.kind in "iub" and self.dtype.itemsize <= 2
        self._table: np.ndarray | None = None
        self._range = (0.0, 1.0)

    def set_window(self, lo: float, hi: float) -> None:
        self._range = (float(lo), float(max(hi, lo + 1e-6)))
        if self.indexed:
            self._table = self._build_table()

    def _build_table(self) -> np.ndarray:
        lo, hi = self._range
        if self.dtype.itemsize == 1:
            values = np.arange(256, dtype=np.float32)
            if self.dtype.kind == "i":
                values = np.arange(256, dtype=np.uint8).view(np.int8).astype(np.float32)
        else:
            raw = np.arange(65536, dtype=np.uint16)
            values = (raw.view(np.int16) if self.dtype.kind == "i" else raw).astype(np.float32)
        scaled = (values - lo) * np.float32(255.0 / (hi - lo))
        return np.clip(scaled, 0, 255).astype(np.uint8)

    def apply(self, slice2d: np.ndarray) -> np.ndarray:
        """uint8 grey pixels of ``slice2d`` (a new C-contiguous array)."""
        if self.indexed:
            if self.dtype.itemsize == 1:
                index = slice2d.view(np.uint8) if slice2d.dtype != np.uint8 else slice2d
            else:
                index = slice2d.view(np.uint16) if slice2d.dtype.kind == "i" else slice2d
            return np.take(self._table, index)
        lo, hi = self._range
        out = np.subtract(slice2d, lo, dtype=np.float32)
        out *= np.float32(255.0 / (hi - lo))
        np.clip(out, 0, 255, out=out)
        return out.astype(np.uint8)


def scale_to_uint8(slice2d: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Heatmap values → 0..255 (float32 arithmetic, NaN → 0)."""
    out = np.subtract(slice2d, lo, dtype=np.float32)
    out *= np.float32(255.0 / max(hi - lo, 1e-12))
    np.clip(out, 0, 255, out=out)
    if slice2d.dtype.kind == "f":
        np.nan_to_num(out, copy=False, nan=0.0)
    return out.astype(np.uint8)


def label_pixels(slice2d: np.ndarray, lut: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(image, lut for the ImageItem): uint8 ids + table when possible, else RGBA pixels."""
    if slice2d.dtype == np.uint8 and lut.shape[0] == 256:
        return np.ascontiguousarray(slice2d), lut
    ids = np.clip(slice2d, 0, lut.shape[0] - 1) if slice2d.dtype.kind != "u" else slice2d
    ids = np.minimum(ids, lut.shape[0] - 1)
    return np.take(lut, ids, axis=0), None


_HOT = ((0.0, (0, 0, 0)), (0.4, (230, 0, 0)), (0.8, (255, 210, 0)), (1.0, (255, 255, 255)))
_JET = ((0.0, (0, 0, 128)), (0.125, (0, 0, 255)), (0.375, (0, 255, 255)), (0.625, (255, 255, 0)),
        (0.875, (255, 0, 0)), (1.0, (128, 0, 0)))


@lru_cache(maxsize=32)
def colormap_rgb(name: str) -> np.ndarray:
    """256×3 uint8 colours of a named colormap."""
    stops = {"hot": _HOT, "jet": _JET}.get(name)
    if stops is not None:
        pos = np.array([s[0] for s in stops])
        cols = np.array([s[1] for s in stops], float)
        x = np.linspace(0, 1, 256)
        return np.stack([np.interp(x, pos, cols[:, c]) for c in range(3)], 1).astype(np.uint8)
    import pyqtgraph as pg

    return pg.colormap.get(name).getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)


@lru_cache(maxsize=32)
def heatmap_lut(name: str) -> np.ndarray:
    """256×4 RGBA: the colormap with alpha rising over the lowest quarter (0 stays transparent)."""
    lut = np.zeros((256, 4), np.uint8)
    lut[:, :3] = colormap_rgb(name)
    lut[:, 3] = np.clip(np.arange(256) * 4, 0, 255)
    lut[0, 3] = 0
    return lut
