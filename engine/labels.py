"""Label tables: what each integer of a label map means (id, name, colour).

Names and colours travel with the mask everywhere: model manifests, the viewer's layers panel,
NRRD headers 3D Slicer reads, JSON sidecars of NIfTI exports, DICOM SEG segment descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import InputError

#: Colours for labels that come without one (distinct, readable on grey images).
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
)


@dataclass(frozen=True)
class LabelInfo:
    id: int
    name: str
    color: tuple[int, int, int]

    def __post_init__(self) -> None:
        if not 0 < int(self.id) < 65536:
            raise InputError(f"label ids must be in 1..65535 (0 is background), got {self.id}")
        if len(self.color) != 3 or any(not 0 <= int(c) <= 255 for c in self.color):
            raise InputError(f"label colour must be three 0-255 values, got {self.color}")
        object.__setattr__(self, "id", int(self.id))
        object.__setattr__(self, "color", tuple(int(c) for c in self.color))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "color": list(self.color)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LabelInfo:
        try:
            return cls(int(d["id"]), str(d["name"]), tuple(d.get("color") or default_color(int(d["id"]))))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed label entry {d!r}: {exc}") from None


def default_color(label_id: int) -> tuple[int, int, int]:
    return PALETTE[(label_id - 1) % len(PALETTE)]


class LabelTable:
    """Ordered labels of one label map (background 0 is implicit)."""

    def __init__(self, labels: list[LabelInfo] | None = None) -> None:
        self._labels: dict[int, LabelInfo] = {}
        for info in labels or []:
            if info.id in self._labels:
                raise InputError(f"label id {info.id} appears twice")
            self._labels[info.id] = info

    def __iter__(self):
        return iter(sorted(self._labels.values(), key=lambda l: l.id))

    def __len__(self) -> int:
        return len(self._labels)

    def __contains__(self, label_id: object) -> bool:
        return label_id in self._labels

    def __getitem__(self, label_id: int) -> LabelInfo:
        return self._labels[label_id]

    def get(self, label_id: int) -> LabelInfo:
        """The label, or a generic one ("Label 7") for ids the table does not name."""
        return self._labels.get(label_id) or LabelInfo(label_id, f"Label {label_id}", default_color(label_id))

    def by_name(self, name: str) -> LabelInfo:
        for info in self._labels.values():
            if info.name.lower() == name.lower():
                return info
        raise InputError(f"no label named {name!r} (labels: {', '.join(l.name for l in self)})")

    def to_list(self) -> list[dict[str, Any]]:
        return [l.to_dict() for l in self]

    @classmethod
    def from_list(cls, items: list[dict[str, Any]]) -> LabelTable:
        return cls([LabelInfo.from_dict(d) for d in items])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelTable) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"LabelTable({[l.name for l in self]})"


# Label volumes: the one place a voxel count becomes millilitres -------------------------------

def label_counts(labels: np.ndarray, top: int = 0) -> np.ndarray:
    """Voxels per label id (index = id), at least ``top + 1`` entries; negative ids are refused."""
    arr = np.asarray(labels)
    if arr.size and arr.min() < 0:
        raise InputError("a label map holds negative label ids")
    return np.bincount(arr.ravel().astype(np.intp, copy=False), minlength=top + 1)


def volume_ml(voxels, voxel_ml: float):
    """``voxels`` voxels of ``voxel_ml`` mL each, in mL (``Geometry.voxel_volume_ml``).

    A count gives a float; an array of counts (e.g. connected-component sizes) an array.
    """
    out = np.multiply(voxels, float(voxel_ml), dtype=np.float64)
    return float(out) if np.ndim(out) == 0 else out


def label_report(labels: np.ndarray, table: LabelTable, voxel_ml: float,
                 counts: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Per label of ``table``: id, name, colour, voxels and mL (rounded to µL), JSON-ready.

    The report the CLI writes, the viewer's status line and the analysis result all come from
    here; pass ``counts`` (from :func:`label_counts` or a running counter) to skip the count.
    """
    top = max((info.id for info in table), default=0)
    if counts is None:
        counts = label_counts(labels, top)
    out = []
    for info in table:
        n = int(counts[info.id]) if info.id < counts.size else 0
        out.append({"id": info.id, "name": info.name, "color": list(info.color), "voxels": n,
                    "volume_ml": round(volume_ml(n, voxel_ml), 3)})
    return out
