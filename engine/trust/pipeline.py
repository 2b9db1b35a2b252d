"""One call that segments a scan and says why, how sure, and whether to trust it.

:func:`analyze` = input OOD checks → preprocessing (the model's spacing and normalisation) →
one sliding-window pass of MC-Dropout/ensemble sampling (deterministic trunk once per patch) →
optional Grad-CAM passes per label → output OOD scores → maps and labels back on the input grid.
Model-grid work lives in :func:`model_grid_pass`, which the calibration script and the OOD
evaluation reuse on generated cases.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from engine.errors import InputError
from engine.inference.predict import resolve_device, window_config
from engine.inference.preprocess import normalize, to_model_spacing
from engine.inference.sliding_window import sliding_window
from engine.jobs import CancelToken, ProgressCallback, report, sub_progress
from engine.labels import LabelTable
from engine.volume import Geometry, Volume
from engine.trust.ensemble import choose_members, member_disagreement
from engine.trust.entropy import decompose
from engine.trust.gradcam import GradCamConfig, gradcam_patch_fn, gradcam_session, normalise_map
from engine.trust.mc_dropout import DEFAULT_TAIL_STAGES, SamplingConfig, sampling_patch_fn, seeded
from engine.trust.ood import OODReport, mode_calibration, mode_key, soft_checks
from engine.trust.ood_checks import fingerprint_distance, foreground_percentiles, input_checks
from engine.trust.ood_template import match_template
from engine.trust.output_scores import brain_volume_score, output_scores

log = logging.getLogger(__name__)

MAP_NAMES = {"total": "Uncertainty (total)", "aleatoric": "Uncertainty (aleatoric)",
             "epistemic": "Uncertainty (epistemic)", "disagreement": "Ensemble disagreement"}


@dataclass(frozen=True)
class TrustOptions:
    """What to compute. ``mc_samples`` 1 = no MC dropout; ``saliency_labels`` empty = no Grad-CAM."""

    mc_samples: int = 10
    use_ensemble: bool = True
    saliency_labels: tuple[int, ...] = ()
    saliency_layer: str | None = None
    faithfulness: bool = False
    tail_stages: int | None = None
    seed: int = 0
    calibrated: bool = True
    device: str = "auto"
    roi: Volume | None = None       # optional Grad-CAM region (non-zero voxels), any grid


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


@dataclass
class TrustResult:
    labels: Volume
    table: LabelTable
    maps: dict[str, Volume]
    saliency: dict[int, Volume]
    ood: OODReport
    uncertainty: dict
    explain: dict
    model: dict
    timings: dict
    model_grid: ModelGridResult | None = None

    def report(self) -> dict:
        """The JSON-ready sections the CLI report and the viewer record with the result."""
        return {"model": self.model, "ood": self.ood.to_dict(), "uncertainty": self.uncertainty,
                "saliency": self.explain, "timings": self.timings}


def sampling_config(model, options: TrustOptions) -> SamplingConfig:
    trust = model.manifest.trust
    temperature = float(trust.get("temperature", 1.0)) if options.calibrated else 1.0
    tail = options.tail_stages if options.tail_stages is not None else (trust.get("mc") or {}).get("tail_stages")
    if tail is None:
        tail = DEFAULT_TAIL_STAGES
    return SamplingConfig(max(1, options.mc_samples), tail, temperature, options.seed)


def model_grid_pass(normalized: np.ndarray, grid: Geometry, model, options: TrustOptions, *,
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
    with seeded(scfg.seed, device):
        out = sliding_window(normalized[None], sampling_patch_fn(nets, scfg), cfg, device=device,
                             progress=sub_progress(progress, 0.0, share), cancel=cancel)
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


def _saliency(result: ModelGridResult, net, options: TrustOptions, temperature: float, roi, cfg, device,
              progress, cancel) -> dict:
    gcfg = GradCamConfig(tuple(options.saliency_labels), options.saliency_layer, roi is not None, temperature)
    image = result.normalized[None]
    if roi is not None:
        image = np.concatenate([image, roi[None].astype(np.float32)])
    pad = min(float(result.normalized.min()), 0.0)
    with gradcam_session(net):
        out = sliding_window(image, gradcam_patch_fn(net, gcfg), cfg, device=device, grad=True,
                             pad_value=pad, progress=progress, cancel=cancel)
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
    cal = dict(manifest.trust.get("ood") or {})
    scores: dict[str, tuple[str, float]] = {}
    reference = cal.get("fingerprint_percentiles")
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
    bv = brain_volume_score(fg_ml, dict(manifest.trust.get("ood") or {}))
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
    cal = dict(manifest.trust.get("ood") or {})
    checks, combined, c_thr = soft_checks(soft, {}, cal, mode="input")
    return OODReport(hard + checks, combined, c_thr, calibrated=bool(cal.get("modes")))


def analyze(volume: Volume, model, options: TrustOptions = TrustOptions(), *,
            progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> TrustResult:
    """Segment ``volume`` with ``model`` (a ``LoadedModel``) and compute the trust maps and OOD report."""
    manifest = model.manifest
    if manifest.input_channels != 1:
        raise InputError("the trust layer supports single-channel models only")
    t_start = time.perf_counter()
    report(progress, cancel, 0.0, "checking the input")
    hard = input_checks(volume, manifest)
    for check in hard:
        if check.fired:
            log.info("OOD input check fired: %s", check.name)
    report(progress, cancel, 0.02, "preprocessing")
    normalized, grid, stats = preprocess(volume, manifest)
    roi = _roi_on(options.roi, grid) if options.roi is not None else None
    grid_result = model_grid_pass(normalized, grid, model, options, roi=roi,
                                  progress=sub_progress(progress, 0.05, 0.85), cancel=cancel)
    if options.faithfulness and grid_result.saliency:
        report(progress, cancel, 0.82, "checking the saliency map (deletion test)")
        _faithfulness(grid_result, model, options, roi)
    report(progress, cancel, 0.86, "checking the output")
    soft, extras = all_soft_scores(volume, grid_result, stats["lower"], manifest)
    cal = dict(manifest.trust.get("ood") or {})
    mode = mode_key(len(choose_members(model.networks, options.use_ensemble)), max(1, options.mc_samples))
    checks, combined, c_thr = soft_checks(soft, extras, cal, mode)
    ood = OODReport(hard + checks, combined, c_thr, calibrated=mode_calibration(cal, mode)[2])
    report(progress, cancel, 0.9, "mapping back to the scan")
    result = _to_input_grid(volume, model, grid_result, ood, options)
    result.timings["total_s"] = round(time.perf_counter() - t_start, 3)
    report(progress, cancel, 1.0, "done")
    return result


def _faithfulness(g: ModelGridResult, model, options: TrustOptions, roi) -> None:
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


def _to_input_grid(volume: Volume, model, g: ModelGridResult, ood: OODReport, options: TrustOptions) -> TrustResult:
    from engine.trust.grids import as_volume, labels_to_input, map_to_input

    labels = as_volume(labels_to_input(g.probs, g.grid, volume.geometry), volume, "labels")
    maps = {k: as_volume(map_to_input(v, g.grid, volume.geometry).astype(np.float32), volume, k, unit="nats")
            for k, v in g.maps.items()}
    saliency = {c: as_volume(map_to_input(v, g.grid, volume.geometry).astype(np.float32), volume, "saliency",
                             label=c) for c, v in g.saliency.items()}
    summary = uncertainty_summary(g, options, model)
    table = model.manifest.labels
    explain = {str(c): {"label": table.get(c).name if c in [l.id for l in table] else str(c),
                        "layer": options.saliency_layer or getattr(model.network, "default_gradcam_layer", ""),
                        "scale": round(g.saliency_scale.get(c, 0.0), 6),
                        **({"faithfulness": g.faithfulness[c]} if c in g.faithfulness else {})} for c in g.saliency}
    info = {"name": model.manifest.name, "version": model.manifest.version}
    timings = {k: round(v, 3) for k, v in g.timings.items()}
    return TrustResult(labels, table, maps, saliency, ood, summary, explain, info, timings, g)


def uncertainty_summary(g: ModelGridResult, options: TrustOptions, model) -> dict:
    fg = g.probs.argmax(0) > 0
    out = {"mc_samples": max(1, options.mc_samples),
           "members": len(choose_members(model.networks, options.use_ensemble)),
           "temperature": sampling_config(model, options).temperature, "unit": "nats"}
    for key, arr in g.maps.items():
        out[f"mean_{key}"] = round(float(arr.mean()), 6)
        out[f"mean_{key}_foreground"] = round(float(arr[fg].mean()) if fg.any() else 0.0, 6)
    return out
