"""``extract_brain``: deepbet's brain extraction (``deepbet/bet.py``, 1.0.2) on a Candor volume.

Step by step as ``BrainExtraction.run``: canonical RAS array (flips/permutations only, see
``orientation``), NaN → 0, a nearest-exact 128³ copy whose 0.5/99.5 % quantiles set the intensity
window, ``normalize`` (window to 0..1, clamp, z-score, × 0.226 + 0.449), the box network → its
largest component → a bounding box with a 10 % margin per side, the box resampled to 256³
(nearest-exact), the extraction network, its brain probability resampled back into the box,
threshold, largest 26-connected component and hole filling inside the box, optional dilation, and
the mask mapped back onto the input's exact grid.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import InputError
from engine.extraction.model import ExtractionModel, ExtractionParams
from engine.extraction.orientation import from_canonical, to_canonical
from engine.extraction.postprocess import dilate, fill_holes, largest_component
from engine.jobs import CancelToken, ProgressCallback, report
from engine.volume import Volume

Box = tuple[slice, slice, slice]


def normalize(x: torch.Tensor, low: torch.Tensor, high: torch.Tensor, p: ExtractionParams) -> torch.Tensor:
    x = ((x - low) / (high - low)).clamp(min=0, max=1)
    return p.normalize_scale * (x - x.mean()) / x.std() + p.normalize_shift


def _resize(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    return F.interpolate(x[None, None], tuple(shape), mode="nearest-exact")[0, 0]


def bounding_box(mask_small: torch.Tensor, shape: tuple[int, ...], p: ExtractionParams) -> Box:
    """deepbet's ``get_bbox_with_margin``: the box of ``mask_small`` scaled to ``shape``, plus margin."""
    rows = [torch.where(mask_small.mean(dims) > p.bbox_fraction)[0] for dims in [(1, 2), (0, 2), (0, 1)]]
    if not all(r.numel() > 0 for r in rows):
        raise InputError("no brain found in this image (the bounding-box pass found too little foreground)")
    center = torch.tensor([(r.max() + 1 + r.min()) / 2 for r in rows])
    size = torch.tensor([(r.max() + 1) - r.min() for r in rows])
    scale = torch.tensor(shape) / torch.tensor(mask_small.shape)
    center, size = scale * center, (1 + 2 * p.bbox_margin * torch.ones(3)) * (scale * size)
    center, size = center.round(), size.round()
    box = [[int(c - s / 2), int(c + s / 2)] for c, s in zip(center, size)]
    return tuple(slice(max(0, b[0]), min(s, b[1]), 1) for b, s in zip(box, shape))


def brain_probability(x: np.ndarray, model: ExtractionModel, progress: ProgressCallback | None = None,
                      cancel: CancelToken | None = None) -> tuple[np.ndarray, Box]:
    """deepbet's ``run_model`` on a canonical float32 array: the brain probability and the box."""
    p = model.params
    xt = torch.nan_to_num(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    prob = torch.zeros_like(xt)
    x_small = _resize(xt, p.bbox_shape)
    low, high = x_small.quantile(p.quantiles[0]), x_small.quantile(p.quantiles[1])
    report(progress, cancel, 0.1, "finding the head")
    with torch.no_grad():
        small = model.bbox_network(normalize(x_small, low, high, p)[None, None])[0, 1]
    small_mask = largest_component((small > p.bbox_threshold).numpy())
    if not small_mask.any():
        raise InputError("no brain found in this image (the bounding-box pass found no foreground)")
    box = bounding_box(torch.from_numpy(small_mask.astype(np.float32)), tuple(xt.shape), p)
    report(progress, cancel, 0.3, "extracting the brain")
    crop = _resize(xt[box], p.shape)
    with torch.no_grad():
        inside = model.network(normalize(crop, low, high, p)[None, None])[0, 1]
    prob[box] = _resize(inside, tuple(prob[box].shape))
    return prob.numpy(), box


def postprocess(prob: np.ndarray, box: Box, p: ExtractionParams, n_dilate: int | None = None) -> np.ndarray:
    """Threshold, largest component and hole filling inside ``box``, then dilation (bool mask)."""
    mask = prob > p.threshold
    mask[box] = largest_component(mask[box])
    if p.fill_holes:
        mask[box] = fill_holes(mask[box])
    return dilate(mask, p.n_dilate if n_dilate is None else n_dilate)


def extract_brain(volume: Volume, model: ExtractionModel, *, n_dilate: int | None = None,
                  progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> Volume:
    """The brain mask of ``volume`` (uint8, 1 = brain) on its exact grid; the input's warnings carried."""
    report(progress, cancel, 0.0, "preparing the image")
    canonical = to_canonical(np.asarray(volume.array), volume.geometry).astype(np.float32)
    prob, box = brain_probability(canonical, model, progress, cancel)
    report(progress, cancel, 0.9, "cleaning the mask")
    mask = postprocess(prob, box, model.params, n_dilate)
    out = from_canonical(mask.astype(np.uint8), volume.geometry)
    metadata = {**volume.metadata, "model_name": model.name, "model_version": model.model.manifest.version}
    result = volume.with_array(out, modality="SEG", metadata=metadata, warnings=list(volume.warnings))
    report(progress, cancel, 1.0, "done")
    return result
