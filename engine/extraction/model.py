"""The brain-extraction model: a package's two networks plus deepbet's pipeline parameters."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from torch import nn

from engine.errors import ModelError
from engine.models.package import LoadedModel, load_model
from engine.models.registry import build_network
from engine.models.weights import check_state_dict, read_state_dict

TASK = "brain-extraction"


@dataclass(frozen=True)
class ExtractionParams:
    """``training.pipeline`` of an imported deepbet package (defaults: deepbet 1.0.2's own)."""

    kind: str = "deepbet"
    bbox_weights: str = "bbox.safetensors"
    orientation: str = "RAS (closest canonical)"
    bbox_shape: tuple[int, int, int] = (128, 128, 128)
    shape: tuple[int, int, int] = (256, 256, 256)
    interpolation: str = "nearest-exact"
    bbox_margin: float = 0.1
    bbox_threshold: float = 0.5
    bbox_fraction: float = 0.02
    quantiles: tuple[float, float] = (0.005, 0.995)
    normalize_scale: float = 0.226
    normalize_shift: float = 0.449
    threshold: float = 0.5
    largest_component_connectivity: int = 26
    fill_holes: bool = True
    n_dilate: int = 0

    def __post_init__(self) -> None:
        for name in ("bbox_shape", "shape", "quantiles"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.kind != "deepbet" or self.interpolation != "nearest-exact" \
                or self.largest_component_connectivity != 26:
            raise ModelError("manifest: this brain-extraction pipeline is not one Candor runs "
                             f"(kind {self.kind!r}, {self.interpolation}, connectivity "
                             f"{self.largest_component_connectivity})")
        if "/" in self.bbox_weights or "\\" in self.bbox_weights or self.bbox_weights.startswith("."):
            raise ModelError("manifest: bbox_weights must be a plain file name inside the package")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExtractionParams:
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ModelError(f"manifest: unknown brain-extraction pipeline keys {unknown}")
        return cls(**dict(d))


@dataclass(frozen=True)
class ExtractionModel:
    """The package's extraction network (its member), its bounding-box network and the parameters."""

    model: LoadedModel
    bbox_network: nn.Module
    params: ExtractionParams

    @property
    def network(self) -> nn.Module:
        return self.model.network

    @property
    def name(self) -> str:
        return self.model.name


def load_extraction_model(source: str | Path) -> ExtractionModel:
    """A brain-extraction package by name (``deepbet``, ``NAME@VERSION``) or folder, safetensors only."""
    model = load_model(source)
    manifest = model.manifest
    if manifest.task != TASK or "pipeline" not in manifest.training:
        raise ModelError(f"model {manifest.name!r} is not a brain-extraction model (task {manifest.task!r})")
    params = ExtractionParams.from_dict(manifest.training["pipeline"])
    bbox = build_network(manifest)
    state = read_state_dict(Path(model.path) / params.bbox_weights)
    check_state_dict(bbox, state, f"model {manifest.name!r} ({params.bbox_weights})")
    bbox.load_state_dict(state)
    bbox.eval()
    return ExtractionModel(model, bbox, params)
