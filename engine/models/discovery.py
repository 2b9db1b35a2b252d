"""Where model packages are found: bundled (``resources/models``) and the user's ``models`` folder."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from engine.errors import CandorError, ModelError
from engine.models.manifest import Manifest, load_manifest
from engine.models.versions import active_version
from engine.resources import resource_path, user_subdir

log = logging.getLogger(__name__)

DEFAULT_MODEL = "candor-brain-t1"
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    parent_version: str | None
    task: str
    modality: str
    members: int
    source: str  # "bundled" or "user"
    path: Path

    @classmethod
    def from_manifest(cls, manifest: Manifest, source: str, path: Path) -> ModelInfo:
        return cls(manifest.name, manifest.version, manifest.parent_version, manifest.task,
                   manifest.modality, len(manifest.members), source, path)

    def to_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "parent_version": self.parent_version,
                "task": self.task, "modality": self.modality, "members": self.members,
                "source": self.source, "path": str(self.path)}


def model_roots() -> list[tuple[str, Path]]:
    roots = []
    try:
        roots.append(("bundled", resource_path("models")))
    except CandorError:
        log.warning("no resources folder: bundled models are unavailable")
    roots.append(("user", user_subdir("models")))
    return roots


def list_models() -> list[ModelInfo]:
    """Every readable package, bundled first; unreadable ones are logged and skipped."""
    found = []
    for source, root in model_roots():
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if (p / MANIFEST_NAME).is_file()):
            try:
                found.append(ModelInfo.from_manifest(load_manifest(folder / MANIFEST_NAME), source, folder))
            except ModelError as exc:
                log.warning("skipping model folder %s: %s", folder.name, exc)
    return found


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\-+]", version))


def find_model(spec: str) -> ModelInfo:
    """``NAME`` (the active version set by ``candor models use`` or fine-tuning, else the latest;
    a user package wins a tie) or ``NAME@VERSION``."""
    name, _, version = spec.partition("@")
    if not version:
        active = active_version(name)
        if active and any(m.name == name and m.version == active for m in list_models()):
            version = active
    matches = [m for m in list_models() if m.name == name and (not version or m.version == version)]
    if not matches:
        known = sorted({m.name for m in list_models()})
        raise ModelError(f"no model named {spec!r} (available: {', '.join(known) or 'none'})")
    return max(matches, key=lambda m: (_version_key(m.version), m.source == "user"))


def package_folder(source: str | Path | Manifest) -> Path:
    """The package folder ``source`` names: a folder, its ``manifest.json``, a :class:`Manifest`
    (its installed ``NAME@VERSION``), or ``NAME`` / ``NAME@VERSION`` (see :func:`find_model`)."""
    if isinstance(source, Manifest):
        return find_model(f"{source.name}@{source.version}").path
    path = Path(source)
    if path.is_file() and path.name == MANIFEST_NAME:
        return path.parent
    if path.is_dir():
        if not (path / MANIFEST_NAME).is_file():
            raise ModelError(f"{path.name} is not a Candor model package (no {MANIFEST_NAME})")
        return path
    text = str(source)
    if "/" in text or "\\" in text or (path.suffix and "@" not in text):  # "NAME@1.0.0" has a "suffix"
        raise ModelError(f"model {text!r} not found")
    return find_model(text).path
