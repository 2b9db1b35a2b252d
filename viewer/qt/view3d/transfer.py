"""Volume-rendering transfer functions: presets (CT bone, soft tissue, lung; MR default) + controls.

A preset is a list of (value, opacity) points and (value, r, g, b) colour points. CT presets are
in Hounsfield units; the MR preset is written in fractions of the 1st–99th percentile range and
mapped onto the data. ``shift`` moves every point along the value axis, ``opacity`` scales opacity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vtkmodules.vtkCommonDataModel import vtkPiecewiseFunction
from vtkmodules.vtkRenderingCore import vtkColorTransferFunction


@dataclass(frozen=True)
class TransferPreset:
    name: str
    opacity: tuple[tuple[float, float], ...]
    color: tuple[tuple[float, float, float, float], ...]
    relative: bool = False   # points are fractions of the data's robust range (MR)


TRANSFER_PRESETS: dict[str, TransferPreset] = {p.name: p for p in (
    TransferPreset("CT bone",
                   ((-1000, 0), (120, 0), (250, 0.12), (500, 0.55), (1200, 0.85), (3000, 0.9)),
                   ((-1000, 0.3, 0.15, 0.1), (150, 0.75, 0.5, 0.35), (400, 0.95, 0.85, 0.7),
                    (1200, 1.0, 0.98, 0.92), (3000, 1, 1, 1))),
    TransferPreset("CT soft tissue",
                   ((-1000, 0), (-250, 0), (-60, 0.02), (40, 0.18), (90, 0.3), (400, 0.5), (1500, 0.8)),
                   ((-1000, 0, 0, 0), (-60, 0.55, 0.25, 0.15), (40, 0.85, 0.45, 0.35),
                    (120, 0.95, 0.75, 0.6), (400, 1.0, 0.95, 0.85), (1500, 1, 1, 1))),
    TransferPreset("CT lung",
                   ((-1000, 0), (-950, 0), (-850, 0.04), (-600, 0.12), (-450, 0.0), (150, 0.0),
                    (300, 0.2), (1500, 0.6)),
                   ((-1000, 0.3, 0.45, 0.8), (-700, 0.55, 0.7, 0.95), (-450, 0.9, 0.6, 0.5),
                    (300, 0.95, 0.9, 0.8), (1500, 1, 1, 1))),
    TransferPreset("MR default",
                   ((0.0, 0), (0.15, 0), (0.4, 0.12), (0.8, 0.45), (1.0, 0.7)),
                   ((0.0, 0, 0, 0), (0.3, 0.55, 0.5, 0.45), (0.7, 0.9, 0.85, 0.8), (1.0, 1, 1, 1)),
                   relative=True),
)}


def default_preset(modality: str) -> str:
    return "CT soft tissue" if modality.upper() == "CT" else "MR default"


def robust_range(array: np.ndarray) -> tuple[float, float]:
    step = max(1, int(round((array.size / 1_000_000) ** (1 / 3))))
    lo, hi = np.percentile(array[::step, ::step, ::step], [1, 99])
    return float(lo), float(hi if hi > lo else lo + 1)


def build_functions(preset: TransferPreset, data_range: tuple[float, float], shift: float = 0.0,
                    opacity_scale: float = 1.0) -> tuple[vtkPiecewiseFunction, vtkColorTransferFunction]:
    """VTK opacity and colour functions for ``preset`` (``shift`` in data units)."""
    lo, hi = data_range

    def place(v: float) -> float:
        return (lo + v * (hi - lo) if preset.relative else v) + shift

    opacity = vtkPiecewiseFunction()
    for v, a in preset.opacity:
        opacity.AddPoint(place(v), float(np.clip(a * opacity_scale, 0.0, 1.0)))
    color = vtkColorTransferFunction()
    for v, r, g, b in preset.color:
        color.AddRGBPoint(place(v), r, g, b)
    return opacity, color
