"""Label volumes stay exact while edits recount only the slices they touched."""

from __future__ import annotations

import numpy as np
import pytest

from engine.editing import Brush
from engine.labels import LabelInfo, LabelTable
from engine.volume import Geometry, Volume
from viewer.state.layers import LabelsLayer


def _layer(array):
    geom = Geometry(array.shape[::-1], (0.5, 0.5, 2.0), (0, 0, 0))
    return LabelsLayer(Volume(array, geom), LabelTable([LabelInfo(1, "a", (255, 0, 0))]))


def test_region_refresh_matches_a_full_count():
    rng = np.random.default_rng(3)
    arr = rng.integers(0, 3, size=(20, 16, 16)).astype(np.uint8)
    layer = _layer(arr)
    assert layer.volume_ml(1) == np.count_nonzero(arr == 1) * 0.5 * 0.5 * 2.0 / 1000
    arr[5:8, 2:9, 3:4] = 1
    arr[6, 0, 0] = 2
    layer.refresh((slice(5, 8), slice(0, 9), slice(0, 4)))
    for label in (1, 2):
        expected = np.count_nonzero(arr == label) * 0.0005
        assert abs(layer.volume_ml(label) - expected) < 1e-12


def test_new_label_id_in_a_region_and_full_refresh():
    arr = np.zeros((6, 8, 8), np.uint16)
    layer = _layer(arr)
    assert layer.label_ids == [1]
    arr[2, 1:3, 1:3] = 700          # an id above the per-slice table width
    layer.refresh((slice(2, 3), slice(None), slice(None)))
    assert 700 in layer.label_ids and abs(layer.volume_ml(700) - 4 * 0.0005) < 1e-12
    arr[:] = 0
    layer.refresh()
    assert layer.label_ids == [1] and layer.volume_ml(700) == 0


def _image_list(spacing=2.0, n=10):
    from viewer.state.layers import LayerList

    layers = LayerList()
    geom = Geometry((n, n, n), (spacing,) * 3, (0.0, 0.0, 0.0))
    layers.add_image(Volume(np.zeros((n, n, n), np.int16), geom, "CT"))
    return layers


def _fine_cube() -> Volume:
    """A 4 mm cube (0.064 mL) on a 1 mm grid covering the same 20 mm box as the 2 mm image."""
    arr = np.zeros((20, 20, 20), np.uint8)
    arr[8:12, 8:12, 8:12] = 1
    geom = Geometry((20, 20, 20), (1.0, 1.0, 1.0), (-0.5, -0.5, -0.5))
    return Volume(arr, geom, "OT")


def test_overlay_on_a_finer_grid_counts_the_array_it_shows():
    """Defect "Wrong volumes for overlays on another grid" (issue 14): the counter was bound to
    the 1 mm array before the list swapped in the resampled 2 mm one (0.064 mL read 0.512 mL)."""
    layers = _image_list()
    layer = layers.add_labels(_fine_cube(), LabelTable([LabelInfo(1, "a", (255, 0, 0))]))
    assert layer.volume.geometry.is_close(layers.image.volume.geometry)
    shown = np.count_nonzero(layer.volume.array == 1)
    assert shown == 8
    assert abs(layer.volume_ml(1) - 0.064) < 1e-9


def test_overlay_on_another_grid_recounts_after_edits():
    from viewer.state.editing import LayerEditing

    layers = _image_list()
    editing = LayerEditing(layers)
    layer = editing.add_editable(_fine_cube(), LabelTable([LabelInfo(1, "a", (255, 0, 0))]), "m")
    assert abs(layer.volume_ml(1) - 0.064) < 1e-9
    editor = editing.editor(layer)
    assert editor.labels is layer.volume.array          # edits go to the array on show
    editor.paint_points([(0, 0, 0)], Brush(radius_mm=1.0, label=1, plane_axis=0))
    painted = int(np.count_nonzero(layer.volume.array == 1)) - 8
    assert painted > 0
    assert abs(layer.volume_ml(1) - (8 + painted) * 0.008) < 1e-9


def test_layer_fields_are_evented_and_checked():
    """Layers are psygnal evented dataclasses: one event per real change, values checked."""
    from viewer.state.provenance import LayerProvenance, Role

    layer = _layer(np.zeros((2, 4, 4), np.uint8))
    seen = []
    for name in ("name", "visible", "opacity", "role", "provenance"):
        getattr(layer.events, name).connect(lambda v, *_, n=name: seen.append((n, v)))
    layer.opacity = 7            # clipped to 1.0
    layer.opacity = 1.0          # no change: no event
    layer.visible = 0
    layer.name = "lesion"
    layer.role = "corrected"
    layer.provenance = LayerProvenance("m", "1")
    assert seen[:4] == [("opacity", 1.0), ("visible", False), ("name", "lesion"),
                        ("role", Role.CORRECTED)]
    assert seen[4][0] == "provenance" and layer.provenance.model_label == "m@1"
    with pytest.raises(ValueError):
        layer.role = "painted"
    assert layer.export_provenance().algorithm_type == "SEMIAUTOMATIC"
