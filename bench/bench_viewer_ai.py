"""Issue 16 targets 1, 4 and 7 in the viewer: time to labels, honest progress, GUI-thread stalls.

    QT_QPA_PLATFORM=offscreen python bench/bench_viewer_ai.py [--json out.json]

The real main window (all features) opens the demo study as a user does (``engine.demo.write_demo``
→ File › Open → the series browser's job), then runs AI › Segment (MC-Dropout T = 10 on the primary
member) and AI › Segment with Ensemble (all members) through the AI feature's own actions.
Measured, per step:

* **wall**: action → the result's layers are in the layers panel (``result_ready``);
* **ETA error**: each progress report's remaining-time estimate, once 20 % of the run is done,
  against the time that really remained (worst and median |error| in %);
* **stages**: the progress texts seen (the stage names);
* **longest GUI-thread stall**: a 5 ms QTimer heartbeat on the GUI thread records the largest gap
  between its ticks minus 5 ms, from the action until one second after the result is shown.

The peer for the AI steps is the same analysis without a window (``engine.trust.analyze`` in
this process, ``bench/bench_analysis.py``'s path): the difference is the viewer's own cost.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class Heartbeat:
    """The longest gap between 5 ms ticks of a GUI-thread timer (minus the interval)."""

    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import QTimer

        self.interval = interval_ms / 1000.0
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.last = None
        self.worst = 0.0

    def start(self) -> None:
        self.last, self.worst = time.perf_counter(), 0.0
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last - self.interval)
        self.last = now

    def stop(self) -> float:
        self._tick()
        self.timer.stop()
        return self.worst


def wait_until(app, predicate, timeout_s: float) -> bool:
    end = time.perf_counter() + timeout_s
    while time.perf_counter() < end:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.002)
    return False


def settle(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


def eta_errors(events, t0: float, t_end: float) -> dict:
    """|ETA − true remaining| / true remaining over the reports made after 20 % of the run."""
    errs, worst = [], None
    for t, fraction, eta in events:
        remaining = t_end - t
        if eta is None or remaining < 1.0 or (t - t0) < 0.2 * (t_end - t0):
            continue
        err = abs(eta - remaining) / remaining * 100
        errs.append(err)
        if worst is None or err > worst[0]:
            worst = (err, round(t - t0, 2), round(fraction, 3), round(eta, 2), round(remaining, 2))
    if not errs:
        return {"n": 0}
    return {"n": len(errs), "median_pct": round(statistics.median(errs), 1),
            "worst_pct": round(max(errs), 1),
            "worst_at": dict(zip(("err_pct", "t_s", "fraction", "eta_s", "remaining_s"), worst))}


def run_ai(app, window, heart, ensemble: bool) -> dict:
    ai = window.services.ai
    events, stages = [], []
    done = []
    ai.result_ready.connect(lambda _r: done.append(time.perf_counter()))
    heart.start()
    t0 = time.perf_counter()
    assert ai.segment(ensemble=ensemble), "the AI job did not start"

    def record(event):
        events.append((time.perf_counter(), event.fraction, event.eta_s))
        if not stages or stages[-1] != event.stage:
            stages.append(event.stage)
    ai.watcher.progress.connect(record)
    if not wait_until(app, lambda: bool(done), 900):
        raise RuntimeError("no result within 15 minutes")
    t_end = done[0]
    settle(app, 1.0)
    stall = heart.stop()
    return {"wall_s": round(t_end - t0, 2), "eta": eta_errors(events, t0, t_end),
            "stages": stages, "gui_stall_ms": round(stall * 1000, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args()

    from PySide6.QtWidgets import QApplication

    from engine.demo import write_demo
    from viewer.qt.app import create_application
    from viewer.qt.main_window import MainWindow

    app = create_application()
    assert isinstance(app, QApplication)
    results = {}
    with tempfile.TemporaryDirectory(prefix="candor-bench-") as tmp:
        os.environ.setdefault("CANDOR_HOME", str(Path(tmp) / "home"))
        folder = write_demo(Path(tmp) / "demo")
        window = MainWindow()
        window.resize(1280, 800)
        window.show()
        heart = Heartbeat()
        settle(app, 1.0)
        heart.start()
        t0 = time.perf_counter()
        opened = []
        window.services.opener.opened.connect(lambda _v: opened.append(time.perf_counter()))
        window.open_path(str(folder))
        if not wait_until(app, lambda: bool(opened), 120):
            raise RuntimeError("the demo study did not open")
        settle(app, 1.0)
        results["open_study"] = {"wall_s": round(opened[0] - t0, 2),
                                 "gui_stall_ms": round(heart.stop() * 1000, 1)}
        print(f"open study: {results['open_study']}")
        for name, ensemble in (("segment", False), ("segment_ensemble", True)):
            results[name] = run_ai(app, window, heart, ensemble)
            print(f"{name}: {results[name]}")
        window.close()
        settle(app, 0.5)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
