"""Label volumes stay exact while edits recount only the slices they touched."""

from __future__ import annotations

import numpy as np

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
