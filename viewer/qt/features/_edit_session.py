"""The edit session: Accept & queue, autosave on idle and on accept, recovery after a crash.

Autosave: a few seconds after the last edit (and after every accept) the editable layers and the
AI layers they correct are written by :mod:`engine.editing.autosave` on a worker thread. When the
window closes with edits not yet accepted, the session is kept and offered at the next start; a
crash (even ``kill -9``) leaves it behind the same way.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox

from engine.corrections.queue import ModelRef, queue_correction
from engine.editing import autosave
from engine.errors import CandorError
from engine.labels import LabelTable
from engine.volume import Volume
from viewer.qt.jobs_bridge import submit_watched
from viewer.state.layers import HeatmapLayer
from viewer.state.provenance import LayerProvenance, Role

log = logging.getLogger(__name__)

IDLE_MS = 3000


def model_of(layer) -> ModelRef | str | None:
    """The model that produced an AI layer, from its typed provenance."""
    if layer is None:
        return None
    p = layer.provenance
    if not p.model_name or not p.model_version:
        return None
    return ModelRef(p.model_name, p.model_version, p.weights_hash) if p.weights_hash else p.model_label


def _saved_layer(layer, role: str, array, table, info: dict) -> autosave.SavedLayer:
    info = {**info, "provenance": layer.provenance.to_dict()}
    return autosave.SavedLayer(layer.name, array, layer.volume.geometry, table, role, info)


class EditSession(QObject):
    """Accept & queue, autosave and recovery for one window's edits."""

    accepted = Signal(str)        # queue id of the accepted correction
    autosaved = Signal(int)       # autosave generation
    recovered = Signal(object)    # the recovered autosave.Snapshot

    def __init__(self, services, controller) -> None:
        super().__init__(services.window)
        self.services, self.window, self.controller = services, services.window, controller
        self.model, self.editing = services.model, controller.editing
        self.store: autosave.AutosaveSession | None = None
        self.source: dict = {}
        self.accepted_ids: list[str] = []
        self.unaccepted = False       # edits since the last accept
        self._unsaved = False         # edits since the last autosave
        self._tracked: list = []      # (layer, ai layer or None) in edit order
        self._save_watcher = None
        self._accept_watcher = None
        self.recovery_box: QMessageBox | None = None
        #: other features' state saved with the edits: key → callable returning a JSON-ready
        #: value, stored in the snapshot's ``source`` (older readers ignore unknown keys) and
        #: read back from ``recovered``'s snapshot (the Measurements feature keeps its list here)
        self.extras: dict = {}
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(IDLE_MS)
        self.timer.timeout.connect(self.autosave_now)
        self.editing.events.edited.connect(self._on_edit)
        self.model.events.image.connect(self._on_image)
        if services.opener is not None:   # optional: the reading feature's study opener
            services.opener.opened.connect(self._on_opened)
        QTimer.singleShot(0, self, self.offer_recovery)  # not after the window is gone

    # Tracking edits -------------------------------------------------------------------------
    def _on_opened(self, volume) -> None:
        browser = self.services.opener.browser
        path = browser.path if browser is not None else None
        self.source = {"path": str(path) if path else None,
                       "series_uid": volume.metadata.get("series_uid")}

    def _on_edit(self, layer) -> None:
        if all(l is not layer for l, _ in self._tracked):
            self._tracked.append((layer, self.editing.ai_source(layer)))
        self.unaccepted = self._unsaved = True
        self.timer.start()

    def _on_image(self, _layer) -> None:
        """A new study replaced the old one: keep the old session's edits safe, start afresh."""
        if self.store is not None:
            self._finish_store()
        self._tracked, self.accepted_ids = [], []
        self.unaccepted = self._unsaved = False

    # Autosave -------------------------------------------------------------------------------
    def snapshot(self) -> autosave.Snapshot:
        """The tracked layers with their typed role and provenance (model, weights, OOD, trust)."""
        layers, seen = [], set()
        for layer, ai in self._tracked:
            if ai is not None and ai not in seen:
                seen.add(ai)
                layers.append(_saved_layer(ai, "ai", ai.volume.array, ai.table, {}))
            editor = self.editing.existing_editor(layer)
            layers.append(_saved_layer(
                layer, layer.role.value, layer.volume.array.copy(),
                editor.table if editor is not None else layer.table,
                {"ai_source": ai.name if ai is not None else None}))
        layers += self._saved_maps(seen)
        source = dict(self.source)
        source.update({key: provide() for key, provide in self.extras.items()})
        return autosave.Snapshot(source, layers, list(self.accepted_ids))

    def note_change(self) -> None:
        """An ``extras`` value changed: autosave it (with the session's edits, or alone: the
        measurements of a read without edits survive a crash too)."""
        if self._has_work():
            self._unsaved = True
            self.timer.start()

    def _has_work(self) -> bool:
        """Edited layers, or an ``extras`` value worth keeping (e.g. a measurement)."""
        return bool(self._tracked) or any(provide() for provide in self.extras.values())

    def _saved_maps(self, ai_layers: set) -> list[autosave.SavedLayer]:
        """The heatmaps (uncertainty, saliency) of the runs whose results are being corrected:
        same provenance as an AI source. Their arrays are content-addressed, so an unchanged map
        is written once per session, not at every save."""
        runs = [ai.provenance for ai in ai_layers if ai.provenance.has_model]
        maps = []
        for layer in self.model.layers:
            if isinstance(layer, HeatmapLayer) and layer.provenance in runs:
                maps.append(_saved_layer(layer, "heatmap", layer.volume.array, LabelTable(),
                                         {"colormap": layer.colormap, "value_range": list(layer.value_range),
                                          "opacity": layer.opacity, "visible": layer.visible}))
        return maps

    def autosave_now(self):
        """Save the working layers now (on a worker); returns the job's watcher, or None."""
        self.timer.stop()
        if not self._has_work():
            return None
        if self._save_watcher is not None and not self._save_watcher.job.state.finished:
            self._unsaved = True
            self.timer.start()  # one save at a time: try again shortly
            return None
        if self.store is None:
            self.store = autosave.AutosaveSession()
        self._unsaved = False
        watcher = submit_watched(self.services.jobs, self.store.save, self.snapshot(), parent=self,
                                 name="autosave", on_finished=self._saved)
        self._save_watcher = watcher
        return watcher

    def _saved(self, job) -> None:
        if job.error is not None:
            self._unsaved = True
            log.warning("autosave failed: %s", type(job.error).__name__)
            self.controller.status(f"Autosave failed: {job.error}")
            return
        self.autosaved.emit(job.result())

    def _finish_store(self, keep: bool | None = None) -> None:
        """Close the autosave store: a final save first if needed; kept when edits are unaccepted."""
        if self._save_watcher is not None:
            self._save_watcher.job.wait()
        keep = self.unaccepted if keep is None else keep
        try:
            if keep and (self._unsaved or self.store.generation == 0) and self._tracked:
                self.store.save(self.snapshot())
        except CandorError as exc:
            log.warning("final autosave failed: %s: %s", type(exc).__name__, exc)
        self.store.close(keep=keep)
        self.store = None

    # Accept & queue -------------------------------------------------------------------------
    def accept(self):
        """Queue the corrected layer with its AI result; returns the job's watcher (or None)."""
        layer = self.controller.current_layer()
        image = self.model.image
        if layer is None or image is None:
            self.controller.status("Nothing to accept: correct an AI result first")
            return None
        ai = self.editing.ai_source(layer)
        if any(l is not None and l.provenance.ood_flag for l in (ai, layer)) and not self._confirm_flagged():
            self.controller.status("Not queued: the input check flagged this result")
            return None
        editor = self.editing.existing_editor(layer)
        if editor is not None:
            editor.end_stroke()
        table = editor.table if editor is not None else layer.table
        ai_array = ai.volume.array if ai is not None else np.zeros_like(layer.volume.array)
        if all(l is not layer for l, _ in self._tracked):
            self._tracked.append((layer, ai))
        watcher = submit_watched(self.services.jobs, queue_correction, image.volume, ai_array,
                                 layer.volume.array.copy(), table, model_of(ai), parent=self,
                                 name="accept", on_finished=self._accepted)
        self._accept_watcher = watcher
        self.controller.status("Queueing the correction…")
        return watcher

    def _confirm_flagged(self) -> bool:
        """Ask before queuing a result the OOD check flagged; default No."""
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
        answer = QMessageBox.question(
            self.services.window, "Accept & Queue",
            "The input check flagged this scan as unlike the data the model was trained on, so the "
            "AI result may be unreliable. Queue the correction for fine-tuning anyway?",
            buttons, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _accepted(self, job) -> None:
        if job.error is not None:
            self.controller.status(f"Could not queue the correction: {job.error}")
            self.services.messages.add(f"Could not queue the correction: {job.error}", "error")
            return
        item = job.result()
        self.accepted_ids.append(item.id)
        self.unaccepted = False
        text = (f"Correction queued for fine-tuning ({item.id}): "
                f"{item.stats['voxels_changed']} voxels changed")
        self.controller.status(text)
        self.services.messages.add(text + ".", "info")      # stays listed after the status bar clears
        self.accepted.emit(item.id)
        self._unsaved = True
        self.autosave_now()

    # Recovery -------------------------------------------------------------------------------
    def offer_recovery(self) -> None:
        """At start-up: if an earlier session was not closed normally, ask (without blocking)."""
        pending = autosave.pending_sessions()
        if not pending:
            return
        session = pending[0]
        what = ", ".join(session.layer_names) or "measurements"
        box = QMessageBox(QMessageBox.Icon.Question, "Recover unsaved edits?",
                          f"Candor did not close normally. Recover the unsaved edits ({what})?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard,
                          self.window)
        box.setObjectName("recovery_box")
        box.button(QMessageBox.StandardButton.Yes).clicked.connect(
            lambda: self.recover(session.session_id))
        box.button(QMessageBox.StandardButton.Discard).clicked.connect(
            lambda: autosave.discard(session.session_id))
        self.recovery_box = box
        box.open()

    def recover(self, session_id: str):
        """Re-open the scan of an abandoned session and restore its layers (returns a watcher
        when the scan is being loaded, else None)."""
        snapshot = autosave.load_snapshot(session_id)
        geometry = snapshot.layers[0].geometry if snapshot.layers else None
        image = self.model.image
        if image is not None and geometry is not None and image.volume.geometry.is_close(geometry):
            self._adopt(session_id)
            return None
        path = snapshot.source.get("path")
        if not path or not Path(path).exists():
            self.controller.status("The scan of the unsaved session is no longer available; "
                                   "its edits are kept for a later try")
            return None
        from engine import io

        watcher = submit_watched(
            self.services.jobs, io.load, path, snapshot.source.get("series_uid"), parent=self,
            name="recover",
            on_finished=lambda job: self._loaded_for_recovery(job, session_id, snapshot.source))
        return watcher

    def _loaded_for_recovery(self, job, session_id: str, source: dict) -> None:
        if job.error is not None:
            self.controller.status(f"Could not reopen the scan: {job.error}")
            return
        self.model.open_volume(job.result())
        self.source = dict(source)
        self._adopt(session_id)

    def _adopt(self, session_id: str) -> None:
        store, snapshot = autosave.recover(session_id)
        if self.store is not None:
            self._finish_store()
        self.store = store
        ai_layers = {}
        for saved in snapshot.layers:
            if saved.role == "ai":
                layer = self.model.layers.add_labels(
                    Volume(saved.labels, saved.geometry, "OT", _legacy_metadata(saved.info)),
                    saved.table, name=saved.name, role=Role.AI, provenance=_provenance(saved))
                layer.visible = False
                ai_layers[saved.name] = layer
        maps = [self._adopt_map(saved) for saved in snapshot.layers if saved.role == "heatmap"]
        edited = [saved for saved in snapshot.layers if saved.role not in ("ai", "heatmap")]
        for saved in snapshot.layers:
            if saved.role not in ("ai", "heatmap"):
                source = ai_layers.get(saved.info.get("ai_source"))
                volume = Volume(saved.labels, saved.geometry, "OT", {"role": "corrected"})
                layer = self.editing.add_editable(volume, saved.table, saved.name, source,
                                                  role=_role(saved.role), provenance=_provenance(saved))
                self._tracked.append((layer, self.editing.ai_source(layer)))
        self.source = dict(snapshot.source) or self.source
        self.accepted_ids = list(snapshot.accepted)
        # a session of measurements only is discarded at a normal close, as before the crash
        self.unaccepted, self._unsaved = bool(edited), False
        n = len(snapshot.source.get("measurements") or ())
        self.controller.status(self._restore_trust(list(ai_layers.values()), maps, bool(edited), n))
        self.recovered.emit(snapshot)

    def _adopt_map(self, saved: autosave.SavedLayer):
        info = saved.info
        volume = Volume(saved.labels, saved.geometry, "OT", {"role": "heatmap"})
        layer = self.model.layers.add_heatmap(
            volume, name=saved.name, colormap=info.get("colormap", "inferno"),
            value_range=tuple(info["value_range"]) if info.get("value_range") else None,
            opacity=float(info.get("opacity", 0.5)), provenance=_provenance(saved))
        layer.visible = bool(info.get("visible", True))
        return layer

    def _restore_trust(self, ai_layers: list, maps: list, edits: bool = True,
                       measurements: int = 0) -> str:
        """The OOD banner and the uncertainty strips of the recovered run; says what came back."""
        said = ["the edits"] if edits else []
        if measurements:
            said.append(f"{measurements} measurement{'s' if measurements > 1 else ''}")
        if maps:
            said.append(f"{len(maps)} map{'s' if len(maps) > 1 else ''}")
        flagged = next((l for l in ai_layers if l.provenance.ood_flag and l.provenance.ood), None)
        ai = self.services.ai
        if flagged is not None and ai is not None:
            p = flagged.provenance
            ai.show_banner(p.ood, p.trust, p.model_name or "the model", messages=False)
            said.append("the OOD warning")
        if ai is not None and ai_layers and ai.restore_strips(ai_layers[0], maps):
            said.append("the uncertainty strips")
        if not said:
            return "Recovered the scan of the unsaved session (nothing else was saved with it)"
        text = "Recovered " + ", ".join(said[:-1]) + (" and " if len(said) > 1 else "") + said[-1]
        if ai_layers:
            text += "; run AI again for anything else of that result (e.g. Explain's label list)"
        return text

    def cleanup(self) -> None:
        self.timer.stop()
        for watcher in (self._accept_watcher,):
            if watcher is not None:
                watcher.job.wait()
        if self.store is not None:
            self._finish_store()


def _provenance(saved: autosave.SavedLayer) -> LayerProvenance | None:
    """The saved typed provenance; for autosaves older than it, None (read from the metadata or
    inherited from the AI source)."""
    d = saved.info.get("provenance")
    return LayerProvenance.from_dict(d) if isinstance(d, dict) else None


def _legacy_metadata(info: dict) -> dict:
    return {k: v for k, v in info.items() if k in ("model", "version", "model_name",
                                                    "model_version", "weights_hash")}


def _role(value: str) -> Role | None:
    try:
        return Role(value)
    except ValueError:
        return None
