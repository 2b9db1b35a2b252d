"""Edit tools for the slice views: one module per tool, registered in :mod:`.base`."""

from viewer.qt.tools import brush, eraser, fill, threshold  # noqa: F401  (registers the tools)
from viewer.qt.tools.base import TOOL_CLASSES, Tool, ToolContext, register_tool

__all__ = ["TOOL_CLASSES", "Tool", "ToolContext", "register_tool"]
