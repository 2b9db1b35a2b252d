"""The base of the measurement tools (ruler, ROI): press–drag–release on a slice view.

Measurement tools are not edit tools: they are kept out of :data:`viewer.qt.tools.base.TOOL_CLASSES`
(the Edit palette) and are owned by the Measurements feature, which routes mouse events to them
with its own :class:`viewer.qt.tools.mouse.ToolMouseFilter`. The measurement itself is made by
:mod:`engine.reading.measure` on the model's image, in its own ``(i, j, k)`` index space.
"""

from __future__ import annotations

from engine.errors import CandorError
from viewer.qt.tools.base import Tool


def display_to_ijk(grid, zyx) -> tuple[float, float, float]:
    """Display-grid index ``(s, p, l)`` → the image's continuous ``(i, j, k)``."""
    source = [0.0, 0.0, 0.0]                      # (k, j, i): the array's own index
    for axis, value in enumerate(zyx):
        src = int(grid.transpose[axis])
        source[src] = (grid.shape[axis] - 1 - value) if grid.flips[axis] else value
    return (source[2], source[1], source[0])


def ijk_to_display(grid, ijk) -> tuple[float, float, float]:
    """Inverse of :func:`display_to_ijk`."""
    source = (ijk[2], ijk[1], ijk[0])
    zyx = [0.0, 0.0, 0.0]
    for axis in range(3):
        value = source[int(grid.transpose[axis])]
        zyx[axis] = (grid.shape[axis] - 1 - value) if grid.flips[axis] else value
    return tuple(zyx)


def plane_axis(grid, display_axis: int) -> int:
    """The ``(i, j, k)`` axis a view along ``display_axis`` holds constant."""
    return 2 - int(grid.transpose[display_axis])


class MeasureTool(Tool):
    """Press sets the first point, drag shows a preview, release adds the measurement."""

    def __init__(self, context, measurements, preview=lambda view, a, b: None) -> None:
        super().__init__(context)
        self.measurements = measurements     # viewer.state.measurements.MeasurementList
        self.preview = preview               # called with (view, zyx_a, zyx_b | None)
        self._start = None

    def press(self, view, zyx, ctrl: bool) -> bool:
        if self.ctx.model.grid is None:
            self.ctx.status("Open a scan before measuring")
            return True
        self._start = zyx
        return True

    def drag(self, view, zyx, ctrl: bool) -> bool:
        if self._start is not None:
            self.preview(view, self._start, zyx)
        return True

    def release(self, view, zyx, ctrl: bool) -> bool:
        start, self._start = self._start, None
        self.preview(view, None, None)
        if start is None:
            return True
        if zyx is None:
            self.ctx.status("Released outside the image: nothing measured")
            return True
        grid = self.ctx.model.grid
        a, b = display_to_ijk(grid, start), display_to_ijk(grid, zyx)
        try:
            m = self.measure(view, a, b)
        except CandorError as exc:
            self.ctx.status(str(exc))
            return True
        self.measurements.add(m)
        self.ctx.status(f"{m.name or m.kind}: {m.value:.2f} {m.unit}")
        return True

    def deactivate(self) -> None:
        self._start = None
        super().deactivate()

    def measure(self, view, a, b):  # pragma: no cover - each tool says
        raise NotImplementedError
