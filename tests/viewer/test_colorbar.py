"""Rough edge 5 of issue 20: a heatmap has a colour legend with its values in every slice view."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QApplication

from tests.viewer.conftest import gaussian_heat, lesion_mask, lesion_table, qimage_rgb, synthetic_ct
from viewer.qt.luts import colormap_rgb


def _bars(window):
    viewer = window.services.viewer
    return [viewer.frames[name].colorbar for name in viewer.views]


def test_each_slice_view_shows_the_legend_of_the_heatmap_on_show(reading_window, qtbot):
    model = reading_window.services.model
    ct = synthetic_ct()
    model.open_volume(ct)
    bars = _bars(reading_window)
    assert not any(b.isVisible() for b in bars)                     # no heatmap, no legend
    labels = model.layers.add_labels(ct.with_array(lesion_mask(ct)), lesion_table(), name="lesion")
    heat = model.layers.add_heatmap(ct.with_array(gaussian_heat(ct, (12, 30, 14))),
                                    name="Uncertainty (epistemic, MC-Dropout) of a long run", colormap="viridis",
                                    value_range=(0.05, 0.25))
    qtbot.waitUntil(lambda: all(b.isVisible() for b in bars), timeout=2000)
    for bar in bars:
        assert bar.layer is heat
        assert bar.labels() == ["0.25", "0.15", "0.05"]
        assert heat.name in bar.toolTip()
        assert bar.width() >= bar.sizeHint().width() > 12           # room for the numbers
    # the picture: the bar's top is the colormap's maximum, its bottom the minimum
    bar = bars[0]
    QApplication.processEvents()
    rgb = qimage_rgb(bar.grab().toImage())
    r = bar.bar_rect()
    x = r.left() + r.width() // 2
    lut = colormap_rgb("viridis").astype(int)
    assert np.abs(rgb[r.top() + 2, x].astype(int) - lut[-1]).max() <= 12
    assert np.abs(rgb[r.bottom() - 2, x].astype(int) - lut[0]).max() <= 12
    assert (rgb[:, r.right() + 3:] > 150).any()                    # the value labels are drawn

    # a change of range or colormap reaches the legend; a second heatmap on top wins unless the
    # selected layer is a heatmap; hiding / removing the map hides the legend
    heat.value_range = (0.0, 1.0)
    assert bars[1].labels() == ["1", "0.5", "0"]
    other = model.layers.add_heatmap(ct.with_array(gaussian_heat(ct, (12, 20, 20))), name="saliency",
                                     colormap="magma", value_range=(0.0, 2.0))
    model.layers.active = labels
    assert all(b.layer is other for b in bars)
    model.layers.active = heat
    assert all(b.layer is heat for b in bars)
    heat.visible = False
    assert all(b.layer is other for b in bars)
    model.layers.remove(other)
    assert not any(b.isVisible() for b in bars) and all(b.layer is None for b in bars)
