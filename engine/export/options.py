"""What an export is asked to do (options) and what it did (result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InputError

#: Output kinds by file name ending.
FORMATS = {".nii.gz": "nifti", ".nii": "nifti", ".nrrd": "nrrd", ".dcm": "seg"}
SEG_TYPES = ("BINARY", "FRACTIONAL")
PROVENANCE_KINDS = ("ai", "corrected", "manual")


def format_of(path: str | Path) -> str:
    """``nifti``, ``nrrd`` or ``seg`` from the output file name; refuses anything else."""
    name = Path(path).name.lower()
    for ending, kind in FORMATS.items():
        if name.endswith(ending):
            return kind
    raise InputError(f"cannot tell the export format from {Path(path).name!r}: the name must end "
                     "in .nii.gz, .nii, .nrrd or .dcm (DICOM SEG)")


@dataclass(frozen=True)
class Provenance:
    """Who made the segments: an AI model as is, an AI result corrected by a person, or a person.

    Read from a label volume's metadata keys ``model_name``, ``model_version`` and ``edited``
    (``True`` once a person changed the AI's result) or ``provenance`` (one of
    :data:`PROVENANCE_KINDS`).
    """

    kind: str = "manual"
    model_name: str | None = None
    model_version: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in PROVENANCE_KINDS:
            raise InputError(f"provenance must be one of {', '.join(PROVENANCE_KINDS)}")
        if self.kind == "ai" and not self.model_name:
            raise InputError("an AI-made mask needs the model's name for the export")

    @property
    def algorithm_type(self) -> str:
        """DICOM Segment Algorithm Type."""
        return {"ai": "AUTOMATIC", "corrected": "SEMIAUTOMATIC", "manual": "MANUAL"}[self.kind]

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> Provenance:
        """Provenance from a label volume's metadata.

        Model: ``model_name``/``model_version`` or ``model``/``version`` (``model`` may be
        ``NAME@VERSION``). Corrected: ``edited`` true or ``role == "corrected"`` (the viewer's
        editable layers). An explicit ``provenance`` key wins.
        """
        name = metadata.get("model_name") or metadata.get("model")
        version = metadata.get("model_version") or metadata.get("version")
        if isinstance(name, str) and "@" in name and not version:
            name, _, version = name.partition("@")
        kind = metadata.get("provenance")
        if kind not in PROVENANCE_KINDS:
            edited = bool(metadata.get("edited")) or metadata.get("role") == "corrected"
            kind = ("corrected" if edited else "ai") if name else "manual"
        if kind in ("ai", "corrected") and not name:
            kind = "manual"
        return cls(kind, str(name) if name else None, str(version) if version else None)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "algorithm_type": self.algorithm_type,
                "model_name": self.model_name, "model_version": self.model_version}


@dataclass(frozen=True)
class ExportOptions:
    """Choices of one export.

    ``labels``: label ids to export (``None``: every label present in the mask). ``seg_type``:
    BINARY or FRACTIONAL (DICOM SEG only). ``deidentify``: PS3.15 basic profile on the SEG and on
    any exported DICOM image (``pseudonym`` becomes PatientName/PatientID); the default keeps the
    reference study's identifiers, as the PACS needs. ``include_image``: also write the reference
    image (NIfTI/NRRD beside the mask; for a SEG, the referenced DICOM series in ``<name>_images/``,
    always written when de-identifying since the SEG then references the new image UIDs).
    """

    labels: tuple[int, ...] | None = None
    seg_type: str = "BINARY"
    deidentify: bool = False
    pseudonym: str | None = None
    include_image: bool = False
    provenance: Provenance | None = None
    series_description: str = "Candor segmentation"
    series_number: int = 901

    def __post_init__(self) -> None:
        object.__setattr__(self, "seg_type", self.seg_type.upper())
        if self.seg_type not in SEG_TYPES:
            raise InputError(f"segmentation type must be BINARY or FRACTIONAL, got {self.seg_type}")
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(int(v) for v in self.labels))


@dataclass
class ExportResult:
    """Files written (final paths), labels exported, and plain-language warnings."""

    path: Path
    format: str
    labels: list[int]
    extra_paths: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": self.format, "labels": self.labels,
                "extra_paths": [str(p) for p in self.extra_paths], "warnings": self.warnings}
