"""The AI menu's logic: run segmentation/uncertainty/saliency jobs and show their results.

All engine work goes through the window's :class:`engine.jobs.JobRunner` (``submit_watched``);
this object only reacts to job events on the GUI thread.

Every run first asks the engine to refuse a scan the model was not made for
(``AnalysisOptions.refuse_unsuitable``: the hard input checks, before any network pass). When the
job stops there (:class:`engine.errors.Unsuitable`) the reader is asked, without blocking
(``unsuitable_box``, default No): Yes submits the same run with the gate off, and its record and
banner say it was forced; No runs nothing and says so in Messages.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QSizePolicy, QToolBar, QVBoxLayout, QWidget

from engine.errors import CandorError, Unsuitable
from engine.jobs import JobState, report
from engine.labels import LabelTable, label_report
from viewer.qt.features._ai_progress import JobProgress
from viewer.qt.features._ai_results import STRIP_KEYS, add_result_layers, map_layer_name, strip_map
from viewer.qt.jobs_bridge import submit_watched
from viewer.qt.ood_banner import OODBanner
from viewer.state.cursor import VIEW_AXIS
from viewer.qt.uncertainty_strip import (
    UncertaintyStrip,
    attach_under_slider,
    per_slice_foreground_means,
    per_slice_means,
)

if TYPE_CHECKING:
    from engine.models.store import ModelStore
    from engine.trust import TrustOptions

log = logging.getLogger(__name__)

DEFAULT_MC_SAMPLES = 10


@dataclasses.dataclass(frozen=True)
class AIOutcome:
    """What the AI job hands the GUI thread: the analysis and the per-slice strip values,
    computed on the worker (on the demo head they took 180 ms of the GUI thread)."""

    result: object                       # engine.trust.AnalysisResult
    strips: dict | None = None           # view → (per-slice means, foreground ranking)


def strip_values(grid, uncertainty, labels) -> dict:
    """Per view: the mean of ``uncertainty`` per slice and its mean over the labelled voxels
    (the ranking "Go to Most Uncertain Slice" uses), both on the display grid."""
    display = grid.view(uncertainty)
    foreground = grid.view(labels) > 0
    return {name: (per_slice_means(display, name), per_slice_foreground_means(display, foreground, name))
            for name in VIEW_AXIS}


def run_ai_job(volume, source: str, options: TrustOptions, models: ModelStore, grid=None, *,
               progress=None, cancel=None) -> AIOutcome:
    """The job: load (or reuse) the model from the app's model store, analyze, and (with the
    display ``grid``) compute the uncertainty strips' values."""
    from engine.trust import analyze  # torch loads here, on the worker, not at start-up

    report(progress, cancel, 0.0, "loading the model")
    model = models.load(source)
    result = analyze(volume, model, options, progress=progress, cancel=cancel)
    _key, vol = strip_map(result)
    strips = strip_values(grid, vol.array, result.labels.array) if grid is not None and vol is not None else None
    return AIOutcome(result, strips)


@dataclasses.dataclass(frozen=True)
class AIRun:
    """One AI run as submitted: what the engine is asked, and how the result is shown."""

    options: TrustOptions
    title: str
    purpose: str                  # "segment" or "explain"
    activity: str | None = None
    #: the input checks' reasons when the reader chose to run it although they said no
    forced_by: tuple[str, ...] = ()

    def anyway(self, reasons) -> AIRun:
        """The same run with the refuse-unsuitable gate off, forced past ``reasons``."""
        return dataclasses.replace(self, options=dataclasses.replace(self.options, refuse_unsuitable=False),
                                   forced_by=tuple(reasons))


FORCED_NOTE = "You chose to run it although its input checks said it was not made for this scan."


class AIController(QObject):
    """Owns the AI menu's state: model source, last result, banner, progress, strips."""

    result_ready = Signal(object)     # TrustResult, after its layers were added
    #: "done", "cancelled", "failed", or "unsuitable" (stopped by the input checks before any
    #: network pass; ``unsuitable_box`` now asks whether to run it anyway)
    job_ended = Signal(str)

    def __init__(self, services) -> None:
        super().__init__(services.window)
        window = services.window
        self.services = services
        self.window = window
        self.model = services.model
        self.mc_samples = DEFAULT_MC_SAMPLES
        self.last_result = None
        self.watcher = None
        self.unsuitable_box: QMessageBox | None = None   # the open "Run it anyway?" question
        self.refused_job = None          # the last job the input checks stopped (error: Unsuitable)
        self.progress = JobProgress(window)
        window.statusBar().addPermanentWidget(self.progress)
        self.banner_bar = QToolBar("OOD warning", window)
        self.banner_bar.setObjectName("ood_banner_bar")
        self.banner_bar.setMovable(False)
        self.banner_bar.setFloatable(False)
        holder = QWidget(self.banner_bar)        # the banner shows/hides inside it (toolbar widgets can't)
        holder.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        box = QVBoxLayout(holder)
        box.setContentsMargins(0, 0, 0, 0)
        self.banner = OODBanner(holder)
        box.addWidget(self.banner)
        self.banner_bar.addWidget(holder)
        self.banner_bar.setStyleSheet("QToolBar { border: 0px; padding: 0px; }")
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.banner_bar)
        self.banner_bar.hide()
        self.banner.dismissed.connect(self.banner_bar.hide)
        self.strips: dict[str, UncertaintyStrip] = {}
        self._attach_strips()
        self.model.events.image.connect(self._on_new_image)
        self.model.cursor.events.changed.connect(self._on_cursor)

    @property
    def model_source(self) -> str:
        """The model the AI menu runs (shared with fine-tuning through ``services``)."""
        return self.services.model_source

    @model_source.setter
    def model_source(self, source) -> None:
        self.services.model_source = str(source)

    # Jobs -----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A job runs, or the reader has not answered whether to run one anyway."""
        return self.watcher is not None or self.unsuitable_box is not None

    def segment(self, mc_samples: int | None = None, ensemble: bool = False,
                saliency_labels: tuple[int, ...] = ()) -> bool:
        """Segment the shown image: MC-Dropout (``mc_samples``, default ``self.mc_samples``) on the primary
        member, or on every ensemble member with ``ensemble``. False if nothing was started."""
        from engine.trust import TrustOptions

        samples = self.mc_samples if mc_samples is None else max(1, int(mc_samples))
        options = TrustOptions(mc_samples=samples, use_ensemble=ensemble, saliency_labels=tuple(saliency_labels),
                               refuse_unsuitable=True)
        title = "AI segmentation (ensemble)" if ensemble else "AI segmentation"
        return self._submit(AIRun(options, title, "segment"))

    def explain(self, label_id: int) -> bool:
        """Grad-CAM saliency of one label on the shown image (adds only the saliency layer)."""
        from engine.trust import TrustOptions

        options = TrustOptions(mc_samples=1, use_ensemble=False, saliency_labels=(int(label_id),),
                               refuse_unsuitable=True)
        activity = f"Explaining {self._label_name(int(label_id))} (Grad-CAM)"
        return self._submit(AIRun(options, activity, "explain", activity=activity))

    def _label_name(self, label_id: int) -> str:
        """The label's name from the last result, the active label layer or the model's manifest."""
        from viewer.qt.features.ai import _manifest_labels   # the Explain menu's own source of names

        active = self.model.layers.active_labels
        for table in (self.last_result.table if self.last_result is not None else None,
                      active.table if active is not None else None):
            if table is not None and label_id in table:
                return table.get(label_id).name
        table = _manifest_labels(self.model_source)
        return (table if table is not None else LabelTable()).get(label_id).name

    def _submit(self, run: AIRun) -> bool:
        image = self.model.image
        if image is None:
            self.window.statusBar().showMessage("Open a scan first, then run the AI.", 5000)
            return False
        if self.busy:
            self.window.statusBar().showMessage("Answer the AI's question first." if self.watcher is None
                                                else "An AI job is already running.", 5000)
            return False
        self.watcher = submit_watched(self.services.jobs, run_ai_job, image.volume, self.model_source,
                                      run.options, self.services.models, self.model.grid,
                                      parent=self, name=run.title,
                                      on_finished=lambda job, r=run, img=image: self._finished(job, r, img))
        self.progress.watch(self.watcher, run.title + "…", activity=run.activity)
        return True

    def cancel(self) -> None:
        """Cancel the running job; an open "Run it anyway?" question is answered No."""
        if self.unsuitable_box is not None:
            self.unsuitable_box.reject()
        self.progress.cancel()

    def _finished(self, job, run: AIRun, image_layer) -> None:
        self.watcher = None
        self.progress.finish(job)        # before job_ended: whoever hears it sees no progress
        if job.state is JobState.CANCELLED:
            self.window.statusBar().showMessage("AI job cancelled.", 5000)
            self.job_ended.emit("cancelled")
            return
        if job.state is JobState.FAILED and isinstance(job.error, Unsuitable) and self.model.image is image_layer:
            self.refused_job = job
            self._ask_run_anyway(job.error, run, image_layer)
            self.job_ended.emit("unsuitable")
            return
        if job.state is JobState.FAILED:
            err = job.error
            text = str(err) if isinstance(err, CandorError) else f"unexpected error ({type(err).__name__}); see the log"
            if not isinstance(err, CandorError):
                log.error("AI job failed: %s", type(err).__name__)
            self.services.messages.add(f"AI: {text}", "error")
            self.job_ended.emit("failed")
            return
        if self.model.image is not image_layer:       # the study changed while the job ran
            self.job_ended.emit("cancelled")
            return
        outcome = job.result()
        self._show(outcome.result, run, outcome.strips)
        self.job_ended.emit("done")

    # The input checks said no: ask ----------------------------------------------------------
    def _ask_run_anyway(self, err: Unsuitable, run: AIRun, image_layer) -> None:
        """Ask, without blocking, whether to run ``run`` although ``err`` says the model was not
        made for this scan (default and Escape: No)."""
        yes, no = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
        reasons = "\n".join(f"• {r}" for r in err.reasons)
        box = QMessageBox(QMessageBox.Icon.Question, "Run the AI anyway?",
                          f"{err.model_name} was not made for this scan:\n{reasons}\n\nRun it anyway?",
                          yes | no, self.window)
        box.setObjectName("unsuitable_box")
        box.setInformativeText("Nothing has been run yet. If you run it, the result carries the "
                               "out-of-distribution warning and its record says you chose to.")
        box.button(yes).setText("Run anyway")
        box.button(no).setText("Don't run")
        box.setDefaultButton(no)
        box.setEscapeButton(no)
        box.finished.connect(lambda _code, b=box: self._answered(b, err, run, image_layer))
        self.unsuitable_box = box
        box.open()

    def _answered(self, box: QMessageBox, err: Unsuitable, run: AIRun, image_layer) -> None:
        if box is not self.unsuitable_box:
            return
        self.unsuitable_box = None
        box.deleteLater()
        if box.clickedButton() is not box.button(QMessageBox.StandardButton.Yes):
            self.services.messages.add(f"AI: nothing was run — {err.model_name} was not made for this scan "
                                       f"({'; '.join(err.reasons)}).", "info")
            self.window.statusBar().showMessage(f"Nothing was run: {err.model_name} was not made for this scan.",
                                                8000)
            return
        if self.model.image is not image_layer:
            self.window.statusBar().showMessage("The scan changed; nothing was run.", 5000)
            return
        self.services.messages.add(f"AI: running {err.model_name} anyway on a scan it was not made for "
                                   "(your choice); the result carries the OOD warning.", "warning")
        self._submit(run.anyway(err.reasons))

    # Results --------------------------------------------------------------------------------
    def _show(self, result, run: AIRun, strips: dict | None = None) -> None:
        from viewer.qt.features._ai_results import result_record

        if run.purpose == "explain":
            from viewer.qt.features._ai_results import add_saliency_layer

            record = result_record(result)
            for label_id, vol in result.saliency.items():
                add_saliency_layer(self.model, result, label_id, vol, record)
        else:
            record = add_result_layers(self.model, result)["labels"].provenance.trust
            self.last_result = result
            if strips is not None and self.model.grid is not None:
                self._set_strips(strips)
            else:
                self._update_strips(result)
        if run.forced_by:       # in the record every layer of the run shares
            record["forced"] = {"by": "the reader", "input_checks": list(run.forced_by)}
        if result.ood.flag:
            self.show_banner(result.ood.to_dict(), record, result.model["name"])
        self.window.statusBar().showMessage(self._summary(result), 8000)
        self.result_ready.emit(result)

    def show_banner(self, ood: dict, record: dict | None, model_name: str, messages: bool = True) -> None:
        """The OOD banner for a flagged run (also a recovered one), its reasons in Messages; a run
        the reader forced past the input checks (``record["forced"]``) says so in its title."""
        self.banner_bar.show()
        self.banner.show_report(ood, record, model_name)
        if record is not None and record.get("forced"):
            self.banner.title.setText(f"{self.banner.title.text()} {FORCED_NOTE}")
        if messages:
            for reason in ood.get("reasons", []):
                self.services.messages.add(f"AI input check: {reason}", "warning")

    @staticmethod
    def _summary(result) -> str:
        report = result.label_report or label_report(result.labels.array, result.table,
                                                     result.labels.geometry.voxel_volume_ml)
        parts = [f"{row['name']} {float(row['volume_ml']):.1f} mL" for row in report]
        flag = " — OOD WARNING" if result.ood.flag else ""
        return "AI: " + ", ".join(parts) + flag

    # Uncertainty strips ---------------------------------------------------------------------
    def _attach_strips(self) -> None:
        for name, view in self.services.viewer.views.items():
            strip = UncertaintyStrip(name)
            attach_under_slider(view, strip)
            strip.slice_clicked.connect(lambda i, v=name: self.model.cursor.set_slice(v, i))
            self.strips[name] = strip

    def _update_strips(self, result) -> None:
        _key, vol = strip_map(result)
        if vol is not None:
            self._fill_strips(vol.array, result.labels.array)

    def restore_strips(self, labels_layer, maps: list) -> bool:
        """The strips of a recovered run, from its recovered uncertainty map (the one
        :func:`strip_map` picks, found by its layer name); False when there is none."""
        names = {map_layer_name(key): key for key in STRIP_KEYS}
        by_key = {names[m.name]: m for m in maps if m.name in names}
        key = next((k for k in STRIP_KEYS if k in by_key), None)
        if key is None or self.model.grid is None:
            return False
        self._fill_strips(by_key[key].volume.array, labels_layer.volume.array)
        return True

    def _fill_strips(self, uncertainty, labels) -> None:
        if self.model.grid is None:
            return
        self._set_strips(strip_values(self.model.grid, uncertainty, labels))

    def _set_strips(self, values: dict) -> None:
        for name, strip in self.strips.items():
            means, ranking = values[name]
            strip.set_values(means, ranking=ranking)
            strip.set_current(self.model.cursor.slice_of(name))

    def most_uncertain_slice(self, view: str | None = None) -> int | None:
        view = view or (self.model.focused if self.model.focused in self.strips else "axial")
        strip = self.strips.get(view)
        return None if strip is None else strip.most_uncertain

    def go_to_most_uncertain(self, view: str | None = None) -> bool:
        view = view or (self.model.focused if self.model.focused in self.strips else "axial")
        index = self.most_uncertain_slice(view)
        if index is None:
            self.window.statusBar().showMessage("Run AI › Segment with Uncertainty first.", 5000)
            return False
        self.model.cursor.set_slice(view, index)
        return True

    def _on_cursor(self, _zyx) -> None:
        for name, strip in self.strips.items():
            strip.set_current(self.model.cursor.slice_of(name))

    def _on_new_image(self, _layer) -> None:
        self.last_result = None
        for strip in self.strips.values():
            strip.set_values(None)
        if self.banner.isVisible():     # the result it warned about is gone with the old study
            self.banner.hide()
            self.banner_bar.hide()
