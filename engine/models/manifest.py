"""The model manifest: a typed, frozen description of a model package, parsed from ``manifest.json``.

Everything the engine needs to run a model the way it was trained lives here (input channels,
target spacing, intensity normalisation, labels, architecture and its parameters, patch size,
ensemble members), plus what the trust layer needs to judge an input (training-data fingerprint,
validation metrics, and the ``trust`` section of calibrated temperature and OOD thresholds: kept as
written in ``trust`` and parsed, validated once, into the typed :class:`TrustCalibration` at
``manifest.trust_calibration``, the only way the engine reads it).
See ``docs/MODEL_FORMAT.md`` for the file format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from engine.errors import ModelError
from engine.labels import LabelTable
from engine.models.trust_calibration import TrustCalibration

FORMAT_VERSION = 1
NORMALIZATIONS = ("percentile_zscore", "ct_window")


def _frozen(d: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(d or {}))


def _triple(value: Any, what: str, cast=float) -> tuple:
    try:
        out = tuple(cast(v) for v in value)
    except (TypeError, ValueError):
        raise ModelError(f"manifest: {what} must be three numbers, got {value!r}") from None
    if len(out) != 3 or any(v <= 0 for v in out):
        raise ModelError(f"manifest: {what} must be three positive numbers, got {value!r}")
    return out


@dataclass(frozen=True)
class Normalization:
    """How raw intensities become network inputs.

    ``percentile_zscore`` (MR): clip to the ``[lower, upper]`` percentiles of the foreground
    (voxels above ``foreground_fraction`` × the upper percentile of the whole volume), then
    subtract the mean and divide by the standard deviation of the clipped foreground.
    ``upper_headroom`` raises only the clip of the image (not the statistics) by that fraction of
    ``upper - lower``, so structures brighter than any normal tissue (hyper-intense lesions) stay
    brighter than the brightest white matter instead of being flattened onto it; 0 clips at the
    percentile itself.
    ``ct_window`` (CT): clip Hounsfield units to ``[hu_min, hu_max]`` and scale to ``[0, 1]``.
    """

    kind: str = "percentile_zscore"
    lower_percentile: float = 0.5
    upper_percentile: float = 99.5
    foreground_fraction: float = 0.1
    upper_headroom: float = 0.0
    hu_min: float = -1000.0
    hu_max: float = 1000.0

    def __post_init__(self) -> None:
        if self.kind not in NORMALIZATIONS:
            raise ModelError(f"manifest: unknown normalisation {self.kind!r} (known: {', '.join(NORMALIZATIONS)})")
        if not 0 <= self.lower_percentile < self.upper_percentile <= 100:
            raise ModelError("manifest: normalisation percentiles must satisfy 0 <= lower < upper <= 100")
        if not 0 <= self.upper_headroom <= 10:
            raise ModelError("manifest: normalisation upper_headroom must be in 0..10")
        if self.hu_min >= self.hu_max:
            raise ModelError("manifest: normalisation hu_min must be below hu_max")


@dataclass(frozen=True)
class Architecture:
    """Registered architecture name plus its constructor parameters (see ``engine.models.registry``)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))


@dataclass(frozen=True)
class Fingerprint:
    """What the training data looked like: spacing range and intensity statistics.

    ``intensity_raw`` holds statistics of the raw foreground intensities, ``intensity_normalized``
    the same after normalisation (keys such as ``mean``, ``std``, ``p01`` … ``p99``).
    """

    spacing_min: tuple[float, float, float] = (1.0, 1.0, 1.0)
    spacing_max: tuple[float, float, float] = (1.0, 1.0, 1.0)
    intensity_raw: Mapping[str, float] = field(default_factory=dict)
    intensity_normalized: Mapping[str, float] = field(default_factory=dict)
    cases: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "spacing_min", _triple(self.spacing_min, "fingerprint.spacing_min"))
        object.__setattr__(self, "spacing_max", _triple(self.spacing_max, "fingerprint.spacing_max"))
        object.__setattr__(self, "intensity_raw", _frozen(self.intensity_raw))
        object.__setattr__(self, "intensity_normalized", _frozen(self.intensity_normalized))


@dataclass(frozen=True)
class InferenceSettings:
    """Sliding-window settings the model was validated with."""

    overlap: float = 0.5
    sigma_scale: float = 0.125
    batch_size: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.overlap < 1:
            raise ModelError("manifest: inference.overlap must be in [0, 1)")
        if self.batch_size < 1:
            raise ModelError("manifest: inference.batch_size must be at least 1")


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    task: str
    modality: str
    labels: LabelTable
    architecture: Architecture
    target_spacing: tuple[float, float, float]  # (x, y, z) = (i, j, k) mm, like Geometry.spacing
    patch_size: tuple[int, int, int]  # array order (z, y, x)
    input_channels: int = 1
    body_part: str = ""
    parent_version: str | None = None
    description: str = ""
    normalization: Normalization = field(default_factory=Normalization)
    inference: InferenceSettings = field(default_factory=InferenceSettings)
    members: tuple[str, ...] = ("weights.safetensors",)
    fingerprint: Fingerprint = field(default_factory=Fingerprint)
    validation: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)
    trust: Mapping[str, Any] = field(default_factory=dict)
    license: str = ""
    format_version: int = FORMAT_VERSION
    adapter: Mapping[str, Any] = field(default_factory=dict)   # a third-party format's settings (nnU-Net v2)
    trust_calibration: TrustCalibration = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("name", "version", "task", "modality"):
            if not str(getattr(self, name) or "").strip():
                raise ModelError(f"manifest: {name} is required")
        object.__setattr__(self, "target_spacing", _triple(self.target_spacing, "target_spacing"))
        object.__setattr__(self, "patch_size", _triple(self.patch_size, "patch_size", int))
        object.__setattr__(self, "members", tuple(str(m) for m in self.members))
        if not self.members:
            raise ModelError("manifest: members must list at least one weights file")
        for m in self.members:
            if "/" in m or "\\" in m or m.startswith("."):
                raise ModelError(f"manifest: member {m!r} must be a plain file name inside the package")
        if self.input_channels < 1:
            raise ModelError("manifest: input_channels must be at least 1")
        ids = [label.id for label in self.labels]
        if ids != list(range(1, len(ids) + 1)):
            raise ModelError(f"manifest: label ids must be 1..N without gaps (output channel = id), got {ids}")
        for name in ("validation", "training", "trust", "adapter"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        if self.adapter:
            from engine.models.nnunet import NnUNetAdapter

            NnUNetAdapter.from_dict(self.adapter)   # validated once: a bad adapter fails at load
        object.__setattr__(self, "trust_calibration", TrustCalibration.from_dict(self.trust))
        if self.format_version > FORMAT_VERSION:
            raise ModelError(f"manifest format {self.format_version} is newer than this Candor understands "
                             f"({FORMAT_VERSION}); update Candor")

    @property
    def num_classes(self) -> int:
        """Network output channels: background plus one per label."""
        return len(self.labels) + 1

    def evolve(self, **changes: Any) -> Manifest:
        """A copy with some fields changed (e.g. a fine-tuned version with ``parent_version``)."""
        return replace(self, **changes)

    # JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "name": self.name,
            "version": self.version,
            "parent_version": self.parent_version,
            "description": self.description,
            "task": self.task,
            "modality": self.modality,
            "body_part": self.body_part,
            "input_channels": self.input_channels,
            "target_spacing": list(self.target_spacing),
            "patch_size": list(self.patch_size),
            "normalization": _plain(self.normalization),
            "labels": self.labels.to_list(),
            "architecture": {"name": self.architecture.name, "params": _jsonable(self.architecture.params)},
            "inference": _plain(self.inference),
            "members": list(self.members),
            "fingerprint": _jsonable(_plain(self.fingerprint)),
            "validation": _jsonable(self.validation),
            "training": _jsonable(self.training),
            "trust": _jsonable(self.trust),
            "license": self.license,
            **({"adapter": _jsonable(self.adapter)} if self.adapter else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Manifest:
        if not isinstance(d, Mapping):
            raise ModelError("manifest: the top level must be a JSON object")
        try:
            arch = d["architecture"]
            return cls(
                name=str(d["name"]), version=str(d["version"]), task=str(d["task"]),
                modality=str(d["modality"]), labels=LabelTable.from_list(list(d["labels"])),
                architecture=Architecture(str(arch["name"]), dict(arch.get("params") or {})),
                target_spacing=d["target_spacing"], patch_size=d["patch_size"],
                input_channels=int(d.get("input_channels", 1)), body_part=str(d.get("body_part", "")),
                parent_version=d.get("parent_version"), description=str(d.get("description", "")),
                normalization=_build(Normalization, d.get("normalization")),
                inference=_build(InferenceSettings, d.get("inference")),
                members=tuple(d.get("members") or ("weights.safetensors",)),
                fingerprint=_build(Fingerprint, d.get("fingerprint")),
                validation=d.get("validation") or {}, training=d.get("training") or {},
                trust=d.get("trust") or {}, license=str(d.get("license", "")),
                format_version=int(d.get("format_version", FORMAT_VERSION)),
                adapter=d.get("adapter") or {},
            )
        except ModelError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"manifest is malformed: {type(exc).__name__}: {exc}") from None


def _build(kind, value: Any):
    if value is None:
        return kind()
    if not isinstance(value, Mapping):
        raise ModelError(f"manifest: {kind.__name__.lower()} must be a JSON object")
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ModelError(f"manifest: unknown {kind.__name__.lower()} keys {unknown}")
    return kind(**dict(value))


def _plain(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # NumPy / torch scalars
        return value.item()
    return value


def load_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"cannot read the model manifest {path.name}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"the model manifest {path.name} is not valid JSON (line {exc.lineno})") from None
    return Manifest.from_dict(data)


def save_manifest(manifest: Manifest, path: str | Path) -> None:
    Path(path).write_text(json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8")
