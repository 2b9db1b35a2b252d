"""Defect "Provenance lost on crash recovery" (issue 14): a correction of an AI result, recovered
after a crash, must still say which model it corrects — in the layer and in the DICOM SEG export.

Real parts: a DICOM series written to disk, a real main window, a real brush stroke, the real
autosave files, recovery through the edit session of a second window, and the File › Export
Segmentation dialog writing a real SEG read back with highdicom.
"""

from __future__ import annotations

import highdicom as hd
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from engine.editing.autosave import pending_sessions
from tests.engine.export.data import make_series
from tests.viewer.edit_helpers import AI_TABLE, GEOMETRY, activate, drag, make_ai
from viewer.qt.app import create_application
from viewer.qt.main_window import MainWindow

WAIT_MS = 120_000
TRUST = {"model": {"name": "candor-test", "version": "0.1"}, "ood": {"flag": True,
                                                                     "reasons": ["dark scan"]}}


def _window(qtbot, reference) -> MainWindow:
    create_application()
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    window.services.model.open_volume(reference)
    QApplication.processEvents()
    return window


def _add_ai_result(window):
    """An AI label layer carrying what the AI menu records: model, weights, OOD flag, trust."""
    volume = make_ai()
    volume.metadata.clear()
    volume.metadata.update(model_name="candor-test", model_version="0.1", weights_hash="ab12cd34",
                           role="ai", trust=TRUST, ood_flag=True)
    return window.services.model.layers.add_labels(volume, AI_TABLE, name="AI lesion")


def _crash(window) -> None:
    session = window.services.edit.session
    session.timer.stop()
    if session._save_watcher is not None:
        session._save_watcher.job.wait()
    store, session.store = session.store, None
    store._lock.release()


def _stroke_then_crash(qtbot, first):
    """One brush stroke on axial slice 6, autosaved, then the window dies without closing its
    session; returns the session left to recover."""
    first.services.model.cursor.set_slice("axial", 6)
    first.services.edit.session.timer.setInterval(50)
    qtbot.keyClick(first, Qt.Key.Key_B)
    with qtbot.waitSignal(first.services.edit.session.autosaved, timeout=WAIT_MS):
        drag(first.services.viewer.views["axial"], [(10, 10)])
    _crash(first)
    first.close()
    (pending,) = pending_sessions()
    return pending


def test_recovered_correction_keeps_its_model_and_exports_as_ai_derived_seg(qtbot, tmp_path):
    series = make_series(tmp_path / "series", geometry=GEOMETRY)
    first = _window(qtbot, series.reference)
    activate(qtbot, first)
    _add_ai_result(first)
    pending = _stroke_then_crash(qtbot, first)

    second = _window(qtbot, series.reference)
    second.services.edit.session.recover(pending.session_id)   # same scan open: adopted at once
    ai, corrected = second.services.model.layers[1], second.services.model.layers[2]
    assert second.services.edit.editing.ai_source(corrected) is ai

    second.services.model.layers.active = corrected
    second.services.export.action_export_seg.trigger()
    dialog = second.services.export.dialog
    dialog.set_format("seg")
    out = tmp_path / "recovered_seg.dcm"
    dialog.destination.setText(str(out))
    with qtbot.waitSignal(dialog.exported, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    dialog.success_box.close()
    seg = hd.seg.segread(out)
    (segment,) = seg.SegmentSequence
    assert segment.SegmentAlgorithmType == "SEMIAUTOMATIC"       # not MANUAL
    algorithm = segment.SegmentationAlgorithmIdentificationSequence[0]
    assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == ("candor-test", "0.1")

    from viewer.state.provenance import Role  # the typed fields the layers carry

    assert ai.role is Role.AI and corrected.role is Role.CORRECTED
    for layer in (ai, corrected):
        p = layer.provenance
        assert (p.model_name, p.model_version, p.weights_hash) == ("candor-test", "0.1", "ab12cd34")
        assert p.ood_flag is True and p.trust == TRUST


def test_recovery_brings_back_the_runs_maps_banner_and_strips(qtbot, tmp_path):
    """Rough edge 10 of issue 20: after crash recovery the edits and the ⚠ came back, but not the
    uncertainty maps, the OOD banner or the slice strips; now the whole result returns (or the
    status says what did not)."""
    import numpy as np

    from viewer.qt.features._ai_results import map_layer_name
    from viewer.state.layers import HeatmapLayer

    series = make_series(tmp_path / "series", geometry=GEOMETRY)
    first = _window(qtbot, series.reference)
    activate(qtbot, first)
    ai = _add_ai_result(first)
    rng = np.random.default_rng(3)
    epistemic = rng.random(make_ai().array.shape).astype(np.float32) * 0.3
    model = first.services.model
    heat = model.layers.add_heatmap(ai.volume.with_array(epistemic), name=map_layer_name("epistemic"),
                                    colormap="plasma", value_range=(0.0, 0.3), opacity=0.4,
                                    provenance=ai.provenance)
    heat.visible = False
    from viewer.state.provenance import LayerProvenance

    unrelated = model.layers.add_heatmap(ai.volume.with_array(epistemic * 2), name="someone else's map",
                                         provenance=LayerProvenance(model_name="other", model_version="9"))
    model.layers.active = ai
    pending = _stroke_then_crash(qtbot, first)

    second = _window(qtbot, series.reference)
    assert not second.services.ai.banner_bar.isVisible()
    second.services.edit.session.recover(pending.session_id)
    maps = [l for l in second.services.model.layers if isinstance(l, HeatmapLayer)]
    assert [m.name for m in maps] == [heat.name]                  # this run's map only
    (back,) = maps
    assert np.array_equal(back.volume.array, epistemic) and back.volume.geometry.is_close(GEOMETRY)
    assert (back.colormap, back.value_range, back.opacity, back.visible) == ("plasma", (0.0, 0.3), 0.4, False)
    assert back.provenance == ai.provenance and unrelated.name not in [m.name for m in maps]
    qtbot.waitUntil(second.services.ai.banner_bar.isVisible, timeout=5000)
    assert second.services.ai.banner.reasons == ["dark scan"]
    assert "candor-test" in second.services.ai.banner.title.text()
    strip = second.services.ai.strips["axial"]
    assert strip.most_uncertain is not None                        # the strips have the map again
    status = second.statusBar().currentMessage()
    assert "1 map" in status and "OOD warning" in status and "uncertainty strips" in status
