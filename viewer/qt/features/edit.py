"""Edit: correct the AI. Tools on the slice views, undo/redo, labels, fill between slices, the
tool palette, Accept & queue, autosave and crash recovery.

Installs after the reading feature (``ORDER = 40``) and provides ``services.edit``
(:class:`EditController`). The edit logic itself is :mod:`engine.editing`; tools live in
:mod:`viewer.qt.tools`; tool settings in :mod:`viewer.state.editing`.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QColorDialog, QInputDialog

from engine.errors import CandorError
from engine.labels import LabelTable
from viewer.qt.features._edit_palette import EditPalette
from viewer.qt.features._edit_session import EditSession
from viewer.qt.tools import TOOL_CLASSES, ToolContext
from viewer.qt.tools.mouse import ToolMouseFilter
from viewer.state.editing import EditingState, LayerEditing
from viewer.state.layers import LabelsLayer

log = logging.getLogger(__name__)

ORDER = 40
VIEW_FOR_AXIS = {0: "axial", 1: "coronal", 2: "sagittal"}


NEEDS = ("model", "viewer", "messages")


def install(services) -> None:
    services.edit = EditController(services)


class EditController(QObject):
    """Owns the edit state, the tools, their actions, the palette and the edit session."""

    def __init__(self, services) -> None:
        window = services.window
        super().__init__(window)
        self.services, self.window, self.model = services, window, services.model
        self.state = EditingState()
        self.editing = LayerEditing(self.model.layers)
        context = ToolContext(self.model, self.state, self.editing, status=self.status)
        self.tools = {name: cls(context) for name, cls in TOOL_CLASSES.items()}
        views = services.viewer.views
        self.last_view = views["axial"]
        self.filters = [ToolMouseFilter(view, lambda v=view: self._tool_for(v),
                                        lambda: self.state.brush_size_mm)
                        for view in views.values()]
        self._build_actions()
        self._build_menu()
        self.palette = EditPalette(self, window)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.palette)
        self.session = EditSession(services, self)
        self.state.events.tool.connect(self._on_tool)
        self.model.layers.events.active.connect(self._on_active)
        self.model.layers.events.inserted.connect(lambda *_: self._update_actions())
        self.model.layers.events.removed.connect(lambda *_: self._update_actions())
        self.editing.events.edited.connect(lambda _layer: self._update_actions(labels=False))
        self.editing.events.committed.connect(lambda _layer: self._update_actions(labels=False))
        self.editing.events.table.connect(lambda _layer: self.palette.refresh_labels())
        window.about_to_close.connect(self.cleanup)
        self._update_actions()

    # Actions --------------------------------------------------------------------------------
    def _action(self, text: str, slot, shortcut=None, tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self.window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setToolTip(tip or text)
        action.setCheckable(checkable)
        action.triggered.connect(lambda _checked=False: self._guard(slot))
        self.window.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.action_undo = self._action("&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.action_redo = self._action("&Redo", self.redo, "Ctrl+Shift+Z")
        group = QActionGroup(self)
        self.tool_actions = {"navigate": self._action("Navigate", lambda: self.choose("navigate"),
                                                      "Esc", "Crosshair and window/level", True)}
        for name, cls in TOOL_CLASSES.items():
            self.tool_actions[name] = self._action(cls.title, lambda n=name: self.choose(n),
                                                   cls.shortcut, cls.tip, True)
        for action in self.tool_actions.values():
            group.addAction(action)
        self.tool_actions["navigate"].setChecked(True)
        self.action_bigger = self._action("Bigger brush", self.state.bigger, "]")
        self.action_smaller = self._action("Smaller brush", self.state.smaller, "[")
        self.action_interpolate = self._action(
            "Fill &Between Slices", self.fill_between_slices, "Ctrl+I",
            "Interpolate the active label across the slices skipped between drawn ones")
        self.action_copy_ai = self._action("&Copy AI to Corrected Layer", self.copy_ai, "",
                                           "Edit a copy of the AI result; the AI layer stays as it was")
        self.action_new_layer = self._action("New &Label Layer", self.new_layer)
        self.action_add_label = self._action("Add", lambda: self.add_label())
        self.action_rename_label = self._action("Rename", lambda: self.rename_label())
        self.action_recolour_label = self._action("Colour", lambda: self.recolour_label())
        self.action_remove_label = self._action("Remove", self.remove_label)
        self.action_accept = self._action("&Accept && Queue", lambda: self.session.accept(),
                                          "Ctrl+Shift+A",
                                          "Store the corrected layer with the AI result for fine-tuning")
        self.label_actions = [self.action_add_label, self.action_rename_label,
                              self.action_recolour_label, self.action_remove_label]
        self.palette_actions = [self.action_undo, self.action_redo, self.action_interpolate,
                                self.action_copy_ai, self.action_accept]

    def _build_menu(self) -> None:
        menu = self.window.menu("&Edit")
        for action in (self.action_undo, self.action_redo, None, *self.tool_actions.values(),
                       self.action_bigger, self.action_smaller, None, self.action_interpolate,
                       self.action_copy_ai, self.action_new_layer, None):
            menu.addAction(action) if action is not None else menu.addSeparator()
        labels = menu.addMenu("La&bels")
        for action, text in zip(self.label_actions, ("Add Label…", "Rename Label…",
                                                     "Change Colour…", "Remove Label")):
            labels.addAction(action)
            action.setText(text)
        menu.addSeparator()
        menu.addAction(self.action_accept)
        self.menu = menu

    def _guard(self, slot) -> None:
        try:
            slot()
        except CandorError as exc:
            self.status(str(exc))
        self._update_actions()

    def status(self, message: str) -> None:
        self.window.statusBar().showMessage(message, 5000)

    # Tools ----------------------------------------------------------------------------------
    def choose(self, name: str) -> None:
        self.state.tool = name

    def current_tool(self):
        return self.tools.get(self.state.tool)

    def _tool_for(self, view):
        tool = self.current_tool()
        if tool is not None:
            self.last_view = view
        return tool

    def _on_tool(self, name: str) -> None:
        for tool in self.tools.values():
            if tool.active and tool.name != name:
                tool.deactivate()
        if name in self.tools:
            self.tools[name].activate()
        self.tool_actions[name].setChecked(True)

    # Layers and labels ----------------------------------------------------------------------
    def current_layer(self) -> LabelsLayer | None:
        """The editable layer the Edit menu acts on (the active one, or its corrected copy)."""
        active = self.model.layers.active_labels
        if active is None:
            return None
        if self.editing.is_editable(active):
            return active
        return next((l for l in self.editing.editable_layers if self.editing.ai_source(l) is active),
                    None)

    def current_table(self) -> LabelTable:
        layer = self.current_layer() or self.model.layers.active_labels
        if layer is None:
            return LabelTable()
        editor = self.editing.existing_editor(layer)
        return editor.table if editor is not None else layer.table

    def _editor(self, create: bool = True):
        layer = self.current_layer()
        if layer is None and create:
            layer = self.editing.editable_target()
        return None if layer is None else self.editing.editor(layer)

    def undo(self) -> None:
        editor = self._editor(create=False)
        if editor is None or editor.undo() is None:
            self.status("Nothing to undo")

    def redo(self) -> None:
        editor = self._editor(create=False)
        if editor is None or editor.redo() is None:
            self.status("Nothing to redo")

    def copy_ai(self) -> LabelsLayer | None:
        active = self.model.layers.active_labels
        if active is None:
            self.status("There is no AI result to copy")
            return None
        return self.editing.copy_to_corrected(active)

    def new_layer(self) -> LabelsLayer:
        return self.editing.new_layer()

    def fill_between_slices(self, view: str | None = None) -> None:
        view = view or self.last_view.view
        editor = self._editor()
        if editor is None:
            self.status("Open a scan before editing")
            return
        from viewer.state.cursor import VIEW_AXIS

        axis = self.editing.source_axis(self.model.grid, VIEW_AXIS[view])
        if editor.fill_between_slices(self.state.active_label, axis) is None:
            self.status(f"Nothing to fill: draw the label on at least two {view} slices with "
                        "empty slices between them")

    def add_label(self, name: str | None = None, color=None) -> None:
        if name is None:
            name, ok = QInputDialog.getText(self.window, "Add label", "Name of the new label:")
            if not ok or not name.strip():
                return
        info = self._editor().add_label(name, color)
        self.state.active_label = info.id

    def rename_label(self, name: str | None = None) -> None:
        editor, label = self._editor(), self.state.active_label
        if name is None:
            name, ok = QInputDialog.getText(self.window, "Rename label", "New name:",
                                            text=editor.table.get(label).name)
            if not ok:
                return
        if label not in editor.table:
            editor.table = LabelTable([*editor.table, editor.table.get(label)])
        editor.rename_label(label, name)

    def recolour_label(self, color=None) -> None:
        editor, label = self._editor(), self.state.active_label
        if color is None:
            chosen = QColorDialog.getColor(parent=self.window, title="Label colour")
            if not chosen.isValid():
                return
            color = (chosen.red(), chosen.green(), chosen.blue())
        if label not in editor.table:
            editor.table = LabelTable([*editor.table, editor.table.get(label)])
        editor.recolour_label(label, color)

    def remove_label(self) -> None:
        editor = self._editor()
        editor.remove_label(self.state.active_label)
        remaining = [info.id for info in editor.table]
        if remaining:
            self.state.active_label = remaining[0]

    def _on_active(self, _layer) -> None:
        self.palette.refresh_labels()
        self._update_actions()

    def _update_actions(self, labels: bool = True) -> None:
        editor = None
        layer = self.current_layer()
        if layer is not None:
            editor = self.editing.existing_editor(layer)
        self.action_undo.setEnabled(bool(editor and editor.history.can_undo))
        self.action_redo.setEnabled(bool(editor and editor.history.can_redo))
        if editor is not None and editor.history.can_undo:
            self.action_undo.setText(f"&Undo {editor.history.undo_descriptions[-1]}")
        else:
            self.action_undo.setText("&Undo")
        has_image = self.model.image is not None
        for action in (self.action_interpolate, self.action_new_layer, self.action_accept,
                       *self.label_actions):
            action.setEnabled(has_image)
        self.action_copy_ai.setEnabled(self.model.layers.active_labels is not None)
        if labels and hasattr(self, "palette"):
            self.palette.refresh_labels()

    def cleanup(self) -> None:
        for tool in self.tools.values():
            tool.cleanup()
        for f in self.filters:
            f.detach()
        self.filters = []
        self.palette.cleanup()
        self.session.cleanup()
