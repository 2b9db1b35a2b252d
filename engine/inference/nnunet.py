"""nnU-Net v2 inference, the way ``nnUNetPredictor`` does it, without nnunetv2 installed.

:func:`preprocess` = transpose → crop to the non-zero box (holes filled) → normalise (z-score,
optionally inside the non-zero mask; CT clip with the fingerprint's percentiles, mean and SD) →
resample to the configuration's spacing (:mod:`engine.inference.nnunet_resample`).
:func:`member_logits` = nnU-Net's sliding window for one network: pad to the patch (zeros), tiles
at ``round(i × (size − patch) / (n − 1))`` with ``n = ceil((size − patch) / (step × patch)) + 1``,
Gaussian importance (σ = patch/8, peak 10, zeros raised to the minimum), optional mirroring over
every combination of the allowed axes, and, like nnU-Net, logits and weights accumulated in float16;
:func:`member_pass` can also return the mirroring disagreement (mutual information across the
mirrored passes, blended with the same Gaussian in float32) without changing the logits.
:func:`ensemble_logits` averages members in float16 as nnU-Net averages folds; :func:`to_input`
resamples logits back, applies softmax (sigmoid for regions), un-crops and transposes back.
All arrays are nnU-Net's ``(C, *spatial)`` in the input's array order before ``transpose_forward``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from scipy import ndimage as ndi

from engine.inference import nnunet_resample as rs
from engine.jobs import CancelToken, ProgressCallback, report
from engine.models.nnunet import NnUNetAdapter


@dataclass(frozen=True)
class Prepared:
    """The preprocessed image and what the way back needs."""

    data: np.ndarray                    # (1, *spatial) float32, on the model grid
    bbox: tuple[tuple[int, int], ...]   # the non-zero box in the transposed input
    shape_before_crop: tuple[int, ...]
    shape_after_crop: tuple[int, ...]
    spacing: tuple[float, ...]          # the input's spacing, transposed


def _normalize(image: np.ndarray, inside: np.ndarray, scheme: str, use_mask: bool, props) -> np.ndarray:
    image = image.astype(np.float32, copy=False)
    if scheme == "ZScoreNormalization":
        if use_mask:
            mean, std = image[inside].mean(), image[inside].std()
            image[inside] = (image[inside] - mean) / max(std, 1e-8)
        else:
            mean, std = image.mean(), image.std()
            image -= mean
            image /= max(std, 1e-8)
    elif scheme == "CTNormalization":
        np.clip(image, props["percentile_00_5"], props["percentile_99_5"], out=image)
        image -= props["mean"]
        image /= max(props["std"], 1e-8)
    elif scheme == "RescaleTo01Normalization":
        image -= image.min()
        image /= np.clip(image.max(), a_min=1e-8, a_max=None)
    return image


def preprocess(array: np.ndarray, spacing, ad: NnUNetAdapter) -> Prepared:
    """``array`` ``(C, z, y, x)`` (or ``(z, y, x)``), ``spacing`` in the same array order (mm)."""
    data = np.asarray(array, dtype=np.float32)
    data = data[None] if data.ndim == 3 else data.copy()
    tf = ad.transpose_forward
    data = data.transpose([0, *[i + 1 for i in tf]])
    spacing = tuple(float(spacing[i]) for i in tf)
    before = data.shape[1:]
    nonzero = ndi.binary_fill_holes(np.any(data != 0, axis=0))
    if nonzero.any():
        idx = [np.where(np.any(nonzero, axis=tuple(a for a in range(3) if a != d)))[0] for d in range(3)]
        bbox = tuple((int(i[0]), int(i[-1]) + 1) for i in idx)
    else:
        bbox = tuple((0, n) for n in before)
    box = tuple(slice(a, b) for a, b in bbox)
    data, inside = data[(slice(None), *box)], nonzero[box]
    target = tuple(ad.spacing) if not ad.is_2d else (spacing[0], *ad.spacing)
    shape = rs.new_shape(data.shape[1:], spacing, target)
    for c in range(data.shape[0]):
        data[c] = _normalize(data[c], inside, ad.normalization_schemes[c], ad.use_mask_for_norm[c],
                             ad.intensity_properties.get(str(c), {}))
    kw = ad.resampling_data
    data = rs.resample(data, shape, spacing, target, order=int(kw.get("order", 3)), order_z=int(kw.get("order_z", 0)),
                       force_separate_z=kw.get("force_separate_z"))
    return Prepared(np.ascontiguousarray(data, dtype=np.float32), bbox, before, tuple(inside.shape), spacing)


def tile_starts(size: int, tile: int, step: float) -> list[int]:
    n = int(np.ceil((size - tile) / (tile * step))) + 1
    if n <= 1:
        return [0]
    actual = (size - tile) / (n - 1)
    return [int(np.round(actual * i)) for i in range(n)]


@lru_cache(maxsize=4)
def gaussian(patch: tuple[int, ...]) -> torch.Tensor:
    """nnU-Net's ``compute_gaussian(patch, 1/8, value_scaling_factor=10)`` as float16."""
    tmp = np.zeros(patch)
    tmp[tuple(i // 2 for i in patch)] = 1
    g = ndi.gaussian_filter(tmp, [i / 8 for i in patch], 0, mode="constant", cval=0)
    g /= np.max(g) / 10
    t = torch.from_numpy(g).to(dtype=torch.float16)
    t[t == 0] = torch.min(t[t != 0])
    return t


def _slicers(shape: tuple[int, ...], patch: tuple[int, ...], step: float) -> list[tuple]:
    if len(patch) == len(shape) - 1:         # 2-D configuration over a 3-D volume: slice by slice
        st = [tile_starts(n, p, step) for n, p in zip(shape[1:], patch)]
        return [(slice(None), d, *[slice(s, s + p) for s, p in zip(xy, patch)])
                for d in range(shape[0]) for xy in itertools.product(*st)]
    st = [tile_starts(n, p, step) for n, p in zip(shape, patch)]
    return [(slice(None), *[slice(s, s + p) for s, p in zip(xyz, patch)]) for xyz in itertools.product(*st)]


def _mirrored(net, x: torch.Tensor, axes: tuple[int, ...], keep: bool = False):
    """nnU-Net's ``_internal_maybe_mirror_and_predict`` (same additions in the same order); with
    ``keep`` also every pass's output (un-flipped), for the mirroring disagreement."""
    pred = net(x)
    outs = [pred.clone()] if keep else None
    if axes:
        dims = [a + 2 for a in axes]
        combos = [c for i in range(len(dims)) for c in itertools.combinations(dims, i + 1)]
        for c in combos:
            out = torch.flip(net(torch.flip(x, c)), c)
            if keep:
                outs.append(out)
            pred += out
        pred /= len(combos) + 1
    return pred, outs


def _mutual_information(outs: list[torch.Tensor], regions: bool) -> torch.Tensor:
    """``H[mean p] − mean H[p]`` over the mirrored passes (softmax; per-region Bernoulli for regions)."""
    def entropy(p):
        if regions:
            q = 1 - p
            return -(p * p.clamp_min(1e-12).log() + q * q.clamp_min(1e-12).log()).sum(0)
        return -(p * p.clamp_min(1e-12).log()).sum(0)

    probs = [torch.sigmoid(o[0].float()) if regions else torch.softmax(o[0].float(), 0) for o in outs]
    mean_h = torch.stack([entropy(p) for p in probs]).mean(0)
    return (entropy(torch.stack(probs).mean(0)) - mean_h).clamp_min(0)


def _pad(data: torch.Tensor, patch: tuple[int, ...]) -> tuple[torch.Tensor, tuple]:
    spatial = data.shape[-len(patch):]
    pads = [(max(p - n, 0) // 2, max(p - n, 0) - max(p - n, 0) // 2) for n, p in zip(spatial, patch)]
    if not any(a or b for a, b in pads):
        return data, tuple(slice(None) for _ in data.shape)
    flat = [v for a, b in reversed(pads) for v in (a, b)]
    out = torch.nn.functional.pad(data, flat, mode="constant", value=0)
    keep = tuple(slice(None) for _ in range(data.ndim - len(patch)))
    return out, (*keep, *[slice(a, a + n) for (a, _), n in zip(pads, spatial)])


@torch.inference_mode()
def member_pass(data: np.ndarray, net, ad: NnUNetAdapter, num_heads: int, *, mirror: bool = True,
                mirror_disagreement: bool = False, device: str = "cpu", progress: ProgressCallback | None = None,
                cancel: CancelToken | None = None) -> tuple[torch.Tensor, np.ndarray | None]:
    """One network's blended logits ``(K, *spatial)`` float16 on the CPU, as nnU-Net computes them,
    and (if asked and mirroring) the Gaussian-blended mutual information across the mirrored passes."""
    patch = tuple(ad.patch_size)
    x, revert = _pad(torch.from_numpy(data), patch)
    slicers = _slicers(tuple(x.shape[1:]), patch, ad.tile_step_size)
    logits = torch.zeros((num_heads, *x.shape[1:]), dtype=torch.half)
    counts = torch.zeros(x.shape[1:], dtype=torch.half)
    g = gaussian(patch)
    axes = tuple(ad.mirror_axes) if mirror else ()
    keep = bool(mirror_disagreement and axes)
    mi_sum = torch.zeros(x.shape[1:], dtype=torch.float32) if keep else None
    mi_w = torch.zeros(x.shape[1:], dtype=torch.float32) if keep else None
    net.to(device).eval()
    for i, sl in enumerate(slicers):
        pred, outs = _mirrored(net, x[sl][None].contiguous().to(device), axes, keep)
        pred = pred[0].to("cpu")
        pred *= g
        logits[sl] += pred
        counts[sl[1:]] += g
        if keep:
            mi_sum[sl[1:]] += _mutual_information([o.to("cpu") for o in outs], ad.regions is not None) * g.float()
            mi_w[sl[1:]] += g.float()
        report(progress, cancel, (i + 1) / len(slicers), "inference")
    torch.div(logits, counts, out=logits)
    mi = (mi_sum / mi_w.clamp_min(1e-12))[revert[1:]].numpy() if keep else None
    return logits[(slice(None), *revert[1:])], mi


def member_logits(data: np.ndarray, net, ad: NnUNetAdapter, num_heads: int, *, mirror: bool = True,
                  device: str = "cpu", progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None) -> torch.Tensor:
    """:func:`member_pass` without the mirroring disagreement."""
    return member_pass(data, net, ad, num_heads, mirror=mirror, device=device, progress=progress,
                       cancel=cancel)[0]


def ensemble_logits(members: list[torch.Tensor]) -> torch.Tensor:
    """Fold average as in ``predict_logits_from_preprocessed_data`` (float16 sum, then divide)."""
    total = members[0].clone()
    for m in members[1:]:
        total += m
    if len(members) > 1:
        total /= len(members)
    return total


def nonlin(logits: torch.Tensor, ad: NnUNetAdapter) -> torch.Tensor:
    logits = logits.float()
    return torch.sigmoid(logits) if ad.regions is not None else torch.softmax(logits, 0)


def to_segmentation(probs: torch.Tensor, ad: NnUNetAdapter) -> np.ndarray:
    if ad.regions is None:
        return probs.argmax(0).numpy()
    seg = np.zeros(probs.shape[1:], dtype=np.uint16)
    for i, c in enumerate(ad.regions_class_order):
        seg[(probs[i] > 0.5).numpy()] = c
    return seg


def back_to_input(channels: np.ndarray, prep: Prepared, ad: NnUNetAdapter, *, fill=None) -> np.ndarray:
    """``(K, *model grid)`` values already resampled to the cropped shape → the input's array order, un-cropped.

    ``fill`` per channel outside the box (default 0; background probability 1 as nnU-Net does).
    """
    full = np.zeros((channels.shape[0], *prep.shape_before_crop), dtype=channels.dtype)
    if fill is not None:
        full[:] = np.asarray(fill, dtype=channels.dtype).reshape(-1, *[1] * len(prep.shape_before_crop))
    full[(slice(None), *[slice(a, b) for a, b in prep.bbox])] = channels
    return full.transpose([0, *[i + 1 for i in ad.transpose_backward]])


def resample_back(values: np.ndarray, prep: Prepared, ad: NnUNetAdapter) -> np.ndarray:
    """Model-grid ``(K, …)`` values onto the cropped input shape with nnU-Net's probability resampling."""
    kw = ad.resampling_probabilities
    current = tuple(ad.spacing) if not ad.is_2d else (prep.spacing[0], *ad.spacing)
    return rs.resample(values, prep.shape_after_crop, current, prep.spacing, order=int(kw.get("order", 1)),
                       order_z=int(kw.get("order_z", 0)), force_separate_z=kw.get("force_separate_z"))


def to_input(logits: torch.Tensor, prep: Prepared, ad: NnUNetAdapter) -> tuple[np.ndarray, np.ndarray]:
    """Export as ``convert_predicted_logits_to_segmentation_with_correct_shape``: (labels, probabilities float32)."""
    resampled = resample_back(logits.numpy(), prep, ad)
    probs = nonlin(torch.from_numpy(np.asarray(resampled)), ad)
    seg = to_segmentation(probs, ad)
    fill = None if ad.regions is not None else [1.0] + [0.0] * (probs.shape[0] - 1)
    labels = back_to_input(seg[None].astype(np.uint16), prep, ad)[0]
    return labels, back_to_input(probs.numpy(), prep, ad, fill=fill)
