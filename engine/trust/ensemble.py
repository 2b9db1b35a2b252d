"""Deep ensembles: which members to use, and the member-disagreement map.

Averaging happens per patch in :func:`engine.trust.mc_dropout.sampling_patch_fn` (all samples of
all members are pooled, so MC-Dropout and ensembles combine). Member disagreement is the mutual
information across members: ``H[mean_m p̄_m] − mean_m H[p̄_m]`` where ``p̄_m`` is member m's mean.
"""

from __future__ import annotations

import numpy as np

from engine.trust.entropy import entropy_np


def member_disagreement(mean_probs: np.ndarray, member_entropy: np.ndarray) -> np.ndarray:
    """Mutual information across ensemble members (float32, ≥ 0) from blended per-patch sums."""
    total = entropy_np(mean_probs)
    return np.maximum(total - np.asarray(member_entropy, np.float32), 0.0).astype(np.float32)


def choose_members(networks, use_ensemble: bool, limit: int | None = None) -> list:
    """The members to run: all (or the first ``limit``) when ``use_ensemble``, else the primary one."""
    nets = list(networks)
    if not use_ensemble:
        return nets[:1]
    return nets if limit is None else nets[: max(1, limit)]
