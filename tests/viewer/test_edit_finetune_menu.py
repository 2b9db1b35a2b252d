"""AI › Model Version switches the active version; AI › Fine-tune runs as a job and reports."""

from __future__ import annotations

import torch

from engine.models.discovery import find_model
from engine.models.package import save_model
from engine.models.unet import ResUNet3D
from engine.resources import user_subdir
from tests.engine.corrections import lesion_task as task
from tests.viewer.edit_helpers import open_window


def _install_two_versions():
    torch.manual_seed(0)
    arch = task.ARCH
    net = ResUNet3D(1, 2, channels=tuple(arch["channels"]), norm_groups=4, dropout=0.1, dropout_stages=1)
    base = task.manifest()
    save_model(user_subdir("models") / f"{task.NAME}-1.0.0", base, [net])
    save_model(user_subdir("models") / f"{task.NAME}-1.0.1",
               base.evolve(version="1.0.1", parent_version="1.0.0"), [net])


def test_model_version_menu_and_finetune_job(qtbot):
    _install_two_versions()
    window = open_window(qtbot, with_ai=False)
    ft = window.services.finetune
    window.services.ai.model_source = task.NAME
    ft.fill_versions()
    actions = [a for a in ft.versions_menu.actions() if a.text()]
    assert [a.text() for a in actions] == [f"{task.NAME} 1.0.0",
                                           f"{task.NAME} 1.0.1 (fine-tuned from 1.0.0)"]
    assert actions[1].isChecked()  # the latest is active by default
    actions[0].trigger()
    assert find_model(task.NAME).version == "1.0.0"
    ft.fill_versions()
    assert [a.isChecked() for a in ft.versions_menu.actions() if a.text()] == [True, False]

    # with an empty queue the job ends with a plain message, and the model is unchanged
    with qtbot.waitSignal(ft.finished, timeout=60000) as blocker:
        ft.action.trigger()
    assert blocker.args == [None]
    assert "no queued corrections" in window.statusBar().currentMessage()
    assert find_model(task.NAME).version == "1.0.0"
    qtbot.waitUntil(lambda: not ft.progress.isVisible(), timeout=10000)
