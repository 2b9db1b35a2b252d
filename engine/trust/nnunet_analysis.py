"""``analyze()`` for a model whose manifest declares nnU-Net v2 preprocessing (``adapter.kind == "nnunet_v2"``).

The segmentation and probabilities are nnU-Net's own (:mod:`engine.inference.nnunet`: its
preprocessing, sliding window, fold average of logits in float16, export), so they match
``nnUNetPredictor`` on the same input. The trust layer adds, from the same pass: member (fold)
disagreement = ``H[mean_m p_m] − mean_m H[p_m]`` with ``p_m`` each fold's softmax, the total
entropy of the exported probabilities, the mean fold entropy (aleatoric), the energy and
max-softmax scores for the OOD verdict, and the input checks. nnU-Net networks carry no dropout,
so no MC-Dropout map is made: the report says so instead of faking one. With test-time mirroring
the mutual information across the mirrored passes is a second, cheap disagreement map
(``maps["mirroring"]``, mapped back with the epistemic maps). Grad-CAM is not offered for these
models yet.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from engine.errors import InputError
from engine.jobs import CancelToken, ProgressCallback, report, sub_progress
from engine.labels import label_report
from engine.volume import Geometry, Volume

NO_DROPOUT = "not available: this nnU-Net network has no dropout layers (members = folds instead)"


def _entropy(p: torch.Tensor) -> np.ndarray:
    return (-(p * torch.log(p.clamp_min(1e-12))).sum(0)).numpy().astype(np.float32)


def _model_grid(volume: Volume, prep, ad) -> Geometry:
    """The grid nnU-Net ran on, in patient space (exact for ``transpose_forward = (0, 1, 2)``)."""
    g = volume.geometry
    if tuple(ad.transpose_forward) != (0, 1, 2) or ad.is_2d:
        return g
    start_kji = [a for a, _ in prep.bbox]
    origin = g.index_to_physical([start_kji[2], start_kji[1], start_kji[0]])
    spatial = prep.data.shape[1:]
    size = (spatial[2], spatial[1], spatial[0])
    crop = prep.shape_after_crop
    spacing = tuple(g.spacing[i] * (crop[2 - i] / size[i]) for i in range(3))
    return Geometry(size, spacing, tuple(float(v) for v in origin), g.direction)


def _maps(member_logits, probs_grid: torch.Tensor, prep, ad, wanted, mirror_mi) -> tuple[dict, dict]:
    """Uncertainty maps on the model grid and, for those asked, on the input grid (nnU-Net's way back).

    ``mirroring`` (the mutual information across mirrored passes, mean over members) comes with the
    epistemic maps: it is mapped back whenever ``epistemic`` or ``disagreement`` is asked.
    """
    from engine.inference.nnunet import back_to_input, resample_back

    member_probs = [torch.softmax(m.float(), 0) for m in member_logits]
    mean_member_entropy = np.mean([_entropy(p) for p in member_probs], axis=0)
    grid = {"total": _entropy(probs_grid), "aleatoric": mean_member_entropy.astype(np.float32)}
    if len(member_probs) > 1:
        pooled = _entropy(torch.stack(member_probs).mean(0))
        grid["epistemic"] = np.maximum(pooled - mean_member_entropy, 0).astype(np.float32)
        grid["disagreement"] = grid["epistemic"]
    if mirror_mi:
        grid["mirroring"] = np.mean(mirror_mi, axis=0).astype(np.float32)
    wanted = tuple(wanted) + (("mirroring",) if {"epistemic", "disagreement"} & set(wanted) else ())
    on_input = {}
    for key in wanted:
        if key in grid:
            back = resample_back(grid[key][None], prep, ad)
            on_input[key] = np.maximum(back_to_input(np.asarray(back, np.float32), prep, ad)[0], 0)
    return grid, on_input


def _run_members(prep, nets, ad, heads: int, mirror: bool, device: str, progress, cancel):
    """Every member's float16 logits and (with mirroring) its mirroring disagreement on the model grid."""
    from engine.inference import nnunet as nn

    logits, mirror_mi = [], []
    for i, net in enumerate(nets):
        part = sub_progress(progress, 0.05 + 0.8 * i / len(nets), 0.05 + 0.8 * (i + 1) / len(nets))
        lg, mi = nn.member_pass(prep.data, net, ad, heads, mirror=mirror, mirror_disagreement=mirror,
                                device=device, progress=part, cancel=cancel)
        logits.append(lg)
        if mi is not None:
            mirror_mi.append(mi)
    return logits, mirror_mi


def _ood(volume: Volume, manifest, hard, prep, probs_grid, mean_logits, grid_maps, grid: Geometry, members: int):
    """Input checks + the soft scores of this pass (energy, max-softmax, disagreement) → the OOD report."""
    from engine.trust.ood import OODReport, mode_calibration, mode_key, soft_checks
    from engine.trust.output_scores import output_scores
    from engine.trust.pipeline import input_soft_scores

    energy = (-torch.logsumexp(mean_logits.float(), 0)).numpy()
    soft = input_soft_scores(volume, prep.data[0], float(prep.data.min()), manifest)
    out = output_scores(probs_grid.numpy(), energy, grid_maps.get("epistemic"), grid_maps.get("disagreement"),
                        grid.voxel_volume_ml)
    fg_ml = out.pop("foreground_ml")
    soft.update({k: ("output", v) for k, v in out.items()})
    cal = manifest.trust_calibration.ood
    mode = mode_key(members, 1)
    checks, combined, c_thr = soft_checks(soft, {"ml": fg_ml}, cal, mode)
    return OODReport(hard + checks, combined, c_thr, calibrated=mode_calibration(cal, mode)[2])


def _uncertainty(grid_maps: dict, probs_grid: torch.Tensor, members: int, mirror: bool) -> dict:
    out = {"mc_samples": 1, "mc_dropout": NO_DROPOUT, "members": members, "temperature": 1.0, "unit": "nats",
           "mirroring": mirror}
    fg = probs_grid.argmax(0).numpy() > 0
    for key, arr in grid_maps.items():
        out[f"mean_{key}"] = round(float(arr.mean()), 6)
        out[f"mean_{key}_foreground"] = round(float(arr[fg].mean()) if fg.any() else 0.0, 6)
    return out


def analyze_nnunet(volume: Volume, model, options, hard, *, progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None):
    """The nnU-Net branch of :func:`engine.trust.analysis.analyze` (``hard``: the input checks already run)."""
    from engine.inference import nnunet as nn
    from engine.inference.predict import resolve_device
    from engine.models.nnunet import NnUNetAdapter
    from engine.trust.analysis import AnalysisResult, _weights_hash
    from engine.trust.ensemble import choose_members
    from engine.trust.grids import as_volume

    if options.saliency_labels:
        raise InputError("Grad-CAM is not available for nnU-Net models yet")
    m = model.manifest
    ad = NnUNetAdapter.from_dict(m.adapter)
    t0 = time.perf_counter()
    report(progress, cancel, 0.02, "preprocessing (nnU-Net)")
    prep = nn.preprocess(np.asarray(volume.array), tuple(volume.spacing)[::-1], ad)
    t_pre = time.perf_counter()
    nets = choose_members(model.networks, options.use_ensemble)
    device = str(resolve_device(options.device))
    mirror = bool(ad.mirror_axes) if options.mirroring is None else options.mirroring
    heads = len(ad.regions) if ad.regions is not None else m.num_classes
    logits, mirror_mi = _run_members(prep, nets, ad, heads, mirror, device, progress, cancel)
    t_inf = time.perf_counter()
    mean = nn.ensemble_logits(logits)
    report(progress, cancel, 0.88, "mapping back to the scan")
    labels_arr, probs = nn.to_input(mean, prep, ad)
    probs_grid = nn.nonlin(mean, ad)
    grid_maps, maps = _maps(logits, probs_grid, prep, ad, options.maps, mirror_mi)
    grid = _model_grid(volume, prep, ad)
    ood = _ood(volume, m, hard, prep, probs_grid, mean, grid_maps, grid, len(nets))
    label_arr = labels_arr.astype(np.uint8 if heads < 256 else np.uint16)
    info = {"name": m.name, "version": m.version, "parent_version": m.parent_version, "task": m.task,
            "members_used": len(nets), "weights_hash": _weights_hash(model), "adapter": "nnunet_v2",
            "configuration": ad.configuration, "mirroring": mirror}
    t_end = time.perf_counter()
    timings = {"preprocess_s": round(t_pre - t0, 3), "sampling_s": round(t_inf - t_pre, 3),
               "postprocess_s": round(t_end - t_inf, 3), "total_s": round(t_end - t0, 3)}
    return AnalysisResult(
        as_volume(label_arr, volume, "labels", label_table=m.labels.to_list()), m.labels,
        label_report(label_arr, m.labels, volume.geometry.voxel_volume_ml),
        {k: as_volume(v.astype(np.float32), volume, k, unit="nats") for k, v in maps.items()}, {}, ood,
        _uncertainty(grid_maps, probs_grid, len(nets), mirror), {}, info, timings, device=device, model_grid=grid,
        probabilities=probs.astype(np.float16) if options.probabilities else None,
        warnings=list(volume.warnings) + ood.reasons)
