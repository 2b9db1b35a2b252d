"""``candor models import``: convert a third-party model into a Candor model package.

Each importer is a module listed by name in :data:`IMPORTERS` exposing

* ``detect(source: Path) -> bool``: whether ``source`` (a folder, a file, or a bare word such as
  ``deepbet``, passed as a ``Path``) is a model this importer converts;
* ``convert(source: Path, out_dir: Path, *, name: str | None, allow_torchscript: bool) -> Path``:
  write a Candor package (``manifest.json`` + safetensors) under ``out_dir`` and return its folder.

A listed module that does not exist (yet) is skipped, so importers plug in independently. Nothing
pickled or scripted is ever loaded at run time: an importer reads the original once, here.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from types import ModuleType

from engine.errors import InputError

log = logging.getLogger(__name__)

IMPORTERS: tuple[str, ...] = ("engine.models.importers.nnunet", "engine.models.importers.deepbet")


def available_importers() -> list[ModuleType]:
    """The importer modules that exist, in :data:`IMPORTERS` order."""
    found = []
    for module_name in IMPORTERS:
        try:
            found.append(importlib.import_module(module_name))
        except ModuleNotFoundError as exc:
            if exc.name != module_name:  # the importer exists but one of its own imports is missing
                raise
            log.debug("importer %s not present", module_name)
    return found


def find_importer(source: Path) -> ModuleType:
    """The first importer whose ``detect`` accepts ``source``; :class:`InputError` if none does."""
    modules = available_importers()
    for module in modules:
        if module.detect(source):
            return module
    kinds = ", ".join(m.__name__.rsplit(".", 1)[-1] for m in modules) or "none installed"
    raise InputError(f"no importer recognises {source.name or str(source)!r} (importers: {kinds})")


def import_model(source: Path, out_dir: Path, *, name: str | None = None,
                 allow_torchscript: bool = False) -> Path:
    """Convert ``source`` into a package under ``out_dir``; returns the package folder."""
    module = find_importer(source)
    return module.convert(source, out_dir, name=name, allow_torchscript=allow_torchscript)


__all__ = ["IMPORTERS", "available_importers", "find_importer", "import_model"]
