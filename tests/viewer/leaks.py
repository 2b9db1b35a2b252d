"""What a GUI test may not leave behind: top-level widgets, running threads, unfinished jobs.

The idea of napari's ``make_napari_viewer`` / ``_dangling_qthreads`` checks: take a
:func:`snapshot` before the test, and after it (once pytest-qt has closed the widgets the test
registered) :func:`leaks` lists what is new and still alive. ``tests/conftest.py`` applies it to
every test that uses ``qtbot``/``qapp``; a test whose leak is a third-party library's marks itself
``@pytest.mark.allow_leaks("threads", reason=...)`` (kinds: ``widgets``, ``threads``, ``jobs``).
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass

KINDS = ("widgets", "threads", "jobs")
GRACE_S = 5.0   # threads told to stop (a runner shut down with wait=False) get this long


@dataclass(frozen=True)
class Snapshot:
    widgets: frozenset[int]
    threads: frozenset[int]
    qthreads: frozenset[int]


def _app():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance()


def _top_level_widgets() -> list:
    app = _app()
    return list(app.topLevelWidgets()) if app is not None else []


def _running_qthreads() -> list:
    """QThreads started from Python that are still running (napari's _dangling_qthreads)."""
    from PySide6.QtCore import QThread

    main = _app().thread() if _app() is not None else None
    found = []
    for obj in gc.get_objects():
        if issubclass(type(obj), QThread):   # type(): no __class__ lookups on lazy proxies
            try:
                if obj is not main and obj.isRunning():
                    found.append(obj)
            except RuntimeError:   # its C++ object is gone
                pass
    return found


def snapshot() -> Snapshot:
    return Snapshot(frozenset(id(w) for w in _top_level_widgets()),
                    frozenset(t.ident for t in threading.enumerate() if t.ident is not None),
                    frozenset(id(t) for t in _running_qthreads()))


def flush_deletes() -> None:
    """Deliver pending ``deleteLater`` calls (``processEvents`` alone does not)."""
    from PySide6.QtCore import QCoreApplication, QEvent

    if _app() is None:
        return
    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QCoreApplication.processEvents()
    gc.collect()


def _new_threads(before: Snapshot, grace_s: float) -> list[threading.Thread]:
    deadline = time.monotonic() + grace_s
    while True:
        new = [t for t in threading.enumerate() if t.is_alive() and t.ident not in before.threads]
        if not new or time.monotonic() > deadline:
            return new
        new[0].join(timeout=0.05)


def leaks(before: Snapshot, allow: tuple[str, ...] = (), grace_s: float = GRACE_S) -> list[str]:
    """Plain descriptions of what is new since ``before`` and still alive (empty: clean)."""
    from engine.jobs import JobRunner

    flush_deletes()
    problems = []
    if "widgets" not in allow:
        for w in _top_level_widgets():
            if id(w) not in before.widgets:
                problems.append(f"top-level widget left alive: {type(w).__name__} "
                                f"{w.objectName() or w.windowTitle()!r} (visible={w.isVisible()})")
    if "jobs" not in allow:
        deadline = time.monotonic() + grace_s   # cancelled work stops at its next report
        for job in JobRunner.unfinished():
            job.wait(max(deadline - time.monotonic(), 0.01))
        for job in JobRunner.unfinished():
            problems.append(f"unfinished job left running: {job!r}")
    if "threads" not in allow:
        for t in _new_threads(before, grace_s):
            problems.append(f"thread left running: {t.name}")
        for q in _running_qthreads():
            if id(q) not in before.qthreads:
                problems.append(f"QThread left running: {type(q).__name__}")
    return problems
