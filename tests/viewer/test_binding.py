"""The widget ↔ state binding helper and the layers panel that uses it: an exception while the
panel fills its widgets never leaves the guard stuck (the widgets would stop writing state)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QSlider

from engine.volume import Geometry, Volume
from viewer.qt.binding import UpdateGuard, connect_setattr
from viewer.qt.layers_panel import LayersPanel
from viewer.state.layers import HeatmapLayer
from viewer.state.provenance import LayerProvenance
from viewer.state.viewer_model import ViewerModel

GEOM = Geometry((8, 8, 4), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))


class _Target:
    opacity = 0.0


def test_guard_is_cleared_after_an_exception_and_nests():
    guard = UpdateGuard()
    with pytest.raises(ZeroDivisionError):
        with guard:
            assert guard.active
            raise ZeroDivisionError
    assert not guard.active
    with guard:
        with guard:
            pass
        assert guard.active
    assert not guard


def test_connect_setattr_writes_unless_updating(qtbot):
    slider = QSlider()
    qtbot.addWidget(slider)
    slider.setRange(0, 100)
    target, guard = _Target(), UpdateGuard()
    connect_setattr(slider.valueChanged, lambda: target, "opacity", guard, lambda v: v / 100)
    slider.setValue(40)
    assert target.opacity == 0.4
    with guard:
        slider.setValue(70)         # the view filling its widget: no echo into the state
    assert target.opacity == 0.4
    slider.setValue(90)
    assert target.opacity == 0.9


class _BrokenRange(HeatmapLayer):
    """A heatmap whose range cannot be read once (a bug somewhere in a layer)."""

    fail = True

    @property
    def value_range(self):
        if type(self).fail:
            type(self).fail = False
            raise RuntimeError("broken range")
        return (0.0, 1.0)


def test_panel_keeps_working_after_an_exception_during_an_update(qtbot):
    model = ViewerModel()
    model.layers.add_image(Volume(np.zeros((4, 8, 8), np.int16), GEOM, "CT"))
    panel = LayersPanel(model)
    qtbot.addWidget(panel)
    heat = _BrokenRange(Volume(np.random.default_rng(0).random((4, 8, 8), np.float32), GEOM))
    with qtbot.capture_exceptions() as raised:
        model.layers.append(heat)          # the panel's update raises half-way (in a Qt slot)
    assert [type(e[1]) for e in raised] == [RuntimeError]
    model.layers.active = heat
    panel.opacity.setValue(20)             # the slider still writes the layer
    assert heat.opacity == pytest.approx(0.2)


def test_ood_flag_shows_in_the_panel_not_in_the_name(qtbot):
    model = ViewerModel()
    model.layers.add_image(Volume(np.zeros((4, 8, 8), np.int16), GEOM, "CT"))
    panel = LayersPanel(model)
    qtbot.addWidget(panel)
    labels = model.layers.add_labels(Volume(np.zeros((4, 8, 8), np.uint8), GEOM), name="AI seg",
                                     provenance=LayerProvenance("m", "1", ood_flag=True))
    item = panel.item_for(labels)
    assert labels.name == "AI seg"
    assert item.text(0) == "⚠ AI seg" and "OOD warning" in item.toolTip(0)
    labels.provenance = LayerProvenance("m", "1", ood_flag=False)
    qtbot.waitUntil(lambda: panel.item_for(labels).text(0) == "AI seg", timeout=3000)
