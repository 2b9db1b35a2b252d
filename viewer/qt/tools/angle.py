"""Angle: drag the first arm (end → vertex), then click the end of the second arm."""

from __future__ import annotations

from engine.errors import CandorError
from engine.reading import measure
from viewer.qt.tools.measure_base import MeasureTool, display_to_ijk


class AngleTool(MeasureTool):
    name = "angle"
    title = "Angle"
    shortcut = "Shift+A"
    tip = "Measure an angle: drag the first arm to the vertex, then click the second arm's end."

    def __init__(self, context, measurements, preview=lambda view, a, b: None) -> None:
        super().__init__(context, measurements, preview)
        self._arm = None          # (view axis, end, vertex) display indices of the first arm

    def press(self, view, zyx, ctrl: bool) -> bool:
        if self._arm is not None and self._arm[0] != view.axis:
            self._arm = None      # the second arm must be on the same view
        return super().press(view, zyx, ctrl)

    def release(self, view, zyx, ctrl: bool) -> bool:
        if self._arm is None:
            start, self._start = self._start, None
            if start is not None and zyx is not None:
                self._arm = (view.axis, start, zyx)
                self.ctx.status("Angle: now click the end of the second arm")
            return True
        _axis, end, vertex = self._arm
        self._arm, self._start = None, None
        self.preview(view, None, None)
        if zyx is None:
            return True
        grid = self.ctx.model.grid
        try:
            m = measure.angle(self.ctx.model.image.volume.geometry, display_to_ijk(grid, end),
                              display_to_ijk(grid, vertex), display_to_ijk(grid, zyx))
        except CandorError as exc:
            self.ctx.status(str(exc))
            return True
        self.measurements.add(m)
        self.ctx.status(f"{m.name}: {m.value:.1f}°")
        return True

    def deactivate(self) -> None:
        self._arm = None
        super().deactivate()
