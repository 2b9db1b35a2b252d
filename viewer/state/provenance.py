"""What a layer is and where it came from, as typed values (Qt-free).

Every layer has a :class:`Role` (the grey-scale image, an AI result that is never edited, a
person's correction of an AI result, labels a person drew from nothing, or a scalar heatmap) and a
:class:`LayerProvenance` (the model that made it: name, version, weights hash; the OOD verdict and
the trust record of that run). Both are fields of the layer with their own events
(``layer.events.role`` / ``layer.events.provenance``); autosave writes them with
:meth:`LayerProvenance.to_dict` and recovery restores them with :meth:`LayerProvenance.from_dict`.

Files and engine code still describe provenance in volume metadata keys (``model_name``,
``model_version``, ``provenance``, ``role``…): :func:`from_metadata` reads them once, when a layer
is made, and :meth:`LayerProvenance.export_provenance` turns the typed fields back into the
exporter's :class:`engine.export.options.Provenance`.
"""

from __future__ import annotations

import copy
import enum
from dataclasses import dataclass, replace
from typing import Any


class Role(str, enum.Enum):
    IMAGE = "image"
    AI = "ai"                   # a model's label map, shown as is, never edited
    CORRECTED = "corrected"     # an editable copy of an AI result
    MANUAL = "manual"           # labels a person drew (or imported without a model)
    HEATMAP = "heatmap"         # a scalar map: uncertainty, saliency, probability

    @property
    def editable(self) -> bool:
        return self in (Role.CORRECTED, Role.MANUAL)


@dataclass(frozen=True)
class LayerProvenance:
    """The model behind a layer and the verdicts of that run (all ``None``/``False`` if none)."""

    model_name: str | None = None
    model_version: str | None = None
    weights_hash: str | None = None
    ood_flag: bool = False                          # the input check flagged this run
    ood: dict[str, Any] | None = None               # the OOD verdict (``OODReport.to_dict()``)
    trust: dict[str, Any] | None = None             # the run's trust record

    @property
    def has_model(self) -> bool:
        return bool(self.model_name)

    @property
    def model_label(self) -> str | None:
        """``NAME@VERSION`` (or just the name), as the correction queue records a model."""
        if not self.model_name:
            return None
        return f"{self.model_name}@{self.model_version}" if self.model_version else self.model_name

    def to_dict(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "model_version": self.model_version,
                "weights_hash": self.weights_hash, "ood_flag": self.ood_flag,
                "ood": copy.deepcopy(self.ood), "trust": copy.deepcopy(self.trust)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> LayerProvenance:
        d = d or {}
        return cls(_str(d.get("model_name")), _str(d.get("model_version")),
                   _str(d.get("weights_hash")), bool(d.get("ood_flag")),
                   copy.deepcopy(d.get("ood")), copy.deepcopy(d.get("trust")))

    def export_provenance(self, role: Role):
        """The exporter's provenance: AUTOMATIC for an AI result, SEMIAUTOMATIC for its
        correction (both naming the model), MANUAL without a model."""
        from engine.export.options import Provenance

        if not self.model_name or role not in (Role.AI, Role.CORRECTED):
            return Provenance("manual")
        kind = "ai" if role is Role.AI else "corrected"
        return Provenance(kind, self.model_name, self.model_version)

    def with_ood(self, flag: bool, verdict: dict[str, Any] | None = None) -> LayerProvenance:
        return replace(self, ood_flag=bool(flag), ood=copy.deepcopy(verdict))


def from_metadata(metadata: dict[str, Any]) -> LayerProvenance:
    """Provenance from volume metadata keys (files, the correction queue, older autosaves).

    Model: ``model_name``/``model_version`` or ``model``/``version`` (``model`` may be
    ``NAME@VERSION`` or ``{"name", "version"}``), else the trust record's ``model``.
    """
    name = metadata.get("model_name") or metadata.get("model")
    version = metadata.get("model_version") or metadata.get("version")
    trust = metadata.get("trust") if isinstance(metadata.get("trust"), dict) else None
    if not name and trust is not None:
        name = trust.get("model")
    if isinstance(name, dict):
        name, version = name.get("name"), name.get("version") or version
    if isinstance(name, str) and "@" in name and not version:
        name, _, version = name.partition("@")
    ood = metadata.get("ood") if isinstance(metadata.get("ood"), dict) else None
    if ood is None and trust is not None and isinstance(trust.get("ood"), dict):
        ood = trust["ood"]
    flag = bool(metadata.get("ood_flag")) or bool(ood and ood.get("flag"))
    return LayerProvenance(_str(name), _str(version), _str(metadata.get("weights_hash")), flag,
                           copy.deepcopy(ood), copy.deepcopy(trust))


def role_from_metadata(metadata: dict[str, Any], kind: str,
                       provenance: LayerProvenance) -> Role:
    """The role a layer made from ``metadata`` has (``kind``: image, labels or heatmap)."""
    if kind == "image":
        return Role.IMAGE
    if kind == "heatmap":
        return Role.HEATMAP
    stated = metadata.get("provenance") or metadata.get("role")
    if stated in ("corrected", "manual", "ai"):
        role = Role(stated)
    elif metadata.get("edited"):
        role = Role.CORRECTED
    else:
        role = Role.AI if provenance.has_model else Role.MANUAL
    if role in (Role.AI, Role.CORRECTED) and not provenance.has_model:
        return Role.MANUAL
    return role


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
