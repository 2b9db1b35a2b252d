"""The engine never imports Qt, pyqtgraph or VTK (see docs/ARCHITECTURE.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUARD = ROOT / "tests" / "tools" / "import_guard.py"


def _guard(package: str, root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(GUARD), package, str(root)],
                          capture_output=True, text=True, cwd=root, timeout=600)


def test_engine_imports_no_gui_toolkit():
    result = _guard("engine", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 import a GUI toolkit" in result.stdout


def test_guard_catches_a_qt_import(tmp_path):
    """The check itself works: a package with one module importing PySide6 fails it."""
    pkg = tmp_path / "fakeengine"
    (pkg / "io").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "io" / "__init__.py").write_text("")
    (pkg / "io" / "reader.py").write_text("import numpy\nfrom PySide6 import QtCore\n")
    result = _guard("fakeengine", tmp_path)
    assert result.returncode == 1
    assert "fakeengine.io.reader" in result.stdout


def test_viewer_state_imports_no_gui_toolkit():
    """Viewer state is pure Python too: Qt widgets bind to it, not the other way round."""
    result = _guard("viewer.state", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
