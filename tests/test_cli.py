"""The `candor` command and `python -m engine` answer --version and --help."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})


def _candor() -> str:
    exe = shutil.which("candor", path=str(Path(sys.executable).parent))
    assert exe, "the candor console script is not installed in this environment"
    return exe


def test_candor_version():
    result = _run(_candor(), "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"candor {engine.__version__}"


def test_candor_help_lists_view():
    result = _run(_candor(), "--help")
    assert result.returncode == 0
    assert "usage: candor" in result.stdout
    assert "view" in result.stdout


def test_python_m_engine_help_without_qt():
    """`python -m engine` works with Qt blocked (the engine CLI needs no GUI toolkit)."""
    code = (
        "import sys, runpy, importlib.abc\n"
        "class B(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, n, p=None, t=None):\n"
        "        if n.split('.')[0] in ('PySide6','pyqtgraph','vtk','vtkmodules'):\n"
        "            raise ImportError('blocked '+n)\n"
        "sys.meta_path.insert(0, B())\n"
        "sys.argv=['engine','--help']\n"
        "runpy.run_module('engine', run_name='__main__')\n"
    )
    result = _run(sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    assert "usage: python -m engine" in result.stdout


def test_unknown_path_is_a_clear_error_not_a_traceback(tmp_path):
    result = _run(sys.executable, "-m", "engine", "no-such-command")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
