"""`candor demo`: the engine writes the sample study without the GUI; `candor` then opens it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import viewer.qt.app
from viewer import cli as viewer_cli

ROOT = Path(__file__).resolve().parent.parent

_BLOCK_QT = (
    "import sys, runpy, importlib.abc\n"
    "class B(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, n, p=None, t=None):\n"
    "        if n.split('.')[0] in ('PySide6','pyqtgraph','vtk','vtkmodules','viewer'):\n"
    "            raise ImportError('blocked '+n)\n"
    "sys.meta_path.insert(0, B())\n"
)


def test_engine_demo_writes_the_study_with_the_gui_and_viewer_blocked(tmp_path):
    out = tmp_path / "demo" / "T1"
    code = _BLOCK_QT + f"sys.argv=['engine','demo','--out',{str(out)!r}]\nrunpy.run_module('engine', run_name='__main__')\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert len(list(out.iterdir())) > 50                   # one DICOM file per slice
    assert "blocked" not in result.stderr


def test_candor_demo_opens_the_written_study_in_the_viewer(monkeypatch, tmp_path, capsys):
    opened = []
    monkeypatch.setattr(viewer.qt.app, "run_gui", lambda path, **kw: opened.append(path) or 0)
    out = tmp_path / "T1"
    assert viewer_cli.main(["demo", "--out", str(out)]) == 0
    assert opened == [str(out)]
    assert capsys.readouterr().out.strip() == str(out)
    assert (out.parent / "NOTICE.txt").is_file()

    assert viewer_cli.main(["demo", "--no-view", "--out", str(out)]) == 0
    assert opened == [str(out)]                             # --no-view: written, not opened
