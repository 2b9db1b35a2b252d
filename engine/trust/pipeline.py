"""The model-grid half of an analysis: preprocessing, the sampling pass, soft OOD scores.

:func:`model_grid_pass` = one sliding-window pass of MC-Dropout/ensemble sampling (deterministic
trunk once per patch) + optional Grad-CAM passes per label, on a normalised image on the model
grid. :func:`engine.trust.analysis.analyze` wraps it with the input checks and the way back to the
input grid; the calibration script reuses it (and :func:`all_soft_scores`) on generated cases.
:func:`check_input` runs the OOD checks that need no network pass.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from engine.inference.precision import cpu_fast_path
from engine.inference.predict import resolve_device, window_config
from engine.inference.preprocess import normalize, to_model_spacing
from engine.inference.sliding_window import sliding_window
from engine.jobs import CancelToken, ProgressCallback, sub_progress
from engine.volume import Geometry, Volume
from engine.trust.ensemble import choose_members, member_disagreement
from engine.trust.entropy import decompose
from engine.trust.gradcam import GradCamConfig, gradcam_patch_fn, gradcam_session, normalise_map
from engine.trust.mc_dropout import DEFAULT_TAIL_STAGES, SamplingConfig, sampling_patch_fn, seeded
from engine.trust.ood import OODReport, soft_checks
from engine.trust.ood_checks import fingerprint_distance, foreground_percentiles, input_checks
from engine.trust.ood_template import match_template
from engine.trust.options import MAP_KEYS, AnalysisOptions
from engine.trust.output_scores import brain_volume_score, output_scores

log = logging.getLogger(__name__)

MAP_NAMES = dict(zip(MAP_KEYS, ("Uncertainty (total)", "Uncertainty (aleatoric)", "Uncertainty (epistemic)",
                                "Ensemble disagreement")))
MAP_NAMES["mirroring"] = "Mirroring disagreement"     # nnU-Net models with test-time mirroring


@dataclass
class ModelGridResult:
    """Everything computed on the model grid (before mapping back)."""

    grid: Geometry
    normalized: np.ndarray
    probs: np.ndarray
    maps: dict[str, np.ndarray]
    energy: np.ndarray
    saliency: dict[int, np.ndarray] = field(default_factory=dict)
    saliency_scale: dict[int, float] = field(default_factory=dict)
    faithfulness: dict[int, dict | None] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def sampling_config(model, options: AnalysisOptions) -> SamplingConfig:
    trust = model.manifest.trust_calibration
    temperature = trust.temperature if options.calibrated else 1.0
    tail = options.tail_stages if options.tail_stages is not None else trust.tail_stages
    if tail is None:
        tail = DEFAULT_TAIL_STAGES
    return SamplingConfig(max(1, options.mc_samples), tail, temperature, options.seed)


def sampling_stage(samples: int, members: int) -> str:
    """The progress text of the network pass, e.g. "segmenting with uncertainty (MC-Dropout T = 10)"."""
    ensemble = f", {members} members" if members > 1 else ""
    if samples > 1:
        return f"segmenting with uncertainty (MC-Dropout T = {samples}{ensemble})"
    return f"segmenting ({members} ensemble members)" if members > 1 else "segmenting"


def model_grid_pass(normalized: np.ndarray, grid: Geometry, model, options: AnalysisOptions, *,
                    roi: np.ndarray | None = None, progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> ModelGridResult:
    """Sampling pass (+ Grad-CAM passes) over a normalised ``(z, y, x)`` image on the model grid."""
    device = resolve_device(options.device)
    cfg = window_config(model.manifest)
    nets = choose_members(model.networks, options.use_ensemble)
    for net in nets:
        net.to(device).eval()
    scfg = sampling_config(model, options)
    if options.saliency_labels and scfg.samples <= 1 and len(nets) == 1:
        return _saliency_only(normalized, grid, nets[0], options, scfg, roi, cfg, device, progress, cancel)
    share = 0.75 if options.saliency_labels else 1.0
    t0 = time.perf_counter()
    with seeded(scfg.seed, device), cpu_fast_path(nets, device) as fast:
        out = sliding_window(normalized[None], sampling_patch_fn(nets, scfg), cfg, device=device,
                             fast=fast, progress=sub_progress(progress, 0.0, share,
                                                              sampling_stage(scfg.samples, len(nets))),
                             cancel=cancel)
    timings = {"sampling_s": time.perf_counter() - t0}
    probs = out["probs"]
    maps = decompose(probs, out["exp_entropy"][0])
    if "member_entropy" in out:
        maps["disagreement"] = member_disagreement(probs, out["member_entropy"][0])
    if scfg.samples <= 1 and len(nets) <= 1:
        maps.pop("epistemic")   # one deterministic prediction: no model-uncertainty estimate
    result = ModelGridResult(grid, normalized, probs, maps, out["energy"][0], timings=timings)
    if options.saliency_labels:
        t0 = time.perf_counter()
        _saliency(result, nets[0], options, scfg.temperature, roi, cfg, device,
                  sub_progress(progress, share, 1.0), cancel)
        timings["saliency_s"] = time.perf_counter() - t0
    return result


def _saliency_only(normalized, grid, net, options, scfg, roi, cfg, device, progress, cancel) -> ModelGridResult:
    """One deterministic member and saliency asked: the Grad-CAM pass gives the prediction too."""
    t0 = time.perf_counter()
    result = ModelGridResult(grid, normalized, np.empty(0), {}, np.empty(0))
    out = _saliency(result, net, options, scfg.temperature, roi, cfg, device, progress, cancel)
    result.probs, result.energy = out["probs"], out["energy"][0]
    result.maps = decompose(out["probs"], out["exp_entropy"][0])
    result.maps.pop("epistemic")
    result.timings["saliency_s"] = time.perf_counter() - t0
    return result


def _saliency(result: ModelGridResult, net, options: AnalysisOptions, temperature: float, roi, cfg, device,
              progress, cancel) -> dict:
    gcfg = GradCamConfig(tuple(options.saliency_labels), options.saliency_layer, roi is not None, temperature)
    image = result.normalized[None]
    if roi is not None:
        image = np.concatenate([image, roi[None].astype(np.float32)])
    pad = min(float(result.normalized.min()), 0.0)
    # the fast path here too: the CAM itself is formed in float32 (engine.inference.precision)
    with gradcam_session(net), cpu_fast_path([net], device) as fast:
        out = sliding_window(image, gradcam_patch_fn(net, gcfg), cfg, device=device, grad=True,
                             fast=fast, pad_value=pad, cancel=cancel,
                             progress=sub_progress(progress, 0.0, 1.0, "explaining (Grad-CAM)"))
    for c in gcfg.labels:
        result.saliency[c], result.saliency_scale[c] = normalise_map(out.pop(f"cam{c}")[0])
    return out


def preprocess(volume: Volume, manifest) -> tuple[np.ndarray, Geometry, dict]:
    arr, grid = to_model_spacing(volume, manifest.target_spacing)
    normalized, stats = normalize(arr, manifest.normalization)
    floor = float(normalized.min()) if manifest.normalization.kind != "percentile_zscore" \
        else (stats.lower - stats.mean) / stats.std       # the clip floor in normalised units
    return normalized, grid, {"lower": floor, "upper": stats.upper}


def input_soft_scores(volume: Volume, normalized: np.ndarray, lower: float, manifest) -> dict[str, tuple[str, float]]:
    scores: dict[str, tuple[str, float]] = {}
    reference = manifest.trust_calibration.ood.fingerprint_percentiles
    if reference:
        d = fingerprint_distance(foreground_percentiles(normalized, lower), reference)
        if d is not None:
            scores["fingerprint"] = ("input", d)
    if manifest.body_part.upper() in ("BRAIN", "HEAD") and manifest.modality.upper() == "MR":
        match = match_template(volume)
        scores["template"] = ("input", 1.0 - match.similarity)
        scores["orientation"] = ("input", match.orientation_gap)
    return scores


def all_soft_scores(volume: Volume, grid_result: ModelGridResult, lower: float, manifest) -> tuple[dict, dict]:
    """Input and output soft scores, plus ``foreground_ml`` for the report."""
    scores = input_soft_scores(volume, grid_result.normalized, lower, manifest)
    out = output_scores(grid_result.probs, grid_result.energy, grid_result.maps.get("epistemic"),
                        grid_result.maps.get("disagreement"), grid_result.grid.voxel_volume_ml)
    fg_ml = out.pop("foreground_ml")
    scores.update({k: ("output", v) for k, v in out.items()})
    bv = brain_volume_score(fg_ml, manifest.trust_calibration.ood)
    if bv is not None:
        scores["brain_volume"] = ("output", bv)
    return scores, {"ml": fg_ml}


def check_input(volume: Volume, model) -> OODReport:
    """The OOD checks that need no network pass (hard checks, fingerprint, template, orientation).

    A CT given to an MR model, rescaled intensities or a truncated field of view are flagged here,
    before a single patch runs; :func:`analyze` repeats these checks and adds the output scores.
    """
    manifest = model.manifest
    hard = input_checks(volume, manifest)
    normalized, _grid, stats = preprocess(volume, manifest)
    soft = input_soft_scores(volume, normalized, stats["lower"], manifest)
    cal = manifest.trust_calibration.ood
    checks, combined, c_thr = soft_checks(soft, {}, cal, mode="input")
    return OODReport(hard + checks, combined, c_thr, calibrated=bool(cal.modes))
