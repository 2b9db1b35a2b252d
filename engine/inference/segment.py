"""``segment(volume, model)``: a label map and class probabilities on the input's exact grid.

Steps (each timed in the report): check the input against the manifest, resample to the model's
spacing (anti-aliased), normalise, sliding-window inference (ensemble members averaged), then map
the probabilities back onto the input grid (linear) and take the argmax there, one channel at a time
so no full-volume float64 (or K full-size float32 arrays) ever exists.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.errors import InputError
from engine.inference.predict import predict_probabilities, resolve_device, window_config
from engine.inference.preprocess import normalize, resample_to_grid, to_model_spacing
from engine.jobs import CancelToken, ProgressCallback, report, sub_progress
from engine.labels import LabelTable
from engine.models.package import LoadedModel, load_model
from engine.volume import Geometry, Volume, sitk_image

log = logging.getLogger(__name__)


@dataclass
class SegmentationResult:
    """What :func:`segment` returns.

    ``labels``: uint8 label map on the input grid; ``probabilities``: ``(K, z, y, x)`` on the input
    grid (K = background + labels; float16 by default); ``label_table``: names and colours;
    ``report``: JSON-ready dict (model, labels with voxels and mL, warnings, timings, grids).
    """

    labels: Volume
    probabilities: np.ndarray
    label_table: LabelTable
    report: dict[str, Any] = field(default_factory=dict)

    def probability(self, label_id: int) -> Volume:
        """One class's probability map as a float32 ``Volume`` on the input grid."""
        return self.labels.with_array(self.probabilities[label_id].astype(np.float32), modality="OT")

    @property
    def warnings(self) -> list[str]:
        return list(self.report.get("warnings", []))


def input_warnings(volume: Volume, model: LoadedModel) -> list[str]:
    """Plain-language mismatches between the input and what the model was trained for."""
    m = model.manifest
    out = []
    modality = (volume.modality or "").upper()
    if modality not in ("", "OT") and modality != m.modality.upper():
        out.append(f"The image is {modality} but the model {m.name} was trained on {m.modality}; "
                   "its output is unreliable.")
    return out


def _check_input(volume: Volume, model: LoadedModel) -> None:
    if model.manifest.input_channels != 1:
        raise InputError(f"model {model.name} needs {model.manifest.input_channels} input channels; "
                         "Candor feeds one image")
    if not np.issubdtype(volume.array.dtype, np.number) or volume.array.dtype == np.bool_:
        raise InputError("the image holds no numeric intensities")
    if min(volume.size) < 2:
        raise InputError(f"the image is too small to segment ({volume.size[0]}×{volume.size[1]}×{volume.size[2]})")


def probabilities_to_input_grid(probs: np.ndarray, grid: Geometry, target: Geometry, *, dtype=np.float16,
                                cancel: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Resample ``(K, …)`` model-grid probabilities onto ``target``; return (probabilities, argmax labels)."""
    import SimpleITK as sitk

    k = probs.shape[0]
    out = np.empty((k, *target.shape), dtype=dtype)
    best = np.full(target.shape, -1.0, dtype=np.float32)
    labels = np.zeros(target.shape, dtype=np.uint8)
    for c in range(k):
        report(None, cancel, 0.0)
        src = sitk_image(probs[c].astype(np.float32, copy=False), grid)
        default = 1.0 if c == 0 else 0.0  # outside the model grid: background
        resampled = resample_to_grid(src, target, linear=True, default=default)
        chan = sitk.GetArrayViewFromImage(resampled)  # a view: valid while ``resampled`` lives
        better = chan > best
        labels[better] = c
        np.copyto(best, chan, where=better)
        out[c] = chan
    return out, labels


def _label_report(labels: np.ndarray, table: LabelTable, geometry: Geometry) -> list[dict[str, Any]]:
    counts = np.bincount(labels.ravel(), minlength=len(table) + 1)
    return [{"id": info.id, "name": info.name, "color": list(info.color), "voxels": int(counts[info.id]),
             "volume_ml": round(float(counts[info.id]) * geometry.voxel_volume_ml, 3)} for info in table]


def segment(volume: Volume, model: LoadedModel | str, *, device: str = "auto", members: int | None = None,
            probability_dtype=np.float16, progress: ProgressCallback | None = None,
            cancel: CancelToken | None = None) -> SegmentationResult:
    """Segment ``volume`` with ``model`` (a :class:`LoadedModel` or a name/folder for :func:`load_model`).

    ``members`` limits the ensemble members used (default: all in the package).
    """
    t0 = time.perf_counter()
    if not isinstance(model, LoadedModel):
        model = load_model(model)
    _check_input(volume, model)
    m = model.manifest
    dev = resolve_device(device)
    warnings = input_warnings(volume, model) + list(volume.warnings)
    timings: dict[str, float] = {}
    report(progress, cancel, 0.0, "preparing the image")
    raw, grid = to_model_spacing(volume, m.target_spacing)
    image, stats = normalize(raw, m.normalization)
    del raw
    timings["preprocess_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    nets = model.members(members)
    probs = predict_probabilities(image, nets, window_config(m), device=dev,
                                  progress=sub_progress(progress, 0.05, 0.9), cancel=cancel)
    timings["inference_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    report(progress, cancel, 0.9, "mapping the result onto the image")
    full, labels = probabilities_to_input_grid(probs, grid, volume.geometry, dtype=probability_dtype, cancel=cancel)
    timings["postprocess_s"] = time.perf_counter() - t2
    timings["total_s"] = time.perf_counter() - t0
    label_volume = volume.with_array(labels, modality="SEG", warnings=list(warnings))
    label_volume.metadata["label_table"] = m.labels.to_list()
    result_report = {
        "model": {"name": m.name, "version": m.version, "parent_version": m.parent_version,
                  "members_used": len(nets), "task": m.task},
        "device": str(dev),
        "labels": _label_report(labels, m.labels, volume.geometry),
        "warnings": warnings,
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "input": {"size": list(volume.size), "spacing": list(volume.spacing), "modality": volume.modality},
        "model_grid": {"size": list(grid.size), "spacing": list(grid.spacing)},
        "intensity": {"clip_low": stats.lower, "clip_high": stats.upper, "mean": stats.mean, "std": stats.std,
                      "foreground_fraction": stats.foreground_fraction},
    }
    report(progress, cancel, 1.0, "done")
    log.info("segmented a %s volume with %s in %.1f s", "×".join(map(str, volume.size)), m.name, timings["total_s"])
    return SegmentationResult(label_volume, full, m.labels, result_report)
