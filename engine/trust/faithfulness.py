"""Is a saliency map faithful? A deletion check, gradient-free.

Remove (set to typical tissue intensity) the ``k`` voxels the map ranks highest and measure how much
the label's score drops; do the same with ``k`` random voxels drawn from the segmented tissue; the
map is faithful when deleting what it points at hurts the prediction more than deleting at random.

``score = (drop_saliency − drop_random) / baseline`` (positive: better than random; 0: no better),
where the label score is the mean probability of the label over its region. ``k`` defaults to the
region's size. Inference runs on a crop around the region (plus half a patch), not the whole volume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import nn

from engine.inference.predict import predict_probabilities
from engine.inference.sliding_window import SlidingWindowConfig


@dataclass(frozen=True)
class Faithfulness:
    score: float
    drop_saliency: float
    drop_random: float
    baseline: float
    voxels: int

    def to_dict(self) -> dict:
        return {"score": round(self.score, 4), "drop_saliency": round(self.drop_saliency, 4),
                "drop_random": round(self.drop_random, 4), "baseline": round(self.baseline, 4),
                "voxels": self.voxels}


def _crop_box(region: np.ndarray, margin: Sequence[int]) -> tuple[slice, ...]:
    idx = np.nonzero(region)
    return tuple(slice(max(0, int(i.min()) - m), min(n, int(i.max()) + 1 + m))
                 for i, m, n in zip(idx, margin, region.shape))


def deletion_check(image: np.ndarray, saliency: np.ndarray, region: np.ndarray, tissue: np.ndarray,
                   label: int, networks: Sequence[nn.Module], cfg: SlidingWindowConfig, *,
                   voxels: int | None = None, random_draws: int = 3, seed: int = 0,
                   device: str = "cpu") -> Faithfulness | None:
    """Deletion faithfulness of ``saliency`` for ``label`` over ``region`` (all on the model grid).

    ``image`` is the normalised ``(z, y, x)`` input; ``tissue`` the voxels random deletions may hit
    (e.g. everything not predicted as background). Returns ``None`` for an empty region.
    """
    if not region.any():
        return None
    box = _crop_box(region, [p // 2 for p in cfg.patch_size])
    img, sal, reg, tis = image[box], saliency[box], region[box], tissue[box]
    k = int(min(voxels or reg.sum(), tis.sum() or reg.sum(), img.size // 2))
    fill = float(np.median(img[tis])) if tis.any() else float(np.median(img))

    def label_score(x: np.ndarray) -> float:
        probs = predict_probabilities(x, list(networks), cfg, device=device)
        return float(probs[label][reg].mean())

    def deleted(flat_idx: np.ndarray) -> np.ndarray:
        out = img.copy()
        out.reshape(-1)[flat_idx] = fill
        return out

    baseline = label_score(img)
    top = np.argpartition(sal.reshape(-1), -k)[-k:]
    drop_sal = baseline - label_score(deleted(top))
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(tis) if tis.sum() >= k else np.arange(img.size)
    drops = [baseline - label_score(deleted(rng.choice(pool, k, replace=False))) for _ in range(random_draws)]
    drop_rand = float(np.mean(drops))
    return Faithfulness((drop_sal - drop_rand) / max(baseline, 1e-6), float(drop_sal), drop_rand, baseline, k)
