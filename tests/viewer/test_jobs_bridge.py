"""Engine jobs report to the GUI thread, and the event loop keeps running during long work."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import numpy as np
import shiboken6
from PySide6.QtCore import QObject, QThread, QTimer
from PySide6.QtWidgets import QApplication

from engine.jobs import JobRunner, JobState, report
from viewer.qt.jobs_bridge import JobWatcher, submit_watched


def _slow(n, *, progress=None, cancel=None):
    for i in range(n):
        time.sleep(0.02)
        report(progress, cancel, (i + 1) / n, "working")
    return threading.current_thread().name


def test_progress_reaches_gui_thread_and_loop_stays_responsive(qtbot):
    runner = JobRunner()
    gui_thread = QApplication.instance().thread()
    seen_threads, fractions, ticks = [], [], []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    try:
        watcher = submit_watched(runner, _slow, 25)
        watcher.progress.connect(lambda e: (fractions.append(e.fraction),
                                            seen_threads.append(QThread.currentThread())))
        with qtbot.waitSignal(watcher.finished, timeout=10000):
            pass
        timer.stop()
        assert watcher.job.state is JobState.DONE
        assert watcher.job.result().startswith("candor-job"), "work ran on the GUI thread"
        qtbot.waitUntil(lambda: len(fractions) == 25, timeout=2000)
        assert all(t is gui_thread for t in seen_threads)
        # ~0.5 s of work: a 10 ms timer on a free event loop fires many times meanwhile.
        assert len(ticks) >= 10
    finally:
        runner.shutdown()


def _block(mb, *, progress=None, cancel=None):
    report(progress, cancel, 0.5, "allocating")
    return np.ones(mb * 2**20, np.uint8)


def test_watchers_are_deleted_and_results_freed_once_delivered(qtbot):
    """Defect "Results never freed" (issue 14): five 16 MB results stayed alive as long as the
    watchers' parent (the window) because no watcher was ever deleted."""
    runner = JobRunner()
    parent = QObject()
    seen, refs = [], []
    try:
        def consume(job):
            seen.append(job.result().size)
            refs.append(weakref.ref(job.result()))

        watchers = [submit_watched(runner, _block, 16, parent=parent, on_finished=consume)
                    for _ in range(5)]
        qtbot.waitUntil(lambda: len(seen) == 5, timeout=20000)
        qtbot.waitUntil(lambda: not parent.findChildren(JobWatcher), timeout=5000)
        assert not any(shiboken6.isValid(w) for w in watchers)
        del watchers, consume
        gc.collect()
        assert seen == [16 * 2**20] * 5
        assert [r() is None for r in refs] == [True] * 5
    finally:
        runner.shutdown()


class _InlineExecutor:
    """Runs the work inside ``submit``, so the job is over before the runner attaches its
    done-callback: the race a very fast job (or an empty 3D scene) hits on a real pool."""

    def submit(self, fn):
        from concurrent.futures import Future

        future = Future()
        future.set_result(fn())
        return future

    def shutdown(self, wait=True, cancel_futures=False):
        pass


def test_a_job_over_before_submit_returns_is_delivered_after_it_returns(qtbot):
    """The 3D label-surface flake: the runner ran the done-callback of an already finished job
    in the GUI thread, inside ``submit_watched``, so the slot saw a job the caller had not yet
    stored and dropped the result as superseded."""
    runner = JobRunner()
    runner._pool = _InlineExecutor()
    calls, stored = [], {}

    def on_finished(job):
        calls.append((job, stored.get("watcher")))

    watcher = submit_watched(runner, lambda *, progress=None, cancel=None: 42, on_finished=on_finished)
    assert watcher.job.state is JobState.DONE        # finished inside submit
    assert calls == []                               # but not delivered yet
    stored["watcher"] = watcher
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=2000)
    job, seen = calls[0]
    assert job is watcher.job and seen is watcher and job.result() == 42
