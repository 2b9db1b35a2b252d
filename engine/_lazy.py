"""Lazy package attributes (PEP 562) for packages whose public names live in heavy submodules.

``engine.models`` and ``engine.trust`` use it so that torch-free parts (manifests, model lists, CLI
argument definitions) import without torch, which keeps `candor` start-up near one second.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(package: str, where: Mapping[str, str],
                 namespace: dict) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` resolving ``name`` from ``package.<where[name]>`` on first use."""

    def __getattr__(name: str) -> object:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__
