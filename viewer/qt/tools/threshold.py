"""Threshold brush: paints only voxels whose intensity lies inside the chosen window."""

from __future__ import annotations

from viewer.qt.tools.base import register_tool
from viewer.qt.tools.brush import BrushTool


@register_tool
class ThresholdTool(BrushTool):
    name = "threshold"
    title = "Threshold brush"
    shortcut = "T"
    tip = "Paint only voxels within the intensity window (set in the palette)."

    def activate(self) -> None:
        super().activate()
        state, window = self.ctx.state, self.ctx.model.window
        if state.window == (0.0, 100.0) and self.ctx.model.image is not None:
            state.window = window.range  # start from what the reader sees
