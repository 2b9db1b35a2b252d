"""Edit statistics of a correction: voxels added/removed per label and Dice of AI vs corrected."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.labels import LabelTable, volume_ml


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two boolean masks (1.0 when both are empty)."""
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def edit_stats(ai: np.ndarray, corrected: np.ndarray, table: LabelTable | None = None,
               voxel_ml: float | None = None) -> dict[str, Any]:
    """What the correction changed, per label and overall (plain JSON-ready numbers)."""
    table = table or LabelTable()
    ids = sorted((set(np.unique(ai).tolist()) | set(np.unique(corrected).tolist())) - {0})
    per_label = []
    for label in ids:
        in_ai, in_corr = ai == label, corrected == label
        entry = {"id": int(label), "name": table.get(int(label)).name,
                 "ai_voxels": int(in_ai.sum()), "corrected_voxels": int(in_corr.sum()),
                 "added": int(np.count_nonzero(in_corr & ~in_ai)),
                 "removed": int(np.count_nonzero(in_ai & ~in_corr)),
                 "dice": round(dice(in_ai, in_corr), 6)}
        if voxel_ml is not None:
            entry["corrected_ml"] = round(volume_ml(entry["corrected_voxels"], voxel_ml), 4)
        per_label.append(entry)
    changed = ai != corrected
    return {"labels": per_label,
            "voxels_changed": int(np.count_nonzero(changed)),
            "voxels_added": int(sum(e["added"] for e in per_label)),
            "voxels_removed": int(sum(e["removed"] for e in per_label)),
            "dice_foreground": round(dice(ai != 0, corrected != 0), 6)}
