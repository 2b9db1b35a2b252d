"""Key images of a report: each finding at the slice its long axis is measured in, with the overlay.

Qt-free: the picture is composed with NumPy and written as PNG by SimpleITK. A key image shows
the whole slice ``array[k]`` as stored (rows = j, columns = i; for an axial LPS series that is
the radiological view, patient right on the left), windowed by the series' first window preset
or else its 1st–99th percentiles, with the label's voxels of that slice tinted in the label's
colour, pixels stretched to their true aspect ratio, and the lesion's long axis drawn over it in yellow.
The slice is the lesion's ``diameter_slice``: the axial slice where its RECIST long axis is
longest, which is the slice a reader shows.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.reading.lesions import Lesion
from engine.volume import Volume

_MIN_SIDE = 320          # px: small series are enlarged to at least this
_ALPHA = 0.45
_AXIS_COLOUR = np.array([255, 225, 25], np.float64)


@dataclass(frozen=True)
class KeyImage:
    lesion: int           # the lesion's index in the table (1 = largest)
    slice: int            # k
    png: bytes


def window_of(image: Volume) -> tuple[float, float]:
    """(low, high) display range: the first window preset, else the 1st–99th percentiles."""
    presets = image.metadata.get("window_presets") or []
    if presets:
        centre, width = (float(v) for v in presets[0])
        if width > 0:
            return centre - width / 2, centre + width / 2
    lo, hi = np.percentile(image.array, [1, 99])
    return float(lo), (float(hi) if hi > lo else float(lo) + 1.0)


def key_image(image: Volume, labels: Volume, lesion: Lesion,
              colour: tuple[int, int, int] = (230, 25, 75)) -> KeyImage:
    """The key image of one lesion (see the module doc)."""
    k = lesion.diameter_slice
    lo, hi = window_of(image)
    grey = np.clip((image.array[k].astype(np.float64) - lo) / (hi - lo), 0, 1) * 255
    rgb = np.repeat(grey[..., None], 3, axis=2)
    inside = labels.array[k] == lesion.label
    rgb[inside] = (1 - _ALPHA) * rgb[inside] + _ALPHA * np.asarray(colour, np.float64)
    picture, px_per_voxel = _true_aspect(rgb, image.spacing)
    ends = labels.geometry.physical_to_index(np.asarray(lesion.long_axis_lps))[:, :2]
    # continuous index x → picture pixel (x + 0.5) · pixels per voxel (voxel centres at integers)
    _draw_line(picture, (ends[0] + 0.5) * px_per_voxel, (ends[1] + 0.5) * px_per_voxel)
    return KeyImage(lesion.index, k, _png(picture))


def _draw_line(rgb: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """A two-pixel-wide line from ``a`` to ``b`` (``(x, y)`` picture pixels), clipped to it."""
    n = int(np.ceil(np.abs(b - a).max() * 2)) + 1
    t = np.linspace(0.0, 1.0, n)[:, None]
    xy = a + t * (b - a)
    for offset in (0.0, 1.0):
        cols, rows = np.floor(xy[:, 0]).astype(int), np.floor(xy[:, 1] + offset).astype(int)
        keep = (cols >= 0) & (cols < rgb.shape[1]) & (rows >= 0) & (rows < rgb.shape[0])
        rgb[rows[keep], cols[keep]] = _AXIS_COLOUR


def _true_aspect(rgb: np.ndarray, spacing: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns repeated so a pixel's height : width is its j : i spacing, and the
    picture is at least :data:`_MIN_SIDE` pixels on its shorter side (nearest neighbour).
    Returns the picture and its pixels per voxel along (i, j)."""
    rows_mm, cols_mm = rgb.shape[0] * spacing[1], rgb.shape[1] * spacing[0]
    scale = _MIN_SIDE / min(rows_mm, cols_mm)          # screen px per mm
    rows = np.minimum((np.arange(round(rows_mm * scale)) / (scale * spacing[1])).astype(int),
                      rgb.shape[0] - 1)
    cols = np.minimum((np.arange(round(cols_mm * scale)) / (scale * spacing[0])).astype(int),
                      rgb.shape[1] - 1)
    return rgb[rows][:, cols], np.array([scale * spacing[0], scale * spacing[1]])


def _png(rgb: np.ndarray) -> bytes:
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), isVector=True)
    with tempfile.TemporaryDirectory(prefix="candor-key-") as tmp:
        path = Path(tmp) / "key.png"
        sitk.WriteImage(image, str(path))
        return path.read_bytes()
