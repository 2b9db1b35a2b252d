"""Layering: the engine never imports Qt, pyqtgraph or VTK, and engine packages import in no cycle
(see docs/ARCHITECTURE.md, "Layering enforced")."""

from __future__ import annotations

import ast
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


# Import cycles between engine packages (issue 14) ---------------------------------------------
# Built from the AST, so function-local imports (the ones that hid the old cycles) count too.
# Nodes are the packages and top-level modules directly under the root (engine.io, engine.models,
# engine.volume …); an import of the root package itself (``from engine import __version__``) is
# no edge.


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = path.relative_to(root).with_suffix("").parts
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [target] + [f"{target}.{a.name}" for a in node.names]  # `from pkg import sub` names sub


def import_graph(root: Path, package: str) -> dict[str, dict[str, list[str]]]:
    """``{node: {imported node: ["file:line", …]}}`` for the nodes directly under ``package``."""
    top = root / package
    nodes = {p.stem if p.is_file() else p.name for p in top.iterdir()
             if (p.is_dir() and (p / "__init__.py").is_file()) or (p.suffix == ".py" and p.stem != "__init__")}
    graph: dict[str, dict[str, list[str]]] = {n: {} for n in nodes}
    for path in sorted(top.rglob("*.py")):
        module, is_package = _module_name(path, root)
        parts = module.split(".")
        if len(parts) < 2:
            continue  # the root package's own __init__
        source = parts[1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            for target in _imported(node, module, is_package):
                tparts = target.split(".")
                if len(tparts) >= 2 and tparts[0] == package and tparts[1] in nodes and tparts[1] != source:
                    where = f"{path.relative_to(root)}:{node.lineno}"
                    found = graph[source].setdefault(tparts[1], [])
                    if where not in found:
                        found.append(where)
    return graph


def find_cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def _explain(graph, cycle: list[str]) -> str:
    return "; ".join(f"{a} → {b} ({', '.join(graph[a][b][:3])})"
                     for a in cycle for b in cycle if b in graph[a])


def test_no_import_cycle_between_engine_packages():
    graph = import_graph(ROOT, "engine")
    assert {"io", "models", "inference", "trust", "corrections", "export", "volume"} <= set(graph)
    assert "models" in graph["inference"]          # the graph sees real edges
    cycles = find_cycles(graph)
    assert cycles == [], "\n".join(_explain(graph, c) for c in cycles)
    assert not any("training" in deps for deps in graph.values()), "nothing in engine imports the scripts"


def test_cycle_check_catches_a_planted_cycle(tmp_path):
    """A function-local import one way and a relative import back: the checker reports the cycle."""
    pkg = tmp_path / "fakeengine"
    for sub in ("models", "corrections", "io"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("__version__ = '0'\n")
    (pkg / "volume.py").write_text("import numpy\n")
    (pkg / "io" / "reader.py").write_text("from fakeengine import volume\nfrom fakeengine import __version__\n")
    (pkg / "models" / "discovery.py").write_text(
        "from ..io import reader\n\n\ndef find():\n    from fakeengine.corrections.versions import active\n"
        "    return active()\n")
    (pkg / "corrections" / "versions.py").write_text("def active():\n    return None\n")
    graph = import_graph(tmp_path, "fakeengine")
    assert graph["io"] == {"volume": ["fakeengine/io/reader.py:1"]}     # root-package import: no edge
    assert set(graph["models"]) == {"io", "corrections"}                 # relative + function-local
    assert find_cycles(graph) == []

    (pkg / "corrections" / "queue.py").write_text("from .. import models\n")  # back edge, relative
    graph = import_graph(tmp_path, "fakeengine")
    assert find_cycles(graph) == [["corrections", "models"]]
    assert "fakeengine/corrections/queue.py:1" in _explain(graph, ["corrections", "models"])
