"""Engine jobs report to the GUI thread, and the event loop keeps running during long work."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QApplication

from engine.jobs import JobRunner, JobState, report
from viewer.qt.jobs_bridge import submit_watched


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
