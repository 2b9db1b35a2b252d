"""AI menu: segmentation as a job (progress, Cancel), label layer with manifest names/colours and mL,
uncertainty layers and strips, Grad-CAM layers, and the OOD banner with its reasons."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from engine.volume import Geometry, Volume
from tests.engine.trust.tiny import save_tiny_model
from viewer.qt.app import create_application
from viewer.qt.main_window import MainWindow

WAIT_MS = 180_000  # generous: the worker may queue behind other work on a busy machine


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return str(save_tiny_model(tmp_path_factory.mktemp("ai_model")))


@pytest.fixture
def window(qtbot, tiny_folder):
    create_application()
    w = MainWindow()
    qtbot.addWidget(w)
    w.services.ai.model_source = tiny_folder
    w.show()
    yield w
    w.jobs.shutdown(cancel=True, wait=True)


def _head(modality="MR", shape=(24, 26, 22), spacing=2.0, ct=False) -> Volume:
    rng = np.random.default_rng(0)
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]]
    c = [(n - 1) / 2 for n in shape]
    r = ((z - c[0]) / (0.4 * shape[0])) ** 2 + ((y - c[1]) / (0.4 * shape[1])) ** 2 + ((x - c[2]) / (0.4 * shape[2])) ** 2
    if ct:
        arr = np.where(r < 1, 35.0, -1000.0) + np.where((r > 0.8) & (r < 1), 900.0, 0.0)
    else:
        arr = np.where(r < 1, 300.0, 10.0) + np.where(r < 0.4, 150.0, 0.0)
    arr = arr + rng.normal(0, 4, shape)
    return Volume(arr.astype(np.float32), Geometry(shape[::-1], (spacing,) * 3, (0.0, 0.0, 0.0)), modality)


def _run(qtbot, window, trigger):
    with qtbot.waitSignal(window.services.ai.job_ended, timeout=WAIT_MS) as blocker:
        trigger()
        assert window.services.ai.progress.isVisible() and window.services.ai.progress.cancel_button.isEnabled()
    return blocker.args[0]


def test_segmentation_of_an_ood_volume_shows_the_banner_with_reasons(qtbot, window):
    window.services.ai.mc_samples = 2
    window.services.model.open_volume(_head("CT", ct=True))
    assert not window.services.ai.banner.isVisible()
    # the input checks stop it first and ask (tests/viewer/test_ai_unsuitable.py); run it anyway
    assert _run(qtbot, window, window.services.ai.action_segment.trigger) == "unsuitable"
    with qtbot.waitSignal(window.services.ai.job_ended, timeout=WAIT_MS) as ran:
        window.services.ai.unsuitable_box.button(QMessageBox.StandardButton.Yes).click()
    assert ran.args == ["done"]
    banner = window.services.ai.banner
    qtbot.waitUntil(banner.isVisible, timeout=5000)
    assert any("CT" in r and "MR" in r for r in banner.reasons)
    assert any("Hounsfield" in r for r in banner.reasons)
    assert "Hounsfield" in banner.details.text() and "trained on" in banner.title.text()
    labels = window.services.model.layers.active_labels
    assert not labels.name.startswith("⚠") and labels.provenance.ood_flag   # flag: a field
    assert len(labels.provenance.weights_hash or "") == 64      # which weights, not only which name
    panel = window.services.layers_panel
    qtbot.waitUntil(lambda: panel.item_for(labels) is not None, timeout=5000)
    assert panel.item_for(labels).text(0).startswith("⚠")
    record = labels.provenance.trust
    assert record["ood"]["flag"] and record["ood"]["reasons"] == banner.reasons
    qtbot.mouseClick(banner.dismiss_button, Qt.MouseButton.LeftButton)
    assert not banner.isVisible() and "acknowledged" in record     # the dismissal is recorded


def test_segment_adds_labels_with_manifest_names_colours_and_ml(qtbot, window):
    window.services.ai.mc_samples = 2
    vol = _head("MR")
    window.services.model.open_volume(vol)
    assert _run(qtbot, window, window.services.ai.action_segment.trigger) == "done"
    assert not window.services.ai.banner.isVisible()
    layer = window.services.model.layers.active_labels
    assert not layer.name.startswith("⚠")
    assert [(i.id, i.name, i.color) for i in layer.table] == [(1, "Alpha", (255, 0, 0)), (2, "Beta", (0, 255, 0))]
    assert layer.volume.geometry.is_close(vol.geometry)
    panel = window.services.layers_panel
    qtbot.waitUntil(lambda: panel.item_for(layer, 1) is not None, timeout=5000)
    for label_id in (1, 2):
        row = panel.item_for(layer, label_id)
        expected = float(np.count_nonzero(layer.volume.array == label_id)) * vol.geometry.voxel_volume_ml
        assert row.text(1) == f"{expected:.2f} mL"
        assert layer.table.get(label_id).name in row.text(0)


def test_uncertainty_layers_strips_and_most_uncertain_slice(qtbot, window):
    window.services.model.open_volume(_head("MR"))
    window.services.ai.mc_samples = 3
    assert _run(qtbot, window, window.services.ai.action_ensemble.trigger) == "done"
    names = [layer.name for layer in window.services.model.layers]
    for name in ("Uncertainty (total)", "Uncertainty (aleatoric)", "Uncertainty (epistemic)", "Ensemble disagreement"):
        assert name in names
    assert window.services.model.layers.active_labels.provenance.trust["uncertainty"]["members"] == 2
    strip = window.services.ai.strips["axial"]
    assert strip.isVisible() and strip.values.size == window.services.model.grid.shape[0]
    window.services.model.focused = "axial"
    window.services.ai.action_most_uncertain.trigger()
    assert strip.ranking is not None and strip.ranking.size == strip.values.size
    expected = strip.most_uncertain
    assert expected is not None
    assert window.services.model.cursor.slice_of("axial") == expected


def test_explain_label_adds_a_saliency_heatmap(qtbot, window):
    window.services.model.open_volume(_head("MR"))
    ai = window.services.ai
    texts = []

    def start():
        assert ai.explain(1)
        texts.append(ai.progress.stage.text())
        ai.watcher.progress.connect(lambda _e: texts.append(ai.progress.stage.text()))

    assert _run(qtbot, window, start) == "done"
    assert len(texts) > 1     # texts[0]: the title, or the report that came before the progress bar watched
    assert all(t.startswith("Explaining Alpha (Grad-CAM)") for t in texts), texts
    heat = [layer for layer in window.services.model.layers if layer.name.startswith("Saliency (Grad-CAM): Alpha")]
    assert len(heat) == 1 and heat[0].kind == "heatmap" and heat[0].value_range == (0.0, 1.0)


def test_cancel_stops_the_job_and_adds_nothing(qtbot, window):
    window.services.model.open_volume(_head("MR", shape=(64, 64, 64), spacing=1.0))
    before = len(window.services.model.layers)
    with qtbot.waitSignal(window.services.ai.job_ended, timeout=WAIT_MS) as blocker:
        window.services.ai.segment()
        qtbot.mouseClick(window.services.ai.progress.cancel_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == "cancelled"
    assert len(window.services.model.layers) == before and not window.services.ai.progress.isVisible()
