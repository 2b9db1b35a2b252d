"""Loading builds the array in place: peak traced memory < 1.5× the array + a small constant."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from pydicom.uid import RLELossless

from engine.io import load, write_series
from tests.engine.io.helpers import phantom

SMALL_CONSTANT = 4 * 1024 * 1024


@pytest.mark.parametrize("case", ["int16", "rescaled_int16", "per_slice_float32", "rle"])
def test_peak_memory_while_loading(tmp_path, case):
    vol = phantom(nz=40, ny=128, nx=128, lo=-1000, hi=2000)
    kw = {}
    if case == "rescaled_int16":
        kw["rescale"] = (1, -1024)
    elif case == "per_slice_float32":
        kw["rescale"] = [(1.0 + 0.01 * k, -1024.0) for k in range(40)]
        vol = vol.with_array(vol.array.astype(np.float32))
    elif case == "rle":
        kw["transfer_syntax"] = RLELossless
    write_series(vol, tmp_path, **kw)
    load(tmp_path)  # imports and plugin set-up happen outside the measurement
    tracemalloc.start()
    volume = load(tmp_path)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert volume.array.dtype == (np.float32 if case == "per_slice_float32" else np.int16)
    assert peak < 1.5 * volume.nbytes + SMALL_CONSTANT, (peak, volume.nbytes)
