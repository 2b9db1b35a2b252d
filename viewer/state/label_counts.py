"""Voxels per label id of a label map, kept per slice so edits recount only what they touched.

Used by :class:`viewer.state.layers.LabelsLayer`; millilitres come from
:func:`engine.labels.volume_ml` there.
"""

from __future__ import annotations

import numpy as np


class LabelCounts:
    """Voxels per label id, kept per slice (array axis 0) so edits recount only what they touched.

    Label maps with ids above ``max_per_slice_ids`` (rare: most have a handful) are counted whole.
    """

    max_per_slice_ids = 1024

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self._per_slice: np.ndarray | None = None   # (slices, ids) int64
        self._totals: np.ndarray | None = None

    def invalidate(self, rows: slice | None = None) -> None:
        self._totals = None
        if rows is None or self._per_slice is None:
            self._per_slice = None
            return
        start, stop, _ = rows.indices(self.array.shape[0])
        n = self._per_slice.shape[1]
        for k in range(start, stop):
            c = _bincount(self.array[k].ravel())
            if c.size > n:  # a new, higher label id: recount everything on next use
                self._per_slice = None
                return
            self._per_slice[k] = 0
            self._per_slice[k, : c.size] = c

    def totals(self) -> np.ndarray:
        if self._totals is None:
            if self._per_slice is None:
                self._per_slice = self._count_all()
            self._totals = self._per_slice.sum(axis=0) if self._per_slice.ndim == 2 else self._per_slice
            if self._per_slice.ndim == 1:
                self._per_slice = None
        return self._totals

    def _count_all(self) -> np.ndarray:
        rows = [_bincount(self.array[k].ravel()) for k in range(self.array.shape[0])]
        n = max((r.size for r in rows), default=1)
        if n > self.max_per_slice_ids:
            total = np.zeros(n, np.int64)
            for r in rows:
                total[: r.size] += r
            return total  # 1-D: no per-slice bookkeeping for maps with many ids
        out = np.zeros((len(rows), max(n, 256)), np.int64)
        for k, r in enumerate(rows):
            out[k, : r.size] = r
        return out


def _bincount(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind != "u" and values.dtype != np.bool_:
        values = np.clip(values, 0, None)
    return np.bincount(values.astype(np.intp, copy=False))
