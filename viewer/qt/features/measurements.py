"""Measure menu: ruler, angle and rectangle/ellipse ROI on the slice views, and the Measurements dock.

The tools (:mod:`viewer.qt.tools.ruler`, :mod:`viewer.qt.tools.roi`) create
:class:`engine.reading.measure.Measurement` records on the model's image; the list with its
undo/redo is :class:`viewer.state.measurements.MeasurementList`; drawing is
:mod:`viewer.qt.measure_overlay`. Choosing a measure tool puts the Edit feature back to
navigating (and choosing an edit tool ends measuring), so one tool owns the left button.
The dock lists name / kind / value (names editable in place), deletes, undoes and redoes,
makes a 3D ROI of the active label of the active labels layer, and a click on a row moves the
crosshair to the measurement so its view shows its slice. A new image clears the list.
"""

from __future__ import annotations

import json
import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QDockWidget, QHBoxLayout, QPushButton,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from engine.errors import CandorError
from engine.reading import measure
from viewer.qt.measure_overlay import MeasurementOverlay, label_text
from viewer.qt.tools.angle import AngleTool
from viewer.qt.tools.base import ToolContext
from viewer.qt.tools.measure_base import ijk_to_display
from viewer.qt.tools.mouse import ToolMouseFilter
from viewer.qt.tools.roi import EllipseRoiTool, RectangleRoiTool
from viewer.qt.tools.ruler import RulerTool
from viewer.state.measurements import MeasurementList

log = logging.getLogger(__name__)

ORDER = 50
NEEDS = ("model", "viewer")
TOOLS = (RulerTool, AngleTool, RectangleRoiTool, EllipseRoiTool)
KIND_TITLES = {"distance": "Distance", "angle": "Angle", "rectangle": "Rectangle ROI",
               "ellipse": "Ellipse ROI", "label": "3D label ROI"}


def install(services) -> None:
    dock = MeasurementsDock(services)
    services.measurements = dock.measurements      # read by the report (features/report.py)
    services.window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    menu = services.window.menu("&Measure")
    for action in (*dock.tool_actions.values(), None, dock.action_label_roi, None,
                   dock.action_undo, dock.action_redo, None, dock.toggleViewAction()):
        menu.addSeparator() if action is None else menu.addAction(action)
    services.window.about_to_close.connect(dock.cleanup)


class MeasurementsDock(QDockWidget):
    """The "Measurements" dock and the measure tools it owns."""

    def __init__(self, services) -> None:
        super().__init__("Measurements", services.window)
        self.setObjectName("measurements")
        self.services, self.model = services, services.model
        self.measurements = MeasurementList()
        context = ToolContext(self.model, None, None, status=services.status)
        self.tools = {cls.name: cls(context, self.measurements, self._preview) for cls in TOOLS}
        self.current: str | None = None
        views = services.viewer.views
        self.overlays = {v: MeasurementOverlay(view, self.measurements) for v, view in views.items()}
        self.filters = [ToolMouseFilter(view, self.current_tool, lambda: 0.0) for view in views.values()]
        self._make_actions()
        self._make_body()
        self.measurements.changed.connect(self.refresh)
        self.measurements.selected.connect(self._select_row)
        self.model.events.image.connect(self._on_image)
        if services.edit is not None:
            services.edit.state.events.tool.connect(self._on_edit_tool)
            self._join_session(services.edit.session)

    # Tools --------------------------------------------------------------------------------------
    def current_tool(self):
        return self.tools.get(self.current) if self.current else None

    def choose(self, name: str | None) -> None:
        """Make ``name`` the active measure tool (None: none; back to the Edit feature's tool)."""
        if name is not None and self.services.edit is not None:
            self.services.edit.choose("navigate")       # one tool owns the left button
        for tool_name, tool in self.tools.items():
            if tool.active and tool_name != name:
                tool.deactivate()
        self.current = name
        if name is not None:
            self.tools[name].activate()
        for tool_name, action in self.tool_actions.items():
            action.setChecked(tool_name == name)

    def _on_edit_tool(self, name: str) -> None:
        if name != "navigate" and self.current is not None:
            self.choose(None)

    def _preview(self, view, a, b) -> None:
        kind = self.current if self.current in ("rectangle", "ellipse") else "distance"
        self.overlays[view.view].show_preview(kind, a, b)

    def _make_actions(self) -> None:
        self.tool_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        group.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        for cls in TOOLS:
            action = QAction(cls.title, self, checkable=True)
            action.setShortcut(QKeySequence(cls.shortcut))
            action.setToolTip(f"{cls.tip} ({cls.shortcut})")
            action.triggered.connect(lambda on, n=cls.name: self.choose(n if on else None))
            group.addAction(action)
            self.tool_actions[cls.name] = action
        self.action_label_roi = QAction("3D ROI of Selected Label", self)
        self.action_label_roi.triggered.connect(self.add_label_roi)
        self.action_undo = QAction("Undo Measurement", self, shortcut=QKeySequence("Ctrl+Alt+Z"))
        self.action_undo.triggered.connect(self.measurements.undo)
        self.action_redo = QAction("Redo Measurement", self, shortcut=QKeySequence("Ctrl+Alt+Shift+Z"))
        self.action_redo.triggered.connect(self.measurements.redo)
        for action in (*self.tool_actions.values(), self.action_undo, self.action_redo):
            self.services.window.addAction(action)

    # Dock ---------------------------------------------------------------------------------------
    def _make_body(self) -> None:
        body = QWidget(self)
        self.tree = QTreeWidget(body)
        self.tree.setObjectName("measurement_list")
        self.tree.setHeaderLabels(["Name", "Kind", "Value"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.tree.itemChanged.connect(self._renamed)
        self.tree.itemClicked.connect(lambda item, _c: self.jump(item.data(0, Qt.ItemDataRole.UserRole)))
        delete_key = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.tree)
        delete_key.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete_key.activated.connect(self.delete_selected)
        self.button_delete = QPushButton("Delete", body)
        self.button_delete.clicked.connect(self.delete_selected)
        self.button_label = QPushButton("3D ROI of label", body)
        self.button_label.setToolTip("Volume and intensity of the active label of the active labels layer")
        self.button_label.clicked.connect(self.add_label_roi)
        buttons = QHBoxLayout()
        for b in (self.button_delete, self.button_label):
            buttons.addWidget(b)
        lay = QVBoxLayout(body)
        lay.addWidget(self.tree)
        lay.addLayout(buttons)
        self.setWidget(body)

    def refresh(self) -> None:
        self.tree.blockSignals(True)
        self.tree.clear()
        for mid, m in self.measurements.items():
            item = QTreeWidgetItem([m.name, KIND_TITLES.get(m.kind, m.kind), label_text(m)])
            item.setData(0, Qt.ItemDataRole.UserRole, mid)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            item.setToolTip(2, self._stats_tip(m))
            self.tree.addTopLevelItem(item)
        self.tree.blockSignals(False)
        self._select_row(self.measurements.selection)
        self.action_undo.setEnabled(self.measurements.can_undo)
        self.action_redo.setEnabled(self.measurements.can_redo)

    @staticmethod
    def _stats_tip(m) -> str:
        s = m.stats
        if s is None:
            return f"{m.value:.3f} {m.unit}"
        unit = f" {s.unit}" if s.unit else ""
        return (f"n = {s.voxels}, mean {s.mean:.2f}, SD {s.sd:.2f}, min {s.min:.2f}, "
                f"max {s.max:.2f}, median {s.median:.2f}{unit}")

    def item_for(self, mid):
        for n in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(n)
            if item.data(0, Qt.ItemDataRole.UserRole) == mid:
                return item
        return None

    def _select_row(self, mid) -> None:
        item = self.item_for(mid) if mid is not None else None
        self.tree.blockSignals(True)
        if item is not None:
            self.tree.setCurrentItem(item)
        else:
            self.tree.clearSelection()
        self.tree.blockSignals(False)

    def _renamed(self, item, column: int) -> None:
        if column != 0:
            return
        mid = item.data(0, Qt.ItemDataRole.UserRole)
        try:
            self.measurements.rename(mid, item.text(0))
        except CandorError as exc:
            self.services.status(str(exc))
            self.refresh()

    def delete_selected(self) -> None:
        mid = self.measurements.selection
        if mid is not None:
            self.measurements.delete(mid)

    def jump(self, mid) -> None:
        """Select ``mid`` and move the crosshair to its centre (its view shows its slice)."""
        if mid is None or self.model.grid is None:
            return
        self.measurements.select(mid)
        m = self.measurements.get(mid)
        grid = self.model.grid
        pts = [ijk_to_display(grid, p) for p in m.points_ijk]
        centre = [sum(p[d] for p in pts) / len(pts) for d in range(3)]
        self.model.cursor.set_index(tuple(min(max(int(round(c)), 0), n - 1)
                                          for c, n in zip(centre, grid.shape)))

    def add_label_roi(self) -> None:
        layer, image = self.model.layers.active_labels, self.model.image
        if layer is None or image is None:
            self.services.status("Open a scan with a labels layer to measure a label in 3D")
            return
        label = self.services.edit.state.active_label if self.services.edit is not None else 1
        try:
            m = measure.label_roi(image.volume, layer.volume, int(label))
        except CandorError as exc:
            self.services.status(str(exc))
            return
        self.measurements.add(m)

    # Crash recovery: the list rides in the edit session's autosave ---------------------------------
    def _join_session(self, session) -> None:
        session.extras["measurements"] = lambda: [m.to_dict() for _, m in self.measurements.items()]
        self.measurements.changed.connect(session.note_change)
        session.recovered.connect(self._on_recovered)

    def _on_recovered(self, snapshot) -> None:
        items = snapshot.source.get("measurements")
        if not items:
            return
        try:
            n = self.measurements.load_json(json.dumps({"measurements": items}))
        except CandorError as exc:
            self.services.status(f"Measurements not recovered: {exc}")
            return
        log.info("%d measurements recovered", n)

    def _on_image(self, *_args) -> None:
        self.choose(None)
        self.measurements.clear()

    def cleanup(self) -> None:
        self.choose(None)
        for f in self.filters:
            f.detach()
        for o in self.overlays.values():
            o.cleanup()
        self.overlays.clear()
        self.filters.clear()
