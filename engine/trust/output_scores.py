"""Image-level OOD scores from the network's outputs (model grid): confidence, energy, uncertainty."""

from __future__ import annotations

import math

import numpy as np

from engine.labels import volume_ml
from engine.models.trust_calibration import OODCalibration


def _mean(a: np.ndarray, mask: np.ndarray | None) -> float:
    if mask is not None:
        if not mask.any():
            return float("nan")
        return float(a[mask].mean())
    return float(a.mean())


def output_scores(probs: np.ndarray, energy: np.ndarray, epistemic: np.ndarray | None,
                  disagreement: np.ndarray | None, voxel_ml: float) -> dict[str, float]:
    """``{name: score}`` (higher = more unusual) plus ``foreground_ml`` (not a score by itself)."""
    labels = probs.argmax(0)
    fg = labels > 0
    msp = probs.max(0)
    scores = {
        "confidence": 1.0 - _mean(msp, fg) if fg.any() else 1.0,
        "energy_fg": _mean(energy, fg) if fg.any() else float(np.max(energy)),
        "energy_all": _mean(energy, None),
    }
    if epistemic is not None:
        scores["epistemic"] = _mean(epistemic, fg) if fg.any() else float(epistemic.mean())
    if disagreement is not None:
        scores["disagreement"] = _mean(disagreement, fg) if fg.any() else float(disagreement.mean())
    scores["foreground_ml"] = volume_ml(int(fg.sum()), voxel_ml)
    return scores


def brain_volume_score(foreground_ml: float, ood_cal: OODCalibration) -> float | None:
    """``|ln(segmented mL / typical training mL)|``; 10 for an empty segmentation; ``None`` uncalibrated."""
    typical = ood_cal.foreground_ml_median
    if typical is None:
        return None
    if foreground_ml <= 0:
        return 10.0
    return abs(math.log(foreground_ml / typical))
