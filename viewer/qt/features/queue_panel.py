"""The Correction queue panel: list queued corrections, open one in the viewer, remove one.

Reading and writing the queue runs as jobs; the list refreshes after every Accept & queue.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QDockWidget, QHBoxLayout, QHeaderView,
                               QMessageBox, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from engine.corrections import CorrectionQueue
from engine.errors import CandorError
from viewer.qt.jobs_bridge import submit_watched
from viewer.state.provenance import LayerProvenance, Role

log = logging.getLogger(__name__)

ORDER = 45
COLUMNS = ("ID", "Queued (UTC)", "Model", "Changed", "Dice", "Status")


NEEDS = ("model", "layers_panel", "edit")


def install(services) -> None:
    window = services.window
    panel = services.queue_panel = QueuePanel(services)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, panel)
    window.tabifyDockWidget(services.layers_panel, panel)
    services.layers_panel.raise_()
    window.menu("&View").addAction(panel.toggleViewAction())


def _list_items(*, progress=None, cancel=None):
    with CorrectionQueue() as queue:
        return queue.items()


def _load_item(item_id: str, *, progress=None, cancel=None):
    with CorrectionQueue() as queue:
        return queue.load(item_id)


def _remove_item(item_id: str, *, progress=None, cancel=None) -> str:
    with CorrectionQueue() as queue:
        queue.remove(item_id)
    return item_id


class QueuePanel(QDockWidget):
    """Dock listing the correction queue. ``refresh()`` re-reads it (on a worker)."""

    def __init__(self, services) -> None:
        super().__init__("Correction queue", services.window)
        self.setObjectName("queue_panel")
        self.services = services
        self.items: list = []
        self.watcher = None
        body = QWidget(self)
        self.table = QTableWidget(0, len(COLUMNS), body)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.doubleClicked.connect(lambda _i: self.open_selected())
        self.refresh_button = QPushButton("Refresh", body)
        self.open_button = QPushButton("Open", body)
        self.remove_button = QPushButton("Remove", body)
        self.refresh_button.clicked.connect(self.refresh)
        self.open_button.clicked.connect(lambda: self.open_selected())
        self.remove_button.clicked.connect(lambda: self.remove_selected())
        buttons = QHBoxLayout()
        for b in (self.refresh_button, self.open_button, self.remove_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(body)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.setWidget(body)
        services.edit.session.accepted.connect(lambda _id: self.refresh())
        self.refresh()

    def _status(self, message: str) -> None:
        self.services.status(message)

    def _run(self, fn, *args, done=None):
        watcher = submit_watched(self.services.jobs, fn, *args, parent=self, name=fn.__name__,
                                 on_finished=lambda job: self._finished(job, done))
        self.watcher = watcher
        return watcher

    def _finished(self, job, done) -> None:
        if job.error is not None:
            message = str(job.error) if isinstance(job.error, CandorError) else \
                f"internal error ({type(job.error).__name__})"
            log.warning("correction queue: %s", message)
            self._status(f"Correction queue: {message}")
            return
        if done is not None:
            done(job.result())

    # Listing --------------------------------------------------------------------------------
    def refresh(self):
        return self._run(_list_items, done=self._show)

    def _show(self, items) -> None:
        self.items = list(items)
        self.table.setRowCount(len(self.items))
        for row, item in enumerate(self.items):
            model = f"{item.model['name']}@{item.model['version']}" if item.model else "—"
            values = (item.id, item.created.replace("T", " ")[:19], model,
                      str(item.stats.get("voxels_changed", "")),
                      f"{item.stats.get('dice_foreground', 0.0):.3f}", item.status)
            for col, text in enumerate(values):
                cell = QTableWidgetItem(text)
                if col in (3, 4):
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, cell)

    def selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.items[rows[0].row()].id if rows else None

    # Open and remove ------------------------------------------------------------------------
    def open_selected(self, item_id: str | None = None):
        """Show a queued correction: its image, the AI result (hidden) and the corrected mask."""
        item_id = item_id or self.selected_id()
        if item_id is None:
            self._status("Select a correction to open")
            return None
        return self._run(_load_item, item_id, done=self._open)

    def _open(self, correction) -> None:
        model, item = self.services.model, correction.item
        model.open_volume(correction.image, name=f"Queued {item.id}")
        ref = item.model or {}
        provenance = LayerProvenance(ref.get("name"), ref.get("version"), ref.get("weights_hash"))
        ai = model.layers.add_labels(correction.ai, correction.table, name=f"AI ({item.id})",
                                     role=Role.AI if provenance.has_model else Role.MANUAL,
                                     provenance=provenance)
        self.services.edit.editing.add_editable(correction.corrected, correction.table,
                                                f"Corrected ({item.id})", ai)
        ai.visible = False
        self._status(f"Opened queued correction {item.id}")

    def remove_selected(self, item_id: str | None = None, confirm: bool = True):
        item_id = item_id or self.selected_id()
        if item_id is None:
            self._status("Select a correction to remove")
            return None
        if confirm:
            answer = QMessageBox.question(
                self, "Remove correction",
                f"Remove correction {item_id} and its files from the queue?")
            if answer != QMessageBox.StandardButton.Yes:
                return None
        return self._run(_remove_item, item_id, done=lambda _id: self.refresh())
