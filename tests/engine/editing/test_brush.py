"""Brush and eraser dabs: physical size on anisotropic grids, discs vs spheres, windows."""

from __future__ import annotations

import numpy as np
import pytest

from engine.editing import AXIAL, CORONAL, Brush, LabelEditor
from engine.editing.footprint import footprint
from engine.errors import InputError


def _editor(shape=(20, 40, 40), spacing=(0.5, 0.5, 2.0), image=None):
    return LabelEditor(np.zeros(shape, np.uint8), spacing, image=image)


def test_disc_respects_anisotropic_in_plane_spacing():
    # i spacing 0.5 mm, j spacing 1.0 mm: a 5 mm radius spans 10 columns but 5 rows each way
    ed = _editor(spacing=(0.5, 1.0, 2.0))
    ed.dab((10, 20, 20), Brush(5.0, label=1, plane_axis=AXIAL))
    k, j, i = np.nonzero(ed.labels)
    assert set(k) == {10}
    assert (j.min(), j.max()) == (15, 25)
    assert (i.min(), i.max()) == (10, 30)
    # every painted voxel lies within 5 mm of the centre, and the area matches a 5 mm disc
    dist = np.hypot((j - 20) * 1.0, (i - 20) * 0.5)
    assert dist.max() <= 5.0
    area_mm2 = k.size * 0.5 * 1.0
    assert abs(area_mm2 - np.pi * 25) / (np.pi * 25) < 0.1


def test_sphere_spans_slices_by_their_thickness():
    ed = _editor(spacing=(0.5, 0.5, 2.0))
    ed.dab((10, 20, 20), Brush(4.0, label=2, plane_axis=None))
    k, j, i = np.nonzero(ed.labels)
    assert (k.min(), k.max()) == (8, 12)  # ±4 mm at 2 mm slices = ±2 slices
    assert (i.min(), i.max()) == (12, 28)
    assert set(np.unique(ed.labels)) == {0, 2}


def test_coronal_disc_lies_in_the_coronal_plane():
    ed = _editor(spacing=(1.0, 1.0, 1.0))
    ed.dab((10, 20, 20), Brush(3.0, label=1, plane_axis=CORONAL))
    k, j, i = np.nonzero(ed.labels)
    assert set(j) == {20} and k.min() == 7 and k.max() == 13


def test_tiny_brush_paints_one_voxel_and_footprints_are_cached():
    ed = _editor()
    ed.dab((3, 4, 5), Brush(0.1, label=1))
    assert ed.labels.sum() == 1 and ed.labels[3, 4, 5] == 1
    a = footprint(5.0, (2.0, 0.5, 0.5), None)
    assert footprint(5.0, (2.0, 0.5, 0.5), None) is a
    assert not a.flags.writeable


def test_dab_at_the_border_is_clipped():
    ed = _editor()
    ed.dab((0, 0, 0), Brush(3.0, label=1, plane_axis=None))
    assert ed.labels[0, 0, 0] == 1 and ed.labels.sum() > 1
    assert ed.dab((-50, -50, -50), Brush(3.0, label=1)) is None


def test_eraser_clears_only_the_active_label_unless_label_is_zero():
    ed = _editor(spacing=(1, 1, 1))
    ed.labels[10, 15:25, 15:25] = 1
    ed.labels[10, 15:25, 25:30] = 2
    ed.dab((10, 20, 24), Brush(6.0, label=1, erase=True))
    assert ed.labels[10, 20, 20] == 0
    assert (ed.labels[10, 15:25, 25:30] == 2).all()
    ed.dab((10, 20, 24), Brush(6.0, label=0, erase=True))
    assert ed.labels[10, 20, 27] == 0


def test_paint_without_overwrite_keeps_other_labels():
    ed = _editor(spacing=(1, 1, 1))
    ed.labels[10, 20, 20:30] = 3
    ed.dab((10, 20, 20), Brush(4.0, label=1, overwrite=False))
    assert (ed.labels[10, 20, 20:30] == 3).all()
    assert ed.labels[10, 21, 20] == 1
    ed.dab((10, 20, 20), Brush(4.0, label=1))
    assert ed.labels[10, 20, 20] == 1


def test_threshold_paint_only_touches_voxels_in_the_window():
    image = np.zeros((20, 40, 40), np.int16)
    image[:, :, 20:] = 100  # right half bright
    ed = _editor(spacing=(1, 1, 1), image=image)
    ed.dab((10, 20, 20), Brush(8.0, label=1, window=(50, 150)))
    painted = ed.labels[10] == 1
    assert painted.any()
    assert not painted[:, :20].any() and painted[:, 20:].any()
    with pytest.raises(InputError):
        LabelEditor(np.zeros((4, 4, 4), np.uint8), (1, 1, 1)).dab((1, 1, 1), Brush(2, 1, window=(0, 1)))


def test_brush_checks_its_arguments():
    with pytest.raises(InputError):
        Brush(3.0, label=0)
    with pytest.raises(InputError):
        Brush(3.0, label=1, window=(10, 5))
    ed = _editor()
    with pytest.raises(InputError):
        ed.dab((1, 1, 1), Brush(2.0, label=300))  # does not fit uint8


def test_fast_drag_leaves_no_gaps():
    ed = _editor(spacing=(1, 1, 1))
    ed.paint_points([(10, 20, 2), (10, 20, 37)], Brush(1.5, label=1))
    assert (ed.labels[10, 20, 2:38] == 1).all()
    assert len(ed.history.undo_descriptions) == 1
