"""View › Lesions: the lesion table dock on a generated label map with known components."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from engine.labels import LabelInfo, LabelTable
from engine.volume import Volume
from tests.viewer.edit_helpers import GEOMETRY, open_window
from viewer.qt.features._lesion_model import COLUMNS
from viewer.state.cursor import VIEW_AXIS
from viewer.state.provenance import LayerProvenance, Role

pytestmark = pytest.mark.gui

VOXEL_ML = 1.0 * 1.0 * 2.5 / 1000.0          # GEOMETRY's spacing
SMALL = (slice(2, 5), slice(10, 15), slice(10, 15))    # 3×5×5 = 75 voxels, centre (k, j, i) (3, 12, 12)
LARGE = (slice(5, 10), slice(30, 37), slice(40, 47))   # 5×7×7 = 245 voxels, centre (7, 33, 43)
TABLE = LabelTable([LabelInfo(1, "Edema", (0, 255, 0)), LabelInfo(2, "Lesion", (255, 0, 0))])


def two_lesions() -> Volume:
    arr = np.zeros(GEOMETRY.shape, np.uint8)
    arr[SMALL] = 2
    arr[LARGE] = 2
    arr[0:2, 0:4, 0:4] = 1                    # another class: not listed
    return Volume(arr, GEOMETRY, "OT")


def dock_of(window) -> QDockWidget:
    dock = window.findChild(QDockWidget, "lesion_table")
    assert dock is not None
    dock.show()
    return dock


def wait_rows(qtbot, dock, n: int) -> list:
    qtbot.waitUntil(lambda: dock.job is not None and not dock.busy() and dock.proxy.rowCount() == n,
                    timeout=10000)
    return dock.rows()


def test_rows_sorting_click_and_edit_refresh(qtbot):
    window = open_window(qtbot, with_ai=False)
    dock = dock_of(window)
    layer = window.services.model.layers.add_labels(two_lesions(), TABLE, name="Reader labels")
    assert dock.label() == 2                   # the class named "lesion" is the default
    rows = wait_rows(qtbot, dock, 2)
    assert [r.voxels for r in rows] == [245, 75]                 # sorted by volume, largest first
    assert [dock.proxy.index(r, 1).data() for r in range(2)] == ["0.613", "0.188"]
    assert [r.volume_ml for r in rows] == pytest.approx([245 * VOXEL_ML, 75 * VOXEL_ML], abs=1e-12)
    assert [r.slice_range for r in rows] == [(5, 9), (2, 4)]
    assert dock.proxy.headerData(2, Qt.Orientation.Horizontal) == COLUMNS[2] == "Long axis mm"

    dock.view.sortByColumn(4, Qt.SortOrder.AscendingOrder)        # by slices: the small one first
    assert [r.voxels for r in dock.rows()] == [75, 245]
    dock.view.sortByColumn(2, Qt.SortOrder.DescendingOrder)       # by long axis: the large one
    assert [r.voxels for r in dock.rows()] == [245, 75]

    # Click the small component's row: every view goes to its centroid.
    dock.view.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    index = dock.proxy.index(0, 3)
    qtbot.mouseClick(dock.view.viewport(), Qt.MouseButton.LeftButton,
                     pos=dock.view.visualRect(index).center())
    model = window.services.model
    assert model.cursor.source_index == (12, 12, 3)               # (i, j, k) of the centre voxel
    expected = tuple(int(round(v)) for v in model.grid.lps_to_display(dock.rows()[0].centroid_lps))
    assert model.cursor.index == expected
    views = window.services.viewer.views
    qtbot.waitUntil(lambda: all(views[v].slider.value() == expected[VIEW_AXIS[v]] for v in views))

    # An edit that erases the large component: the table refreshes to one row.
    layer.volume.array[LARGE] = 0
    layer.refresh()
    rows = wait_rows(qtbot, dock, 1)
    assert rows[0].voxels == 75


def test_small_components_marked_and_run_maps(qtbot):
    window = open_window(qtbot, with_ai=False)
    dock = dock_of(window)
    model = window.services.model
    arr = two_lesions().array
    arr[11, 60, 60] = 2                                            # one voxel: 0.0025 mL < 0.01
    prov = LayerProvenance("candor-test", "0.1")
    epi = np.zeros(GEOMETRY.shape, np.float32)
    epi[LARGE] = 0.5
    epi[LARGE[0], 33, 43] = 0.9
    model.layers.add_heatmap(Volume(epi, GEOMETRY), name="Uncertainty (epistemic)", provenance=prov)
    model.layers.add_heatmap(Volume(epi * 0 + 0.25, GEOMETRY), name="Uncertainty (epistemic)",
                             provenance=LayerProvenance("other-model", "1"))   # another run
    model.layers.add_labels(Volume(arr, GEOMETRY), TABLE, name="AI", role=Role.AI, provenance=prov)
    rows = wait_rows(qtbot, dock, 3)
    assert [r.small for r in rows] == [False, False, True]
    assert rows[0].uncertainty_mean == pytest.approx((240 * 0.5 + 5 * 0.9) / 245, rel=1e-6)
    assert rows[0].uncertainty_max == pytest.approx(0.9)
    assert rows[1].uncertainty_max == 0.0
    small = dock.proxy.index(2, 1)
    assert "0.01 mL" in small.data(Qt.ItemDataRole.ToolTipRole)
    assert small.data(Qt.ItemDataRole.ForegroundRole) is not None
    assert dock.proxy.index(0, 1).data(Qt.ItemDataRole.ToolTipRole) is None
    assert dock.proxy.index(0, 6).data() == f"{rows[0].uncertainty_mean:.3f}"
    assert dock.proxy.index(0, 8).data() == "—"                    # no saliency layer
