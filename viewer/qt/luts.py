"""Turning slices into display pixels with lookup tables (no float64, no whole-volume work).

Every layer's slice becomes one ``uint32`` image in Qt's native 32-bit formats: the grey image as
opaque ``RGB32``, overlays as premultiplied ``ARGB32`` with the layer's opacity baked into the
table. Qt draws those without any conversion (~0.1–0.3 ms for a 512² slice, against ~1–1.5 ms for
8-bit grey or indexed images or for painter opacity), which is what keeps scrolling under 8 ms.

* Grey image: integer data of up to 16 bits goes through a 65 536-entry table rebuilt only when
  the window changes (int16 is read through its uint16 bit pattern, a free reinterpretation);
  other data is scaled to 0..255 in float32 per slice, then looked up.
* Labels: ids index a premultiplied colour table (hidden labels and 0 transparent).
* Heatmaps: scaled to 0..255 in float32 and looked up in a colormap table whose alpha ramps up
  from the bottom of the range, so low values stay transparent.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

OPAQUE = np.uint32(0xFF000000)


def pack_argb(rgba: np.ndarray, opacity: float = 1.0) -> np.ndarray:
    """``(n, 4)`` uint8 RGBA → ``(n,)`` uint32 premultiplied ARGB (Qt's ARGB32_Premultiplied)."""
    rgba = np.asarray(rgba, np.float32)
    alpha = rgba[:, 3] * np.float32(opacity) / 255.0
    r, g, b = (np.round(rgba[:, c] * alpha).astype(np.uint32) for c in range(3))
    a = np.round(alpha * 255.0).astype(np.uint32)
    return (a << 24) | (r << 16) | (g << 8) | b


def grey_argb(levels: np.ndarray) -> np.ndarray:
    """uint8 grey levels → opaque uint32 RGB32 pixels."""
    g = levels.astype(np.uint32)
    return OPAQUE | (g << 16) | (g << 8) | g


class GreyTable:
    """Window/level as a lookup table for one image dtype (uint32 RGB32 output)."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.indexed = self.dtype.kind in "iub" and self.dtype.itemsize <= 2
        self._table: np.ndarray | None = None
        self._range = (0.0, 1.0)
        self._grey256 = grey_argb(np.arange(256, dtype=np.uint8))

    def set_window(self, lo: float, hi: float) -> None:
        self._range = (float(lo), float(max(hi, lo + 1e-6)))
        if self.indexed:
            self._table = grey_argb(self._levels_table())

    def _levels_table(self) -> np.ndarray:
        lo, hi = self._range
        if self.dtype.itemsize == 1:
            raw = np.arange(256, dtype=np.uint8)
            values = (raw.view(np.int8) if self.dtype.kind == "i" else raw).astype(np.float32)
        else:
            raw = np.arange(65536, dtype=np.uint16)
            values = (raw.view(np.int16) if self.dtype.kind == "i" else raw).astype(np.float32)
        scaled = (values - lo) * np.float32(255.0 / (hi - lo))
        return np.clip(scaled, 0, 255).astype(np.uint8)

    def apply(self, slice2d: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """uint32 RGB32 pixels of ``slice2d`` (into ``out`` when given)."""
        if self.indexed:
            if self.dtype.itemsize == 1:
                index = slice2d.view(np.uint8) if slice2d.dtype != np.uint8 else slice2d
            else:
                index = slice2d.view(np.uint16) if slice2d.dtype.kind == "i" else slice2d
            return np.take(self._table, index, out=out, mode="clip")
        lo, hi = self._range
        return np.take(self._grey256, scale_to_uint8(slice2d, lo, hi), out=out, mode="clip")


def scale_to_uint8(slice2d: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Values → 0..255 in float32 (NaN → 0: ``fmax`` drops NaNs)."""
    out = np.subtract(slice2d, lo, dtype=np.float32)
    out *= np.float32(255.0 / max(hi - lo, 1e-12))
    np.fmax(out, 0, out=out)
    np.fmin(out, 255, out=out)
    return out.astype(np.uint8)


def label_argb(slice2d: np.ndarray, table: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Label ids → premultiplied ARGB through ``table`` (ids beyond it drawn transparent)."""
    if slice2d.dtype == np.uint8 and table.shape[0] >= 256:
        return np.take(table, slice2d, out=out, mode="clip")
    ids = slice2d if slice2d.dtype.kind == "u" else np.clip(slice2d, 0, None)
    ids = np.where(ids < table.shape[0], ids, 0)
    return np.take(table, ids, out=out, mode="clip")


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


def heatmap_rgba(name: str) -> np.ndarray:
    """256×4 RGBA: the colormap with alpha rising over the lowest quarter (0 stays transparent)."""
    lut = np.zeros((256, 4), np.uint8)
    lut[:, :3] = colormap_rgb(name)
    lut[:, 3] = np.clip(np.arange(256) * 4, 0, 255)
    lut[0, 3] = 0
    return lut
