"""Evaluation metrics on label maps: Dice per class and lesion-wise detection."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from engine.labels import volume_ml


def dice(pred: np.ndarray, truth: np.ndarray, label: int) -> float | None:
    """Dice of one label; ``None`` when the label is absent from both (undefined, not perfect)."""
    p, t = pred == label, truth == label
    denom = int(p.sum()) + int(t.sum())
    if denom == 0:
        return None
    return 2.0 * float(np.logical_and(p, t).sum()) / denom


_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)  # 26-connectivity


def _true_lesions(pred: np.ndarray, truth: np.ndarray, label: int) -> tuple[np.ndarray, np.ndarray]:
    """Voxel count of each connected true lesion, and whether the prediction overlaps it."""
    true_cc, n_true = ndimage.label(truth == label, _CONNECTIVITY)
    sizes = np.bincount(true_cc.ravel(), minlength=n_true + 1)[1:]
    hit = np.zeros(n_true, dtype=bool)
    hit_ids = np.unique(true_cc[(pred == label) & (true_cc > 0)])
    hit[hit_ids - 1] = True
    return sizes, hit


def lesion_detection(pred: np.ndarray, truth: np.ndarray, label: int) -> dict[str, int]:
    """Connected lesions (26-connectivity) found (any overlap) and predicted blobs matching no lesion."""
    sizes, hit = _true_lesions(pred, truth, label)
    pred_cc, n_pred = ndimage.label(pred == label, _CONNECTIVITY)
    matched = np.unique(pred_cc[(truth == label) & (pred_cc > 0)])
    return {"lesions": int(sizes.size), "detected": int(hit.sum()), "false_positive_blobs": int(n_pred - matched.size)}


#: Lesion size bins (mL) for size-stratified detection: below ~0.5 mL a lesion is a few voxels on a
#: 2 mm grid.
SIZE_BINS_ML = (0.0, 0.5, 2.0, 8.0, float("inf"))


def lesion_detection_by_size(pred: np.ndarray, truth: np.ndarray, label: int, voxel_ml: float,
                             edges: tuple[float, ...] = SIZE_BINS_ML) -> list[dict]:
    """Per size bin of the true lesions (26-connected, volume in mL): how many, how many found."""
    sizes, hit = _true_lesions(pred, truth, label)
    volumes = volume_ml(sizes, voxel_ml)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (volumes >= lo) & (volumes < hi)
        out.append({"min_ml": lo, "max_ml": None if np.isinf(hi) else hi,
                    "lesions": int(sel.sum()), "detected": int(hit[sel].sum())})
    return out
