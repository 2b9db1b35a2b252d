"""The one analysis entry point: ``analyze(volume, model, options) -> AnalysisResult``.

Input checks (OOD, before any patch runs) → preprocessing (the model's spacing and normalisation)
→ one sliding-window pass of MC-Dropout/ensemble sampling (:func:`engine.trust.pipeline.model_grid_pass`)
→ optional Grad-CAM → output OOD scores → labels, the maps asked for and (if asked) class
probabilities back on the input grid, each resampled once (:mod:`engine.trust.grids`) → the label
report (:func:`engine.labels.label_report`, the one place label volumes are computed).

A plain segmentation is ``analyze(volume, model, SEGMENTATION)``; the viewer, ``candor segment``,
the self-test, the evaluation scripts and the benchmarks all call this function. The model is
passed in, loaded (``engine.models.load_model`` or the viewer's cache); nothing here looks one up.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from engine.errors import InputError, Unsuitable
from engine.jobs import CancelToken, ProgressCallback, report
from engine.labels import LabelTable, label_report
from engine.trust.ensemble import choose_members
from engine.trust.ood import OODReport, mode_calibration, mode_key, soft_checks
from engine.trust.ood_checks import input_checks
from engine.trust.options import AnalysisOptions
from engine.trust.pipeline import ModelGridResult, all_soft_scores, model_grid_pass, preprocess, sampling_config
from engine.volume import Geometry, Volume

log = logging.getLogger(__name__)


@dataclass
class AnalysisResult:
    """Everything one analysis produced, on the input grid.

    ``labels`` label ``Volume`` (uint8) on the input grid; ``table`` the model's label table;
    ``label_report`` per label id, name, colour, voxels, mL; ``probabilities`` ``(K, z, y, x)``
    float16 (background first) or ``None`` unless asked; ``maps`` uncertainty maps asked for
    (nats); ``saliency`` Grad-CAM per label in [0, 1]; ``ood`` the OOD verdict; ``uncertainty``
    and ``explain`` summaries; ``model`` name, version, parent_version, task, members_used;
    ``timings`` seconds per stage; ``device`` where it ran; ``model_grid`` the grid it ran on;
    ``warnings`` the input's load warnings followed by the OOD reasons.
    """

    labels: Volume
    table: LabelTable
    label_report: list[dict]
    maps: dict[str, Volume]
    saliency: dict[int, Volume]
    ood: OODReport
    uncertainty: dict
    explain: dict
    model: dict
    timings: dict
    device: str = "cpu"
    model_grid: Geometry | None = None
    probabilities: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)

    def report(self) -> dict:
        """The JSON-ready sections the CLI report and the viewer record with the result."""
        return {"model": self.model, "labels": self.label_report, "ood": self.ood.to_dict(),
                "uncertainty": self.uncertainty, "saliency": self.explain, "timings": self.timings}

    def probability(self, label_id: int) -> Volume:
        """One class's probability map as a float32 ``Volume`` on the input grid (needs ``probabilities``)."""
        if self.probabilities is None:
            raise InputError("probabilities were not asked for (AnalysisOptions(probabilities=True))")
        return self.labels.with_array(self.probabilities[label_id].astype(np.float32), modality="OT", metadata={})


#: The result type under its former name (the viewer and tests import it).
TrustResult = AnalysisResult


def _check_volume(volume: Volume, model) -> None:
    if model.manifest.task == "brain-extraction":  # its own pipeline (engine.extraction), not this one
        raise InputError(f"{model.manifest.name} is a brain-extraction model: it runs through brain extraction "
                         "(`candor extract-brain PATH --out MASK`), not as a segmentation")
    if model.manifest.input_channels != 1:
        raise InputError(f"model {model.manifest.name} needs {model.manifest.input_channels} input channels; "
                         "Candor feeds one image")
    if not np.issubdtype(volume.array.dtype, np.number) or volume.array.dtype == np.bool_:
        raise InputError("the image holds no numeric intensities")
    if min(volume.size) < 2:
        raise InputError(f"the image is too small to segment ({volume.size[0]}×{volume.size[1]}×{volume.size[2]})")


class _TimeShares:
    """The analysis' progress as a share of its expected *time*, so a throughput ETA holds.

    Before the network pass only the preprocessing has been timed; the stages after it (output
    checks, mapping back to the scan) resample whole volumes like it does, and cost about
    ``POST_PER_PRE + POST_PER_MAP · maps`` times it (demo head, 2 cores, ``bench/bench_analysis.py``:
    0.26–0.28 s before; after it 0.69 s for a plain segmentation, 1.13 s with one saliency map,
    1.58 s with the four uncertainty maps). The pass's own duration is measured as it runs (its
    time per window so far), so every report says ``elapsed / (elapsed + expected rest)``, never
    less than the last one.
    """

    POST_PER_PRE = 2.65
    POST_PER_MAP = 0.75
    START = 0.03          # model loading, input checks and preprocessing

    def __init__(self, progress: ProgressCallback | None, preprocess_s: float, maps: int = 0) -> None:
        ratio = self.POST_PER_PRE + self.POST_PER_MAP * maps
        self.progress, self.post_s = progress, max(ratio * preprocess_s, 0.05)
        self.t0 = time.perf_counter()
        self.pass_s: float | None = None
        self.last = self.START

    def _emit(self, fraction: float, stage: str) -> None:
        self.last = max(self.last, min(fraction, 1.0))
        if self.progress is not None:
            self.progress(self.last, stage)

    def network(self, fraction: float, stage: str = "") -> None:
        """A report of the network pass (``fraction`` of its windows done)."""
        spent = time.perf_counter() - self.t0
        if fraction >= 0.05:
            whole = spent / fraction
            share = whole / (whole + self.post_s)
            self._emit(self.START + (1 - self.START) * share * fraction, stage)
        else:
            self._emit(self.START, stage)

    def after(self, part: float, stage: str) -> None:
        """A stage after the pass: ``part`` (0..1) of the remaining expected work is done."""
        if self.pass_s is None:
            self.pass_s = time.perf_counter() - self.t0
        share = self.pass_s / (self.pass_s + self.post_s)
        self._emit(self.START + (1 - self.START) * (share + (1 - share) * part), stage)


def analyze(volume: Volume, model, options: AnalysisOptions | None = None, *,
            progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> AnalysisResult:
    """Segment ``volume`` with ``model`` (a loaded model) and compute what ``options`` ask for
    (default ``AnalysisOptions()``: MC-Dropout T = 10 over all members, every uncertainty map)."""
    from engine.inference.predict import resolve_device

    options = AnalysisOptions() if options is None else options
    _check_volume(volume, model)
    device = resolve_device(options.device)
    manifest = model.manifest
    t_start = time.perf_counter()
    report(progress, cancel, 0.0, "checking the input")
    hard = input_checks(volume, manifest)
    for check in hard:
        if check.fired:
            log.info("OOD input check fired: %s", check.name)
    fired = [c.reason for c in hard if c.fired and c.hard]
    if fired and options.refuse_unsuitable:
        raise Unsuitable(manifest.name, fired)
    if manifest.adapter.get("kind") == "nnunet_v2":    # nnU-Net's own preprocessing and export
        from engine.trust.nnunet_analysis import analyze_nnunet

        result = analyze_nnunet(volume, model, options, hard, progress=progress, cancel=cancel)
        report(progress, cancel, 1.0, "done")
        return result
    report(progress, cancel, 0.02, "preprocessing")
    normalized, grid, stats = preprocess(volume, manifest)
    roi = _roi_on(options.roi, grid) if options.roi is not None else None
    preprocess_s = time.perf_counter() - t_start
    shares = _TimeShares(progress, preprocess_s, len(options.maps) + len(options.saliency_labels))
    grid_result = model_grid_pass(normalized, grid, model, options, roi=roi,
                                  progress=shares.network if progress is not None else None,
                                  cancel=cancel)
    if options.faithfulness and grid_result.saliency:
        if cancel is not None:
            cancel.raise_if_cancelled()
        shares.after(0.0, "checking the saliency map (deletion test)")
        _faithfulness(grid_result, model, options, roi)
    if cancel is not None:
        cancel.raise_if_cancelled()
    shares.after(0.0, "checking the output")
    soft, extras = all_soft_scores(volume, grid_result, stats["lower"], manifest)
    cal = manifest.trust_calibration.ood
    mode = mode_key(len(choose_members(model.networks, options.use_ensemble)), options.mc_samples)
    checks, combined, c_thr = soft_checks(soft, extras, cal, mode)
    ood = OODReport(hard + checks, combined, c_thr, calibrated=mode_calibration(cal, mode)[2])
    if cancel is not None:
        cancel.raise_if_cancelled()
    shares.after(0.5, "mapping back to the scan")
    t_post = time.perf_counter()
    result = _to_input_grid(volume, model, grid_result, ood, options, cancel)
    result.device = str(device)
    result.timings = {"preprocess_s": round(preprocess_s, 3), **result.timings,
                      "postprocess_s": round(time.perf_counter() - t_post, 3),
                      "total_s": round(time.perf_counter() - t_start, 3)}
    report(progress, cancel, 1.0, "done")
    log.info("analysed a %s volume with %s in %.1f s", "×".join(map(str, volume.size)), manifest.name,
             result.timings["total_s"])
    return result


def _faithfulness(g: ModelGridResult, model, options: AnalysisOptions, roi) -> None:
    from engine.inference.predict import resolve_device, window_config
    from engine.trust.faithfulness import deletion_check

    predicted = g.probs.argmax(0)
    tissue = predicted > 0
    device = str(resolve_device(options.device))
    for c, sal in g.saliency.items():
        region = roi if roi is not None else predicted == c
        f = deletion_check(g.normalized, sal, region, tissue, c, [model.network], window_config(model.manifest),
                           seed=options.seed, device=device)
        g.faithfulness[c] = f.to_dict() if f is not None else None


def _roi_on(roi: Volume, grid: Geometry) -> np.ndarray:
    from engine.inference.preprocess import resample_to_grid
    import SimpleITK as sitk

    mask = Volume((np.asarray(roi.array) > 0).astype(np.uint8), roi.geometry)
    out = sitk.GetArrayFromImage(resample_to_grid(mask.to_sitk(), grid, linear=False))
    if not out.any():
        raise InputError("the Grad-CAM region lies outside the scan")
    return out > 0


def _to_input_grid(volume: Volume, model, g: ModelGridResult, ood: OODReport, options: AnalysisOptions,
                   cancel: CancelToken | None) -> AnalysisResult:
    from engine.trust.grids import as_volume, map_to_input, probabilities_to_input

    table = model.manifest.labels
    label_array, probs = probabilities_to_input(g.probs, g.grid, volume.geometry, keep=options.probabilities,
                                                cancel=cancel)
    labels = as_volume(label_array, volume, "labels", label_table=table.to_list())
    maps = {k: as_volume(map_to_input(v, g.grid, volume.geometry).astype(np.float32), volume, k, unit="nats")
            for k, v in g.maps.items() if k in options.maps}
    saliency = {c: as_volume(map_to_input(v, g.grid, volume.geometry).astype(np.float32), volume, "saliency",
                             label=c) for c, v in g.saliency.items()}
    explain = {str(c): {"label": table.get(c).name if c in table else str(c),
                        "layer": options.saliency_layer or getattr(model.network, "default_gradcam_layer", ""),
                        "scale": round(g.saliency_scale.get(c, 0.0), 6),
                        **({"faithfulness": g.faithfulness[c]} if c in g.faithfulness else {})} for c in g.saliency}
    m = model.manifest
    members = len(choose_members(model.networks, options.use_ensemble))
    info = {"name": m.name, "version": m.version, "parent_version": m.parent_version, "task": m.task,
            "members_used": members, "weights_hash": _weights_hash(model)}
    timings = {k: round(v, 3) for k, v in g.timings.items()}
    return AnalysisResult(labels, table, label_report(label_array, table, volume.geometry.voxel_volume_ml), maps,
                          saliency, ood, uncertainty_summary(g, options, model), explain, info, timings,
                          model_grid=g.grid, probabilities=probs, warnings=list(volume.warnings) + ood.reasons)


def uncertainty_summary(g: ModelGridResult, options: AnalysisOptions, model) -> dict:
    fg = g.probs.argmax(0) > 0
    out = {"mc_samples": options.mc_samples,
           "members": len(choose_members(model.networks, options.use_ensemble)),
           "temperature": sampling_config(model, options).temperature, "unit": "nats"}
    for key, arr in g.maps.items():
        out[f"mean_{key}"] = round(float(arr.mean()), 6)
        out[f"mean_{key}_foreground"] = round(float(arr[fg].mean()) if fg.any() else 0.0, 6)
    return out


def _weights_hash(model) -> str | None:
    """SHA-256 of the package's weight files (what provenance and the correction queue record)."""
    if model.path is None:
        return None
    from engine.models.store import weights_hash

    try:
        return weights_hash(model.path)
    except OSError:      # the package was removed after loading: the result stands, unhashed
        return None
