"""The one model store: installed packages, active versions, weight hashes and loaded models.

:class:`ModelStore` is the engine object a front end holds (the viewer, a server, a notebook): it
finds packages (:mod:`engine.models.discovery`), says and switches which version ``NAME`` means
(:mod:`engine.models.versions`), and loads each package once (cached by its folder, so ``NAME``,
``NAME@VERSION`` and the folder share one loaded model). It is thread-safe: jobs load models on
worker threads. The module functions :func:`set_active` and :func:`weights_hash` are the same
implementation for callers without a store (the CLI, fine-tuning, the correction queue).

Reading manifests and listing models needs no torch; only :meth:`ModelStore.load` imports it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import ModelError
from engine.models.discovery import MANIFEST_NAME, ModelInfo, find_model, list_models, package_folder
from engine.models.manifest import load_manifest
from engine.models.versions import write_active

if TYPE_CHECKING:
    from engine.models.package import LoadedModel

log = logging.getLogger(__name__)

_HASH_CHUNK = 1 << 20


def set_active(name: str, version: str) -> None:
    """Make ``name@version`` the version ``name`` means (it must be installed)."""
    if not any(m.name == name and m.version == version for m in list_models()):
        raise ModelError(f"{name}@{version} is not installed")
    write_active(name, version)


def weights_hash(folder: str | Path) -> str:
    """SHA-256 over a package's weight files, in manifest member order (what a correction records)."""
    folder = Path(folder)
    manifest = load_manifest(folder / MANIFEST_NAME)
    digest = hashlib.sha256()
    for member in manifest.members:
        with open(folder / member, "rb") as fh:
            for chunk in iter(lambda: fh.read(_HASH_CHUNK), b""):
                digest.update(chunk)
    return digest.hexdigest()


class ModelStore:
    """Installed model packages and the ones loaded so far (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._loaded: dict[Path, LoadedModel] = {}
        self._specs: dict[str, Path] = {}

    def available(self) -> list[ModelInfo]:
        """Every readable package, bundled first (unreadable ones are logged and skipped)."""
        return list_models()

    def find(self, spec: str) -> ModelInfo:
        """``NAME`` (its active version, else the latest) or ``NAME@VERSION``; ModelError names the known ones."""
        return find_model(spec)

    def active_version(self, name: str) -> str:
        """The version ``name`` means now: the recorded active one if installed, else the latest."""
        return find_model(name).version

    def set_active(self, name: str, version: str) -> None:
        """Switch ``name`` to ``version``; a model loaded for the bare ``name`` is forgotten."""
        with self._lock:
            set_active(name, version)
            self.forget(name)

    def load(self, spec: str | Path) -> LoadedModel:
        """The loaded model for ``spec`` (a folder, ``NAME`` or ``NAME@VERSION``), read once per folder."""
        from engine.models.package import load_model  # torch only when a model is really loaded

        with self._lock:
            folder = package_folder(spec).resolve()
            self._specs[str(spec)] = folder
            model = self._loaded.get(folder)
            if model is None:
                model = self._loaded[folder] = load_model(folder)
            return model

    def forget(self, spec: str | Path | None = None) -> None:
        """Drop the loaded model ``spec`` named (all of them when ``None``); the next load re-reads it."""
        with self._lock:
            if spec is None:
                self._loaded.clear()
                self._specs.clear()
                return
            folder = self._specs.pop(str(spec), None)
            if folder is None:
                try:
                    folder = package_folder(spec).resolve()
                except ModelError:
                    return
            self._loaded.pop(folder, None)
            for key in [k for k, f in self._specs.items() if f == folder]:
                del self._specs[key]

    def loaded(self) -> list[Path]:
        """Folders of the models held in memory now."""
        with self._lock:
            return list(self._loaded)
