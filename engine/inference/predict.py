"""Model-grid prediction: normalised image in, blended class probabilities (or logits) out.

Training and fine-tuning validation use it on images already on the model grid; the analysis path
(:func:`engine.trust.analyze`) runs the same mean-of-softmax through its sampling patch function.
No file I/O and no resampling, just the network(s) over the sliding window.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from engine.inference.precision import cpu_fast_path
from engine.inference.sliding_window import SlidingWindowConfig, sliding_window
from engine.jobs import CancelToken, ProgressCallback
from engine.models.manifest import Manifest


def window_config(manifest: Manifest, batch_size: int | None = None) -> SlidingWindowConfig:
    s = manifest.inference
    return SlidingWindowConfig(manifest.patch_size, s.overlap, s.sigma_scale, batch_size or s.batch_size)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → CUDA if present, else Apple MPS, else CPU; a named device must exist."""
    from engine.errors import InputError

    if isinstance(device, torch.device):
        return device
    name = (device or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps") if mps is not None and mps.is_available() else torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for, but no CUDA GPU is available")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError("--device mps was asked for, but Apple MPS is not available")
    if name not in ("cpu", "cuda", "mps"):
        raise InputError(f"unknown device {device!r} (use auto, cpu, cuda or mps)")
    return torch.device(name)


def ensemble_softmax(networks: Sequence[nn.Module]):
    """Per-patch function: mean softmax probabilities over the ensemble members."""

    def fn(batch: torch.Tensor) -> torch.Tensor:
        total = None
        for net in networks:
            p = torch.softmax(net(batch).float(), dim=1)
            total = p if total is None else total.add_(p)
        return total.div_(len(networks))

    return fn


def predict_probabilities(normalized: np.ndarray, networks: Sequence[nn.Module], cfg: SlidingWindowConfig, *,
                          device: torch.device | str = "cpu", progress: ProgressCallback | None = None,
                          cancel: CancelToken | None = None) -> np.ndarray:
    """``(K, z, y, x)`` float32 class probabilities on the model grid for a ``(z, y, x)`` or ``(C, z, y, x)`` input."""
    image = normalized[None] if normalized.ndim == 3 else normalized
    device = torch.device(device)
    for net in networks:
        net.to(device).eval()
    with cpu_fast_path(networks, device) as fast:
        return sliding_window(image, ensemble_softmax(networks), cfg, device=device, fast=fast,
                              progress=progress, cancel=cancel)
