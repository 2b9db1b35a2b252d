"""Rectangle and ellipse ROI: statistics of the box (or inscribed ellipse) dragged on a slice."""

from __future__ import annotations

from engine.reading import measure
from viewer.qt.tools.measure_base import MeasureTool, plane_axis


class RectangleRoiTool(MeasureTool):
    name = "rectangle"
    title = "Rectangle ROI"
    shortcut = "Shift+T"
    tip = "ROI statistics (mean, SD, min, max, median, area) of a dragged rectangle."

    def measure(self, view, a, b):
        axis = plane_axis(self.ctx.model.grid, view.axis)
        return measure.plane_roi(self.ctx.model.image.volume, axis, a, b, shape=self.name)


class EllipseRoiTool(RectangleRoiTool):
    name = "ellipse"
    title = "Ellipse ROI"
    shortcut = "Shift+O"
    tip = "ROI statistics (mean, SD, min, max, median, area) of a dragged ellipse."
