"""The `candor` command and `python -m engine` answer --version and --help; a mistyped command is
an error that suggests the closest one, never the viewer opened on a path that does not exist."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import engine
from engine import cli as engine_cli
from viewer import cli as viewer_cli

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


def _commands() -> list[str]:
    _, sub = engine_cli.build_parser()
    return sorted([*sub.choices, "view"])


def test_candor_help_lists_every_command():
    result = _run(_candor(), "--help")
    assert result.returncode == 0
    assert "usage: candor" in result.stdout
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ")
              and not line.startswith("     ")}
    assert set(_commands()) <= listed, result.stdout


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


# A mistyped command (issue 13, item 8) --------------------------------------------------------
@pytest.fixture
def viewer_opened(monkeypatch, tmp_path):
    """Stand in for the viewer: records the paths it was asked to open; runs in an empty folder."""
    opened = []
    monkeypatch.setattr(viewer_cli, "_view", lambda args: opened.append(args.path) or 0)
    monkeypatch.chdir(tmp_path)
    return opened


@pytest.mark.parametrize("argv, suggestion", [
    (["telepathy", "--help"], None),
    (["segmnet", "scan/"], "did you mean 'candor segment'?"),
    (["scna", "series/"], "did you mean 'candor scan'?"),
    (["-v", "segmnet"], "did you mean 'candor segment'?"),
    (["infoo", "--json"], "did you mean 'candor info'?"),
])
def test_mistyped_command_is_an_error_not_the_viewer(viewer_opened, capsys, argv, suggestion):
    assert viewer_cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert viewer_opened == []
    assert out == "" and "candor view" not in err
    assert "candor: error: unknown command, and no file or folder of that name to open" in err
    assert f"commands: {', '.join(_commands())} " in err
    if suggestion:
        assert suggestion in err
    else:
        assert "did you mean" not in err


def test_mistyped_path_is_not_echoed(viewer_opened, capsys):
    """No message carries a path that may name a patient, even one that does not exist."""
    assert viewer_cli.main(["Smith^John_1957"]) == 2
    assert "Smith" not in capsys.readouterr().err
    assert viewer_opened == []


def test_an_existing_path_or_nothing_opens_the_viewer(viewer_opened, tmp_path):
    study = tmp_path / "study"
    study.mkdir()
    (study / "scan").mkdir()  # a folder named like a command is opened only through `view`
    assert viewer_cli.main([]) == 0
    assert viewer_cli.main(["study"]) == 0
    assert viewer_cli.main(["-v", str(study)]) == 0
    assert viewer_cli.main(["view", str(study / "scan")]) == 0
    assert viewer_opened == [None, "study", str(study), str(study / "scan")]


def test_mistyped_command_creates_no_qapplication(tmp_path):
    """In a fresh process: exit code 2, the suggestion on stderr, Qt's widgets never imported."""
    code = ("import sys\n"
            "from viewer.cli import main\n"
            "rc = main(['segmnet', 'scan/'])\n"
            "print('qt imported' if 'PySide6.QtWidgets' in sys.modules else 'no qt')\n"
            "sys.exit(rc)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2, result.stderr
    assert result.stdout.strip() == "no qt"
    assert "did you mean 'candor segment'?" in result.stderr

    script = _run(_candor(), "telepathy", "--help")
    assert script.returncode == 2
    assert "usage: candor view" not in script.stdout + script.stderr
    assert "commands: convert" in script.stderr


def test_python_m_engine_suggests_the_closest_command(capsys):
    assert engine_cli.main(["segmnet", "scan/"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'python -m engine segment'?" in err
    assert "view" not in err.split("commands:")[1]  # the engine has no viewer
