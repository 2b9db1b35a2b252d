"""Features meet through the app context (``viewer/qt/services.py``), never through the window.

Parsed from the sources of ``viewer/qt/features/*.py``: no ``getattr``/``hasattr`` on a window,
no attribute assigned on a window, and no window attribute read that some feature assigns. A
"window" is a name ``window`` or any ``<something>.window``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FEATURES = Path(__file__).resolve().parents[2] / "viewer" / "qt" / "features"


def _is_window(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "window") or \
        (isinstance(node, ast.Attribute) and node.attr == "window")


def _window_uses(tree: ast.AST):
    """(assigned attribute names, read attribute names, probe calls) on windows in ``tree``."""
    assigned, read, probes = set(), set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_window(node.value):
            (assigned if isinstance(node.ctx, ast.Store) else read).add(node.attr)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in ("getattr", "hasattr", "setattr") and node.args and \
                _is_window(node.args[0]):
            probes.append(f"{node.func.id}(…) line {node.lineno}")
    return assigned, read, probes


def _scan(folder: Path) -> dict[str, tuple[set, set, list]]:
    return {p.name: _window_uses(ast.parse(p.read_text(encoding="utf-8"), str(p)))
            for p in sorted(folder.glob("*.py"))}


def _problems(scanned: dict[str, tuple[set, set, list]]) -> list[str]:
    problems = []
    set_by = {name: assigned for name, (assigned, _, _) in scanned.items()}
    for name, (assigned, read, probes) in scanned.items():
        problems += [f"{name}: {p} on a window" for p in probes]
        problems += [f"{name}: sets window.{a}" for a in sorted(assigned)]
        for other, attrs in set_by.items():
            for attr in sorted(read & attrs):
                if other != name:
                    problems.append(f"{name}: reads window.{attr}, which {other} sets")
    return problems


def test_features_never_probe_or_extend_the_main_window():
    assert _problems(_scan(FEATURES)) == []


@pytest.mark.parametrize("source, expected", [
    ("def install(window):\n    if hasattr(window, 'model'):\n        pass\n", "hasattr(…) line 2"),
    ("def f(self):\n    x = getattr(self.window, 'ai', None)\n", "getattr(…) line 2"),
    ("def install(window):\n    window.ai = object()\n", "sets window.ai"),
])
def test_the_check_catches_planted_seams(tmp_path, source, expected):
    (tmp_path / "planted.py").write_text(source)
    (tmp_path / "reader.py").write_text("def f(self):\n    return self.window.ai\n")
    problems = _problems(_scan(tmp_path))
    assert any(expected in p for p in problems), problems
    if "sets window.ai" in expected:
        assert "reader.py: reads window.ai, which planted.py sets" in problems
