"""Opening a study: path → series browser (scan + load on workers) → the model, with messages."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from viewer.qt.messages import MessagesPanel
from viewer.qt.series_browser import SeriesBrowser
from viewer.state.viewer_model import ViewerModel

log = logging.getLogger(__name__)


class StudyOpener(QObject):
    """Handles ``window.open_requested``; ``opened(volume)`` fires once the model shows it."""

    opened = Signal(object)

    def __init__(self, window, model: ViewerModel, messages: MessagesPanel) -> None:
        super().__init__(window)
        self.window, self.model, self.messages = window, model, messages
        self.browser: SeriesBrowser | None = None

    def open(self, path: str) -> SeriesBrowser:
        if self.browser is not None:
            self.browser.reject()
        browser = SeriesBrowser(path, self.window.jobs, self.window)
        browser.loaded.connect(self._show)
        browser.failed.connect(self._failed)
        browser.finished.connect(lambda _r: self.window.statusBar().clearMessage())
        self.browser = browser
        browser.open()
        browser.start()
        return browser

    def _show(self, volume, notes: list[str]) -> None:
        self.model.open_volume(volume)
        name = volume.metadata.get("series_description") or Path(self.browser.path).name
        self.window.setWindowTitle(f"Candor — {volume.modality} {name}")
        for note in notes:
            self.messages.add(note, "warning")
        self.window.statusBar().showMessage(
            f"Opened {volume.modality} {'×'.join(map(str, volume.size))}", 5000)
        self.opened.emit(volume)

    def _failed(self, message: str) -> None:
        self.messages.add(message, "error")
