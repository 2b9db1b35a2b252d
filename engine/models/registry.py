"""Explicit registry of network architectures a manifest may name (no lookup of classes by name)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from engine.errors import ModelError
from engine.models.linknet import LinkNet3D
from engine.models.manifest import Manifest
from engine.models.nnunet import build_nnunet_network
from engine.models.unet import ResUNet3D

ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "resunet3d": ResUNet3D,
    "linknet3d": LinkNet3D,  # deepbet's brain-extraction network (engine/models/importers/deepbet.py)
    "nnunet_v2": build_nnunet_network,   # dynamic_network_architectures; classes from an allow-list (nnunet.py)
}


def register_architecture(name: str, builder: Callable[..., nn.Module]) -> None:
    """Add an architecture; ``builder(in_channels=, out_channels=, **params)`` returns the network."""
    if name in ARCHITECTURES and ARCHITECTURES[name] is not builder:
        raise ValueError(f"architecture {name!r} is already registered")
    ARCHITECTURES[name] = builder


def build_network(manifest: Manifest) -> nn.Module:
    """A freshly initialised network for ``manifest`` (weights are loaded separately)."""
    builder = ARCHITECTURES.get(manifest.architecture.name)
    if builder is None:
        raise ModelError(f"model {manifest.name!r} needs architecture {manifest.architecture.name!r}, which "
                         f"this Candor does not have (known: {', '.join(sorted(ARCHITECTURES))})")
    params: dict[str, Any] = dict(manifest.architecture.params)
    for reserved in ("in_channels", "out_channels"):
        params.pop(reserved, None)
    try:
        return builder(in_channels=manifest.input_channels, out_channels=manifest.num_classes, **params)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"model {manifest.name!r}: invalid architecture parameters ({exc})") from None
