"""Intensity augmentation in the spirit of SynthSeg's domain randomisation, kept T1-like.

Applied to a generated case (all in place on float32 arrays, ``[0, 1]``-scaled template units):
tissue contrast shifts (grey/white matter offsets), a smooth multiplicative bias field, gamma,
blur or thick-slice resolution loss along one random axis, Gaussian or Rician noise, and a global
intensity scale (raw MR values are arbitrary; the normalisation removes the scale).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from engine.synthesis.fields import random_field


def augment_intensity(rng: np.random.Generator, t1: np.ndarray, gm: np.ndarray,
                      wm: np.ndarray) -> tuple[np.ndarray, dict]:
    """A new raw image from ``t1`` (which already holds the lesions); returns it and the parameters."""
    params: dict = {}
    img = t1
    d_gm, d_wm = rng.normal(0.0, 0.04, 2)
    img += d_gm * gm + d_wm * wm
    params["contrast"] = [float(d_gm), float(d_wm)]
    np.maximum(img, 0.0, out=img)
    if rng.random() < 0.8:
        sd = rng.uniform(0.05, 0.3)
        img *= np.exp(random_field(rng, img.shape, 4, sd))
        params["bias_sd"] = float(sd)
    top = float(np.percentile(img[::3, ::3, ::3], 99.9)) or 1.0
    gamma = float(np.exp(rng.normal(0.0, 0.25)))
    img = (np.power(img / top, gamma) * top).astype(np.float32)
    params["gamma"] = gamma
    if rng.random() < 0.6:
        sigma = rng.uniform(0.0, 0.7, 3)
        if rng.random() < 0.4:
            sigma[rng.integers(3)] = rng.uniform(0.8, 2.0)  # thick slices along one axis
        img = gaussian_filter(img, sigma).astype(np.float32)
        params["blur_sigma_vox"] = [float(s) for s in sigma]
    noise_sd = rng.uniform(0.0, 0.06) * top
    if rng.random() < 0.5:
        img = np.sqrt((img + rng.normal(0, noise_sd, img.shape).astype(np.float32)) ** 2
                      + rng.normal(0, noise_sd, img.shape).astype(np.float32) ** 2)
        params["noise"] = ("rician", float(noise_sd / top))
    else:
        img += rng.normal(0, noise_sd, img.shape).astype(np.float32)
        params["noise"] = ("gaussian", float(noise_sd / top))
    scale = float(255.0 * np.exp(rng.uniform(np.log(0.5), np.log(8.0))))
    img *= scale
    params["scale"] = scale
    return img.astype(np.float32, copy=False), params
