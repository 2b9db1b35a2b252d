"""The job API: how the viewer (or any caller) runs long engine work without blocking.

Long engine functions take two keyword arguments and nothing GUI-specific::

    def segment(volume, model, *, progress=None, cancel=None): ...

``progress(fraction, stage)`` reports 0..1 progress, ``cancel.raise_if_cancelled()`` (also called by
every progress report) stops the work with :class:`engine.errors.Cancelled`. :class:`JobRunner`
runs such functions on worker threads and turns their reports into :class:`ProgressEvent` objects
delivered to listeners; the Qt layer relays them to the GUI thread (``viewer/qt/jobs_bridge.py``).
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from engine.errors import Cancelled, CandorError

log = logging.getLogger(__name__)


class ProgressCallback(Protocol):
    def __call__(self, fraction: float, stage: str = "") -> None: ...


class CancelToken:
    """Thread-safe flag the caller sets and the work polls."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def report(progress: ProgressCallback | None, cancel: CancelToken | None,
           fraction: float, stage: str = "") -> None:
    """Helper for engine code: check for cancellation, then report progress if anyone listens."""
    if cancel is not None:
        cancel.raise_if_cancelled()
    if progress is not None:
        progress(fraction, stage)


def sub_progress(progress: ProgressCallback | None, start: float, stop: float,
                 stage: str | None = None) -> ProgressCallback | None:
    """Map a sub-task's 0..1 progress onto ``[start, stop]`` of the parent's range; ``stage``,
    when given, names the sub-task's reports (e.g. "segmenting" for a sliding window's)."""
    if progress is None:
        return None

    def _sub(fraction: float, sub_stage: str = "") -> None:
        progress(start + (stop - start) * min(max(fraction, 0.0), 1.0),
                 sub_stage if stage is None else stage)

    return _sub


class JobState(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class ProgressEvent:
    job_id: int
    fraction: float
    stage: str
    eta_s: float | None
    elapsed_s: float


class Job:
    """Handle on submitted work: progress listeners, cancel, result or a clear error."""

    def __init__(self, job_id: int, name: str) -> None:
        self.id = job_id
        self.name = name
        self.token = CancelToken()
        self._state = JobState.PENDING
        self._lock = threading.Lock()
        self._progress_listeners: list[Callable[[ProgressEvent], None]] = []
        self._done_listeners: list[Callable[[Job], None]] = []
        self._future: Future | None = None
        self._start: float | None = None
        self.last_progress: ProgressEvent | None = None
        self._eta_ref: tuple[float, float] | None = None   # (time, fraction) the ETA counts from

    # Listeners ------------------------------------------------------------------------------
    def on_progress(self, fn: Callable[[ProgressEvent], None]) -> None:
        """Call ``fn(event)`` on the worker thread for each progress report."""
        self._progress_listeners.append(fn)

    def on_done(self, fn: Callable[[Job], None]) -> None:
        """Call ``fn(job)`` once the job has finished (immediately if it already has)."""
        with self._lock:
            if not self._state.finished:
                self._done_listeners.append(fn)
                return
        fn(self)

    # Control --------------------------------------------------------------------------------
    @property
    def state(self) -> JobState:
        return self._state

    def cancel(self) -> None:
        """Ask the work to stop; it raises :class:`Cancelled` at its next progress report."""
        self.token.cancel()
        if self._future is not None:
            self._future.cancel()  # succeeds only if the work never started

    def result(self, timeout: float | None = None) -> Any:
        """The work's return value; re-raises its error (``Cancelled`` if it was cancelled)."""
        assert self._future is not None
        return self._future.result(timeout)

    @property
    def error(self) -> BaseException | None:
        if self._future is None or not self._future.done() or self._future.cancelled():
            return None
        return self._future.exception()

    def wait(self, timeout: float | None = None) -> bool:
        assert self._future is not None
        with contextlib.suppress(CancelledError, TimeoutError):  # cancelled futures raise here
            self._future.exception(timeout)
        return self._state.finished

    # Internals ------------------------------------------------------------------------------
    #: The remaining time is measured from this fraction on: what comes before it (loading a
    #: model, warming up) does not predict the throughput of the rest.
    ETA_FROM = 0.05

    def _eta(self, now: float, elapsed: float, fraction: float) -> float | None:
        """Seconds left at the throughput measured since the job passed :attr:`ETA_FROM` (before
        that, from the start: None under 2 %; just after it, None until 2 % more are done)."""
        if self._eta_ref is None and fraction >= self.ETA_FROM:
            self._eta_ref = (now, fraction)
        if self._eta_ref is None:
            return elapsed * (1.0 - fraction) / fraction if fraction > 0.02 else None
        t_ref, f_ref = self._eta_ref
        if fraction - f_ref >= 0.02 and now > t_ref:
            return (now - t_ref) * (1.0 - fraction) / (fraction - f_ref)
        last = self.last_progress          # too little measured since: the last estimate, aged
        if last is None or last.eta_s is None or self._eta_ref[0] == now:
            return None
        return max(last.eta_s - (elapsed - last.elapsed_s), 0.0)

    def _report(self, fraction: float, stage: str = "") -> None:
        self.token.raise_if_cancelled()
        now = time.perf_counter()
        elapsed = now - (self._start or now)
        fraction = min(max(float(fraction), 0.0), 1.0)
        eta = self._eta(now, elapsed, fraction)
        event = ProgressEvent(self.id, fraction, stage, eta, elapsed)
        self.last_progress = event
        for fn in list(self._progress_listeners):
            fn(event)

    def _finish(self, state: JobState) -> None:
        with self._lock:
            if self._state.finished:
                return
            self._state = state
            listeners, self._done_listeners = self._done_listeners, []
            self._progress_listeners = []   # no more reports: let their owners go
        for fn in listeners:
            try:
                fn(self)
            except Exception:  # a listener's bug must not hide the job's outcome
                log.exception("job %s: done-listener failed", self.name)

    def __repr__(self) -> str:
        return f"Job(id={self.id}, name={self.name!r}, state={self._state.value})"


def _final_state(job: Job, future: Future) -> JobState:
    if future.cancelled():
        return JobState.CANCELLED
    error = future.exception()
    if error is None:
        return JobState.DONE
    if isinstance(error, Cancelled):
        return JobState.CANCELLED
    if not isinstance(error, CandorError):
        log.error("job %s failed with an unexpected error", job.name, exc_info=error)
    return JobState.FAILED


class JobRunner:
    """Runs engine work on worker threads (torch, NumPy and SimpleITK release the GIL).

    The runner holds a job only while it runs: once its done-listeners have been called it is
    dropped, so a result lives exactly as long as whoever keeps the :class:`Job`.
    """

    _ids = itertools.count(1)
    _runners: ClassVar[weakref.WeakSet[JobRunner]] = weakref.WeakSet()   # for leak checks in tests

    def __init__(self, max_workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="candor-job")
        self._jobs: dict[int, Job] = {}   # unfinished jobs only
        self._jobs_lock = threading.Lock()
        JobRunner._runners.add(self)

    def submit(self, fn: Callable[..., Any], *args: Any, name: str | None = None,
               on_progress: Callable[[ProgressEvent], None] | None = None,
               on_done: Callable[[Job], None] | None = None, **kwargs: Any) -> Job:
        """Run ``fn(*args, progress=..., cancel=..., **kwargs)`` on a worker; return its :class:`Job`.

        Listeners given here are attached before the work starts, so they miss no event.
        """
        job = Job(next(self._ids), name or getattr(fn, "__name__", "job"))
        if on_progress is not None:
            job.on_progress(on_progress)
        if on_done is not None:
            job.on_done(on_done)
        with self._jobs_lock:
            self._jobs[job.id] = job

        def _run() -> Any:
            job._state = JobState.RUNNING
            job._start = time.perf_counter()
            job.token.raise_if_cancelled()
            return fn(*args, progress=job._report, cancel=job.token, **kwargs)

        job._future = self._pool.submit(_run)
        # Done-listeners run once the future holds the result or the error, so they can read it.
        job._future.add_done_callback(lambda f: self._settle(job, f))
        return job

    def _settle(self, job: Job, future: Future) -> None:
        try:
            job._finish(_final_state(job, future))
        finally:
            with self._jobs_lock:
                self._jobs.pop(job.id, None)

    @property
    def active(self) -> list[Job]:
        """Jobs submitted and not yet finished (finished ones are not kept)."""
        with self._jobs_lock:
            jobs = list(self._jobs.values())
        return [j for j in jobs if not j.state.finished]

    @classmethod
    def unfinished(cls) -> list[Job]:
        """Unfinished jobs of every runner still alive (what a test must not leave behind)."""
        return [job for runner in list(cls._runners) for job in runner.active]

    def shutdown(self, cancel: bool = True, wait: bool = True) -> None:
        """Cancel running work (if asked) and join the worker threads."""
        if cancel:
            for job in self.active:
                job.cancel()
        self._pool.shutdown(wait=wait, cancel_futures=cancel)
