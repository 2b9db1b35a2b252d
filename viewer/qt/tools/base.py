"""The base of every edit tool and the registry the Edit feature builds its tools from.

A tool turns mouse events on a slice view (already mapped to display-grid voxel indices) into
calls on :mod:`engine.editing`; it keeps no edit logic of its own. Lifecycle (as in 3D Slicer's
segment-editor effects): ``activate`` when chosen, ``deactivate`` when another tool is chosen (a
stroke in progress is finished), ``cleanup`` once when the window closes (disconnect signals).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger(__name__)

#: name → tool class, in palette order.
TOOL_CLASSES: dict[str, type[Tool]] = {}


def register_tool(cls: type[Tool]) -> type[Tool]:
    TOOL_CLASSES[cls.name] = cls
    return cls


@dataclass
class ToolContext:
    """What tools act on: the viewer model, the edit settings, the layer editors, a status line."""

    model: Any          # viewer.state.viewer_model.ViewerModel
    state: Any          # viewer.state.editing.EditingState
    editing: Any        # viewer.state.editing.LayerEditing
    status: Callable[[str], None] = lambda message: None


class Tool:
    """One edit tool. Mouse handlers receive the view and the display index ``(s, p, l)``."""

    name = "tool"
    title = "Tool"
    shortcut = ""
    tip = ""
    shows_brush = False

    def __init__(self, context: ToolContext) -> None:
        self.ctx = context
        self.active = False

    def activate(self) -> None:
        self.active = True

    def deactivate(self) -> None:
        self.active = False

    def cleanup(self) -> None:
        self.deactivate()

    # Mouse (return True when the event was used) -------------------------------------------
    def press(self, view, zyx, ctrl: bool) -> bool:
        return False

    def drag(self, view, zyx, ctrl: bool) -> bool:
        return False

    def release(self, view, zyx, ctrl: bool) -> bool:
        return False

    # Helpers for subclasses -----------------------------------------------------------------
    def target(self):
        """``(layer, editor)`` edits go to, or ``(None, None)`` without an image."""
        layer = self.ctx.editing.editable_target()
        if layer is None:
            self.ctx.status("Open a scan before editing")
            return None, None
        return layer, self.ctx.editing.editor(layer)

    def to_source(self, zyx):
        return self.ctx.editing.to_source(self.ctx.model.grid, zyx)

    def source_axis(self, view) -> int:
        return self.ctx.editing.source_axis(self.ctx.model.grid, view.axis)
