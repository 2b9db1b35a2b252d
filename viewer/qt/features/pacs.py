"""File › Open from PACS… and File › Send to PACS… (issue 17, viewer part).

Open from PACS… shows :class:`viewer.qt.pacs_browser.PacsBrowser`; a series it retrieved into the
PACS cache is opened with ``services.opener`` (the normal series browser and loader), so it
loads, warns and shows exactly like a folder. Send to PACS… shows :class:`SendDialog`: a server
and the DICOM SEG/SR files to send (by default the SEG the export dialog last wrote), sent as a
job with a progress bar, Cancel between files and a plain result naming each refused file.
Patient names and IDs appear only in the browser's tables, never in a log line or a message.
"""

from __future__ import annotations

import logging
from concurrent.futures import CancelledError
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QDialog, QFileDialog, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from engine.errors import Cancelled, CandorError
from viewer.qt.jobs_bridge import error_text, outcome, submit_watched
from viewer.qt.pacs_browser import PacsBrowser, ServerChooser, send_job

log = logging.getLogger(__name__)

ORDER = 62   # after export (60): its File-menu entries come first, ours just above Quit
NEEDS = ("opener", "messages")
SEND_FILTER = "DICOM files (*.dcm);;All files (*)"


def last_exported_seg(services) -> Path | None:
    """The DICOM SEG the export dialog last wrote, if it still exists (else None)."""
    export = services.export
    dialog = export.dialog if export is not None else None
    result = dialog.result if dialog is not None and hasattr(dialog, "result") else None
    if result is None or result.format != "seg" or not Path(result.path).is_file():
        return None
    return Path(result.path)


def describe_sent(results, where: str) -> str:
    """One plain paragraph: how many were stored, and each refused file with its reason."""
    sent = sum(r.ok for r in results)
    text = f"Sent {sent} of {len(results)} file{'s' if len(results) != 1 else ''} to {where}."
    refused = [r for r in results if not r.ok]
    if refused:
        text += " Not stored: " + "; ".join(f"{r.path.name} ({r.reason})" for r in refused) + "."
    return text


class SendDialog(QDialog):
    """Choose a server and files; send them on the job runner. ``sent(results)`` when done."""

    sent = Signal(list)
    failed = Signal(str)

    def __init__(self, runner, files: list[Path] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Send to PACS")
        self.setObjectName("pacs_send")
        self.resize(620, 380)
        self.runner = runner
        self.watcher = None
        self._where = ""   # the server of the send under way, for the result message
        self.chooser = ServerChooser(self)
        self.file_list = QListWidget(self)
        add = QPushButton("&Add files…", self)
        add.clicked.connect(self._browse)
        remove = QPushButton("&Remove", self)
        remove.clicked.connect(self._remove_selected)
        file_buttons = QHBoxLayout()
        file_buttons.addWidget(add)
        file_buttons.addWidget(remove)
        file_buttons.addStretch(1)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.status = QLabel("Choose the DICOM SEG or SR files to send.", self)
        self.status.setWordWrap(True)
        self.send_button = QPushButton("&Send", self)
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        self.cancel_button = QPushButton("Close", self)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.chooser)
        layout.addWidget(QLabel("Files to send:", self))
        layout.addWidget(self.file_list, 1)
        layout.addLayout(file_buttons)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.set_files(files or [])

    def files(self) -> list[Path]:
        return [Path(self.file_list.item(i).data(Qt.ItemDataRole.UserRole))
                for i in range(self.file_list.count())]

    def set_files(self, files) -> None:
        self.file_list.clear()
        for path in files:
            self.add_file(Path(path))

    def add_file(self, path: Path) -> None:
        if path in self.files():
            return
        item = QListWidgetItem(str(path))
        item.setData(Qt.ItemDataRole.UserRole, str(path))
        self.file_list.addItem(item)

    def _browse(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Files to send to the PACS", "", SEND_FILTER)
        for path in paths:
            self.add_file(Path(path))

    def _remove_selected(self) -> None:
        for item in self.file_list.selectedItems():
            self.file_list.takeItem(self.file_list.row(item))

    @property
    def busy(self) -> bool:
        return self.watcher is not None and not self.watcher.job.state.finished

    def send(self) -> None:
        if self.busy:
            return
        files = self.files()
        if not files:
            self._fail("choose at least one file to send (Add files…)")
            return
        try:
            profile = self.chooser.profile()
        except CandorError as exc:
            self._fail(str(exc))
            return
        self._where = profile.describe()
        self.progress.setValue(0)
        self.status.setText(f"Sending to {self._where}…")
        self.watcher = submit_watched(self.runner, send_job, profile, self.chooser.typed_secret(), files,
                                      parent=self, on_finished=self._done, name="pacs-send")
        self.watcher.progress.connect(self._on_progress)
        self._sync()

    def _on_progress(self, event) -> None:
        self.progress.setValue(int(event.fraction * 1000))
        if event.stage:
            self.status.setText(f"Sending {event.stage}…")

    def _done(self, job) -> None:
        self.watcher = None
        self._sync()
        value, error = outcome(job)
        if isinstance(error, (Cancelled, CancelledError)):
            self.progress.setValue(0)
            self._fail("cancelled; the files sent before Cancel stay on the server")
            return
        if error is not None:
            self.progress.setValue(0)
            self._fail(error_text(error))
            return
        self.progress.setValue(1000)
        self.status.setText(describe_sent(value, self._where))
        self.sent.emit(list(value))

    def _fail(self, message: str) -> None:
        self.status.setText(f"Not sent: {message}")
        self.failed.emit(message)

    def _sync(self) -> None:
        self.send_button.setEnabled(not self.busy)
        self.cancel_button.setText("Cancel" if self.busy else "Close")

    def cancel(self) -> None:
        if self.busy:
            self.watcher.job.cancel()
            self.status.setText("Cancelling…")
        else:
            self.reject()

    def reject(self) -> None:
        if self.busy:
            self.watcher.job.cancel()
        super().reject()


class PacsFeature(QObject):
    """The two File-menu actions and their dialogs (kept, so a reopened browser keeps its search)."""

    def __init__(self, services) -> None:
        window = services.window
        super().__init__(window)
        self.services, self.window = services, window
        self.browser: PacsBrowser | None = None
        self.send_dialog: SendDialog | None = None
        self.action_open = QAction("Open from &PACS…", window)
        self.action_open.triggered.connect(self.open_browser)
        self.action_send = QAction("Send to PA&CS…", window)
        self.action_send.triggered.connect(self.open_send)
        menu = window.file_menu
        for action in (self.action_open, self.action_send):   # Quit stays last
            menu.insertAction(window.action_quit, action)
        menu.insertSeparator(window.action_quit)
        window.about_to_close.connect(self.cancel)

    def open_browser(self) -> PacsBrowser:
        if self.browser is None:
            self.browser = PacsBrowser(self.services.jobs, self.window)
            self.browser.retrieved.connect(self._open_retrieved)
        self.browser.show()
        self.browser.raise_()
        return self.browser

    def _open_retrieved(self, folder: str) -> None:
        """A complete cache folder: hand it to the normal study opener, like a chosen folder."""
        if self.browser is not None:
            self.browser.accept()
        self.services.status("Opening the retrieved series…", 0)
        self.services.opener.open(folder)

    def open_send(self, files: list[Path] | None = None) -> SendDialog:
        if not files:
            last = last_exported_seg(self.services)
            files = [last] if last is not None else []
        if self.send_dialog is None:
            self.send_dialog = SendDialog(self.services.jobs, files, self.window)
            self.send_dialog.sent.connect(self._sent)
        elif files:
            self.send_dialog.set_files(files)
        self.send_dialog.show()
        self.send_dialog.raise_()
        return self.send_dialog

    def _sent(self, results) -> None:
        failed = sum(not r.ok for r in results)
        message = (f"Sent {len(results)} file{'s' if len(results) != 1 else ''} to the PACS" if not failed
                   else f"{failed} of {len(results)} files were not stored by the PACS (see Send to PACS)")
        self.services.status(message, 10000)
        if failed:
            self.services.messages.add(message, "warning")

    def cancel(self) -> None:
        for dialog in (self.browser, self.send_dialog):
            if dialog is not None and dialog.busy:
                dialog.watcher.job.cancel()


def install(services) -> None:
    # nothing other features use: it is not registered in ``services`` (find it as the window's
    # child, ``window.findChild(PacsFeature)``)
    PacsFeature(services)
