"""Measure: ruler and ROI drawn with real mouse events on a series of known anisotropic geometry
and values, checked against NumPy; the dock's rename, delete, undo/redo and click → jump."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDockWidget

from engine.labels import LabelInfo, LabelTable
from engine.volume import Geometry, Volume
from tests.viewer.conftest import send_click, send_drag, viewport_pos
from tests.viewer.edit_helpers import activate
from viewer.state.cursor import VIEW_AXIS

pytestmark = pytest.mark.gui

SPACING = (0.7, 0.9, 2.5)          # (i, j, k) mm: anisotropic in-plane and through-plane
SIZE = (40, 36, 10)


#: an oblique axial acquisition (15° about the z axis) and a coronal one (the display grid flips
#: and transposes its axes): the tools must measure in the image's own (i, j, k) either way.
_C, _S = float(np.cos(np.radians(15))), float(np.sin(np.radians(15)))
DIRECTIONS = {"oblique-axial": (_C, _S, 0, -_S, _C, 0, 0, 0, 1),
              "coronal": (1, 0, 0, 0, 0, 1, 0, -1, 0)}


def ramp_ct(direction=DIRECTIONS["oblique-axial"]) -> Volume:
    """value = i + 10 j + 100 k (HU), so every ROI's statistics follow from its pixel set."""
    g = Geometry(SIZE, SPACING, (-14.0, -16.0, 30.0), direction)
    k, j, i = np.indices(g.shape)
    return Volume((i + 10 * j + 100 * k).astype(np.int16), g, "CT")


@pytest.fixture(params=sorted(DIRECTIONS))
def window(qtbot, request):
    from viewer.qt.app import create_application
    from viewer.qt.main_window import MainWindow

    create_application()
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    activate(qtbot, w)
    w.services.model.open_volume(ramp_ct(DIRECTIONS[request.param]))
    QApplication.processEvents()
    return w


def dock_of(window) -> QDockWidget:
    dock = window.findChild(QDockWidget, "measurements")
    assert dock is not None
    dock.show()
    return dock


def source_ijk(model, zyx) -> np.ndarray:
    """(i, j, k) of display voxel ``zyx``, by the crosshair's own mapping."""
    model.cursor.set_index(zyx)
    return np.array(model.cursor.source_index, dtype=float)


def plane_pixels(arr, axis: int, lo, hi, fixed: int):
    """The ROI box's pixels of ``arr`` (k, j, i) in the plane ``axis`` (of i, j, k) = ``fixed``,
    and the (u, v) index grids of their two in-plane (i, j, k) axes."""
    index = [fixed if t == axis else slice(int(lo[t]), int(hi[t]) + 1) for t in (2, 1, 0)]
    box = arr[tuple(index)].astype(float)
    u, v = [t for t in (0, 1, 2) if t != axis]
    vv, uu = np.meshgrid(np.arange(lo[v], hi[v] + 1), np.arange(lo[u], hi[u] + 1), indexing="ij")
    return box, (u, uu), (v, vv)


def drag(view, a, b) -> None:
    viewport = view.canvas.viewport()
    send_drag(viewport, viewport_pos(view, a), viewport_pos(view, b))


def test_ruler_and_roi_match_numpy(window, qtbot):
    model, dock = window.services.model, dock_of(window)
    views = window.services.viewer.views
    arr = model.image.volume.array

    # Ruler on the coronal view: spans i (0.7 mm) and k (2.5 mm).
    coronal = views["coronal"]
    s = model.cursor.index
    a, b = list(s), list(s)
    a[coronal.row_axis], a[coronal.col_axis] = 2, 5
    b[coronal.row_axis], b[coronal.col_axis] = 7, 30
    truth_a, truth_b = source_ijk(model, tuple(a)), source_ijk(model, tuple(b))
    model.cursor.set_index(s)
    dock.tool_actions["ruler"].trigger()
    drag(coronal, a, b)
    (mid, ruler), = dock.measurements.items()
    pts = np.array(ruler.points_ijk)
    assert np.abs(pts - [truth_a, truth_b]).max() < 0.15          # within a screen pixel
    assert ruler.value == pytest.approx(float(np.linalg.norm((pts[1] - pts[0]) * SPACING)), rel=1e-12)
    assert ruler.value == pytest.approx(float(np.linalg.norm((truth_b - truth_a) * SPACING)), abs=0.4)
    assert dock.tree.topLevelItem(0).text(2) == f"{ruler.value:.1f} mm"
    assert dock.overlays["coronal"].visible_ids() == [mid]
    assert dock.overlays["axial"].visible_ids() == []

    # Rectangle ROI on the axial view, corners a quarter voxel outside voxel centres.
    axial = views["axial"]
    r0, c0, r1, c1 = 2, 6, 7, 20          # inside both series (10 rows in the coronal one)
    a, b = list(s), list(s)
    a[axial.row_axis], a[axial.col_axis] = r0 - 0.25, c0 - 0.25
    b[axial.row_axis], b[axial.col_axis] = r1 + 0.25, c1 + 0.25
    za, zb = list(s), list(s)
    za[axial.row_axis], za[axial.col_axis], zb[axial.row_axis], zb[axial.col_axis] = r0, c0, r1, c1
    ia, ib = source_ijk(model, tuple(za)), source_ijk(model, tuple(zb))
    model.cursor.set_index(s)
    dock.tool_actions["rectangle"].trigger()
    assert not dock.tool_actions["ruler"].isChecked()
    drag(axial, a, b)
    roi = dock.measurements.get(dock.measurements.selection)
    lo, hi = np.minimum(ia, ib).astype(int), np.maximum(ia, ib).astype(int)
    fixed = [t for t in range(3) if ia[t] == ib[t]]
    assert roi.axis in fixed and roi.slice == int(ia[roi.axis])
    pixels, _, _ = plane_pixels(arr, roi.axis, lo, hi, roi.slice)
    row_sp, col_sp = axial.spacing
    assert roi.kind == "rectangle" and roi.stats.unit == "HU"
    assert roi.stats.voxels == pixels.size == (r1 - r0 + 1) * (c1 - c0 + 1)
    assert roi.stats.mean == pytest.approx(pixels.mean(), rel=1e-12)
    assert roi.stats.sd == pytest.approx(pixels.std(ddof=1), rel=1e-12)
    assert (roi.stats.min, roi.stats.max, roi.stats.median) == (pixels.min(), pixels.max(),
                                                                  np.median(pixels))
    assert roi.value == roi.stats.area_mm2 == pytest.approx(pixels.size * row_sp * col_sp, rel=1e-12)

    # Ellipse ROI: the pixel centres inside the inscribed ellipse.
    dock.tool_actions["ellipse"].trigger()
    drag(axial, a, b)
    ell = dock.measurements.get(dock.measurements.selection)
    assert ell == dock.measurements.items()[-1][1] and ell.kind == "ellipse"
    pts = np.array(ell.points_ijk)
    centre, radii = pts.mean(axis=0), np.abs(pts[1] - pts[0]) / 2
    (u, uu), (v, vv) = plane_pixels(arr, ell.axis, lo, hi, ell.slice)[1:]
    inside = ((uu - centre[u]) / radii[u]) ** 2 + ((vv - centre[v]) / radii[v]) ** 2 <= 1
    values = pixels[inside]
    assert 0 < ell.stats.voxels == values.size < pixels.size
    assert ell.stats.mean == pytest.approx(values.mean(), rel=1e-12)
    assert ell.stats.sd == pytest.approx(values.std(ddof=1), rel=1e-12)
    assert ell.value == pytest.approx(values.size * row_sp * col_sp, rel=1e-12)


def test_rename_delete_undo_and_jump(window, qtbot):
    model, dock = window.services.model, dock_of(window)
    views = window.services.viewer.views
    axial = views["axial"]
    home = model.cursor.index
    a, b = list(home), list(home)
    a[axial.row_axis], a[axial.col_axis] = 3, 3
    b[axial.row_axis], b[axial.col_axis] = 9, 12
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)   # the Ruler's shortcut
    assert dock.current == "ruler" and dock.tool_actions["ruler"].isChecked()
    drag(axial, a, b)
    (mid, _m), = dock.measurements.items()

    item = dock.tree.topLevelItem(0)
    item.setText(0, "Lesion long axis")                       # an in-place edit of the name cell
    assert dock.measurements.get(mid).name == "Lesion long axis"
    dock.measurements.select(mid)
    dock.button_delete.click()
    assert dock.tree.topLevelItemCount() == 0
    dock.action_undo.trigger()
    dock.tree.setFocus()
    dock.measurements.select(mid)
    qtbot.keyClick(dock.tree, Qt.Key.Key_Delete)                 # the Delete key in the list
    assert dock.tree.topLevelItemCount() == 0 and dock.overlays["axial"].visible_ids() == []
    dock.action_undo.trigger()
    assert dock.tree.topLevelItem(0).text(0) == "Lesion long axis"
    dock.action_undo.trigger()
    assert dock.tree.topLevelItem(0).text(0) == "Ruler 1"
    dock.action_redo.trigger()
    assert dock.tree.topLevelItem(0).text(0) == "Lesion long axis"

    # Move away, then click the row: the crosshair goes to the ruler's midpoint, its slice shown.
    model.cursor.set_slice("axial", home[VIEW_AXIS["axial"]] + 3)
    assert dock.overlays["axial"].visible_ids() == []
    row = dock.tree.topLevelItem(0)
    qtbot.mouseClick(dock.tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=dock.tree.visualItemRect(row).center())
    mid_zyx = [(p + q) / 2 for p, q in zip(a, b)]
    assert model.cursor.index == tuple(int(round(v)) for v in mid_zyx)
    assert dock.overlays["axial"].visible_ids() == [mid]

    # Angle: drag the first arm to the vertex, then click the second arm's end (arms along a row
    # and a column: 90° whatever the pixel spacing; the value is checked against the LPS points).
    end, vertex, other = list(home), list(home), list(home)
    end[axial.row_axis], end[axial.col_axis] = 4, 4
    vertex[axial.row_axis], vertex[axial.col_axis] = 4, 14
    other[axial.row_axis], other[axial.col_axis] = 8, 14
    dock.tool_actions["angle"].trigger()
    drag(axial, end, vertex)
    assert len(dock.measurements) == 1                        # not yet: one arm drawn
    send_click(axial.canvas.viewport(), viewport_pos(axial, other))
    ang = dock.measurements.get(dock.measurements.selection)
    p = np.array(ang.points_lps)
    u, v = p[0] - p[1], p[2] - p[1]
    truth = np.degrees(np.arccos(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))
    assert ang.kind == "angle" and ang.value == pytest.approx(truth, rel=1e-9)
    assert ang.value == pytest.approx(90.0, abs=1.5)           # within a screen pixel of the arms
    assert dock.tree.topLevelItem(1).text(2) == f"{ang.value:.1f}°"
    dock.measurements.delete(dock.measurements.selection)

    # A 3D ROI of the active label of the active labels layer.
    mask = np.zeros(SIZE[::-1], np.uint8)
    mask[2:5, 10:20, 5:12] = 2
    model.layers.add_labels(Volume(mask, model.image.volume.geometry, "OT"), LabelTable(
        [LabelInfo(2, "Lesion", (255, 0, 0))]), name="Reader labels")
    window.services.edit.state.active_label = 2
    dock.button_label.click()
    roi3d = dock.measurements.get(dock.measurements.selection)
    inside = model.image.volume.array[mask == 2].astype(float)
    assert (roi3d.kind, roi3d.label, roi3d.stats.voxels) == ("label", 2, inside.size)
    assert roi3d.value == pytest.approx(inside.size * 0.7 * 0.9 * 2.5 / 1000, rel=1e-12)
    assert roi3d.stats.mean == pytest.approx(inside.mean(), rel=1e-12)
    assert roi3d.stats.sd == pytest.approx(inside.std(ddof=1), rel=1e-12)
    assert dock.tree.topLevelItem(1).text(1) == "3D label ROI"

    # Choosing an edit tool ends measuring; a new image clears the list.
    window.services.edit.choose("brush")
    assert dock.current is None and not dock.tool_actions["ruler"].isChecked()
    model.open_volume(ramp_ct())
    assert len(dock.measurements) == 0 and dock.tree.topLevelItemCount() == 0


def _window_on_scan_file(qtbot, tmp_path):
    """A window that opened the edit helpers' scan from a NIfTI file (so a recovery can reopen it)."""
    import SimpleITK as sitk

    from tests.viewer.edit_helpers import make_scan, open_window

    scan_path = tmp_path / "scan.nii.gz"
    sitk.WriteImage(make_scan().to_sitk(), str(scan_path))
    window = open_window(qtbot, with_ai=False)
    with qtbot.waitSignal(window.services.opener.opened, timeout=60000):
        window.open_path(str(scan_path))
    activate(qtbot, window)
    return window


def test_measurements_survive_crash_recovery(qtbot, tmp_path):
    """Drawn on a session with edits, crashed (lock dropped as a killed process's is), recovered
    in a new window: the same measurements come back, equal to the last."""
    from tests.viewer.edit_helpers import AI_TABLE, make_ai, open_window
    from tests.viewer.test_edit_recovery import (_crash, _paint_and_wait_for_autosave,
                                                 _recover_from_prompt)

    first = _window_on_scan_file(qtbot, tmp_path)
    first.services.model.layers.add_labels(make_ai(), AI_TABLE, name="AI lesion")
    first.services.model.cursor.set_slice("axial", 6)
    _paint_and_wait_for_autosave(qtbot, first, 10, 10)
    dock = dock_of(first)
    axial = first.services.viewer.views["axial"]
    a, b = list(first.services.model.cursor.index), list(first.services.model.cursor.index)
    a[axial.row_axis], a[axial.col_axis] = 20, 20
    b[axial.row_axis], b[axial.col_axis] = 30, 40
    dock.tool_actions["rectangle"].trigger()
    with qtbot.waitSignal(first.services.edit.session.autosaved, timeout=60000):
        drag(axial, a, b)
    dock.measurements.rename(dock.measurements.ids()[0], "Liver ROI")
    with qtbot.waitSignal(first.services.edit.session.autosaved, timeout=60000):
        pass
    expected = [m for _, m in dock.measurements.items()]
    _crash(first)
    first.close()

    second = open_window(qtbot, with_ai=False, active=False)
    second.services.model.layers.clear()
    snapshot = _recover_from_prompt(qtbot, second)
    assert len(snapshot.source["measurements"]) == 1
    again = dock_of(second)
    assert [m for _, m in again.measurements.items()] == expected
    assert again.tree.topLevelItem(0).text(0) == "Liver ROI"


def test_measurements_alone_survive_a_crash_and_a_normal_close_keeps_nothing(qtbot, tmp_path):
    """A read without any edit: the ruler is autosaved on its own; after a crash the new window
    offers it ("measurements"), reopens the scan and restores it; a normal close leaves no
    session to recover."""
    from engine.editing.autosave import pending_sessions
    from tests.viewer.edit_helpers import open_window
    from tests.viewer.test_edit_recovery import _crash, _recover_from_prompt

    first = _window_on_scan_file(qtbot, tmp_path)
    session = first.services.edit.session
    session.timer.setInterval(50)
    first.services.model.cursor.set_slice("axial", 6)
    dock = dock_of(first)
    axial = first.services.viewer.views["axial"]
    a, b = list(first.services.model.cursor.index), list(first.services.model.cursor.index)
    a[axial.row_axis], a[axial.col_axis] = 12, 12
    b[axial.row_axis], b[axial.col_axis] = 12, 40
    dock.tool_actions["ruler"].trigger()
    with qtbot.waitSignal(session.autosaved, timeout=60000):
        drag(axial, a, b)
    assert not session._tracked                      # no edit at all
    expected = [m for _, m in dock.measurements.items()]
    assert len(expected) == 1 and expected[0].value == pytest.approx(28.0, abs=0.5)   # 28 voxels of 1 mm
    _crash(first)
    first.close()
    (pending,) = pending_sessions()
    assert pending.layer_names == ()

    second = open_window(qtbot, with_ai=False, active=False)
    second.services.model.layers.clear()
    box_text = []
    qtbot.waitUntil(lambda: second.services.edit.session.recovery_box is not None, timeout=30000)
    box_text.append(second.services.edit.session.recovery_box.text())
    assert "(measurements)" in box_text[0]
    snapshot = _recover_from_prompt(qtbot, second)
    assert snapshot.layers == [] and len(snapshot.source["measurements"]) == 1
    again = dock_of(second)
    assert [m for _, m in again.measurements.items()] == expected
    assert second.services.model.image is not None            # the scan was reopened
    assert "1 measurement" in second.statusBar().currentMessage()
    second.close()
    assert pending_sessions() == []                           # a normal close keeps nothing
