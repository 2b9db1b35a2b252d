"""Smooth random fields (elastic displacements, bias fields) at full size, cheaply.

A coarse random grid is upsampled with cubic splines to an intermediate grid (smooth), then
trilinearly to the full shape (fast): the cost of a full-size spline zoom without its price.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import zoom


def upsample_smooth(coarse: np.ndarray, shape: tuple[int, int, int], intermediate: int = 16) -> np.ndarray:
    """``coarse`` ``(g, g, g)`` → float32 ``shape``, smooth (cubic, then trilinear)."""
    mid = zoom(coarse, [intermediate / n for n in coarse.shape], order=3, mode="nearest", grid_mode=True)
    t = torch.from_numpy(np.ascontiguousarray(mid, dtype=np.float32))[None, None]
    with torch.no_grad():
        out = torch.nn.functional.interpolate(t, size=tuple(int(s) for s in shape), mode="trilinear", align_corners=True)
    return out[0, 0].numpy()


def random_field(rng: np.random.Generator, shape: tuple[int, int, int], grid: int, sd: float) -> np.ndarray:
    return upsample_smooth(rng.normal(0.0, sd, (grid, grid, grid)), shape)
