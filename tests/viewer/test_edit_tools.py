"""Edit tools through the real widgets: paint, erase, undo/redo, fill between slices, labels."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.viewer.edit_helpers import drag, make_ai, open_window


def _corrected(window):
    layer = window.services.edit.current_layer()
    assert layer is not None and layer.name == "AI lesion (corrected)"
    return layer


def test_paint_erase_undo_redo_through_the_slice_view(qtbot):
    window = open_window(qtbot)
    edit, model = window.services.edit, window.services.model
    ai_layer = model.layers.active_labels
    axial = window.services.viewer.views["axial"]
    model.cursor.set_slice("axial", 2)  # display slice 2 = source slice 2 (LPS grid)
    qtbot.keyClick(window, Qt.Key.Key_B)
    assert edit.state.tool == "brush" and edit.tool_actions["brush"].isChecked()
    edit.state.brush_size_mm = 3.0
    drag(axial, [(10, 10), (10, 30)])
    layer = _corrected(window)
    labels = layer.volume.array
    assert (labels[2, 10, 10:31] == 1).all()            # the whole drag, no gaps
    assert labels[2, 11, 20] == 1 and labels[2, 12, 20] == 0  # 3 mm brush: ±1 voxel
    assert labels[1].sum() == 0 and labels[3].sum() == 0      # a 2-D disc stays in its slice
    np.testing.assert_array_equal(ai_layer.volume.array, make_ai().array)  # AI untouched
    assert not ai_layer.visible and model.layers.active is layer
    # the view shows the new labels
    shown = axial.current_pixels()[layer.name]
    assert shown.shape[:2] == (64, 64)

    painted = labels.copy()
    drag(axial, [(10, 20)], ctrl=True)                       # Ctrl inverts: erase
    assert labels[2, 10, 20] == 0 and labels[2, 10, 10] == 1
    qtbot.keyClick(window, Qt.Key.Key_E)
    drag(axial, [(10, 10)])
    assert labels[2, 10, 10] == 0

    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(labels, painted)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert labels[2, 10, 20] == 0 and labels[2, 10, 10] == 1
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(labels, make_ai().array)     # back to the AI result
    assert not edit.action_undo.isEnabled()

    # painting after an undo drops the redo branch
    qtbot.keyClick(window, Qt.Key.Key_B)
    drag(axial, [(40, 40)])
    assert not edit.action_redo.isEnabled()


def test_brush_size_keys_sphere_and_threshold(qtbot):
    window = open_window(qtbot)
    edit, model = window.services.edit, window.services.model
    axial = window.services.viewer.views["axial"]
    edit.state.brush_size_mm = 5.0
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    assert edit.state.brush_size_mm == 7.0 and edit.palette.size.value() == 7.0
    qtbot.keyClick(window, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(window, Qt.Key.Key_BracketLeft)
    assert edit.state.brush_size_mm == 3.0
    edit.palette.sphere.setChecked(True)
    assert edit.state.sphere
    model.cursor.set_slice("axial", 6)
    qtbot.keyClick(window, Qt.Key.Key_B)
    edit.state.brush_size_mm = 10.0
    drag(axial, [(50, 50)])
    labels = _corrected(window).volume.array
    slices = np.nonzero(labels[:, 50, 50] == 1)[0]
    assert list(slices) == [4, 5, 6, 7, 8]                       # ±5 mm at 2.5 mm slices

    # threshold brush: only the bright disc (300) is painted, not the background (100)
    edit.palette.sphere.setChecked(False)
    qtbot.keyClick(window, Qt.Key.Key_T)
    edit.palette.low.setValue(250)
    edit.palette.high.setValue(350)
    assert edit.state.window == (250.0, 350.0)
    edit.state.brush_size_mm = 30.0
    model.cursor.set_slice("axial", 1)
    drag(axial, [(32, 18)])
    row = labels[1, 32]
    assert row[18] == 1 and row[3:17].sum() == 0            # col 16 is outside the r=15 disc


def test_fill_and_fill_between_slices_and_labels(qtbot):
    window = open_window(qtbot, with_ai=False)
    edit, model = window.services.edit, window.services.model
    axial = window.services.viewer.views["axial"]
    edit.action_new_layer.trigger()
    layer = edit.current_layer()
    assert layer is not None and layer.name == "Manual labels"
    edit.add_label("Tumour", (10, 200, 10))
    assert edit.state.active_label == 1 and layer.table[1].name == "Tumour"
    assert edit.palette.label.currentText() == "1  Tumour"
    qtbot.keyClick(window, Qt.Key.Key_B)
    edit.state.brush_size_mm = 8.0
    for k, radius_pts in ((2, [(30, 30)]), (8, [(30, 30), (30, 34)])):
        model.cursor.set_slice("axial", k)
        drag(axial, radius_pts)
    labels = layer.volume.array
    assert [bool(labels[k].any()) for k in range(12)] == [k in (2, 8) for k in range(12)]
    edit.action_interpolate.trigger()
    assert all(labels[k, 30, 30] == 1 for k in range(2, 9))
    assert labels[1].sum() == 0 and labels[9].sum() == 0
    assert edit.action_undo.text() == "&Undo Fill between slices (Tumour)"
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert labels[5].sum() == 0

    # fill tool: a closed ring on slice 10, filled inside
    model.cursor.set_slice("axial", 10)
    labels[10, 20, 20:30] = labels[10, 29, 20:30] = 1
    labels[10, 20:30, 20] = labels[10, 20:30, 29] = 1
    layer.refresh()
    edit.add_label("Oedema")
    assert edit.state.active_label == 2
    qtbot.keyClick(window, Qt.Key.Key_F)
    drag(axial, [(25, 25)])
    assert (labels[10, 21:29, 21:29] == 2).all() and labels[10, 5, 5] == 0
    edit.rename_label("Peritumoural oedema")
    edit.recolour_label((1, 2, 3))
    assert layer.table[2].name == "Peritumoural oedema" and layer.table[2].color == (1, 2, 3)
    edit.remove_label()
    assert 2 not in layer.table and not (labels == 2).any()
    QApplication.processEvents()
