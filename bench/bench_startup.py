"""Start-up benchmark: wall time of ``candor view`` from process start to a shown, idle window.

Runs the real command (``python -m viewer.cli view``) with ``CANDOR_QUIT_AFTER_START=1``, which
quits as soon as the event loop has shown the window, so the time includes the interpreter,
every import, the main window with all installed features, and interpreter exit. Peer: a bare
``python -c "import PySide6.QtWidgets"`` (the floor any Qt application pays).
Also times the same start-up with only the reading features installed (slice views, layers,
series browser; 3D on demand), each feature module's import, the heaviest imports
(``-X importtime``), and whether VTK and torch were imported.

    QT_QPA_PLATFORM=offscreen python bench/bench_startup.py [--runs 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd, env) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def heavy_imports(env, top: int = 8):
    probe = ("import sys, viewer.cli as c; sys.argv=['candor','view']; rc=c.main();"
             "print('LOADED', 'vtkmodules' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", probe], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True)
    rows = []
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            parts = [p.strip() for p in line[len("import time:"):].split("|")]
            if parts[1].isdigit():
                rows.append((int(parts[1]) / 1e6, parts[2]))
    top_level = sorted((r for r in rows if not r[1].startswith(" ")), reverse=True)[:top]
    loaded = next((l for l in out.stdout.splitlines() if l.startswith("LOADED")), "LOADED ? ?").split()
    return {"top_cumulative_s": [(name, round(t, 3)) for t, name in top_level],
            "vtk_imported": loaded[1] == "True", "torch_imported": loaded[2] == "True"}


FEATURE_PROBE = """
import importlib, json, pkgutil, time
t = time.perf_counter()
import PySide6.QtWidgets, viewer.qt.main_window
base = time.perf_counter() - t
import viewer.qt.features as f
out = {}
for m in sorted(pkgutil.iter_modules(f.__path__), key=lambda m: m.name):
    if m.name.startswith("_"):
        continue
    t = time.perf_counter()
    importlib.import_module("viewer.qt.features." + m.name)
    out[m.name] = round(time.perf_counter() - t, 3)
print(json.dumps({"qt_and_main_window_import_s": round(base, 3), "feature_import_s": out}))
"""


READING_ONLY = """
import sys
from PySide6.QtCore import QTimer
from viewer.qt.app import create_application
from viewer.qt.main_window import MainWindow
from viewer.qt.features import help_shortcuts, reading, screenshot, view_menu
app = create_application()
window = MainWindow(install_features=False)
for feature in (reading, view_menu, screenshot, help_shortcuts):
    feature.install(window)
window.show()
QTimer.singleShot(0, app.quit)
sys.exit(app.exec())
"""


def feature_imports(env):
    """Import time of each feature module, in discovery order (first import pays shared deps)."""
    out = subprocess.run([sys.executable, "-c", FEATURE_PROBE], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    env = dict(os.environ, CANDOR_QUIT_AFTER_START="1")
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    view = [timed([sys.executable, "-m", "viewer.cli", "view"], env) for _ in range(args.runs)]
    reading = [timed([sys.executable, "-c", READING_ONLY], env) for _ in range(args.runs)]
    bare = [timed([sys.executable, "-c", "import PySide6.QtWidgets"], env) for _ in range(args.runs)]
    result = {"candor_view_s": {"median": round(statistics.median(view), 2), "max": round(max(view), 2),
                                "runs": args.runs},
              "reading_features_only_s": round(statistics.median(reading), 2),
              "peer_bare_pyside6_import_s": round(statistics.median(bare), 2),
              "imports": heavy_imports(env), "features": feature_imports(env)}
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
