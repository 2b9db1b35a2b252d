"""What a folder scan finds: studies → series (image stacks) → files, plus what it skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.io.headers import SliceHeader


@dataclass(frozen=True)
class Skipped:
    """A file the scan did not use, and the plain reason why."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass
class SeriesInfo:
    """One loadable image stack (a series, or one stack of a series that had to be split).

    ``series_uid`` is the DICOM SeriesInstanceUID, with ``#2``, ``#3``… appended to the stacks
    after the first when one series held several stacks; ``load(path, series_uid)`` takes it as is.
    ``kind`` is ``"image"``, ``"localizer"`` or ``"segmentation"``.
    """

    series_uid: str
    study_uid: str
    modality: str
    description: str
    headers: list[SliceHeader]
    size: tuple[int, int, int]
    kind: str = "image"
    series_number: int | None = None
    warnings: list[str] = field(default_factory=list)
    segmentations: list[SeriesInfo] = field(default_factory=list)
    referenced_series: list[str] = field(default_factory=list)

    @property
    def dicom_series_uid(self) -> str:
        return self.series_uid.split("#", 1)[0]

    @property
    def files(self) -> list[str]:
        return [h.path for h in self.headers]

    @property
    def n_files(self) -> int:
        return len({h.path for h in self.headers})

    @property
    def n_voxels(self) -> int:
        return self.size[0] * self.size[1] * self.size[2]

    def to_dict(self) -> dict[str, Any]:
        """The ``candor scan --json`` record."""
        return {
            "series_uid": self.series_uid,
            "study_uid": self.study_uid,
            "modality": self.modality,
            "description": self.description,
            "n_files": self.n_files,
            "size": list(self.size),
            "warnings": list(self.warnings),
        }


@dataclass
class StudyInfo:
    study_uid: str
    description: str
    series: list[SeriesInfo] = field(default_factory=list)
    localizers: list[SeriesInfo] = field(default_factory=list)


@dataclass
class ScanResult:
    """Everything a scan found under ``root``."""

    root: str
    studies: list[StudyInfo] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def series(self) -> list[SeriesInfo]:
        """Every image stack (localizers last), in study order."""
        images = [s for st in self.studies for s in st.series]
        return images + [s for st in self.studies for s in st.localizers]

    @property
    def segmentations(self) -> list[SeriesInfo]:
        return [g for s in self.series for g in s.segmentations]

    def find(self, series_uid: str) -> SeriesInfo | None:
        """The stack with this UID; a bare UID of a split series gives its first stack."""
        for s in self.series:
            if s.series_uid == series_uid:
                return s
        for s in self.series:
            if s.dicom_series_uid == series_uid:
                return s
        return None

    def largest(self) -> SeriesInfo | None:
        """The image stack with the most voxels (localizers only if nothing else)."""
        images = [s for st in self.studies for s in st.series] or self.series
        return max(images, key=lambda s: (s.n_voxels, s.n_files), default=None)

    def to_dict(self) -> dict[str, Any]:
        """The ``candor scan --json`` document."""
        return {"series": [s.to_dict() for s in self.series],
                "skipped": [k.to_dict() for k in self.skipped]}
