"""Rough edges of issue 20: most-uncertain slice ranking, Explain progress text, export filename,
header windows that clip the foreground."""

from __future__ import annotations

import numpy as np

from viewer.qt.uncertainty_strip import (
    MIN_FOREGROUND_VOXELS,
    UncertaintyStrip,
    per_slice_foreground_means,
    per_slice_means,
)


def _uncertainty_case():
    """Axial slice 1: empty above the head (background noise 0.08 everywhere, 3 voxels of mask at
    0.9); slice 5: the lesion, 60 mask voxels at 0.256, the rest of the slice 0."""
    shape = (8, 20, 20)
    unc = np.zeros(shape, np.float32)
    fg = np.zeros(shape, bool)
    unc[1] = 0.08
    fg[1, 0, :3] = True
    unc[1, 0, :3] = 0.9
    fg[5, 5:11, 5:15] = True                # 60 voxels
    unc[5, 5:11, 5:15] = 0.256
    for z in (3, 4, 6):                     # the rest of the head: segmented, sure
        fg[z, 5:11, 5:15] = True
        unc[z, 5:11, 5:15] = 0.02
    return unc, fg


def test_most_uncertain_slice_ranks_by_the_foreground_not_an_empty_slice(qtbot):
    unc, fg = _uncertainty_case()
    plain = per_slice_means(unc, "axial")
    assert int(np.argmax(plain)) == 1       # the old statistic: the empty slice wins
    ranking = per_slice_foreground_means(unc, fg, "axial")
    assert np.isnan(ranking[1]) and np.isnan(ranking[0])     # 3 < MIN_FOREGROUND_VOXELS, 0 voxels
    assert 3 < MIN_FOREGROUND_VOXELS <= 60
    assert np.isclose(ranking[5], 0.256) and np.isclose(ranking[4], 0.02)
    strip = UncertaintyStrip("axial")
    qtbot.addWidget(strip)
    strip.set_values(plain, ranking=ranking)
    assert strip.most_uncertain == 5
    strip.set_values(plain, ranking=np.full_like(ranking, np.nan))   # nothing segmented
    assert strip.most_uncertain == 1
    strip.set_values(None)
    assert strip.most_uncertain is None and strip.ranking is None


def _series_volume(description="T1 3D (MNI152 + lesion)", number=7):
    from engine.volume import Geometry, Volume

    arr = np.zeros((6, 8, 10), np.float32)
    arr[2:4, 2:6, 3:7] = 500.0
    meta = {"series_description": description, "series_number": number, "patient_name": "DOE^JANE",
            "patient_id": "123456"}
    return Volume(arr, Geometry((10, 8, 6), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0)), "MR", meta)


def test_the_suggested_export_filename_is_safe_and_names_series_and_labels(qtbot, tmp_path):
    import re

    from engine.labels import LabelInfo, LabelTable
    from viewer.qt.app import create_application
    from viewer.qt.features._export_map import export_stem
    from viewer.qt.main_window import MainWindow

    create_application()
    window = MainWindow()
    qtbot.addWidget(window)
    image = _series_volume()
    window.services.model.open_volume(image)
    labels = image.with_array((image.array > 0).astype(np.uint8) * 2, modality="SEG", metadata={})
    table = LabelTable([LabelInfo(1, "white matter", (250, 250, 225)),
                        LabelInfo(2, "Lesion (new)", (230, 25, 75))])
    window.services.model.layers.add_labels(labels, table, name="AI segmentation (candor tiny)")
    window.services.export.action_export_seg.trigger()
    dialog = window.services.export.dialog
    name = dialog.destination.text().replace("\\", "/").rsplit("/", 1)[-1]
    assert name == "T1_3D_MNI152_lesion_S7_white_matter-Lesion_new.nii.gz"
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name)
    assert "DOE" not in name and "123456" not in name
    dialog.close()
    assert export_stem(_series_volume("", None), "") == "segmentation"
    long = export_stem(_series_volume("x" * 200, 3), "y")
    assert len(long) <= 80 and re.fullmatch(r"[A-Za-z0-9._-]+", long)


def _queued_ids():
    from engine.corrections import CorrectionQueue

    with CorrectionQueue() as queue:
        return [item.id for item in queue.items()]


def _draw_a_correction(qtbot, window):
    from PySide6.QtCore import Qt

    from tests.viewer.edit_helpers import drag

    window.services.model.cursor.set_slice("axial", 5)
    qtbot.keyClick(window, Qt.Key.Key_B)
    drag(window.services.viewer.views["axial"], [(20, 20)])


def _messages(window) -> list[str]:
    box = window.services.messages.list
    return [box.item(i).text() for i in range(box.count())]


def test_accept_asks_before_queuing_a_flagged_result_and_confirms_in_messages(qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from tests.viewer.edit_helpers import open_window

    window = open_window(qtbot)
    ai = window.services.model.layers.active_labels
    ai.provenance = ai.provenance.with_ood(True, {"flag": True, "reasons": ["modality CT, trained on MR"]})
    _draw_a_correction(qtbot, window)
    edit = window.services.edit
    asked = []
    answer = [QMessageBox.StandardButton.No]
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or answer[0])     # the user's answer
    assert edit.session.accept() is None                                     # "No": nothing queued
    assert len(asked) == 1 and "flagged" in asked[0] and _queued_ids() == []
    assert "Not queued" in window.statusBar().currentMessage()
    answer[0] = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(edit.session.accepted, timeout=60000) as blocker:
        edit.action_accept.trigger()
    assert len(asked) == 2 and _queued_ids() == [blocker.args[0]]
    assert any(t.startswith(f"Correction queued for fine-tuning ({blocker.args[0]})") for t in _messages(window))
    assert "Correction queued" in window.statusBar().currentMessage()
    with qtbot.waitSignal(edit.session.autosaved, timeout=60000):
        pass


def test_accept_of_an_unflagged_result_does_not_ask(qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from tests.viewer.edit_helpers import open_window

    window = open_window(qtbot)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No)
    _draw_a_correction(qtbot, window)
    edit = window.services.edit
    with qtbot.waitSignal(edit.session.accepted, timeout=60000) as blocker:
        edit.action_accept.trigger()
    assert asked == [] and _queued_ids() == [blocker.args[0]]
    assert any("Correction queued for fine-tuning" in t for t in _messages(window))
    with qtbot.waitSignal(edit.session.autosaved, timeout=60000):
        pass


def test_a_dicom_series_with_a_clipping_header_window_opens_in_mr_auto(qtbot, tmp_path):
    from engine.io import load, write_series
    from engine.volume import Geometry, Volume
    from viewer.qt.app import create_application
    from viewer.qt.main_window import MainWindow

    rng = np.random.default_rng(5)
    arr = np.zeros((8, 24, 24), np.int16)
    arr[2:6, 4:20, 4:12] = rng.integers(300, 500, (4, 16, 8))      # "grey matter"
    arr[2:6, 4:20, 12:20] = rng.integers(820, 950, (4, 16, 8))     # "white matter"
    write_series(Volume(arr, Geometry((24, 24, 8), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0)), "MR"), tmp_path / "s",
                 modality="MR", window=(400.0, 800.0))                 # [0, 800]: half the brain white
    volume = load(str(tmp_path / "s"))
    assert volume.metadata["window_presets"][0] == (400.0, 800.0)
    create_application()
    window = MainWindow()
    qtbot.addWidget(window)
    notes = []
    model = window.services.model
    model.window.events.note.connect(notes.append)
    model.open_volume(volume)
    assert model.window.preset_name == "MR auto"
    lo, hi = model.window.range
    assert lo > 250 and 900 < hi < 1000         # spans grey and white matter, saturates neither
    assert len(notes) == 1 and "MR auto" in notes[0]
    assert notes[0] in window.services.messages.texts("info")          # said where the user reads


def test_layers_panel_names_the_edited_layer_and_tells_copies_apart(reading_window, qtbot):
    """Rough edges 6 and 7: the property controls say which layer they edit; a long AI name and
    its "(corrected)" copy are told apart by their role and keep their ends; full names in tips."""
    from tests.viewer.conftest import gaussian_heat, lesion_mask, lesion_table, synthetic_ct
    from viewer.qt.layers_panel import PROPERTIES_TITLE, ROLE_TAGS
    from viewer.state.provenance import LayerProvenance, Role

    model = reading_window.services.model
    ct = synthetic_ct()
    model.open_volume(ct)
    prov = LayerProvenance(model_name="candor-brain-t1", model_version="2.0.0")
    name = "AI segmentation (candor-brain-t1 2.0.0, MC-Dropout T=10)"
    ai = model.layers.add_labels(ct.with_array(lesion_mask(ct)), lesion_table(), name=name,
                                 role=Role.AI, provenance=prov)
    copy = model.layers.add_labels(ct.with_array(lesion_mask(ct)), lesion_table(), name=name + " (corrected)",
                                   role=Role.CORRECTED, provenance=prov)
    heat = model.layers.add_heatmap(ct.with_array(gaussian_heat(ct, (12, 30, 14))), name="saliency")
    panel = reading_window.services.layers_panel
    qtbot.waitUntil(lambda: panel.item_for(copy) is not None)
    ai_row, copy_row = panel.item_for(ai), panel.item_for(copy)
    assert ai_row.text(1) == f"{ROLE_TAGS[Role.AI]} · candor-brain-t1"
    assert copy_row.text(1) == f"{ROLE_TAGS[Role.CORRECTED]} · candor-brain-t1"
    assert ai_row.text(1) != copy_row.text(1)
    assert copy_row.toolTip(0).startswith(copy.name) and ai_row.toolTip(1).startswith(ai.name)
    assert panel.tree.textElideMode().name == "ElideMiddle"      # "…(corrected)" stays visible

    model.layers.active = heat
    assert panel.properties.title() == PROPERTIES_TITLE.format("saliency")
    panel.opacity.setValue(20)
    assert heat.opacity == 0.2 and ai.opacity == 0.5 and copy.opacity == 0.5
    model.layers.active = ai
    assert panel.properties.title().startswith("Properties of: AI seg")
    assert panel.properties.toolTip() == ai.name
