"""Entropy helpers and the total = aleatoric + epistemic decomposition (natural log, nats).

For S stochastic predictions ``p_s`` of one voxel (MC-Dropout samples, ensemble members, or both):

* total (predictive entropy)   ``H[mean_s p_s]``
* aleatoric (expected entropy) ``mean_s H[p_s]``
* epistemic (mutual information) ``total − aleatoric`` (≥ 0 because entropy is concave)

Sliding-window blending keeps the identity: blended per-patch means of ``p_s`` and of ``H[p_s]``
are convex combinations, so ``H[blend(mean p)] ≥ blend(mean H[p])`` still holds voxel by voxel.
"""

from __future__ import annotations

import numpy as np
import torch

EPS = 1e-8


def entropy_torch(probs: torch.Tensor, dim: int = 1, keepdim: bool = True) -> torch.Tensor:
    """Shannon entropy (nats) of probabilities along ``dim``."""
    return -(probs * torch.log(probs.clamp_min(EPS))).sum(dim=dim, keepdim=keepdim)


def entropy_np(probs: np.ndarray, axis: int = 0, chunk: int = 4_000_000) -> np.ndarray:
    """Entropy (nats, float32) of ``(K, …)`` probabilities along ``axis`` 0, in chunks (bounded memory)."""
    if axis != 0:
        probs = np.moveaxis(probs, axis, 0)
    k = probs.shape[0]
    flat = probs.reshape(k, -1)
    out = np.empty(flat.shape[1], np.float32)
    for start in range(0, flat.shape[1], chunk):
        p = np.clip(flat[:, start:start + chunk], EPS, 1.0)
        out[start:start + chunk] = -(p * np.log(p)).sum(0)
    return out.reshape(probs.shape[1:])


def decompose(mean_probs: np.ndarray, expected_entropy: np.ndarray) -> dict[str, np.ndarray]:
    """Total, aleatoric and epistemic maps (float32) from mean probabilities and mean per-sample entropy.

    Rounding can make ``total − aleatoric`` a hair below zero; those voxels get epistemic 0 and the
    aleatoric part is capped at the total, so ``total == aleatoric + epistemic`` holds exactly.
    """
    total = entropy_np(mean_probs)
    aleatoric = np.minimum(np.asarray(expected_entropy, np.float32), total)
    epistemic = total - aleatoric
    return {"total": total, "aleatoric": aleatoric, "epistemic": epistemic}


def max_entropy(num_classes: int) -> float:
    """The largest possible entropy with ``num_classes`` classes (the maps' natural upper bound)."""
    return float(np.log(max(num_classes, 2)))
