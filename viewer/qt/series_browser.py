"""Series browser: lists a folder's studies and series (no patient data) and loads the chosen one.

Scanning and loading run as engine jobs on worker threads; the dialog shows their progress and
a Cancel button, and never blocks the event loop (it is opened with ``open()``, not ``exec()``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QHBoxLayout, QHeaderView, QLabel,
                               QProgressBar, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from engine.errors import Cancelled, CandorError
from viewer.qt.jobs_bridge import outcome, submit_watched

log = logging.getLogger(__name__)

COLUMNS = ("Study", "Modality", "Description", "Size", "Files", "Warnings")
#: Files opened directly (no folder scan).
DIRECT_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")


def field(obj, name: str, default=None):
    """Attribute or dict key (the scan returns dataclasses; early versions returned dicts)."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def is_direct_file(path: str | Path) -> bool:
    name = Path(path).name.lower()
    return Path(path).is_file() and name.endswith(DIRECT_SUFFIXES)


def size_text(size) -> str:
    return "×".join(str(int(n)) for n in size) if size else ""


class SeriesBrowser(QDialog):
    """Scan ``path`` (unless it is an image file), let the user pick a series, load it.

    ``loaded(volume, notes)`` fires with the Volume and the plain-language notes (skipped files,
    warnings) to show; ``failed(message)`` with a user-readable message.
    """

    loaded = Signal(object, list)
    failed = Signal(str)

    def __init__(self, path: str, runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open study")
        self.setObjectName("series_browser")
        self.resize(760, 380)
        self.path, self.runner = str(path), runner
        self.scan_result = None
        self.series: list = []
        self.watcher = None
        self.volume = None
        self._build()

    def _build(self) -> None:
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        for col in range(len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch if col in (2, 5)
                                        else QHeaderView.ResizeMode.ResizeToContents)
        self.table.doubleClicked.connect(lambda _i: self.load_selected())
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.open_button = QPushButton("Open", self)
        self.open_button.setDefault(True)
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.load_selected)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        where = QLabel(f"<b>{Path(self.path).name}</b> — choose a series to open", self)
        lay.addWidget(where)
        lay.addWidget(self.table)
        lay.addWidget(self.status)
        lay.addLayout(buttons)

    # Running --------------------------------------------------------------------------------
    def start(self) -> None:
        """Begin: load an image file directly, else scan the folder."""
        if is_direct_file(self.path):
            self.table.setVisible(False)
            self.resize(480, 120)
            self._load(None)
        else:
            from engine.io import scan

            self.status.setText(f"Scanning {Path(self.path).name}…")
            self._run(scan, self.path, done=self._scanned)

    def _run(self, fn, *args, done, **kwargs) -> None:
        self.progress.setValue(0)
        self.watcher = submit_watched(self.runner, fn, *args, parent=self, name=fn.__name__,
                                      on_finished=done, **kwargs)  # connected before it can finish
        self.watcher.progress.connect(self._on_progress)

    def _on_progress(self, event) -> None:
        self.progress.setValue(int(event.fraction * 1000))
        if event.stage:
            eta = f" (about {event.eta_s:.0f} s left)" if event.eta_s and event.eta_s > 2 else ""
            self.status.setText(f"{event.stage}{eta}")

    @property
    def busy(self) -> bool:
        return self.watcher is not None and not self.watcher.job.state.finished

    def _outcome(self, job):
        """The job's value, or None after reporting its error."""
        self.watcher = None
        value, error = outcome(job)
        self.progress.setValue(1000 if error is None else 0)
        if error is None:
            return value
        if isinstance(error, Cancelled):
            self.status.setText("Cancelled.")
        elif isinstance(error, CandorError):
            self.status.setText(str(error))
            self.failed.emit(str(error))
        else:
            message = f"Candor could not read this ({type(error).__name__}); details are in the log."
            self.status.setText(message)
            self.failed.emit(message)
        return None

    def _scanned(self, job) -> None:
        result = self._outcome(job)
        if result is None:
            return
        self.scan_result = result
        self.series = list(field(result, "series", []) or [])
        skipped = field(result, "skipped", []) or []
        self._fill_table()
        note = f"{len(self.series)} series found"
        if skipped:
            note += f"; {len(skipped)} file(s) skipped (see Messages after opening)"
        self.status.setText(note + ("." if self.series else ". Nothing here can be opened."))
        if len(self.series) == 1:
            self.load_selected()

    def _fill_table(self) -> None:
        studies: dict[str, int] = {}
        self.table.setRowCount(len(self.series))
        for row, s in enumerate(self.series):
            study_no = studies.setdefault(str(field(s, "study_uid", "")), len(studies) + 1)
            warnings = field(s, "warnings", []) or []
            values = (f"Study {study_no}", field(s, "modality", ""), field(s, "description", ""),
                      size_text(field(s, "size")), str(field(s, "n_files", len(field(s, "files", []) or []))),
                      "; ".join(warnings))
            for col, text in enumerate(values):
                item = QTableWidgetItem(str(text))
                if col == 5 and warnings:
                    item.setToolTip("\n".join(warnings))
                self.table.setItem(row, col, item)
        if self.series:
            self.table.selectRow(self._default_row())
            self.open_button.setEnabled(True)

    def _default_row(self) -> int:
        largest = self.scan_result.largest() if hasattr(self.scan_result, "largest") else None
        return self.series.index(largest) if largest in self.series else 0

    def selected_series_uid(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return str(field(self.series[rows[0].row()], "series_uid")) if rows else None

    def load_selected(self) -> None:
        if not self.busy and self.series:
            self._load(self.selected_series_uid())

    def _load(self, series_uid: str | None) -> None:
        from engine.io import load, load_series

        self.open_button.setEnabled(False)
        self.status.setText("Loading…")
        # Load the stack the scan already found (no second scan of the folder); a plain file or a
        # scan that found nothing goes through load(), which reads it directly.
        info = None
        if self.scan_result is not None and hasattr(self.scan_result, "find"):
            info = self.scan_result.find(series_uid) if series_uid else self.scan_result.largest()
        if info is not None:
            self._run(load_series, info, done=self._loaded)
        else:
            self._run(load, self.path, series_uid, done=self._loaded)

    def _loaded(self, job) -> None:
        volume = self._outcome(job)
        self.open_button.setEnabled(bool(self.series))
        if volume is None:
            return
        self.volume = volume
        self.loaded.emit(volume, self.notes())
        self.accept()

    def notes(self) -> list[str]:
        """Plain sentences for the messages panel: the volume's warnings and skipped files."""
        notes = list(self.volume.warnings) if self.volume is not None else []
        for item in (field(self.scan_result, "skipped", []) or []) if self.scan_result else []:
            notes.append(f"Skipped {Path(str(field(item, 'path', ''))).name}: {field(item, 'reason', '')}")
        return notes

    def cancel(self) -> None:
        """Cancel the running job; with nothing running, close the dialog."""
        if self.busy:
            self.watcher.job.cancel()
            self.status.setText("Cancelling…")
        else:
            self.reject()

    def reject(self) -> None:  # Esc / window close also cancel the work
        if self.busy:
            self.watcher.job.cancel()
        super().reject()
