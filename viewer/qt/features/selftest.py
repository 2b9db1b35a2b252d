"""Help › Run Self-Test…: the end-to-end check of ``engine.selftest``, as a job with progress."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QProgressDialog

from engine.jobs import JobState
from engine.selftest import run_selftest
from viewer.qt.jobs_bridge import submit_watched

ORDER = 95
NEEDS: tuple[str, ...] = ()


class SelfTestRunner:
    """Runs the self-test off the GUI thread and shows its one-line summary when it ends."""

    def __init__(self, window) -> None:
        self.window = window
        self.watcher = None
        self.dialog: QProgressDialog | None = None
        self.result = None
        self.message_box: QMessageBox | None = None

    def start(self) -> None:
        if self.watcher is not None and not self.watcher.job.state.finished:
            return
        self.dialog = QProgressDialog("Running the self-test…", "Cancel", 0, 100, self.window)
        self.dialog.setWindowTitle("Candor self-test")
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog.setMinimumDuration(0)
        self.watcher = submit_watched(self.window.jobs, run_selftest, name="self-test",
                                      parent=self.window, on_finished=self._on_finished)
        self.watcher.progress.connect(self._on_progress)
        self.dialog.canceled.connect(self.watcher.job.cancel)

    def _on_progress(self, event) -> None:
        if self.dialog is not None:
            self.dialog.setValue(int(event.fraction * 100))
            self.dialog.setLabelText(f"Self-test: {event.stage}…")

    def _on_finished(self, job) -> None:
        if self.dialog is not None:
            self.dialog.reset()
            self.dialog = None
        if job.state is JobState.CANCELLED:
            self.window.statusBar().showMessage("Self-test cancelled", 4000)
            return
        if job.state is JobState.FAILED:
            self._show(QMessageBox.Icon.Warning, f"The self-test could not run:\n{job.error}")
            return
        self.result = job.result()
        lines = "\n".join(f"{'✓' if s.ok else '✗'} {s.name}: {s.detail} ({s.seconds:.1f} s)"
                          for s in self.result.steps)
        self.window.statusBar().showMessage(self.result.summary(), 10000)
        icon = QMessageBox.Icon.Information if self.result.ok else QMessageBox.Icon.Warning
        self._show(icon, f"{'Passed' if self.result.ok else 'FAILED'}\n\n{lines}")

    def _show(self, icon, text: str) -> None:
        """A non-blocking message box (kept on ``message_box`` so tests can read it)."""
        self.message_box = QMessageBox(icon, "Candor self-test", text, parent=self.window)
        self.message_box.open()


def install(services) -> None:
    window = services.window
    runner = services.selftest = SelfTestRunner(window)
    runner.action = QAction("Run &Self-Test…", window)
    runner.action.triggered.connect(runner.start)
    window.help_menu.insertAction(window.action_about, runner.action)
