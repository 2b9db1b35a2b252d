"""The sample study's header window (issue 20, item 12): read back from the written DICOM, it
shows the brain without saturating white matter."""

from __future__ import annotations

import numpy as np

from engine.demo import demo_window, write_demo
from engine.io import load


def _clipped(foreground: np.ndarray, center: float, width: float) -> float:
    lo, hi = center - width / 2.0, center + width / 2.0
    return float(np.mean((foreground >= hi) | (foreground <= lo)))


def test_the_demo_header_window_spans_the_foreground_and_does_not_clip(tmp_path):
    folder = write_demo(tmp_path / "T1")
    volume = load(str(folder))
    center, width = volume.metadata["window_presets"][0]
    array = volume.array
    foreground = array[array > array.min()]
    lo, hi = np.percentile(foreground, [1.0, 99.0])
    assert abs(center - (lo + hi) / 2) <= 1 and abs(width - (hi - lo)) <= 1
    assert _clipped(foreground, center, width) < 0.05            # ~2 % by construction
    assert _clipped(foreground, 400.0, 800.0) > 0.25              # the old header window: WM white


def test_demo_window_of_a_small_array_is_its_percentile_span():
    arr = np.zeros((4, 10, 10), np.int16)
    arr[1:3] = np.arange(1, 201, dtype=np.int16).reshape(2, 10, 10)
    center, width = demo_window(arr)
    lo, hi = np.percentile(np.arange(1, 201), [1, 99])
    assert (center, width) == (round((lo + hi) / 2), round(hi - lo))
