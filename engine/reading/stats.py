"""Statistics of every label of a label map on an image: voxels, mL, mean/SD/min/max intensity.

The label map must be on the image's grid (as for :func:`engine.reading.lesion_table`).
Intensities are the image's values as stored in the :class:`~engine.volume.Volume` (DICOM rescale
already applied: HU for CT, :func:`engine.reading.measure.value_unit`); ``sd`` is the sample
standard deviation (n − 1; 0 for a single voxel), as in :mod:`engine.reading.measure`. Volumes
come from :func:`engine.labels.volume_ml`. Every label of the table is listed, and every other
non-zero id present in the map (named ``label N``); a label with no voxel has ``None`` statistics.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.labels import LabelTable, label_counts, volume_ml
from engine.reading.measure import value_unit
from engine.volume import Volume


@dataclass(frozen=True)
class LabelStats:
    """One label's size and intensity statistics (``unit``: ``"HU"`` for CT, else ``""``)."""

    id: int
    name: str
    voxels: int
    volume_ml: float
    mean: float | None
    sd: float | None
    min: float | None
    max: float | None
    unit: str

    def to_dict(self) -> dict:
        return asdict(self)


def label_stats(image: Volume, labels: Volume, table: LabelTable | None = None) -> list[LabelStats]:
    """One :class:`LabelStats` per label (ascending id); see the module doc."""
    if not labels.geometry.is_close(image.geometry):
        raise InputError("the mask is not on the image's grid (size, spacing, origin or "
                         "direction differ); give the image the mask was drawn on")
    table = table or LabelTable()
    lab = np.asarray(labels.array)
    if lab.dtype.kind not in "iub":
        if not np.all(np.equal(np.mod(lab, 1), 0)):
            raise InputError("the mask holds fractional values; give a label map (integer ids)")
        lab = lab.astype(np.int64)
    top = max([info.id for info in table] + [int(lab.max()) if lab.size else 0])
    counts = label_counts(lab, top)
    ids = sorted({info.id for info in table} | {int(i) for i in np.nonzero(counts)[0] if i > 0})
    moments = _moments(np.asarray(image.array, dtype=np.float64), lab, counts)
    unit = value_unit(image)
    out = []
    for i in ids:
        name = table.get(i).name if i in table else f"label {i}"
        n = int(counts[i]) if i < counts.size else 0
        stats = moments.get(i, (None, None, None, None))
        out.append(LabelStats(i, name, n, volume_ml(n, image.geometry.voxel_volume_ml), *stats, unit))
    return out


def _moments(values: np.ndarray, lab: np.ndarray, counts: np.ndarray) -> dict:
    """``{id: (mean, sd, min, max)}`` for the ids present, in two passes (stable SD)."""
    from scipy import ndimage

    flat, v = lab.ravel().astype(np.intp, copy=False), values.ravel()
    present = [int(i) for i in np.nonzero(counts)[0] if i > 0]
    if not present:
        return {}
    n = counts.astype(np.float64)
    mean = np.bincount(flat, weights=v, minlength=counts.size) / np.maximum(n, 1)
    sq = np.bincount(flat, weights=(v - mean[flat]) ** 2, minlength=counts.size)
    lo = ndimage.minimum(values, lab, present)
    hi = ndimage.maximum(values, lab, present)
    out = {}
    for i, a, b in zip(present, lo, hi):
        sd = float(np.sqrt(sq[i] / (n[i] - 1))) if n[i] > 1 else 0.0
        out[i] = (float(mean[i]), sd, float(a), float(b))
    return out


COLUMNS = [f.name for f in fields(LabelStats)]


def to_csv(rows: list[LabelStats]) -> str:
    """The rows as CSV text (header = :data:`COLUMNS`; empty cells for absent statistics)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in r.to_dict().items()})
    return buf.getvalue()


def write_csv(rows: list[LabelStats], path: str | Path) -> Path:
    path = Path(path)
    try:
        path.write_text(to_csv(rows), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {path.name}: {exc.strerror or exc}") from None
    return path
