"""Lookup tables that turn slices into pixels: exact against a direct float computation."""

from __future__ import annotations

import numpy as np
import pytest

from viewer.qt.luts import GreyTable, heatmap_rgba, label_argb, pack_argb, scale_to_uint8


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.uint8, np.int8, np.float32, np.int32])
def test_grey_table_matches_direct_windowing(dtype):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    lo_v, hi_v = (info.min, info.max) if info else (-2000, 3000)
    values = np.linspace(max(lo_v, -2000), min(hi_v, 3000), 4096).astype(dtype).reshape(64, 64)
    lo, hi = (-160.0, 240.0) if np.dtype(dtype).kind != "u" else (20.0, 200.0)
    table = GreyTable(values.dtype)
    table.set_window(lo, hi)
    pixels = table.apply(values)
    expected = np.clip((values.astype(np.float64) - lo) * 255.0 / (hi - lo), 0, 255).astype(np.uint8)
    grey = (pixels & 0xFF).astype(np.int16)
    assert pixels.dtype == np.uint32 and np.all(pixels >> 24 == 255)            # opaque RGB32
    assert np.abs(grey - expected).max() <= 1
    assert np.array_equal(grey, ((pixels >> 8) & 0xFF).astype(np.int16))        # r = g = b


def test_labels_premultiplied_with_opacity_and_hidden_ids():
    lut = np.zeros((256, 4), np.uint8)
    lut[1] = (255, 0, 0, 255)
    lut[2] = (0, 200, 100, 0)          # hidden label: alpha 0
    table = pack_argb(lut, opacity=0.5)
    ids = np.array([[0, 1], [2, 1]], np.uint8)
    px = label_argb(ids, table)
    assert px[0, 0] == 0 and px[1, 0] == 0
    a, r = px[0, 1] >> 24, (px[0, 1] >> 16) & 0xFF
    assert a == 128 and r == 128       # premultiplied: colour scaled by alpha
    wide = np.array([[300, 1]], np.int32)   # ids beyond the table are transparent
    assert list(label_argb(wide, table)[0]) == [0, px[0, 1]]


def test_heatmap_scaling_handles_nan_and_low_values_are_transparent():
    vals = np.array([[np.nan, 0.0, 0.5, 2.0]], np.float32)
    levels = scale_to_uint8(vals, 0.0, 1.0)
    assert list(levels[0]) == [0, 0, 127, 255]
    rgba = heatmap_rgba("inferno")
    assert rgba[0, 3] == 0 and rgba[255, 3] == 255 and rgba[10, 3] < rgba[100, 3]
