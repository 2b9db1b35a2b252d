"""A model package on disk: ``manifest.json`` plus one weights file per ensemble member.

:func:`load_model` is the one way the engine gets a runnable model: it parses the manifest, builds
the registered architecture, reads every member's weights safely (``engine.models.weights``),
checks them against the manifest and returns a :class:`LoadedModel` in eval mode.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from engine.errors import ModelError
from engine.models.discovery import MANIFEST_NAME, package_folder
from engine.models.manifest import Manifest, load_manifest, save_manifest
from engine.models.registry import build_network
from engine.models.weights import check_state_dict, read_state_dict, write_safetensors

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class LoadedModel:
    """A manifest plus its ensemble members (``networks[0]`` is the primary member), on CPU, eval mode."""

    manifest: Manifest
    networks: tuple[nn.Module, ...]
    path: Path | None = None

    @property
    def network(self) -> nn.Module:
        return self.networks[0]

    @property
    def name(self) -> str:
        return self.manifest.name

    def members(self, count: int | None = None) -> tuple[nn.Module, ...]:
        """The first ``count`` members (all when ``None``)."""
        return self.networks if count is None else self.networks[: max(1, count)]

    def to(self, device: torch.device | str) -> LoadedModel:
        for net in self.networks:
            net.to(device)
        return self


def load_model(source: str | Path | Manifest, *, trust: bool = False, members: int | None = None) -> LoadedModel:
    """Load a model by package folder, manifest path, or registered name (see ``engine.models.discovery``).

    ``members`` limits how many ensemble members are read (``None``: all). ``trust=True`` allows
    pickled or TorchScript weight files (never needed for Candor's own packages).
    """
    folder = package_folder(source)
    manifest = load_manifest(folder / MANIFEST_NAME)
    names = manifest.members if members is None else manifest.members[: max(1, members)]
    networks = []
    for filename in names:
        net = build_network(manifest)
        state = read_state_dict(folder / filename, trust=trust)
        check_state_dict(net, state, f"model {manifest.name!r} ({filename})")
        net.load_state_dict(state)
        net.eval()
        networks.append(net)
    log.info("loaded model %s %s (%d member(s))", manifest.name, manifest.version, len(networks))
    return LoadedModel(manifest, tuple(networks), folder)


def save_model(folder: str | Path, manifest: Manifest, networks: list[nn.Module] | tuple[nn.Module, ...]) -> Path:
    """Write a package: the manifest, then one safetensors file per member named as in the manifest."""
    folder = Path(folder)
    if len(networks) != len(manifest.members):
        raise ModelError(f"{len(networks)} networks given for {len(manifest.members)} manifest members")
    folder.mkdir(parents=True, exist_ok=True)
    for filename, net in zip(manifest.members, networks):
        if not filename.endswith(".safetensors"):
            raise ModelError("Candor writes weights as safetensors only")
        write_safetensors(net.state_dict(), folder / filename,
                          metadata={"model": manifest.name, "version": manifest.version})
    save_manifest(manifest, folder / MANIFEST_NAME)
    return folder
