"""Ruler: the distance in mm between the press and the release point (true physical grid)."""

from __future__ import annotations

from engine.reading import measure
from viewer.qt.tools.measure_base import MeasureTool


class RulerTool(MeasureTool):
    name = "ruler"
    title = "Ruler"
    shortcut = "Shift+R"
    tip = "Measure a distance in mm: press, drag, release on a slice."

    def measure(self, view, a, b):
        return measure.distance(self.ctx.model.image.volume.geometry, a, b)
