"""Undo/redo: per stroke, exact, memory-bounded, redo branch dropped after a new edit."""

from __future__ import annotations

import numpy as np

from engine.editing import Brush, EditHistory, LabelEditor


def _editor(**kw):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (16, 48, 48), dtype=np.uint8)  # a busy map: undo must restore it exactly
    return LabelEditor(labels, (1.0, 1.0, 1.5), **kw)


def test_undo_restores_exactly_and_redo_reapplies():
    ed = _editor()
    original = ed.labels.copy()
    ed.paint_points([(8, 10, 10), (8, 30, 35)], Brush(4.0, label=1))
    after_paint = ed.labels.copy()
    ed.paint_points([(5, 24, 24)], Brush(6.0, label=2, plane_axis=None))
    after_second = ed.labels.copy()
    assert ed.history.undo_descriptions == ["Paint", "Paint"]

    ed.undo()
    np.testing.assert_array_equal(ed.labels, after_paint)
    ed.undo()
    np.testing.assert_array_equal(ed.labels, original)
    assert ed.undo() is None
    ed.redo()
    np.testing.assert_array_equal(ed.labels, after_paint)
    ed.redo()
    np.testing.assert_array_equal(ed.labels, after_second)
    assert ed.redo() is None


def test_one_stroke_is_one_undo_step_even_when_dabs_overlap():
    ed = _editor()
    original = ed.labels.copy()
    ed.begin_stroke("Paint")
    for x in range(5, 40, 2):  # overlapping dabs: the first old value of each voxel must win
        ed.stroke_to((8, 20, x), Brush(5.0, label=2))
    ed.stroke_to((8, 20, 5), Brush(5.0, label=1))
    record = ed.end_stroke()
    assert record is not None and len(ed.history.undo_descriptions) == 1
    ed.undo()
    np.testing.assert_array_equal(ed.labels, original)


def test_records_hold_only_the_changed_region():
    ed = LabelEditor(np.zeros((100, 256, 256), np.uint16), (0.8, 0.8, 1.0))
    record = ed.paint_points([(50, 128, 128)], Brush(5.0, label=1))
    painted = int((ed.labels == 1).sum())
    assert record.voxels == painted
    assert record.nbytes < 16 * painted + 1024  # indices + old + new, no volume copy
    assert record.nbytes < ed.labels.nbytes / 1000
    assert [s.stop - s.start for s in record.bbox][0] == 1


def test_painting_after_undo_drops_the_redo_branch():
    ed = _editor()
    ed.paint_points([(8, 10, 10)], Brush(4.0, label=1))
    ed.paint_points([(8, 30, 30)], Brush(4.0, label=2))
    ed.undo()
    assert ed.history.can_redo
    ed.paint_points([(3, 20, 20)], Brush(3.0, label=1), description="Paint again")
    assert not ed.history.can_redo
    assert ed.redo() is None
    assert ed.history.undo_descriptions == ["Paint", "Paint again"]


def test_history_forgets_oldest_steps_beyond_its_memory_budget():
    history = EditHistory(max_bytes=60_000)
    ed = LabelEditor(np.zeros((8, 128, 128), np.uint8), (1, 1, 1), history=history)
    for k in range(8):
        ed.paint_points([(k, 64, 64)], Brush(20.0, label=1))  # ~1250 voxels ≈ 10 kB per record
    assert history.nbytes <= 60_000
    steps = len(history.undo_descriptions)
    assert 1 <= steps < 8
    while ed.undo() is not None:
        pass
    # the remembered steps were undone; the forgotten ones stay painted
    assert [bool(ed.labels[k].any()) for k in range(8)] == [True] * (8 - steps) + [False] * steps


def test_change_listener_receives_bounding_boxes_and_generation_advances():
    ed = _editor()
    boxes = []
    ed.on_change(boxes.append)
    g0 = ed.generation
    ed.dab((8, 20, 20), Brush(2.0, label=1))
    ed.undo()
    assert len(boxes) == 2
    # the undo box is the changed region, inside the dab's box
    assert all(u.start >= d.start and u.stop <= d.stop for u, d in zip(boxes[1], boxes[0]))
    assert all(b[0] == slice(8, 9) for b in boxes)
    assert ed.generation == g0 + 2
    ed.disconnect(boxes.append)
    ed.redo()
    assert len(boxes) == 2


def test_editing_a_copy_never_touches_the_ai_output():
    ai = np.zeros((4, 16, 16), np.uint8)
    ai[2, 4:8, 4:8] = 1
    ai.setflags(write=False)
    ed = LabelEditor.from_ai(ai, (1, 1, 1))
    ed.dab((2, 10, 10), Brush(2.0, label=1))
    assert ai.sum() == 16 and ed.labels.sum() > 16
