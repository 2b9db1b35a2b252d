"""Flood fill in a slice, fill between slices, and label add/remove/rename/recolour."""

from __future__ import annotations

import numpy as np
import pytest

from engine.editing import AXIAL, CORONAL, LabelEditor
from engine.editing.interpolate import drawn_slices
from engine.errors import InputError
from engine.labels import LabelInfo, LabelTable


def _ring(shape=(10, 32, 32)):
    labels = np.zeros(shape, np.uint8)
    labels[5, 8:24, 8] = labels[5, 8:24, 23] = labels[5, 8, 8:24] = labels[5, 23, 8:24] = 1
    return labels


def test_flood_fill_fills_the_enclosed_region_of_one_slice_only():
    ed = LabelEditor(_ring(), (1, 1, 1))
    record = ed.flood_fill((5, 15, 15), AXIAL, label=2)
    assert record.voxels == 14 * 14
    assert (ed.labels[5, 9:23, 9:23] == 2).all()
    assert ed.labels[5, 2, 2] == 0 and ed.labels[4].sum() == 0 and ed.labels[6].sum() == 0
    ed.undo()
    assert (ed.labels == _ring()).all()


def test_flood_fill_with_window_stops_at_intensity_edges():
    image = np.zeros((10, 32, 32), np.float32)
    image[:, :, 16:] = 500.0
    ed = LabelEditor(np.zeros((10, 32, 32), np.uint8), (1, 1, 1), image=image)
    ed.flood_fill((5, 15, 20), AXIAL, label=1, window=(400, 600))
    assert (ed.labels[5, :, 16:] == 1).all() and ed.labels[5, :, :16].sum() == 0
    assert ed.flood_fill((5, 15, 2), AXIAL, label=1, window=(400, 600)) is None
    with pytest.raises(InputError):
        ed.flood_fill((50, 15, 2), AXIAL, label=1)


def _disc(shape, center, radius):
    jj, ii = np.mgrid[: shape[0], : shape[1]]
    return (jj - center[0]) ** 2 + (ii - center[1]) ** 2 <= radius ** 2


def test_fill_between_slices_interpolates_shape_across_gaps():
    labels = np.zeros((13, 64, 64), np.uint8)
    labels[0][_disc((64, 64), (32, 32), 6)] = 1
    labels[6][_disc((64, 64), (32, 32), 18)] = 1
    labels[12][_disc((64, 64), (32, 32), 6)] = 1
    labels[3, 0:4, 0:4] = 2  # another label is never overwritten
    ed = LabelEditor(labels, (1.0, 1.0, 3.0))
    record = ed.fill_between_slices(1, AXIAL)
    assert record is not None
    assert list(drawn_slices(ed.labels, 1, AXIAL)) == list(range(13))
    areas = [(ed.labels[k] == 1).sum() for k in range(13)]
    radii = [np.sqrt(a / np.pi) for a in areas]
    # radius grows linearly 6 → 18 over slices 0..6 and shrinks back (shape-based interpolation)
    for k, expected in zip(range(7), np.linspace(6, 18, 7)):
        assert abs(radii[k] - expected) < 1.0, (k, radii[k], expected)
    assert radii[:7] == sorted(radii[:7]) and radii[6:] == sorted(radii[6:], reverse=True)
    assert (ed.labels[3, 0:4, 0:4] == 2).all()
    ed.undo()
    assert list(drawn_slices(ed.labels, 1, AXIAL)) == [0, 6, 12]


def test_fill_between_slices_in_coronal_direction_and_nothing_to_do():
    labels = np.zeros((20, 10, 20), np.uint8)
    labels[5:15, 2, 5:15] = 1
    labels[5:15, 6, 5:15] = 1
    ed = LabelEditor(labels, (1, 1, 1))
    ed.fill_between_slices(1, CORONAL)
    assert (ed.labels[5:15, 2:7, 5:15] == 1).all()
    assert ed.fill_between_slices(1, CORONAL) is None  # no gaps left
    assert ed.fill_between_slices(3, AXIAL) is None  # label absent


def test_label_table_edits_are_undoable_and_remove_clears_voxels():
    labels = np.zeros((4, 8, 8), np.uint8)
    labels[1, 2:4, 2:4] = 1
    ed = LabelEditor(labels, (1, 1, 1), LabelTable([LabelInfo(1, "Lesion", (255, 0, 0))]))
    info = ed.add_label("Oedema")
    assert info.id == 2 and ed.table[2].name == "Oedema"
    with pytest.raises(InputError):
        ed.add_label("oedema")
    ed.rename_label(1, "Tumour core")
    ed.recolour_label(1, (0, 0, 255))
    assert ed.table[1].name == "Tumour core" and ed.table[1].color == (0, 0, 255)
    ed.remove_label(1)
    assert 1 not in ed.table and ed.labels.sum() == 0
    ed.undo()
    assert ed.table[1].name == "Tumour core" and ed.labels.sum() == 4
    ed.undo()
    ed.undo()
    assert ed.table[1] == LabelInfo(1, "Lesion", (255, 0, 0))
    ed.undo()
    assert 2 not in ed.table
    ed.redo()
    assert ed.table[2].name == "Oedema"


def test_added_label_skips_ids_present_in_the_map_but_unnamed():
    labels = np.zeros((2, 4, 4), np.uint8)
    labels[0, 0, 0] = 1
    ed = LabelEditor(labels, (1, 1, 1))
    assert ed.add_label().id == 2
