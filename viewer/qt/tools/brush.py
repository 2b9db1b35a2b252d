"""Brush: paint the active label with a disc (or a sphere) of the chosen size; Ctrl erases."""

from __future__ import annotations

from engine.errors import CandorError
from viewer.qt.tools.base import Tool, register_tool


@register_tool
class BrushTool(Tool):
    name = "brush"
    title = "Brush"
    shortcut = "B"
    tip = "Paint the active label (Ctrl: erase). [ and ] change the size."
    shows_brush = True
    erases = False

    def __init__(self, context) -> None:
        super().__init__(context)
        self._layer = self._editor = None
        self._brush = None

    def press(self, view, zyx, ctrl: bool) -> bool:
        layer, editor = self.target()
        if editor is None:
            return True
        state = self.ctx.state
        state.inverted = ctrl  # Ctrl inverts: the brush erases, the eraser paints
        erase = self.erases != ctrl
        try:
            self._brush = state.brush(self.source_axis(view), erase=erase)
            if not erase:
                self.ctx.editing.ensure_label(layer, self._brush.label)
        except CandorError as exc:
            self.ctx.status(str(exc))
            return True
        self._layer, self._editor = layer, editor
        editor.begin_stroke(self.title if not erase else "Erase")
        self._dab(zyx)
        return True

    def drag(self, view, zyx, ctrl: bool) -> bool:
        if self._editor is not None:
            self._dab(zyx)
        return True

    def release(self, view, zyx, ctrl: bool) -> bool:
        self._finish()
        return True

    def deactivate(self) -> None:
        self._finish()
        super().deactivate()

    def _dab(self, zyx) -> None:
        with self.ctx.editing.batch():
            self._editor.stroke_to(self.to_source(zyx), self._brush)

    def _finish(self) -> None:
        if self._editor is not None:
            self.ctx.editing.end_stroke(self._layer)
        self._layer = self._editor = self._brush = None
        self.ctx.state.inverted = False
