"""Window/level: the grey-scale mapping of the image layer, with named presets.

CT presets are (center, width) in Hounsfield units, the values radiology departments use.
"MR auto" (and the fallback for any non-CT image) is percentile based: the window spans the
1st–99th percentile of the non-background voxels, computed on a strided sample (no copy of
the volume).

A window stored in the file's header is used as the starting window unless it clips the image:
for a non-CT image, when more than :data:`HEADER_CLIP_LIMIT` (a quarter) of the foreground
voxels lie at or beyond the window's ends (flat white or flat black), the viewer starts from
"MR auto" instead and says so (``WindowLevel.events.note``). A 1st–99th percentile window clips
about 2 %; the sample study's old W 800 / L 400 turned 30 % of the brain (white matter) white.
CT header windows are clinical HU presets chosen on purpose (a bone window saturates soft tissue
by design) and are always kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from psygnal import Signal, SignalGroup


@dataclass(frozen=True)
class Preset:
    name: str
    center: float | None   # None: computed from the data (percentiles)
    width: float | None
    key: str = ""          # keyboard shortcut in the slice views ("1"…"5")


CT_PRESETS: tuple[Preset, ...] = (
    Preset("CT brain", 40, 80, "1"),
    Preset("CT subdural", 75, 215, "2"),
    Preset("CT stroke", 40, 40, "3"),
    Preset("CT lung", -600, 1500, "4"),
    Preset("CT bone", 400, 1800, "5"),
    Preset("CT mediastinum", 50, 350),
    Preset("CT abdomen", 50, 400),
    Preset("CT liver", 30, 150),
)
MR_AUTO = Preset("MR auto", None, None, "1")
PRESETS: tuple[Preset, ...] = (*CT_PRESETS, MR_AUTO)


def preset(name: str) -> Preset:
    for p in PRESETS:
        if p.name.lower() == name.lower():
            return p
    raise KeyError(f"no window preset named {name!r}")


def presets_for(modality: str) -> tuple[Preset, ...]:
    """Presets offered for a modality (CT ones only make sense in HU)."""
    return PRESETS if modality.upper() == "CT" else (MR_AUTO,)


def preset_for_key(modality: str, key: str) -> Preset | None:
    return next((p for p in presets_for(modality) if p.key == key), None)


HEADER_CLIP_LIMIT = 0.25


def _foreground_sample(array: np.ndarray, max_samples: int = 2_000_000) -> np.ndarray:
    """The non-background voxels (above the minimum) of a strided sample; all of it when the
    foreground is under 5 % of the sample."""
    step = max(1, int(round((array.size / max_samples) ** (1 / 3))))
    sample = np.asarray(array[::step, ::step, ::step]).ravel()
    sample = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample
    if sample.size == 0:
        return sample
    foreground = sample[sample > sample.min()]
    return foreground if foreground.size > 0.05 * sample.size else sample


def clipped_fraction(array: np.ndarray, center: float, width: float) -> float:
    """Fraction of the foreground voxels at or beyond the ends of the window (center, width)."""
    data = _foreground_sample(array)
    if data.size == 0:
        return 0.0
    lo, hi = center - width / 2.0, center + width / 2.0
    return float(np.count_nonzero((data >= hi) | (data <= lo))) / data.size


def percentile_window(array: np.ndarray, low: float = 1.0, high: float = 99.0,
                      max_samples: int = 2_000_000) -> tuple[float, float]:
    """(center, width) spanning the ``low``–``high`` percentiles of the non-background voxels."""
    data = _foreground_sample(array, max_samples)
    if data.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(data, [low, high])
    width = float(hi - lo) or 1.0
    return float(lo + hi) / 2.0, width


class WindowEvents(SignalGroup):
    changed = Signal(float, float)   # center, width
    note = Signal(str)               # a plain sentence for the Messages dock (e.g. header window replaced)


class WindowLevel:
    """Center/width of the image layer's grey-scale window, and the preset it came from."""

    def __init__(self, center: float = 40.0, width: float = 400.0) -> None:
        self.events = WindowEvents()
        self._center, self._width = float(center), max(float(width), 1e-6)
        self.preset_name: str | None = None

    @property
    def center(self) -> float:
        return self._center

    @property
    def width(self) -> float:
        return self._width

    @property
    def range(self) -> tuple[float, float]:
        return self._center - self._width / 2.0, self._center + self._width / 2.0

    def set(self, center: float, width: float, preset_name: str | None = None) -> None:
        center, width = float(center), max(float(width), 1e-6)
        self.preset_name = preset_name
        if (center, width) != (self._center, self._width):
            self._center, self._width = center, width
            self.events.changed.emit(center, width)

    def apply(self, p: Preset, array: np.ndarray | None = None) -> None:
        """Apply a preset; data-driven presets need the (display) ``array``."""
        if p.center is None or p.width is None:
            if array is None:
                raise ValueError(f"preset {p.name!r} needs the image data")
            center, width = percentile_window(array)
        else:
            center, width = p.center, p.width
        self.set(center, width, p.name)

    def drag(self, dx: float, dy: float, scale: float) -> None:
        """Mouse drag: right → wider window, down → higher level (3D Slicer / OsiriX feel)."""
        self.set(self._center + dy * scale, max(self._width + dx * scale * 2.0, scale), None)
