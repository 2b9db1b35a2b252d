"""Seg-Grad-CAM on sliding-window inference: why did the model draw this label here?

For a label ``c`` and a region ``R`` (the voxels the patch predicts as ``c``, or a user ROI) the
score ``Σ_{v∈R} logit_c(v)`` is back-propagated to a chosen layer's activations ``A``; channel
weights are the spatially pooled gradients, ``cam = ReLU(Σ_k w_k A_k)``, upsampled to the patch
(trilinear) and blended across patches with the same Gaussian weights as the logits.

Cost: the network's parameters are frozen and the graph starts at the chosen layer (a forward hook
hands the rest of the network a leaf copy of the activation), so one Grad-CAM pass is one forward
pass plus a backward pass through the layers *after* the chosen one (the head only, for the default
late decoder layer). The same pass returns the probabilities, so saliency comes with a segmentation.

A user ROI travels as a second input channel (1 inside, 0 outside), split off before the network,
so the generic sliding window needs no knowledge of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import InputError


@dataclass(frozen=True)
class GradCamConfig:
    labels: tuple[int, ...]             # label ids (= output channels) to explain
    layer: str | None = None            # a name from ``net.gradcam_layers()``; None: the default
    use_roi: bool = False               # the input carries an ROI channel (see module docstring)
    temperature: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(int(c) for c in self.labels))
        if not self.labels:
            raise InputError("Grad-CAM needs at least one label to explain")


def available_layers(net: nn.Module) -> list[str]:
    """Layer names Grad-CAM can target, coarsest first (empty for networks that name none)."""
    return list(net.gradcam_layers()) if hasattr(net, "gradcam_layers") else []


def resolve_layer(net: nn.Module, name: str | None) -> tuple[str, nn.Module]:
    layers = dict(net.gradcam_layers()) if hasattr(net, "gradcam_layers") else {}
    if name is None:
        name = getattr(net, "default_gradcam_layer", None) or (list(layers)[-1] if layers else None)
    if name in layers:
        return name, layers[name]
    modules = dict(net.named_modules())
    if name in modules:
        return name, modules[name]
    raise InputError(f"no layer named {name!r} for Grad-CAM (choose one of: {', '.join(layers) or 'none'})")


@contextlib.contextmanager
def frozen(net: nn.Module) -> Iterator[None]:
    """Parameters stop requiring gradients (restored after), so no graph is built before the hook."""
    flags = [(p, p.requires_grad) for p in net.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


class _Capture:
    """Forward hook replacing the layer's output by a leaf that requires grad, and keeping it."""

    def __init__(self) -> None:
        self.activation: torch.Tensor | None = None

    def __call__(self, _module, _inputs, output):
        leaf = output.detach().requires_grad_(True)
        self.activation = leaf
        return leaf


def _cam(activation: torch.Tensor, grad: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    weights = grad.mean(dim=(2, 3, 4), keepdim=True)
    cam = torch.relu((weights * activation).sum(dim=1, keepdim=True))
    if tuple(cam.shape[2:]) != tuple(size):
        cam = F.interpolate(cam, size=tuple(size), mode="trilinear", align_corners=False)
    return cam


def gradcam_patch_fn(net: nn.Module, cfg: GradCamConfig):
    """Per-patch function: ``{"probs", "energy", "exp_entropy", "cam<c>" for each label c}`` (B,·,…).

    Run it with ``sliding_window(..., grad=True)`` inside :func:`gradcam_session`.
    """
    _, layer = resolve_layer(net, cfg.layer)

    def fn(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        roi = None
        if cfg.use_roi:
            batch, roi = batch[:, :-1], batch[:, -1:] > 0.5
        capture = _Capture()
        handle = layer.register_forward_hook(capture)
        try:
            logits = net(batch).float()
        finally:
            handle.remove()
        if capture.activation is None:
            raise InputError("the Grad-CAM layer did not run in the forward pass")
        if cfg.temperature != 1.0:
            logits = logits / cfg.temperature
        plain = logits.detach()
        log_p = torch.log_softmax(plain, dim=1)
        out = {"probs": log_p.exp(), "energy": -torch.logsumexp(plain, dim=1, keepdim=True)}
        out["exp_entropy"] = -(out["probs"] * log_p).sum(dim=1, keepdim=True)
        predicted = logits.detach().argmax(dim=1, keepdim=True)
        for i, c in enumerate(cfg.labels):
            region = roi if roi is not None else predicted == c
            score = (logits[:, c:c + 1] * region).sum()
            if region.any():
                (grad,) = torch.autograd.grad(score, capture.activation, retain_graph=i + 1 < len(cfg.labels))
                out[f"cam{c}"] = _cam(capture.activation.detach().float(), grad.float(), batch.shape[2:])
            else:
                out[f"cam{c}"] = torch.zeros_like(logits[:, :1])
        return out

    return fn


@contextlib.contextmanager
def gradcam_session(net: nn.Module) -> Iterator[None]:
    """Eval mode and frozen parameters for the duration of a Grad-CAM run."""
    was_training = net.training
    net.eval()
    try:
        with frozen(net):
            yield
    finally:
        net.train(was_training)


def normalise_map(cam, quantile: float = 0.999):
    """Scale a blended map to ``[0, 1]`` by a high quantile of its positive values (robust to spikes)."""
    import numpy as np

    positive = cam[cam > 0]
    if positive.size == 0:
        return np.zeros_like(cam, dtype=np.float32), 0.0
    top = float(np.quantile(positive[:: max(1, positive.size // 1_000_000)], quantile))
    top = top if top > 0 else float(positive.max())
    return np.clip(cam / top, 0.0, 1.0).astype(np.float32), top
