"""Fill: flood the clicked region of the slice (same label, 4-connected) with the active label."""

from __future__ import annotations

from engine.errors import CandorError
from viewer.qt.tools.base import Tool, register_tool


@register_tool
class FillTool(Tool):
    name = "fill"
    title = "Fill"
    shortcut = "F"
    tip = "Fill the clicked region of this slice with the active label (Ctrl: clear it)."

    def press(self, view, zyx, ctrl: bool) -> bool:
        layer, editor = self.target()
        if editor is None:
            return True
        label = 0 if ctrl else self.ctx.state.active_label
        try:
            if label:
                self.ctx.editing.ensure_label(layer, label)
            record = editor.flood_fill(self.to_source(zyx), self.source_axis(view), label)
        except CandorError as exc:
            self.ctx.status(str(exc))
            return True
        if record is None:
            self.ctx.status("Nothing to fill there")
        return True
