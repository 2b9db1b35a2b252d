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

import hashlib
import importlib
import logging
import shutil
import tempfile
from collections.abc import Mapping
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


def sha256_of(path: Path) -> str:
    """SHA-256 of one original file (what a package records of its source)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_package(out_dir: Path, manifest, weights: Mapping[str, Mapping], metadata: dict[str, str]) -> Path:
    """Write ``manifest`` and ``weights`` (file name → state dict) as ``out_dir/NAME-VERSION``.

    Everything goes to a temp folder first and is renamed durably, so a failed import leaves
    nothing; an existing package is never overwritten.
    """
    from engine.durable import replace_durably
    from engine.models.discovery import MANIFEST_NAME
    from engine.models.manifest import save_manifest
    from engine.models.weights import write_safetensors

    out_dir = Path(out_dir)
    final = out_dir / f"{manifest.name}-{manifest.version}"
    if final.exists():
        raise InputError(f"a package {final.name} is already in {out_dir}; remove it first or pass --name")
    out_dir.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=".import-", dir=out_dir))
    temp.chmod(0o755)
    try:
        for filename, state in weights.items():
            write_safetensors(dict(state), temp / filename, metadata=metadata)
        save_manifest(manifest, temp / MANIFEST_NAME)
        replace_durably(temp, final)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return final


__all__ = ["IMPORTERS", "available_importers", "find_importer", "import_model", "sha256_of", "write_package"]
