"""Relay engine job events (from worker threads) to the Qt GUI thread as signals."""

from __future__ import annotations

from concurrent.futures import CancelledError

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal

from engine.jobs import Job, ProgressEvent


def submit_watched(runner, fn, *args, parent: QObject | None = None, on_finished=None,
                   **kwargs) -> JobWatcher:
    """Submit ``fn`` to ``runner`` with a :class:`JobWatcher` attached before the work starts.

    Connect to ``finished`` through ``on_finished`` (a slot called in the GUI thread, always from
    the event loop, never before this function has returned): a slot connected after this
    returns can miss a job that finishes quickly. Once ``finished`` has
    been delivered the watcher deletes itself (``deleteLater``), so neither it nor its parent keeps
    the job's result; keep the :class:`Job` (``watcher.job``) if you need it later.
    """
    watcher = JobWatcher(parent)
    # Queued, always: a job that is over before the runner attaches its done-callback has that
    # callback run at once, in this (GUI) thread, so a direct connection would call the slot
    # inside this function, before the caller has stored the watcher it compares the job with.
    queued = Qt.ConnectionType.QueuedConnection
    if on_finished is not None:
        watcher.finished.connect(on_finished, queued)
    watcher.finished.connect(watcher._release, queued)
    watcher.job = runner.submit(fn, *args, on_progress=watcher._relay_progress,
                                on_done=watcher._relay_done, **kwargs)
    return watcher


class JobWatcher(QObject):
    """Emits ``progress(ProgressEvent)`` and ``finished(Job)`` in the GUI thread for one job.

    Signals emitted from the worker thread reach slots of objects living in the GUI thread through
    Qt's queued connections, so slots can touch widgets safely.
    """

    progress = Signal(object)
    finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job: Job | None = None

    def _relay_progress(self, event: ProgressEvent) -> None:
        if shiboken6.isValid(self):
            self.progress.emit(event)

    def _relay_done(self, job: Job) -> None:
        if shiboken6.isValid(self):   # its parent (a closed window) may have deleted it
            self.finished.emit(job)

    def _release(self, _job: Job) -> None:
        """Runs in the GUI thread after the slots connected before it: every queued slot of
        this emission was posted before the deferred delete, so all still see the watcher."""
        self.deleteLater()


def error_text(error: BaseException) -> str:
    """A job's error as one plain sentence: a Candor error's own message, else its type only (the
    traceback goes to the log, never to the reader)."""
    from engine.errors import CandorError

    if isinstance(error, CandorError):
        return str(error)
    return f"unexpected error ({type(error).__name__}); see the log"


def outcome(job: Job, timeout: float = 10.0) -> tuple[object, BaseException | None]:
    """``(value, None)`` or ``(None, error)`` of a finished job (its future has settled by the
    time ``finished`` is emitted, so this does not block)."""
    job.wait(timeout)
    error = job.error
    if error is not None:
        return None, error
    try:
        return job.result(timeout), None
    except (CancelledError, TimeoutError) as exc:  # cancelled before it started
        return None, exc
