"""Evaluation metrics on label maps: Dice per class and lesion-wise detection."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def dice(pred: np.ndarray, truth: np.ndarray, label: int) -> float | None:
    """Dice of one label; ``None`` when the label is absent from both (undefined, not perfect)."""
    p, t = pred == label, truth == label
    denom = int(p.sum()) + int(t.sum())
    if denom == 0:
        return None
    return 2.0 * float(np.logical_and(p, t).sum()) / denom


def lesion_detection(pred: np.ndarray, truth: np.ndarray, label: int) -> dict[str, int]:
    """Connected lesions (26-connectivity) found (any overlap) and predicted blobs matching no lesion."""
    structure = np.ones((3, 3, 3), dtype=bool)
    true_cc, n_true = ndimage.label(truth == label, structure)
    pred_mask = pred == label
    found = sum(1 for i in range(1, n_true + 1) if pred_mask[true_cc == i].any()) if n_true else 0
    pred_cc, n_pred = ndimage.label(pred_mask, structure)
    truth_mask = truth == label
    false_pos = sum(1 for i in range(1, n_pred + 1) if not truth_mask[pred_cc == i].any()) if n_pred else 0
    return {"lesions": int(n_true), "detected": int(found), "false_positive_blobs": int(false_pos)}


#: Lesion size bins (mL) for size-stratified detection: below ~0.5 mL a lesion is a few voxels on a
#: 2 mm grid.
SIZE_BINS_ML = (0.0, 0.5, 2.0, 8.0, float("inf"))


def lesion_detection_by_size(pred: np.ndarray, truth: np.ndarray, label: int, voxel_ml: float,
                             edges: tuple[float, ...] = SIZE_BINS_ML) -> list[dict]:
    """Per size bin of the true lesions (26-connected, volume in mL): how many, how many found."""
    structure = np.ones((3, 3, 3), dtype=bool)
    true_cc, n_true = ndimage.label(truth == label, structure)
    pred_mask = pred == label
    sizes = np.bincount(true_cc.ravel())[1:] * voxel_ml if n_true else np.empty(0)
    hit = np.zeros(n_true, dtype=bool)
    if n_true:
        hit_ids = np.unique(true_cc[pred_mask & (true_cc > 0)])
        hit[hit_ids - 1] = True
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (sizes >= lo) & (sizes < hi)
        out.append({"min_ml": lo, "max_ml": None if np.isinf(hi) else hi, "lesions": int(sel.sum()), "detected": int(hit[sel].sum())})
    return out
