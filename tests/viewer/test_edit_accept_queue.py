"""Accept & queue through the real widgets, the Queue panel, and autosave of accepted work."""

from __future__ import annotations

import json

import numpy as np
from PySide6.QtCore import Qt

from engine.corrections import CorrectionQueue
from engine.editing.autosave import autosave_root
from tests.viewer.edit_helpers import drag, make_ai, open_window


def test_accept_queues_the_correction_and_the_panel_lists_opens_and_removes_it(qtbot):
    window = open_window(qtbot)
    edit, panel = window.services.edit, window.services.queue_panel
    axial = window.services.viewer.views["axial"]
    window.services.model.cursor.set_slice("axial", 5)
    qtbot.keyClick(window, Qt.Key.Key_B)
    edit.state.brush_size_mm = 5.0
    drag(axial, [(32, 38), (32, 44)])              # grow the lesion to the left
    corrected = edit.current_layer().volume.array.copy()
    added = int((corrected != make_ai().array).sum())
    assert added > 0

    accept_button = next(b for b in edit.palette.findChildren(type(edit.palette.tool_buttons["brush"]))
                         if b.defaultAction() is edit.action_accept)
    with qtbot.waitSignal(edit.session.accepted, timeout=60000) as blocker:
        qtbot.mouseClick(accept_button, Qt.MouseButton.LeftButton)
    item_id = blocker.args[0]

    with CorrectionQueue() as queue:
        (item,) = queue.items()
        stored = queue.load(item_id)
    assert item.id == item_id
    assert item.model["name"] == "candor-test" and item.model["version"] == "0.1"
    assert item.stats["voxels_added"] == added and item.stats["voxels_removed"] == 0
    np.testing.assert_array_equal(stored.corrected.array, corrected)
    np.testing.assert_array_equal(stored.ai.array, make_ai().array)
    assert stored.table[1].name == "Lesion"

    # the accept also autosaved, recording the queue id
    with qtbot.waitSignal(edit.session.autosaved, timeout=60000):
        pass
    manifest = json.loads((edit.session.store.folder / "manifest.json").read_text())
    assert manifest["accepted"] == [item_id]
    assert {l["role"] for l in manifest["layers"]} == {"ai", "corrected"}

    # the panel refreshed after the accept
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=30000)
    assert panel.table.item(0, 0).text() == item_id
    assert panel.table.item(0, 2).text() == "candor-test@0.1"
    panel.table.selectRow(0)
    with qtbot.waitSignal(window.services.model.events.image, timeout=30000):
        panel.open_button.click()
    names = [l.name for l in window.services.model.layers]
    assert names[1:] == [f"AI ({item_id})", f"Corrected ({item_id})"]
    opened = window.services.model.layers[2]
    assert edit.editing.is_editable(opened) and not edit.editing.is_editable(window.services.model.layers[1])
    np.testing.assert_array_equal(opened.volume.array, corrected)

    panel.table.selectRow(0)
    watcher = panel.remove_selected(confirm=False)
    qtbot.waitUntil(lambda: watcher.job.state.finished, timeout=30000)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 0, timeout=30000)
    with CorrectionQueue() as queue:
        assert queue.items() == [] and queue.history(item_id)[-1]["event"] == "removed"


def test_closing_with_accepted_work_leaves_nothing_to_recover(qtbot):
    window = open_window(qtbot)
    edit = window.services.edit
    window.services.model.cursor.set_slice("axial", 5)
    qtbot.keyClick(window, Qt.Key.Key_B)
    drag(window.services.viewer.views["axial"], [(20, 20)])
    with qtbot.waitSignal(edit.session.accepted, timeout=60000):
        edit.action_accept.trigger()
    with qtbot.waitSignal(edit.session.autosaved, timeout=60000):
        pass
    window.close()
    assert [p for p in autosave_root().iterdir() if p.is_dir()] == []
