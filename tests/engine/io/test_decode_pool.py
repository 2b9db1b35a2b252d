"""engine.io.decode_pool: compressed slices decoded in worker processes give the same volume,
the same warnings and the same errors as decoding in one process.

The pool path runs in a fresh ``python -c`` interpreter (a main module that spawned workers may
re-import safely) with the pay-off threshold at zero, so a small real JPEG 2000 series written by
the test goes through real worker processes; the in-process result is computed here, in threads.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless

from engine.errors import InputError
from engine.io import decode_pool, load, write_series
from tests.engine.io.helpers import phantom

ROOT = Path(__file__).resolve().parents[3]
POOLED_LOAD = """
import hashlib, json, sys
from engine.io import decode_pool, load
decode_pool.WORTH_S = 0.0  # any series is worth the pool here
used, real = [], decode_pool.decode_in_processes
def counted(*args, **kwargs):
    used.append(real(*args, **kwargs))
    return used[-1]
decode_pool.decode_in_processes = counted
try:
    v = load(sys.argv[1])
    out = {"sha": hashlib.sha256(v.array.tobytes()).hexdigest(), "dtype": str(v.array.dtype),
           "warnings": v.warnings}
except Exception as exc:
    out = {"error": str(exc), "type": type(exc).__name__}
out["pool"] = used
print(json.dumps(out))
"""


def pooled_load(folder: Path) -> dict:
    run = subprocess.run([sys.executable, "-c", POOLED_LOAD, str(folder)], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def j2k_series(tmp_path_factory) -> tuple[Path, np.ndarray]:
    folder = tmp_path_factory.mktemp("j2k")
    vol = phantom(nz=10, ny=40, nx=32, seed=5)
    write_series(vol, folder, transfer_syntax=JPEG2000Lossless, rescale=(1.0, -1024.0))
    return folder, vol.array


MULTICORE = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one CPU: no worker processes")


@MULTICORE
def test_worker_processes_decode_the_same_bits(j2k_series):
    folder, truth = j2k_series
    pooled = pooled_load(folder)
    assert pooled["pool"] == [True]  # the slices after the first went through worker processes
    here = load(folder)  # in this process: threads
    np.testing.assert_array_equal(here.array, truth)  # lossless
    assert pooled["sha"] == hashlib.sha256(here.array.tobytes()).hexdigest()
    assert pooled["dtype"] == str(here.array.dtype) and pooled["warnings"] == here.warnings


def test_a_damaged_slice_is_named_as_in_one_process(j2k_series, tmp_path):
    folder, _ = j2k_series
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for f in sorted(folder.iterdir()):
        (damaged / f.name).write_bytes(f.read_bytes())
    other = tmp_path / "other"
    write_series(phantom(nz=1, ny=32, nx=40), other, transfer_syntax=JPEG2000Lossless)
    for index in (3, 8):  # one near each end: the workers start at the front, this process
        victim = sorted(damaged.iterdir())[index]  # at the back; the first in order is named
        ds = pydicom.dcmread(victim)
        ds.PixelData = pydicom.dcmread(next(other.iterdir())).PixelData  # a 40×32 codestream
        ds.save_as(victim)
    with pytest.raises(InputError) as here:
        load(damaged)
    pooled = pooled_load(damaged)
    assert "slice 4 of 10" in str(here.value) and "codestream declares" in str(here.value)
    assert (pooled["type"], pooled["error"]) == (type(here.value).__name__, str(here.value))


def test_the_pool_is_kept_for_long_decodes_and_safe_main_modules():
    assert not decode_pool.processes_pay_off(0.002, 100)  # 0.2 s of RLE: not worth a pool
    many_cores = (os.cpu_count() or 1) > 1
    assert decode_pool.processes_pay_off(0.03, 300) == (decode_pool.main_is_safe() and many_cores)
