"""Screenshots of each view with overlays: the image and the overlays are really drawn."""

from __future__ import annotations

from PySide6.QtGui import QImage

from tests.viewer.conftest import (gaussian_heat, lesion_mask, lesion_table, qimage_rgb,
                                   synthetic_ct, viewport_pos)
from viewer.qt.screenshot import save_screenshot

LESION = (12, 18, 27)       # display (s, p, l) voxel inside the lesion
HEAT = (12, 30, 12)         # heatmap peak, away from the lesion


def _setup(window):
    ct = synthetic_ct()
    model = window.services.model
    model.open_volume(ct)
    model.layers.add_labels(ct.with_array(lesion_mask(ct, LESION, radius=6)), lesion_table(),
                            name="lesion", opacity=0.6)
    model.layers.add_heatmap(ct.with_array(gaussian_heat(ct, HEAT)), name="saliency",
                             colormap="inferno", value_range=(0.05, 1.0), opacity=0.6)
    model.cursor.set_index(LESION)
    return ct


def _pixel(rgb, view, zyx, frame_offset):
    p = viewport_pos(view, zyx)
    y, x = p.y() + frame_offset[1], p.x() + frame_offset[0]
    return rgb[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).mean(0)


def test_each_view_screenshot_shows_image_label_and_heatmap(reading_window, qtbot, tmp_path):
    _setup(reading_window)
    qtbot.wait(50)
    for name, view in reading_window.services.viewer.views.items():
        path = save_screenshot(reading_window.services, name, tmp_path / f"{name}.png")
        rgb = qimage_rgb(QImage(str(path)))
        assert rgb.shape[0] > 100 and rgb.shape[1] > 100
        assert rgb.std() > 20, f"{name} screenshot is blank"
        frame = reading_window.services.viewer.frames[name]
        origin = view.canvas.viewport().mapTo(frame, view.canvas.viewport().rect().topLeft())
        offset = (origin.x(), origin.y())
        # Lesion voxel (off the crosshair lines): red dominates over the grey image.
        probe = tuple(v + d for v, d in zip(LESION, (1, 2, 2)))
        r, g, b = _pixel(rgb, view, probe, offset)
        assert r > g + 60 and r > b + 60, f"{name}: no label colour at the lesion ({r}, {g}, {b})"
        # Soft tissue far from both overlays is grey (r ≈ g ≈ b).
        tissue = {"axial": (12, 40, 8), "coronal": (8, 18, 8), "sagittal": (8, 40, 27)}[name]
        r, g, b = _pixel(rgb, view, tissue, offset)
        assert abs(r - g) < 12 and abs(g - b) < 12, f"{name}: tissue not grey"
    # The axial view crosses the heatmap peak: a warm inferno colour (r high, b lower) there.
    view = reading_window.services.viewer.views["axial"]
    rgb = qimage_rgb(QImage(str(tmp_path / "axial.png")))
    origin = view.canvas.viewport().mapTo(reading_window.services.viewer.frames["axial"],
                                          view.canvas.viewport().rect().topLeft())
    r, g, b = _pixel(rgb, view, (12, HEAT[1] + 1, HEAT[2] + 1), (origin.x(), origin.y()))
    assert r > 150 and r > b, f"heatmap not drawn ({r}, {g}, {b})"


def test_window_screenshot_png(reading_window, tmp_path):
    _setup(reading_window)
    path = save_screenshot(reading_window.services, "window", tmp_path / "window")
    assert path.suffix == ".png" and path.exists()
    rgb = qimage_rgb(QImage(str(path)))
    assert rgb.shape[1] >= 1000 and rgb.std() > 20
    assert reading_window.services.screenshot_menu.isEnabled()
