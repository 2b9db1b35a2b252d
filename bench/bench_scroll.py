"""Scrolling benchmark: slice change → repainted view, 512×512×400 CT with a label and a heatmap.

Runs offscreen (QT_QPA_PLATFORM=offscreen). Measures, per slice step of the axial view:
  * ``view``: model cursor step → all layers re-sliced → the axial view repainted (synchronous);
  * ``window``: the same step, then every view repainted (crosshair lines move in the others);
  * ``view_gui_thread_cpu``: CPU time the GUI thread spent on the ``view`` step (the machine is
    shared: wall times include waiting for a core; this does not);
and, as the peer, pyqtgraph's stock ``ImageView`` fed the same slices with the same two overlays
drawn as pyqtgraph ImageItems with their own levels (no lookup-table preprocessing).

    QT_QPA_PLATFORM=offscreen python bench/bench_scroll.py [--slices 400] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def make_study(shape=(400, 512, 512)):
    """A synthetic head-sized CT (int16 HU), an int label map (uint8) and a float32 heatmap."""
    from engine.volume import Geometry, Volume

    nz, ny, nx = shape
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:ny, 0:nx]
    ct = np.empty(shape, np.int16)
    labels = np.zeros(shape, np.uint8)
    heat = np.empty(shape, np.float32)
    for z in range(nz):
        r = np.hypot(yy - ny / 2, xx - nx / 2) / (0.42 * ny * (1 - ((z - nz / 2) / nz) ** 2))
        sl = np.where(r < 1.0, 35, -1000) + np.where((r > 0.93) & (r < 1.0), 1000, 0)
        ct[z] = sl + rng.integers(-8, 8, (ny, nx))
        labels[z] = (np.hypot(yy - 200, xx - 300) < 40 + 10 * np.sin(z / 30)).astype(np.uint8)
        heat[z] = np.exp(-((yy - 260) ** 2 + (xx - 220) ** 2) / 5000.0)
    geom = Geometry((nx, ny, nz), (0.45, 0.45, 0.6), (0.0, 0.0, 0.0))
    return Volume(ct, geom, "CT"), Volume(labels, geom, "SEG"), Volume(heat, geom, "OT")


def percentiles(times_ms):
    xs = sorted(times_ms)
    return {"median_ms": round(statistics.median(xs), 2),
            "p99_ms": round(xs[min(len(xs) - 1, int(0.99 * len(xs)))], 2),
            "mean_ms": round(statistics.fmean(xs), 2), "n": len(xs)}


def bench_candor(app, study, n_steps):
    from engine.labels import LabelInfo, LabelTable
    from viewer.qt.features import reading
    from viewer.qt.main_window import MainWindow

    ct, labels, heat = study
    window = MainWindow(install_features=False)   # only the reading feature: what is measured
    reading.install(window.services)
    window.resize(1600, 900)
    window.show()
    model = window.services.model
    model.open_volume(ct)
    model.layers.add_labels(labels, LabelTable([LabelInfo(1, "lesion", (230, 25, 75))]), name="labels")
    model.layers.add_heatmap(heat, name="heatmap", value_range=(0.1, 1.0))
    model.cursor.set_slice("axial", 0)
    for _ in range(10):
        app.processEvents()
    view = window.services.viewer.views["axial"]
    per_view, per_window, cpu_view = [], [], []
    for i in range(n_steps):
        t0, c0 = time.perf_counter(), time.thread_time()
        model.cursor.step("axial", 1 if (i // (ct.size[2] - 1)) % 2 == 0 else -1)
        view.canvas.viewport().repaint()
        per_view.append((time.perf_counter() - t0) * 1000)
        cpu_view.append((time.thread_time() - c0) * 1000)
        for other in window.services.viewer.views.values():
            if other is not view:
                other.canvas.viewport().repaint()
        per_window.append((time.perf_counter() - t0) * 1000)
        app.processEvents()
    size = (view.canvas.viewport().width(), view.canvas.viewport().height())
    window.close()
    return {"view": percentiles(per_view), "view_gui_thread_cpu": percentiles(cpu_view),
            "window": percentiles(per_window), "view_px": size}


def bench_imageview_peer(app, study, n_steps, size):
    import pyqtgraph as pg

    ct, labels, heat = study
    iv = pg.ImageView()
    iv.resize(size[0], size[1] + 20)
    iv.show()
    lab_item, heat_item = pg.ImageItem(), pg.ImageItem()
    lut = np.zeros((256, 4), np.uint8)
    lut[1] = (230, 25, 75, 255)
    lab_item.setLookupTable(lut)
    heat_item.setLookupTable(pg.colormap.get("inferno").getLookupTable(0, 1, 256))
    for item, opacity in ((lab_item, 0.5), (heat_item, 0.5)):
        item.setOpacity(opacity)
        iv.getView().addItem(item)
    times = []
    for i in range(n_steps):
        z = i % ct.size[2]
        t0 = time.perf_counter()
        iv.setImage(ct.array[z].T, autoRange=False, autoLevels=False, levels=(0, 80),
                    autoHistogramRange=False)
        lab_item.setImage(labels.array[z].T, autoLevels=False, levels=(0, 255))
        heat_item.setImage(heat.array[z].T, autoLevels=False, levels=(0.1, 1.0))
        iv.ui.graphicsView.viewport().repaint()
        times.append((time.perf_counter() - t0) * 1000)
        app.processEvents()
    iv.close()
    return {"view": percentiles(times)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=400, help="slice steps to time")
    parser.add_argument("--json", help="write results here")
    args = parser.parse_args(argv)
    from viewer.qt.app import create_application

    app = create_application()
    t0 = time.perf_counter()
    study = make_study()
    print(f"generated study in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    candor = bench_candor(app, study, args.slices)
    peer = bench_imageview_peer(app, study, args.slices, candor["view_px"])
    result = {"load_average_1min": os.getloadavg()[0], "candor": candor, "peer_pyqtgraph_ImageView": peer,
              "ratio_median_peer_over_candor": round(peer["view"]["median_ms"]
                                                     / candor["view"]["median_ms"], 2)}
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
