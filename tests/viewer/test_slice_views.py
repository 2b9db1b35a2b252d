"""The slice views driven with real mouse, wheel and key events."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

from tests.viewer.conftest import (gaussian_heat, lesion_mask, lesion_table, send_click, send_drag,
                                   send_wheel, synthetic_ct, viewport_pos)


def _open(window, with_overlays=False):
    ct = synthetic_ct()
    window.services.model.open_volume(ct)
    if with_overlays:
        window.services.model.layers.add_labels(ct.with_array(lesion_mask(ct)), lesion_table(), name="lesion")
        window.services.model.layers.add_heatmap(ct.with_array(gaussian_heat(ct, (12, 30, 14))),
                                        name="saliency", value_range=(0.05, 1.0))
    return ct


def test_wheel_and_keys_move_slices(reading_window, qtbot):
    _open(reading_window)
    model = reading_window.services.model
    axial = reading_window.services.viewer.views["axial"]
    start = model.cursor.slice_of("axial")
    viewport = axial.canvas.viewport()
    centre = QPoint(viewport.width() // 2, viewport.height() // 2)
    send_wheel(viewport, centre, 1)
    send_wheel(viewport, centre, 1)
    assert model.cursor.slice_of("axial") == start + 2
    send_wheel(viewport, centre, -1)
    assert model.cursor.slice_of("axial") == start + 1
    axial.canvas.setFocus()
    qtbot.keyClick(axial.canvas, Qt.Key.Key_Down)
    qtbot.keyClick(axial.canvas, Qt.Key.Key_Down)
    assert model.cursor.slice_of("axial") == start - 1
    qtbot.keyClick(axial.canvas, Qt.Key.Key_PageUp)
    assert model.cursor.slice_of("axial") == min(start - 1 + 10, 23)
    for _ in range(3):
        qtbot.keyClick(axial.canvas, Qt.Key.Key_PageDown)
    assert model.cursor.slice_of("axial") == 0            # clamped at the first slice
    # The header shows the slice number and the position in mm; the image shows that slice.
    assert axial.header.text().startswith("1/24")
    assert f"{model.cursor.slice_position_mm('axial'):+.1f} mm" in axial.header.text()
    # Ctrl+wheel zooms instead of scrolling.
    before = axial.box.viewRange()[0]
    send_wheel(viewport, centre, 3, Qt.KeyboardModifier.ControlModifier)
    after = axial.box.viewRange()[0]
    assert model.cursor.slice_of("axial") == 0
    assert (after[1] - after[0]) < (before[1] - before[0]) * 0.9
    qtbot.keyClick(axial.canvas, Qt.Key.Key_Home)
    assert model.cursor.index == tuple(n // 2 for n in model.grid.shape)


def test_window_level_by_right_drag_ctrl_drag_and_preset_keys(reading_window, qtbot):
    _open(reading_window)
    model = reading_window.services.model
    view = reading_window.services.viewer.views["coronal"]
    vp = view.canvas.viewport()
    c = QPoint(vp.width() // 2, vp.height() // 2)
    w0, l0 = model.window.width, model.window.center
    pixels_before = view.current_pixels()["CT phantom"].copy()
    send_drag(vp, c, c + QPoint(80, 0), Qt.MouseButton.RightButton)       # right: wider
    assert model.window.width > w0 + 50 and model.window.center == l0
    send_drag(vp, c, c + QPoint(0, 60), Qt.MouseButton.LeftButton,
              Qt.KeyboardModifier.ControlModifier)                        # Ctrl+left, down: level up
    assert model.window.center > l0 + 30
    assert "W " in view.footer.text() and f"L {model.window.center:.0f}" in view.footer.text()
    assert not np.array_equal(view.current_pixels()["CT phantom"], pixels_before)
    view.canvas.setFocus()
    qtbot.keyClick(view.canvas, Qt.Key.Key_4)
    assert (model.window.center, model.window.width, model.window.preset_name) == (-600, 1500, "CT lung")
    qtbot.keyClick(view.canvas, Qt.Key.Key_5)
    assert model.window.preset_name == "CT bone"


def test_click_sets_crosshair_and_links_the_other_views(reading_window):
    _open(reading_window)
    model = reading_window.services.model
    views = reading_window.services.viewer.views
    target = (model.cursor.index[0], 10, 31)                  # same axial slice, new P and L
    send_click(views["axial"].canvas.viewport(), viewport_pos(views["axial"], target))
    assert model.cursor.index == target
    assert model.cursor.slice_of("coronal") == 10 and model.cursor.slice_of("sagittal") == 31
    assert views["coronal"].header.text().startswith("11/48")
    # The crosshair lines of the other views sit on the clicked point.
    row_sp, col_sp = views["coronal"].spacing
    assert views["coronal"].vline.value() == (31 + 0.5) * col_sp
    # Dragging with the left button moves the crosshair continuously (in the sagittal view).
    sag = views["sagittal"]
    send_drag(sag.canvas.viewport(), viewport_pos(sag, (4, 20, 31)), viewport_pos(sag, (18, 36, 31)))
    assert model.cursor.index == (18, 36, 31)
    assert model.cursor.slice_of("axial") == 18
    # The status bar reports the voxel, the patient position and the HU under the crosshair.
    text = reading_window.services.cursor_readout.text()
    i, j, k = model.cursor.source_index
    assert f"voxel ({i}, {j}, {k})" in text and "HU" in text and "LPS (" in text


def test_overlay_toggle_opacity_and_label_visibility(reading_window):
    _open(reading_window, with_overlays=True)
    model = reading_window.services.model
    labels = model.layers.active_labels
    panel = reading_window.services.layers_panel
    axial = reading_window.services.viewer.views["axial"]
    entry = axial._items[id(labels)]
    model.cursor.set_index((12, 18, 27))                       # through the lesion
    assert entry.item.isVisible()
    item = panel.item_for(labels)
    item.setCheckState(0, Qt.CheckState.Unchecked)             # as a user's click in the tree
    assert labels.visible is False and not entry.item.isVisible()
    item.setCheckState(0, Qt.CheckState.Checked)
    assert labels.visible and entry.item.isVisible()
    # Opacity: the slider drives the layer and the drawn alpha.
    panel.tree.setCurrentItem(item)
    alpha_before = int((entry.item.image >> 24).max())
    panel.opacity.setValue(100)
    assert labels.opacity == 1.0
    assert int((entry.item.image >> 24).max()) == 255 > alpha_before
    # One label off hides its pixels.
    panel.item_for(labels, 1).setCheckState(0, Qt.CheckState.Unchecked)
    assert not labels.label_visible(1) and int((entry.item.image >> 24).max()) == 0
    assert "mL" in panel.item_for(labels, 1).text(1)
    # Heatmap colormap and range from the panel.
    heat = model.layers.of_kind(type(model.layers[-1]))[-1]
    panel.tree.setCurrentItem(panel.item_for(heat))
    panel.colormap.setCurrentText("viridis")
    assert heat.colormap == "viridis"
    panel.remove_button.click()
    assert heat not in model.layers and id(heat) not in axial._items


def test_layouts_switch_from_the_view_menu(reading_window, qtbot):
    _open(reading_window)
    viewer, model = reading_window.services.viewer, reading_window.services.model
    assert viewer.shown_views() == ["axial", "coronal", "sagittal"]
    reading_window.services.layout_actions["single"].trigger()
    assert viewer.shown_views() == ["axial"]
    # Double-click on the coronal view maximises it; again returns to the previous layout.
    model.layout = "1x3"
    cor = viewer.views["coronal"]
    model.toggle_maximise("coronal")
    assert viewer.shown_views() == ["coronal"]
    model.toggle_maximise("coronal")
    assert viewer.shown_views() == ["axial", "coronal", "sagittal"]
    reading_window.services.layout_actions["2x2"].trigger()
    qtbot.waitUntil(lambda: "3d" in viewer.shown_views(), timeout=5000)
    assert sorted(viewer.shown_views()) == ["3d", "axial", "coronal", "sagittal"]
    assert cor.isVisible()


def test_physical_aspect_and_orientation_letters(reading_window):
    _open(reading_window)
    cor = reading_window.services.viewer.views["coronal"]
    entry = cor._items[id(reading_window.services.model.image)]
    rect = entry.item.mapRectToParent(entry.item.boundingRect())
    # Coronal slice: 40 columns × 0.8 mm wide, 24 rows × 2.0 mm tall.
    assert abs(rect.width() - 32.0) < 1e-6 and abs(rect.height() - 48.0) < 1e-6
    assert [lab.text() for lab in cor.letters] == ["R", "L", "S", "I"]
    assert [lab.text() for lab in reading_window.services.viewer.views["axial"].letters] == ["R", "L", "A", "P"]
