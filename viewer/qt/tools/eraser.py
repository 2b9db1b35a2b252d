"""Eraser: clear the active label under a disc (or sphere); Ctrl paints instead."""

from __future__ import annotations

from viewer.qt.tools.base import register_tool
from viewer.qt.tools.brush import BrushTool


@register_tool
class EraserTool(BrushTool):
    name = "eraser"
    title = "Eraser"
    shortcut = "E"
    tip = "Erase the active label (Ctrl: paint)."
    erases = True
