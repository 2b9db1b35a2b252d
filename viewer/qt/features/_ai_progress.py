"""The AI job's progress in the status bar: stage, a progress bar with ETA, and Cancel."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

#: engine stage names that say little to a reader, in the words the status bar shows instead
STAGE_TEXT = {"checking the input": "Checking the scan before inference"}


class JobProgress(QWidget):
    """Hidden when idle; ``watch(watcher)`` binds it to one running job."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ai_progress")
        self.stage = QLabel(self)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 100)
        self.bar.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(self.stage)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)
        self.watcher = None
        self.activity: str | None = None
        self.hide()

    def watch(self, watcher, title: str, activity: str | None = None) -> None:
        """Show ``title``; with ``activity`` progress reads "<activity> — ETA" instead of the engine's
        stage name (the Explain job's engine stage is "inference", which says nothing to the user)."""
        self.watcher = watcher
        self.activity = activity
        self.stage.setText(title)
        self.bar.setValue(0)
        self.cancel_button.setEnabled(True)
        watcher.progress.connect(self._on_progress)
        watcher.finished.connect(self.finish)
        self.show()
        if watcher.job.last_progress is not None:   # reported before the connect (a quick check)
            self._on_progress(watcher.job.last_progress)
        if watcher.job.state.finished:   # it finished before the connect: its signal went by
            self.finish(watcher.job)

    def _on_progress(self, event) -> None:
        self.bar.setValue(int(round(event.fraction * 100)))
        eta = f" — about {event.eta_s:.0f} s left" if event.eta_s is not None and event.eta_s >= 1 else ""
        what = STAGE_TEXT.get(event.stage) or (event.stage.capitalize() if event.stage else "Working")
        if self.activity:    # "Explaining Lesion (Grad-CAM)" says more than the engine's "inference"
            what = f"{self.activity}: {what.lower()}" if event.stage in STAGE_TEXT else self.activity
        self.stage.setText(f"{what}{eta}")

    def finish(self, job) -> None:
        """Hide: ``job`` is over (its owner may call this before the watcher's own signal)."""
        if self.watcher is None or self.watcher.job is not job:
            return                       # a late signal of a job no longer watched
        self.watcher = None
        self.hide()

    def cancel(self) -> None:
        if self.watcher is not None and self.watcher.job is not None:
            self.cancel_button.setEnabled(False)
            self.stage.setText("Cancelling…")
            self.watcher.job.cancel()

    @property
    def running(self) -> bool:
        return self.watcher is not None
