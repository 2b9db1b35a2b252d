"""The crosshair: one 3-D point that every view shows, kept as a display-grid voxel index."""

from __future__ import annotations

import numpy as np
from psygnal import Signal, SignalGroup

from viewer.state.orientation import DisplayGrid

#: View name → the display numpy axis its slices run along.
VIEW_AXIS = {"axial": 0, "coronal": 1, "sagittal": 2}


class CursorEvents(SignalGroup):
    changed = Signal(tuple)   # display index (s, p, l)


class Cursor:
    """Crosshair position; each slice view shows the slice through it (ITK-SNAP-style linking).

    ``index`` is the display-grid voxel ``(s, p, l)``; ``lps`` the patient position in mm;
    ``source_index`` the voxel ``(i, j, k)`` of the file as loaded.
    """

    def __init__(self, grid: DisplayGrid | None = None) -> None:
        self.events = CursorEvents()
        self.grid = grid
        self._index = (0, 0, 0)
        if grid is not None:
            self._index = tuple(n // 2 for n in grid.shape)

    def reset(self, grid: DisplayGrid | None) -> None:
        self.grid = grid
        self.set_index(tuple(n // 2 for n in grid.shape) if grid is not None else (0, 0, 0))

    @property
    def index(self) -> tuple[int, int, int]:
        return self._index  # type: ignore[return-value]

    def set_index(self, zyx) -> None:
        zyx = tuple(int(round(float(v))) for v in zyx)
        if self.grid is not None:
            zyx = tuple(int(np.clip(v, 0, n - 1)) for v, n in zip(zyx, self.grid.shape))
        if zyx != self._index:
            self._index = zyx
            self.events.changed.emit(zyx)

    def slice_of(self, view: str) -> int:
        return self._index[VIEW_AXIS[view]]

    def set_slice(self, view: str, value: int) -> None:
        zyx = list(self._index)
        zyx[VIEW_AXIS[view]] = value
        self.set_index(zyx)

    def step(self, view: str, delta: int) -> None:
        self.set_slice(view, self.slice_of(view) + delta)

    def n_slices(self, view: str) -> int:
        return self.grid.shape[VIEW_AXIS[view]] if self.grid is not None else 1

    @property
    def lps(self) -> np.ndarray:
        if self.grid is None:
            return np.zeros(3)
        return self.grid.display_to_lps(self._index)

    def set_lps(self, xyz) -> None:
        if self.grid is not None:
            self.set_index(self.grid.lps_to_display(xyz))

    @property
    def source_index(self) -> tuple[int, int, int]:
        if self.grid is None:
            return (0, 0, 0)
        ijk = self.grid.display_to_source_index(self._index)
        return tuple(int(round(v)) for v in ijk)  # type: ignore[return-value]

    def slice_position_mm(self, view: str) -> float:
        """The slice's position along its axis in patient mm (LPS: x for sagittal, y coronal, z axial)."""
        return float(self.lps[2 - VIEW_AXIS[view]])
