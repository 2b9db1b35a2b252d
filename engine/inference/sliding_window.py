"""Sliding-window inference: array in, array out, any per-patch function passed in.

Three reusable pieces (the trust layer builds MC-Dropout and Grad-CAM maps on them):

* :func:`window_slices` — where the patches go (regular grid, ``step = int(patch × (1 − overlap))``,
  the last window flush with the border);
* :func:`iter_patch_batches` — batches of patches as tensors on the device, with their slices;
* :class:`PatchAccumulator` — Gaussian-weighted running sums in float32 for any number of output
  channels, normalised once at the end (in place: no second full-volume array).

:func:`sliding_window` ties them together for a per-patch function ``fn(batch) -> tensor`` (or a
dict of tensors, one accumulator each), under ``torch.inference_mode`` unless ``grad=True``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from engine.jobs import CancelToken, ProgressCallback, report

PatchFn = Callable[[torch.Tensor], "torch.Tensor | dict[str, torch.Tensor]"]
Slices = tuple[slice, slice, slice]


@dataclass(frozen=True)
class SlidingWindowConfig:
    patch_size: tuple[int, int, int]  # (z, y, x)
    overlap: float = 0.5
    sigma_scale: float = 0.125
    batch_size: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "patch_size", tuple(int(p) for p in self.patch_size))
        if len(self.patch_size) != 3 or min(self.patch_size) < 1:
            raise ValueError("patch_size must be three positive integers")
        if not 0 <= self.overlap < 1:
            raise ValueError("overlap must be in [0, 1)")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")


def axis_starts(size: int, patch: int, overlap: float) -> list[int]:
    """Window starts along one axis (``size >= patch``): regular steps, the last one flush."""
    if size <= patch:
        return [0]
    step = max(1, int(patch * (1.0 - overlap)))
    count = math.ceil((size - patch) / step) + 1
    return [min(i * step, size - patch) for i in range(count)]


def window_slices(shape: tuple[int, int, int], cfg: SlidingWindowConfig) -> list[Slices]:
    starts = [axis_starts(n, p, cfg.overlap) for n, p in zip(shape, cfg.patch_size)]
    return [
        (slice(z, z + cfg.patch_size[0]), slice(y, y + cfg.patch_size[1]), slice(x, x + cfg.patch_size[2]))
        for z in starts[0] for y in starts[1] for x in starts[2]
    ]


def gaussian_importance(patch: tuple[int, int, int], sigma_scale: float = 0.125) -> np.ndarray:
    """Separable Gaussian weights ``exp(-d²/2σ²)``, σ = ``sigma_scale`` × side, floored at 1e-3, float32.

    Not rescaled to a peak of 1 (even sides have no centre voxel): blending only uses ratios, and
    this keeps the floor where MONAI's Gaussian mode puts it, so the two agree to rounding.
    """
    weights = np.ones((), dtype=np.float64)
    for n in patch:
        x = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
        sigma = max(sigma_scale * n, 1e-6)
        weights = np.multiply.outer(weights, np.exp(-(x * x) / (2 * sigma * sigma)))
    return np.maximum(weights, max(float(weights.min()), 1e-3)).astype(np.float32)


def pad_to_patch(image: np.ndarray, patch: tuple[int, int, int], value: float) -> tuple[np.ndarray, Slices]:
    """Pad ``(C, z, y, x)`` evenly on both sides of axes shorter than the patch; return it and the crop back."""
    spatial = image.shape[1:]
    pads = [((p - n) // 2, (p - n) - (p - n) // 2) if p > n else (0, 0) for n, p in zip(spatial, patch)]
    crop = tuple(slice(a, a + n) for (a, _), n in zip(pads, spatial))
    if not any(a or b for a, b in pads):
        return image, crop
    return np.pad(image, [(0, 0), *pads], constant_values=value), crop


def iter_patch_batches(image: np.ndarray, cfg: SlidingWindowConfig, device: torch.device | str = "cpu",
                       ) -> Iterator[tuple[list[Slices], torch.Tensor]]:
    """Yield ``(slices, batch)``: up to ``cfg.batch_size`` patches ``(B, C, *patch)`` on ``device``.

    ``image`` is ``(C, z, y, x)`` with every spatial side ≥ the patch (see :func:`pad_to_patch`).
    """
    windows = window_slices(image.shape[1:], cfg)
    for i in range(0, len(windows), cfg.batch_size):
        chunk = windows[i: i + cfg.batch_size]
        batch = np.stack([image[(slice(None), *sl)] for sl in chunk])
        yield chunk, torch.from_numpy(batch).to(device, non_blocking=True)


class PatchAccumulator:
    """Gaussian-weighted running sums of per-patch outputs over a ``(z, y, x)`` volume, float32."""

    def __init__(self, shape: tuple[int, int, int], importance: np.ndarray, shared_weights: np.ndarray | None = None):
        self.shape = tuple(shape)
        self._importance = torch.from_numpy(importance)
        self._sum: torch.Tensor | None = None
        self._own_weights = shared_weights is None
        self._weights = torch.from_numpy(shared_weights) if shared_weights is not None else torch.zeros(self.shape)

    @property
    def weights(self) -> np.ndarray:
        return self._weights.numpy()

    def add(self, slices: list[Slices], values: torch.Tensor) -> None:
        """Add ``values`` ``(B, K, *patch)`` (any device/dtype) at ``slices``."""
        values = values.detach().to("cpu", torch.float32)
        if self._sum is None:
            self._sum = torch.zeros((values.shape[1], *self.shape), dtype=torch.float32)
        imp = self._importance
        for sl, v in zip(slices, values):
            self._sum[(slice(None), *sl)].add_(v * imp)
            if self._own_weights:
                self._weights[sl].add_(imp)

    def result(self) -> np.ndarray:
        """The weighted mean ``(K, z, y, x)`` float32; the sums are divided in place (call once)."""
        if self._sum is None:
            raise ValueError("no patch was added")
        self._sum.div_(self._weights.clamp_min(1e-12))
        out, self._sum = self._sum, None
        return out.numpy()


def _autocast(device: torch.device, enabled: bool):
    if enabled and device.type in ("cuda", "mps"):
        return torch.autocast(device_type=device.type, dtype=torch.float16)
    return contextlib.nullcontext()


def sliding_window(image: np.ndarray, fn: PatchFn, cfg: SlidingWindowConfig, *,
                   device: torch.device | str = "cpu", pad_value: float | None = None, grad: bool = False,
                   mixed_precision: bool = True, fast: bool = False,
                   progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None) -> np.ndarray | dict[str, np.ndarray]:
    """Run ``fn`` over Gaussian-blended windows of ``image`` ``(C, z, y, x)``; returns ``(K, z, y, x)``.

    ``fn`` gets a ``(B, C, *patch)`` tensor on ``device`` and returns ``(B, K, *patch)`` (or a dict
    of such tensors, giving a dict of arrays). Padding (``pad_value``, default the image minimum)
    is added for axes shorter than the patch and cropped away again. ``fast`` (inside
    :func:`engine.inference.precision.cpu_fast_path`): channels-last batches and bfloat16 autocast
    where the CPU has bf16 hardware; ``fn``'s outputs are accumulated in float32.
    """
    from engine.inference.precision import fast_autocast, fast_batch

    device = torch.device(device)
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 4:
        raise ValueError("sliding_window expects a (C, z, y, x) array")
    pad = float(image.min()) if pad_value is None else float(pad_value)
    padded, crop = pad_to_patch(image, cfg.patch_size, pad)
    spatial = padded.shape[1:]
    importance = gaussian_importance(cfg.patch_size, cfg.sigma_scale)
    accumulators: dict[str, PatchAccumulator] = {}
    weights: np.ndarray | None = None
    total = math.ceil(len(window_slices(spatial, cfg)) / cfg.batch_size)
    grad_ctx = torch.enable_grad() if grad else torch.inference_mode()
    report(progress, cancel, 0.0, "inference")
    with grad_ctx, _autocast(device, mixed_precision), fast_autocast(fast, grad):
        for done, (slices, batch) in enumerate(iter_patch_batches(padded, cfg, device), start=1):
            out = fn(fast_batch(batch, fast))
            outputs = out if isinstance(out, dict) else {"": out}
            for key, value in outputs.items():
                value = value.float() if value.dtype != torch.float32 else value
                if key not in accumulators:
                    accumulators[key] = PatchAccumulator(spatial, importance, weights)
                    weights = accumulators[key].weights if weights is None else weights
                accumulators[key].add(slices, value)
            report(progress, cancel, done / total, "inference")
        results = _finish(accumulators, crop)  # inside: the sums may be inference tensors
    return results[""] if set(results) == {""} else results


def _finish(accumulators: dict[str, PatchAccumulator], crop: Slices) -> dict[str, np.ndarray]:
    # The first accumulator owns the weight map the others share: normalise it last.
    keys = list(accumulators)
    out = {k: accumulators[k].result() for k in keys[1:]}
    out[keys[0]] = accumulators[keys[0]].result()
    cropped = any(sl.start or sl.stop != n for sl, n in zip(crop, out[keys[0]].shape[1:]))
    return {k: np.ascontiguousarray(out[k][(slice(None), *crop)]) if cropped else out[k] for k in keys}
