"""AI › Fine-tune on Queued Corrections (a job with progress and Cancel) and AI › Model Version
(switch the active version, e.g. back to the one before a fine-tune)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QActionGroup

from engine.errors import Cancelled, CandorError
from viewer.qt.features._ai_progress import JobProgress
from viewer.qt.jobs_bridge import submit_watched

log = logging.getLogger(__name__)

ORDER = 75


NEEDS = ("model", "messages")


def install(services) -> None:
    services.finetune = FinetuneController(services)


def _run_finetune(model: str, *, progress=None, cancel=None) -> dict:
    from engine.corrections.finetune import finetune

    return finetune(model, device="auto", progress=progress, cancel=cancel)


class FinetuneController(QObject):
    """Owns the fine-tune action, its job, and the Model Version menu."""

    finished = Signal(object)  # the report dict, or None when it failed or was cancelled

    def __init__(self, services) -> None:
        window = services.window
        super().__init__(window)
        self.services, self.window = services, window
        menu = window.menu("&AI")
        menu.addSeparator()
        self.action = QAction("&Fine-tune on Queued Corrections…", window)
        self.action.triggered.connect(lambda: self.start())
        menu.addAction(self.action)
        self.versions_menu = menu.addMenu("Model &Version")
        self.versions_menu.aboutToShow.connect(self.fill_versions)
        self.progress = JobProgress(window)
        window.statusBar().addPermanentWidget(self.progress)
        self.watcher = None
        self.last_report: dict | None = None
        window.about_to_close.connect(self.cancel)

    def model_name(self) -> str:
        return str(self.services.model_source).partition("@")[0]

    # Fine-tuning ----------------------------------------------------------------------------
    def start(self):
        if self.watcher is not None and not self.watcher.job.state.finished:
            self.window.statusBar().showMessage("A fine-tune is already running", 5000)
            return None
        self.watcher = submit_watched(self.services.jobs, _run_finetune, self.model_name(),
                                      parent=self, name="finetune", on_finished=self._done)
        self.progress.watch(self.watcher, "Fine-tuning")
        return self.watcher

    def cancel(self) -> None:
        if self.watcher is not None and not self.watcher.job.state.finished:
            self.watcher.job.cancel()

    def _done(self, job) -> None:
        error = job.error
        if isinstance(error, Cancelled):
            message, report = "Fine-tuning cancelled; the model is unchanged", None
        elif isinstance(error, CandorError):
            message, report = f"Fine-tuning failed: {error}", None
        elif error is not None:
            message, report = f"Fine-tuning failed (internal error {type(error).__name__})", None
        else:
            report = job.result()
            message = report["reason"].capitalize()
            if report["accepted"]:
                message += f". Now using {report['model']}@{report['new_version']}"
                self._forget_loaded_models()
        self.last_report = report
        self.window.statusBar().showMessage(message, 15000)
        self.services.messages.add(message, "info" if report and report["accepted"] else "warning")
        self.finished.emit(report)

    # Versions -------------------------------------------------------------------------------
    def fill_versions(self) -> None:
        from engine.models import find_model, list_models

        menu = self.versions_menu
        menu.clear()
        name = self.model_name()
        versions = [m for m in list_models() if m.name == name]
        if not versions:
            menu.addAction(f"No {name} model installed").setEnabled(False)
            return
        active = find_model(name).version
        group = QActionGroup(menu)
        for info in versions:
            lineage = f" (fine-tuned from {info.parent_version})" if info.parent_version else ""
            action = menu.addAction(f"{info.name} {info.version}{lineage}")
            action.setCheckable(True)
            action.setChecked(info.version == active)
            action.triggered.connect(lambda _=False, v=info.version: self.use(v))
            group.addAction(action)

    def use(self, version: str) -> None:
        name = self.model_name()
        try:
            self.services.models.set_active(name, version)   # also forgets the loaded ``name``
        except CandorError as exc:
            self.window.statusBar().showMessage(str(exc), 8000)
            return
        self._forget_loaded_models()
        self.window.statusBar().showMessage(f"Using {name}@{version}", 8000)

    def _forget_loaded_models(self) -> None:
        """The next AI run must load the version now active, not the one held in memory."""
        self.services.models.forget()
