"""Import every module of a package with GUI toolkits blocked; print what failed and exit 1.

Run as ``python tests/tools/import_guard.py PACKAGE [ROOT]``. Blocking happens at import time with
a meta-path finder, so a module that imports PySide6, pyqtgraph or vtk (directly, lazily at module
level, or through another engine module) fails here even when those packages are installed.
"""

from __future__ import annotations

import importlib
import importlib.abc
import pkgutil
import sys

BLOCKED = ("PySide6", "PyQt5", "PyQt6", "qtpy", "shiboken6", "pyqtgraph", "vtk", "vtkmodules")


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in BLOCKED:
            raise ImportError(f"{fullname} is forbidden in this package (GUI toolkit)")
        return None


def main(package: str, root: str | None = None) -> int:
    if root:
        sys.path.insert(0, root)
    sys.meta_path.insert(0, _Blocker())
    pkg = importlib.import_module(package)
    failures = []
    names = [package] + [m.name for m in pkgutil.walk_packages(pkg.__path__, prefix=package + ".")]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            if "forbidden" in str(exc):
                failures.append(f"{name}: {exc}")
            else:
                raise
    for line in failures:
        print(line)
    print(f"checked {len(names)} modules, {len(failures)} import a GUI toolkit")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
