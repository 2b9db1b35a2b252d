"""``candor --version``, ``info`` and ``scan`` import nothing heavy (issue 16: start in ≤ 0.3 s).

Each command runs in a fresh interpreter through the real ``candor`` entry point
(``viewer.cli.main``) and reports ``sys.modules`` afterwards. Every module of ``engine/cli`` is
imported to build the parser, so a command module that imports torch, SimpleITK, scipy… at its
top (instead of inside its command function) fails here. On an uncompressed little-endian series
pydicom is not needed either (engine.io.fastheader reads the headers, ``readinto`` the pixels).
No timing is asserted: the benchmark (bench/bench_convert.py) measures it.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.io import write_series
from tests.engine.io.helpers import phantom

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "SimpleITK", "scipy", "pandas", "sklearn", "highdicom", "nibabel", "flwr",
         "pynetdicom", "onnxruntime", "openvino", "PySide6", "vtk", "pyqtgraph")

PROBE = """
import io, json, sys, contextlib
from viewer.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:  # argparse's --version exits
        code = exc.code
import os
print(json.dumps({"code": code, "modules": sorted(sys.modules), "out": out.getvalue(),
                  "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}))
"""


def loaded_after(*argv: str) -> dict:
    run = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def heavy_in(modules: list[str], extra: tuple[str, ...] = ()) -> list[str]:
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY + extra))


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ct")
    write_series(phantom(nz=4, ny=16, nx=16), folder, rescale=(1.0, -1024.0))
    return folder


def test_version_imports_nothing_heavy():
    result = loaded_after("--version")
    assert result["code"] == 0 and "candor" in result["out"]
    assert heavy_in(result["modules"], ("pydicom",)) == []
    # set before numpy's OpenBLAS started its threads (a value the user chose is kept)
    assert result["blas_threads"] == os.environ.get("OPENBLAS_NUM_THREADS", "1")


@pytest.mark.parametrize("command", ["info", "scan"])
def test_info_and_scan_import_nothing_heavy(series, command):
    result = loaded_after(command, str(series))
    assert result["code"] == 0
    assert ("16, 16, 4" in result["out"]) if command == "info" else ("16×16×4" in result["out"])
    assert heavy_in(result["modules"], ("pydicom",)) == []


def test_convert_to_nii_imports_neither_simpleitk_nor_pydicom(series, tmp_path):
    result = loaded_after("convert", str(series), "--out", str(tmp_path / "ct.nii"))
    assert result["code"] == 0 and (tmp_path / "ct.nii").stat().st_size == 352 + 16 * 16 * 4 * 2
    assert heavy_in(result["modules"], ("pydicom",)) == []


def test_main_called_in_process_leaves_the_garbage_collector_alone(series):
    from engine.cli import main

    frozen = gc.get_freeze_count()
    assert main(["scan", str(series)]) == 0
    assert gc.get_freeze_count() == frozen  # only the candor process itself freezes its heap
