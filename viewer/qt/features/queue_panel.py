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

log = logging.getLogger(__name__)

ORDER = 45
COLUMNS = ("ID", "Queued (UTC)", "Model", "Changed", "Dice", "Status")


def install(window) -> None:
    if not hasattr(window, "model"):
        return
    window.queue_panel = QueuePanel(window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, window.queue_panel)
    if hasattr(window, "layers_panel"):
        window.tabifyDockWidget(window.layers_panel, window.queue_panel)
        window.layers_panel.raise_()
    window.menu("&View").addAction(window.queue_panel.toggleViewAction())


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

    def __init__(self, window) -> None:
        super().__init__("Correction queue", window)
        self.setObjectName("queue_panel")
        self.window_ = window
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
        edit = getattr(window, "edit", None)
        if edit is not None:
            edit.session.accepted.connect(lambda _id: self.refresh())
        self.refresh()

    def _status(self, message: str) -> None:
        self.window_.statusBar().showMessage(message, 5000)

    def _run(self, fn, *args, done=None):
        watcher = submit_watched(self.window_.jobs, fn, *args, parent=self, name=fn.__name__,
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
        window, item = self.window_, correction.item
        window.model.open_volume(correction.image, name=f"Queued {item.id}")
        model_name = item.model or {}
        ai_volume = correction.ai.with_array(correction.ai.array, metadata={
            "model": model_name.get("name"), "version": model_name.get("version"),
            "weights_hash": model_name.get("weights_hash")})
        ai = window.model.layers.add_labels(ai_volume, correction.table, name=f"AI ({item.id})")
        edit = getattr(window, "edit", None)
        if edit is not None:
            edit.editing.add_editable(correction.corrected, correction.table,
                                      f"Corrected ({item.id})", ai)
            ai.visible = False
        else:
            window.model.layers.add_labels(correction.corrected, correction.table,
                                           name=f"Corrected ({item.id})")
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
