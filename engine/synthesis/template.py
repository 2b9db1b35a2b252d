"""The MNI ICBM152 2009a template (T1, grey- and white-matter maps) as training material.

The maps ship in ``resources/template`` as uint8 volumes scaled 0–255 (their storage in nilearn,
where they come from); here they become float32 in ``[0, 1]``. Copyright notice: see
``resources/template/LICENSE.txt``; everything derived from these files carries it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.inference.preprocess import antialias_sigmas
from engine.resources import resource_path
from engine.volume import Geometry

TEMPLATE_FILES = {"t1": "mni152_2009a_t1.nii.gz", "gm": "mni152_2009a_gm.nii.gz", "wm": "mni152_2009a_wm.nii.gz"}


def template_notice() -> str:
    """The template's copyright notice, to be kept with everything derived from it."""
    text = resource_path("template", "LICENSE.txt").read_text(encoding="utf-8")
    start = text.index("Copyright")
    end = text.index("References:")
    return " ".join(text[start:end].split())


@dataclass(frozen=True)
class Template:
    """Template arrays ``(z, y, x)`` at 1 mm, pre-smoothed for sampling at ``spacing`` mm."""

    t1: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    geometry: Geometry
    spacing: float

    @property
    def brain(self) -> np.ndarray:
        return self.gm + self.wm


def _read(name: str):
    import SimpleITK as sitk

    return sitk.ReadImage(str(resource_path("template", TEMPLATE_FILES[name])))


def read_raw_template() -> dict[str, np.ndarray]:
    """The three maps at 1 mm as uint8 ``(z, y, x)`` arrays plus ``"geometry"``."""
    import SimpleITK as sitk

    out: dict = {}
    for name in TEMPLATE_FILES:
        img = _read(name)
        out[name] = sitk.GetArrayFromImage(img)
        out["geometry"] = Geometry(img.GetSize(), img.GetSpacing(), img.GetOrigin(), img.GetDirection())
    return out


@lru_cache(maxsize=2)
def load_template(spacing: float = 2.0) -> Template:
    """Template maps in ``[0, 1]``, smoothed as the inference preprocessing smooths a 1 mm scan."""
    from scipy.ndimage import gaussian_filter

    raw = read_raw_template()
    geometry: Geometry = raw["geometry"]
    sigma_mm = antialias_sigmas(geometry.spacing, (spacing,) * 3)[0]
    arrays = {}
    for name in TEMPLATE_FILES:
        a = raw[name].astype(np.float32) / 255.0
        arrays[name] = gaussian_filter(a, sigma_mm) if sigma_mm > 0 else a
    return Template(arrays["t1"], arrays["gm"], arrays["wm"], geometry, float(spacing))
