"""The job API: progress events, cancellation within a second, results and clear errors."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import numpy as np
import pytest

from engine.errors import Cancelled, InputError
from engine.jobs import JobRunner, JobState, report, sub_progress


def _count(n, *, progress=None, cancel=None):
    total = 0
    for i in range(n):
        total += i
        report(progress, cancel, (i + 1) / n, "counting")
    return total


def _forever(*, progress=None, cancel=None):
    i = 0
    while True:
        time.sleep(0.01)
        i += 1
        report(progress, cancel, min(i / 1000, 0.99), "spinning")


@pytest.fixture
def runner():
    r = JobRunner(max_workers=2)
    yield r
    r.shutdown()


def test_result_and_progress_events(runner):
    events = []
    job = runner.submit(_count, 50, name="count", on_progress=events.append)
    assert job.result(timeout=10) == sum(range(50))
    assert job.state is JobState.DONE
    assert events, "no progress events were delivered"
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(e.stage == "counting" for e in events)
    assert events[-1].eta_s == pytest.approx(0.0, abs=1e-6)


def test_cancel_stops_work_within_a_second(runner):
    started = threading.Event()
    job = runner.submit(_forever, name="spin", on_progress=lambda e: started.set())
    assert started.wait(5)
    t0 = time.perf_counter()
    job.cancel()
    with pytest.raises(Cancelled):
        job.result(timeout=5)
    assert time.perf_counter() - t0 < 1.0
    assert job.state is JobState.CANCELLED


def test_user_error_is_reported_as_failed(runner):
    def bad(*, progress=None, cancel=None):
        raise InputError("this folder holds no images")

    done = threading.Event()
    job = runner.submit(bad, on_done=lambda j: done.set())
    assert done.wait(5)
    assert job.state is JobState.FAILED
    assert isinstance(job.error, InputError)
    assert "no images" in str(job.error)


def test_sub_progress_maps_ranges():
    seen = []
    sub = sub_progress(lambda f, s="": seen.append(f), 0.5, 1.0)
    sub(0.0)
    sub(0.5)
    sub(1.0)
    assert seen == [0.5, 0.75, 1.0]


def test_shutdown_cancels_running_jobs():
    r = JobRunner()
    job = r.submit(_forever)
    time.sleep(0.05)
    r.shutdown(cancel=True, wait=True)
    assert job.state is JobState.CANCELLED


def test_done_listeners_see_the_result_and_the_error(runner):
    """A done-listener can read the outcome: it runs after the result or error is set."""
    seen = {}
    done = threading.Event()

    def on_done(job):
        seen["state"] = job.state
        seen["result"] = job.result(timeout=0) if job.state is JobState.DONE else None
        seen["error"] = job.error
        done.set()

    runner.submit(_count, 10, on_done=on_done)
    assert done.wait(5)
    assert seen == {"state": JobState.DONE, "result": sum(range(10)), "error": None}

    def bad(*, progress=None, cancel=None):
        raise InputError("unreadable")

    done.clear()
    runner.submit(bad, on_done=on_done)
    assert done.wait(5)
    assert seen["state"] is JobState.FAILED and isinstance(seen["error"], InputError)


def test_cancel_before_start_finishes_the_job():
    r = JobRunner(max_workers=1)
    try:
        blocker = r.submit(_forever)
        waiting = r.submit(_count, 5)
        waiting.cancel()
        assert waiting.state is JobState.CANCELLED
        blocker.cancel()
        assert blocker.wait(5) and blocker.state is JobState.CANCELLED
    finally:
        r.shutdown()


def _block(mb, *, progress=None, cancel=None):
    report(progress, cancel, 0.5, "allocating")
    return np.ones(mb * 2**20, np.uint8)


def test_finished_jobs_are_dropped_and_their_results_freed(runner):
    """Defect "Results never freed" (issue 14): the runner kept every finished job, so every
    result lived as long as the runner (the window)."""
    refs = []
    for _ in range(5):
        job = runner.submit(_block, 16, on_progress=lambda e: None)
        refs.append(weakref.ref(job.result(timeout=10)))
        job.wait(10)
        del job
    gc.collect()
    assert runner.active == []
    assert [r() is None for r in refs] == [True] * 5


def test_a_job_the_caller_keeps_still_holds_its_result(runner):
    job = runner.submit(_block, 1)
    job.wait(10)
    gc.collect()
    assert job.result().size == 2**20 and job.state is JobState.DONE


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def perf_counter(self) -> float:
        return self.now


def test_eta_counts_from_the_throughput_after_the_start_not_from_the_start(monkeypatch):
    """A job that spends 30 s loading (fraction 0 → 0.05) and then does 1 % per second: the
    estimate at 50 % is the 50 s that really remain, not the 80 s an average from the start says."""
    import engine.jobs as jobs

    clock = _Clock()
    monkeypatch.setattr(jobs, "time", clock)
    job = jobs.Job(1, "eta")
    job._start = clock.now
    events = []
    job.on_progress(events.append)
    job._report(0.0, "loading")
    clock.now += 30.0
    job._report(0.05, "working")
    for _ in range(45):
        clock.now += 1.0
        job._report(events[-1].fraction + 0.01, "working")
    last = events[-1]
    assert last.fraction == pytest.approx(0.50)
    assert last.eta_s == pytest.approx(50.0)
    assert last.elapsed_s == pytest.approx(75.0)
    assert events[0].eta_s is None and events[1].eta_s is None     # none until measured
