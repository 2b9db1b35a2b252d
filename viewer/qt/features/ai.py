"""The AI menu: Segment, Segment with Ensemble, Explain Label (Grad-CAM), Most Uncertain Slice.

Segment runs the model with MC-Dropout (T = 10 by default; the trunk runs once per patch, so it
costs little more than one pass) in the mode its OOD thresholds were calibrated for. Segmentation
runs as a job (progress bar and Cancel in the status bar); the result appears as a
label layer with the manifest's names and colours (volumes in mL in the layers panel), with the
uncertainty maps and saliency as heatmap layers. An OOD warning shows as a banner across the
views until dismissed, and flagged results carry a ⚠ in the layers panel (from the layer's typed provenance, not its name).
A scan the model was not made for (a hard input check: a CT given to the MR model…) stops the job
before any network pass, and the reader is asked whether to run it anyway (default: don't).
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence

from viewer.qt.features._ai_controller import AIController

ORDER = 70
NEEDS = ("model", "viewer", "messages")


def install(services) -> None:
    window = services.window
    ai = services.ai = AIController(services)
    menu = window.menu("&AI")
    ai.action_segment = _action(window, menu, "&Segment", lambda: ai.segment(), "Ctrl+Shift+S")
    ai.action_ensemble = _action(window, menu, "Segment with &Ensemble (all members)",
                                 lambda: ai.segment(ensemble=True), "Ctrl+Shift+E")
    ai.explain_menu = menu.addMenu("&Explain Label (Grad-CAM)")
    ai.explain_menu.aboutToShow.connect(lambda: _fill_explain(ai))
    _fill_explain(ai)
    menu.addSeparator()
    ai.action_most_uncertain = _action(window, menu, "Go to &Most Uncertain Slice",
                                       lambda: ai.go_to_most_uncertain(), "Ctrl+Shift+M")
    ai.action_cancel = _action(window, menu, "&Cancel AI Job", ai.cancel)
    window.about_to_close.connect(ai.cancel)


def _action(window, menu, text, slot, shortcut=None) -> QAction:
    action = QAction(text, window)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    menu.addAction(action)
    return action


def _fill_explain(ai) -> None:
    """One entry per label of the model (from the last result, else the manifest when loadable)."""
    menu = ai.explain_menu
    menu.clear()
    table = ai.last_result.table if ai.last_result is not None else None
    if table is None:
        table = _manifest_labels(ai.model_source)
    for info in table or []:
        act = menu.addAction(info.name)
        act.triggered.connect(lambda _=False, c=info.id: ai.explain(c))
    menu.setEnabled(bool(table))


def _manifest_labels(source: str):
    """The label table of a model given by name or folder; None when it cannot be read."""
    from pathlib import Path

    from engine.errors import CandorError
    from engine.models import load_manifest
    from engine.models.discovery import find_model

    try:
        folder = Path(source) if Path(source).is_dir() else find_model(source).path
        return load_manifest(folder / "manifest.json").labels
    except (CandorError, OSError):   # no model installed yet: the entries appear once one is
        return None
