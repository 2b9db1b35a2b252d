"""Brush-dab speed on a 512×512×400 label map: Candor's editor vs a naive full-volume brush.

Candor paints a cached footprint inside the dab's bounding box and records only the changed voxels
for undo. The naive peer (what a first implementation often does) computes the distance of every
voxel of the volume to the dab centre and snapshots the whole label map for undo. Both run here, in
the same process, on the same volume. Run: ``.venv/bin/python bench/bench_brush.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.editing import AXIAL, Brush, LabelEditor  # noqa: E402

SHAPE = (400, 512, 512)  # k, j, i
SPACING_IJK = (0.8, 0.8, 1.0)  # a typical head/body CT grid
RADIUS_MM = 5.0  # a 10 mm brush


def _centres(n: int, rng: np.random.Generator) -> list[tuple[float, float, float]]:
    """A continuous drag: consecutive dabs 2 mm apart, wandering through the volume."""
    k, j, i = 200.0, 256.0, 256.0
    out = []
    for _ in range(n):
        j = float(np.clip(j + rng.normal(0, 2.5), 20, 490))
        i = float(np.clip(i + rng.normal(0, 2.5), 20, 490))
        out.append((k, j, i))
    return out


def time_editor(editor: LabelEditor, brush: Brush, centres, per_stroke: int = 50) -> tuple[list[float], list[float]]:
    """Per-dab times (ms) and per-stroke finishing times (ms: building the undo record)."""
    dabs, finishes = [], []
    for start in range(0, len(centres), per_stroke):
        editor.begin_stroke()
        for c in centres[start:start + per_stroke]:
            t = time.perf_counter()
            editor.dab(c, brush)
            dabs.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        editor.end_stroke()
        finishes.append((time.perf_counter() - t) * 1e3)
    return dabs, finishes


def naive_dab(labels: np.ndarray, centre, radius_mm: float, spacing_kji, label: int,
              plane: bool) -> np.ndarray:
    """Full-volume brush: distance of every voxel, whole-volume undo snapshot."""
    undo = labels.copy()
    k, j, i = np.ogrid[: labels.shape[0], : labels.shape[1], : labels.shape[2]]
    d2 = ((j - centre[1]) * spacing_kji[1]) ** 2 + ((i - centre[2]) * spacing_kji[2]) ** 2
    dk = (k - round(centre[0])) * spacing_kji[0]
    inside = (dk == 0) & (d2 <= radius_mm ** 2) if plane else dk ** 2 + d2 <= radius_mm ** 2
    labels[inside] = label
    return undo


def time_gui_drag(image: np.ndarray, moves: int) -> list[float]:
    """Per mouse-move time (ms) of a real brush drag in the viewer: the event goes through the
    edit tool, the engine, the layer refresh and the redraw of the three slice views."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from engine.volume import Geometry, Volume
    from viewer.qt.app import create_application
    from viewer.qt.main_window import MainWindow

    app = create_application()
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    geometry = Geometry((SHAPE[2], SHAPE[1], SHAPE[0]), SPACING_IJK, (0.0, 0.0, 0.0))
    window.services.model.open_volume(Volume(image, geometry, "CT"))
    window.services.model.layers.add_labels(Volume(np.zeros(SHAPE, np.uint8), geometry), name="AI")
    window.services.edit.editing.copy_to_corrected(window.services.model.layers.active_labels)
    window.services.edit.choose("brush")
    window.services.edit.state.brush_size_mm = 2 * RADIUS_MM
    app.processEvents()
    view = window.services.viewer.views["axial"]
    viewport = view.canvas.viewport()
    row_sp, col_sp = view.spacing

    def send(kind, row, col, button, buttons):
        scene = view.box.mapViewToScene(QPointF((col + 0.5) * col_sp, (row + 0.5) * row_sp))
        pos = QPointF(view.canvas.mapFromScene(scene))
        QApplication.sendEvent(viewport, QMouseEvent(kind, pos, viewport.mapToGlobal(pos), button,
                                                     buttons, Qt.KeyboardModifier.NoModifier))

    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    send(QEvent.Type.MouseButtonPress, 200, 100, left, left)
    times = []
    for n in range(moves):
        col = 100 + (n * 3) % 300  # 3 voxels (2.4 mm) per move, like a steady drag
        t = time.perf_counter()
        send(QEvent.Type.MouseMove, 200 + (n // 100) * 12, col, none, left)
        app.processEvents()
        times.append((time.perf_counter() - t) * 1e3)
    send(QEvent.Type.MouseButtonRelease, 200, 100, left, none)
    painted = int(np.count_nonzero(window.services.edit.current_layer().volume.array))
    window.close()
    if painted == 0:
        raise SystemExit("the GUI drag painted nothing: the measurement would be meaningless")
    return times, painted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--no-gui", action="store_true", help="skip the viewer measurement")
    args = parser.parse_args()
    n, naive_n = (200, 2) if args.quick else (1000, 5)
    rng = np.random.default_rng(0)
    labels = np.zeros(SHAPE, np.uint8)
    image = rng.normal(40, 20, SHAPE).astype(np.int16)
    editor = LabelEditor(labels, SPACING_IJK, image=image)
    centres = _centres(n, rng)
    rows = []
    for name, brush in [("2-D disc", Brush(RADIUS_MM, 1, plane_axis=AXIAL)),
                        ("3-D sphere", Brush(RADIUS_MM, 2, plane_axis=None)),
                        ("2-D disc, threshold 30–80", Brush(RADIUS_MM, 3, window=(30, 80))),
                        ("eraser 2-D", Brush(RADIUS_MM, 0, erase=True))]:
        dabs, finishes = time_editor(editor, brush, centres)
        rows.append((name, statistics.median(dabs), float(np.percentile(dabs, 95)),
                     statistics.median(finishes)))
    undo_t = []
    for _ in range(20):
        t = time.perf_counter()
        editor.undo()
        undo_t.append((time.perf_counter() - t) * 1e3)

    naive = {}
    spacing = editor.spacing
    for name, plane in [("2-D disc", True), ("3-D sphere", False)]:
        times = []
        for c in centres[:naive_n]:
            t = time.perf_counter()
            naive_dab(labels, c, RADIUS_MM, spacing, 1, plane)
            times.append((time.perf_counter() - t) * 1e3)
        naive[name] = statistics.median(times)

    print(f"volume {SHAPE[2]}×{SHAPE[1]}×{SHAPE[0]} uint8, spacing {SPACING_IJK} mm, "
          f"brush {2 * RADIUS_MM:g} mm, {n} dabs per brush (strokes of 50)")
    print(f"{'brush':<28}{'median ms':>10}{'p95 ms':>9}{'stroke end ms':>15}{'naive ms':>11}{'speed-up':>10}")
    for name, med, p95, fin in rows:
        peer = naive.get(name)
        extra = f"{peer:>11.1f}{peer / med:>9.0f}×" if peer else f"{'':>11}{'':>10}"
        print(f"{name:<28}{med:>10.3f}{p95:>9.3f}{fin:>15.2f}{extra}")
    print(f"undo of one 50-dab stroke: median {statistics.median(undo_t):.2f} ms")
    print(f"history memory after {len(rows) * n // 50} strokes: {editor.history.nbytes / 1e6:.2f} MB "
          f"(a whole-volume snapshot per stroke: {labels.nbytes / 1e6:.0f} MB each)")
    if not args.no_gui:
        del labels, editor
        gui, painted = time_gui_drag(image, 100 if args.quick else 300)
        print(f"viewer drag (mouse move → tool → engine → 3 slice views redrawn, offscreen): "
              f"median {statistics.median(gui):.2f} ms, p95 {np.percentile(gui, 95):.2f} ms "
              f"({len(gui)} moves, {painted} voxels painted)")


if __name__ == "__main__":
    main()
