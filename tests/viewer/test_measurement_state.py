"""The viewer's measurement list (Qt-free): add/rename/delete, undo/redo, selection, JSON."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import InputError
from engine.reading import measure
from engine.volume import Geometry, Volume
from viewer.state.measurements import MeasurementList

SPACING = (0.5, 0.7, 2.0)


@pytest.fixture
def image() -> Volume:
    g = Geometry((20, 16, 8), SPACING, (-3.0, 12.5, 40.0))
    k, j, i = np.indices(g.shape)
    return Volume((i + 10 * j + 100 * k).astype(np.float32), g, "CT")


@pytest.fixture
def events():
    ml = MeasurementList()
    log: list = []
    ml.changed.connect(lambda: log.append("changed"))
    ml.selected.connect(lambda mid: log.append(("selected", mid)))
    return ml, log


def test_add_names_by_kind_and_selects(image, events):
    ml, log = events
    a = ml.add(measure.distance(image.geometry, (0, 0, 0), (4, 0, 0)))
    b = ml.add(measure.distance(image.geometry, (0, 0, 0), (0, 0, 3)))
    c = ml.add(measure.plane_roi(image, 2, (2, 2, 1), (6, 5, 1), shape="ellipse"))
    d = ml.add(measure.distance(image.geometry, (0, 0, 0), (0, 1, 0), name="Midline"))
    assert [m.name for _, m in ml.items()] == ["Ruler 1", "Ruler 2", "Ellipse 1", "Midline"]
    assert ml.get(a).value == pytest.approx(4 * 0.5)
    assert ml.get(b).value == pytest.approx(3 * 2.0)
    assert ml.get(c).stats.unit == "HU"
    assert len({a, b, c, d}) == 4 and ml.selection == d
    assert log.count("changed") == 4 and log[-1] == ("selected", d)


def test_rename_delete_undo_redo(image, events):
    ml, log = events
    a = ml.add(measure.distance(image.geometry, (0, 0, 0), (4, 0, 0)))
    b = ml.add(measure.plane_roi(image, 2, (2, 2, 1), (6, 5, 1)))
    ml.rename(a, "  Lesion long axis ")
    assert ml.get(a).name == "Lesion long axis"
    ml.delete(b)
    assert ml.ids() == [a] and ml.selection is None

    assert ml.undo()                                  # the delete
    assert ml.ids() == [a, b] and ml.get(b).kind == "rectangle"
    assert ml.undo()                                  # the rename
    assert ml.get(a).name == "Ruler 1"
    assert ml.redo() and ml.get(a).name == "Lesion long axis"
    assert ml.undo() and ml.undo() and ml.undo()      # rename, add b, add a
    assert len(ml) == 0 and not ml.can_undo and not ml.undo()
    assert ml.redo() and ml.ids() == [a]              # ids are stable across history
    ml.add(measure.distance(image.geometry, (0, 0, 0), (1, 0, 0)))
    assert not ml.can_redo                            # a new step drops the redo branch


def test_bad_requests_are_plain_errors(image):
    ml = MeasurementList()
    a = ml.add(measure.distance(image.geometry, (0, 0, 0), (4, 0, 0)))
    with pytest.raises(InputError, match="needs a name"):
        ml.rename(a, "   ")
    with pytest.raises(InputError, match="no measurement #99"):
        ml.delete(99)
    with pytest.raises(InputError, match="no measurement"):
        ml.select(99)
    with pytest.raises(InputError, match="malformed"):
        ml.load_json("{not json")
    assert ml.ids() == [a]                            # unchanged by the failed load


def test_undo_history_is_bounded(image):
    ml = MeasurementList(undo_limit=3)
    for n in range(6):
        ml.add(measure.distance(image.geometry, (0, 0, 0), (n + 1, 0, 0)))
    undone = 0
    while ml.undo():
        undone += 1
    assert undone == 3 and len(ml) == 3


def test_json_round_trip(image, tmp_path):
    labels = Volume((image.array > 700).astype(np.uint8), image.geometry, "SEG")
    ml = MeasurementList()
    ml.add(measure.distance(image.geometry, (0, 0, 0), (3, 4, 0)))
    ml.add(measure.angle(image.geometry, (4, 0, 0), (0, 0, 0), (0, 4, 0)))
    ml.add(measure.plane_roi(image, 0, (3, 2, 1), (3, 9, 6), shape="ellipse"))
    ml.add(measure.label_roi(image, labels, 1))
    ml.rename(ml.ids()[0], "Renamed")
    path = tmp_path / "measurements.json"
    path.write_text(ml.to_json(), encoding="utf-8")

    back = MeasurementList()
    assert back.load_json(path.read_text(encoding="utf-8")) == 4
    assert [m for _, m in back.items()] == [m for _, m in ml.items()]
    assert not back.can_undo
    assert back.items()[3][1].stats.volume_ml == pytest.approx(
        int((image.array > 700).sum()) * 0.5 * 0.7 * 2.0 / 1000)
