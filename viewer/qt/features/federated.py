"""AI › Federated…: this site's participation in a federated fine-tuning (issue 18).

The dialog shows what the site's own ``status.json`` says (the last round it evaluated, the gate's
verdict on the global model, the version it installed, if any) and offers joining a federation
as an explicit action: Join runs ``candor federated join`` as a job (status-bar progress with
Cancel, which makes the site leave the federation). Nothing here sends anything itself.
"""

from __future__ import annotations

import logging
from concurrent.futures import CancelledError

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit,
                               QPushButton, QVBoxLayout)

from engine.errors import Cancelled, CandorError
from viewer.qt.features._ai_progress import JobProgress
from viewer.qt.jobs_bridge import outcome, submit_watched

log = logging.getLogger(__name__)

ORDER = 76
NEEDS = ("model", "messages")


def install(services) -> None:
    # nothing other features use: it is not registered in ``services`` (find it as the window's
    # child, ``window.findChild(FederatedController)``)
    FederatedController(services)


def _run_join(address: str, model: str, certificate: str, *, progress=None, cancel=None):
    from pathlib import Path

    from engine.federated.join import join

    return join(address, model=model or None, root_certificate=Path(certificate) if certificate else None,
                progress=progress, cancel=cancel)


def describe(status: dict | None, running: bool) -> tuple[str, str, str]:
    """(participation, last round, gate verdict) as the dialog shows them."""
    state = "Taking part in a federation" if running else "Not taking part"
    if not status or not status.get("last"):
        return state, "No federated round yet", "—"
    last = status["last"]
    rnd = f"Round {last['round']} (model {status.get('model')} {status.get('base_version')})"
    gate = f"{last['gate'].capitalize()}: {last.get('reason', '')}"
    if last.get("installed"):
        gate += f" — installed as version {last['installed']}"
    return state, rnd, gate


class FederatedController(QObject):
    """Owns the AI › Federated… action, its dialog and the join job."""

    finished = Signal(object)  # the site's status after the federation, or None

    def __init__(self, services) -> None:
        window = services.window
        super().__init__(window)
        self.services, self.window = services, window
        self.action = QAction("Fe&derated…", window)
        self.action.triggered.connect(self.show_dialog)
        window.menu("&AI").addAction(self.action)
        self.progress = JobProgress(window)
        window.statusBar().addPermanentWidget(self.progress)
        self.watcher = None
        self.dialog: FederatedDialog | None = None
        window.about_to_close.connect(self.cancel)

    @property
    def running(self) -> bool:
        return self.watcher is not None and not self.watcher.job.state.finished

    def show_dialog(self) -> FederatedDialog:
        if self.dialog is None:
            self.dialog = FederatedDialog(self)
        self.dialog.refresh()
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def join(self, address: str, certificate: str = ""):
        if self.running:
            self.window.statusBar().showMessage("This site is already taking part in a federation", 5000)
            return None
        model = str(self.services.model_source).partition("@")[0]
        self.watcher = submit_watched(self.services.jobs, _run_join, address.strip(), model, certificate.strip(),
                                      parent=self, name="federated-join", on_finished=self._done)
        self.progress.watch(self.watcher, "Federated fine-tuning")
        if self.dialog is not None:
            self.dialog.refresh()
        return self.watcher

    def cancel(self) -> None:
        if self.running:
            self.watcher.job.cancel()

    def _done(self, job) -> None:
        value, error = outcome(job)    # a job cancelled before it started has no result
        status = None
        if isinstance(error, (Cancelled, CancelledError)):
            message = "Left the federation; the model is unchanged unless a round had already installed one"
        elif isinstance(error, CandorError):
            message = f"Federated fine-tuning failed: {error}"
        elif error is not None:
            message = f"Federated fine-tuning failed (internal error {type(error).__name__})"
        else:
            status = value
            message = "Federation ended. " + describe(status, False)[2]
            if status and status["last"].get("installed"):
                self.services.models.forget()  # the next AI run loads the new version
        self.window.statusBar().showMessage(message, 15000)
        self.services.messages.add(message, "info" if status else "warning")
        if self.dialog is not None:
            self.dialog.refresh()
        self.finished.emit(status)


class FederatedDialog(QDialog):
    """Participation state, last round, gate verdict; Join / Leave."""

    def __init__(self, controller: FederatedController) -> None:
        super().__init__(controller.window)
        self.controller = controller
        self.setWindowTitle("Federated fine-tuning")
        self.state, self.round, self.gate = QLabel(self), QLabel(self), QLabel(self)
        self.gate.setWordWrap(True)
        self.address = QLineEdit(self)
        self.address.setPlaceholderText("host:port of the federation's server")
        self.certificate = QLineEdit(self)
        self.certificate.setPlaceholderText("CA certificate (ca.crt) for TLS; empty: no TLS")
        form = QFormLayout()
        for label, widget in (("Participation", self.state), ("Last round", self.round), ("Gate", self.gate),
                              ("Server", self.address), ("Certificate", self.certificate)):
            form.addRow(label, widget)
        note = QLabel("Only model weights and case counts leave this computer. The site installs the "
                      "federated model only if its own regression set does not get worse.", self)
        note.setWordWrap(True)
        self.join_button = QPushButton("&Join", self)
        self.join_button.clicked.connect(self._join)
        self.leave_button = QPushButton("&Leave", self)
        self.leave_button.clicked.connect(controller.cancel)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.addButton(self.join_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.leave_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.address.textChanged.connect(self.refresh)

    def refresh(self) -> None:
        from engine.federated.join import read_status

        running = self.controller.running
        state, rnd, gate = describe(read_status(), running)
        self.state.setText(state)
        self.round.setText(rnd)
        self.gate.setText(gate)
        self.join_button.setEnabled(not running and bool(self.address.text().strip()))
        self.leave_button.setEnabled(running)

    def _join(self) -> None:
        self.controller.join(self.address.text(), self.certificate.text())
