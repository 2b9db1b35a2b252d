"""AI › Segment asks before running a model on a scan it was not made for (issue 16, target 3).

A real CT-like volume (Hounsfield units, modality CT), generated here, is given to the default
brain MR model (resources/models/candor-brain-t1). The job stops at the hard input checks, before
any network pass, and the viewer asks "Run it anyway?" (default No): No leaves nothing running and
no layer; Yes runs it and the result carries the OOD banner, which says the run was forced.
The volume is 24³ voxels at the model's 2 mm spacing: one patch, so the forced run takes seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from engine.errors import Unsuitable
from engine.jobs import JobRunner, JobState
from engine.models import DEFAULT_MODEL
from engine.volume import Geometry, Volume
from viewer.qt.app import create_application
from viewer.qt.main_window import MainWindow

WAIT_MS = 180_000  # generous: the worker may queue behind other work on a busy machine
YES, NO = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No


@pytest.fixture
def window(qtbot):
    create_application()
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    yield w
    w.jobs.shutdown(cancel=True, wait=True)


def _ct_head(n: int = 24, spacing: float = 2.0) -> Volume:
    """A small head CT in HU (int16): air at −1000 outside, soft tissue inside a bone rim."""
    z, y, x = np.mgrid[:n, :n, :n]
    c = (n - 1) / 2
    r = np.sqrt(((z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2)) / (0.42 * n)
    arr = np.where(r < 1, 40, -1000).astype(np.int16)
    arr[(r > 0.85) & (r < 1)] = 900
    arr += np.random.default_rng(0).integers(-5, 6, arr.shape).astype(np.int16)
    return Volume(arr, Geometry((n, n, n), (spacing,) * 3, (0.0, 0.0, 0.0)), "CT")


def _ask(qtbot, window, start) -> str:
    """Start a run on the open CT; wait until the input checks stopped it. Returns the last
    progress text the status bar showed while the job ran."""
    ai = window.services.ai
    with qtbot.waitSignal(ai.job_ended, timeout=WAIT_MS) as blocker:
        assert start()
    assert blocker.args == ["unsuitable"]
    assert not ai.progress.isVisible()
    last = ai.refused_job.last_progress     # its last report: the check, nothing after it
    assert (last.stage, last.fraction) == ("checking the input", 0.0)
    return ai.progress.stage.text()


def _layer_names(window) -> list[str]:
    return [layer.name for layer in window.services.model.layers]


def test_a_ct_given_to_the_brain_model_asks_before_any_inference_and_no_runs_nothing(qtbot, window):
    ai = window.services.ai
    assert ai.model_source == DEFAULT_MODEL
    window.services.model.open_volume(_ct_head())
    before = _layer_names(window)
    # stopped at the checks (its last progress report): no preprocessing, no network pass, no result
    assert _ask(qtbot, window, ai.segment) == "Checking the scan before inference"
    job = ai.refused_job
    assert job.state is JobState.FAILED and isinstance(job.error, Unsuitable)
    assert job.error.model_name == DEFAULT_MODEL
    assert _layer_names(window) == before and not ai.banner.isVisible()
    box = ai.unsuitable_box
    qtbot.waitUntil(box.isVisible, timeout=5000)
    text = box.text()
    assert text.startswith(f"{DEFAULT_MODEL} was not made for this scan:") and text.endswith("Run it anyway?")
    assert "the scan is CT but the model was trained on MR images" in text and "Hounsfield" in text
    assert box.defaultButton() is box.button(NO)
    assert ai.busy and not ai.segment()          # one question at a time: nothing else starts
    assert JobRunner.unfinished() == []
    box.button(NO).click()
    assert ai.unsuitable_box is None and ai.watcher is None and not ai.busy
    assert not ai.progress.isVisible() and JobRunner.unfinished() == []
    assert _layer_names(window) == before and not ai.banner.isVisible()
    said = window.services.messages.texts("info")
    assert any(t.startswith("AI: nothing was run") and "Hounsfield" in t for t in said), said
    assert window.statusBar().currentMessage().startswith("Nothing was run")


def test_escape_on_the_question_runs_nothing_also_for_explain(qtbot, window):
    ai = window.services.ai
    window.services.model.open_volume(_ct_head())
    before = _layer_names(window)
    assert _ask(qtbot, window, lambda: ai.explain(3)) == "Explaining Lesion (Grad-CAM): checking the scan before inference"
    box = ai.unsuitable_box
    qtbot.waitUntil(box.isVisible, timeout=5000)
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    assert not ai.busy and JobRunner.unfinished() == [] and _layer_names(window) == before
    assert any(t.startswith("AI: nothing was run") for t in window.services.messages.texts("info"))


def test_run_anyway_segments_and_the_banner_says_it_was_forced(qtbot, window):
    ai = window.services.ai
    ai.mc_samples = 2
    window.services.model.open_volume(_ct_head())
    _ask(qtbot, window, ai.segment)
    refused = ai.refused_job.error.reasons
    box = ai.unsuitable_box
    qtbot.waitUntil(box.isVisible, timeout=5000)
    with qtbot.waitSignal(ai.job_ended, timeout=WAIT_MS) as blocker:
        box.button(YES).click()
        assert ai.watcher is not None and ai.unsuitable_box is None
    assert blocker.args == ["done"] and not ai.busy
    labels = window.services.model.layers.active_labels
    assert [i.name for i in labels.table] == ["Grey matter", "White matter", "Lesion"]
    assert labels.provenance.model_name == DEFAULT_MODEL and labels.provenance.ood_flag
    record = labels.provenance.trust
    assert record["forced"]["input_checks"] == refused
    assert set(refused) <= set(record["ood"]["reasons"])     # the checks that refused, in the verdict
    banner = ai.banner
    qtbot.waitUntil(banner.isVisible, timeout=5000)
    assert any("Hounsfield" in r for r in banner.reasons)
    assert "trained on" in banner.title.text() and "You chose to run it" in banner.title.text()
    assert any(f"running {DEFAULT_MODEL} anyway" in t for t in window.services.messages.texts("warning"))
