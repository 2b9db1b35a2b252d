"""The GUI tests' leak check (``tests/viewer/leaks.py``, applied by ``tests/conftest.py``) catches
each kind of planted leak and is quiet once they are cleaned up."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication, QWidget

from engine.jobs import JobRunner, report
from tests.viewer import leaks


def _wait_for(event, *, progress=None, cancel=None):
    while not event.wait(0.01):
        report(progress, cancel, 0.0, "waiting")


def test_planted_widget_thread_qthread_and_job_are_reported(qtbot):
    before = leaks.snapshot()
    release = threading.Event()
    widget = QWidget()
    widget.setObjectName("planted")
    widget.show()
    thread = threading.Thread(target=release.wait, name="planted-thread")
    thread.start()
    qthread = QThread()
    qthread.start()                 # runs its own event loop until quit()
    runner = JobRunner(max_workers=1)
    job = runner.submit(_wait_for, release, name="planted-job")
    try:
        problems = leaks.leaks(before, grace_s=0.2)
        text = "\n".join(problems)
        assert "QWidget 'planted'" in text
        assert "thread left running: planted-thread" in text
        assert "QThread left running" in text
        assert "planted-job" in text
        assert "candor-job" in text   # the runner's worker thread too
        assert leaks.leaks(before, allow=leaks.KINDS, grace_s=0.2) == []
    finally:
        release.set()
        thread.join(5)
        job.wait(5)
        runner.shutdown()
        qthread.quit()
        qthread.wait(5000)
        widget.close()
        widget.deleteLater()
    assert leaks.leaks(before, grace_s=5.0) == []


def test_widget_registered_with_qtbot_is_not_a_leak(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.show()
    assert QApplication.topLevelWidgets()   # closed by pytest-qt before the check runs


INNER = """
import pytest
from PySide6.QtWidgets import QWidget

KEPT = []


def test_leaks_a_window(qtbot):
    w = QWidget()
    w.setObjectName("forgotten")
    w.show()
    KEPT.append(w)


@pytest.mark.allow_leaks("widgets", reason="planted on purpose")
def test_leaks_with_an_opt_out(qtbot):
    w = QWidget()
    w.show()
    KEPT.append(w)


def test_clean(qtbot):
    w = QWidget()
    qtbot.addWidget(w)
    w.show()
"""


def test_the_fixture_fails_a_test_that_leaks(tmp_path):
    """The real conftest, run by a separate pytest on planted tests (same display)."""
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import *  # noqa: F403\n"
        "from tests.conftest import pytest_collection_modifyitems, pytest_configure  # noqa: F401\n")
    (tmp_path / "test_inner.py").write_text(INNER)
    env = {**os.environ, "PYTHONPATH": str(root)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-p", "no:xvfb", "-p", "no:randomly", str(tmp_path / "test_inner.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    out = run.stdout + run.stderr
    assert "3 passed" in out and "1 error" in out, out
    assert "ERROR at teardown of test_leaks_a_window" in out
    assert "QWidget 'forgotten'" in out
