"""Measurements a reader makes on an image: distance, angle, ellipse/rectangle ROI, 3D label ROI.

Conventions (those of :mod:`engine.volume`):

* **Points** are continuous ``(i, j, k)`` voxel indices (``0.0`` = the centre of the first voxel),
  the space a view's mouse position maps to; every length goes through the geometry's spacing
  *and* direction (:meth:`engine.volume.Geometry.index_to_physical`), so anisotropic and oblique
  grids are measured in true millimetres.
* **Plane ROIs** lie in one slice of an index axis: ``axis`` 0, 1 or 2 is the ``i``, ``j`` or
  ``k`` index held constant (``k`` = the acquired slices, NumPy array axis 0; in general the
  NumPy axis is ``2 - axis``). The ROI is the box spanned by two corner points in that slice, or
  the ellipse inscribed in it; a pixel belongs to it when its *centre* lies inside (on the edge
  counts). ``area_mm2`` is the pixels counted × one pixel's area (the two in-plane spacings).
* **Statistics** are of the image's values as stored in the :class:`Volume`: DICOM rescale slope
  and intercept are already applied at load, so a CT reads in HU (:func:`value_unit`). ``sd`` is
  the sample standard deviation (n − 1; 0 for a single voxel); ``median`` is NumPy's.
* **Volumes** come from :func:`engine.labels.volume_ml`, the one place voxels become mL.

Every measurement is a frozen :class:`Measurement` that serialises to and from JSON
(:meth:`Measurement.to_dict`, :func:`dumps`, :func:`loads`) for crash recovery and reports.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from engine.errors import InputError
from engine.labels import volume_ml
from engine.volume import Geometry, Volume

_Point = tuple[float, float, float]

#: Measurement kinds and the unit of their ``value``.
KINDS = {"distance": "mm", "angle": "deg", "rectangle": "mm2", "ellipse": "mm2", "label": "mL"}


@dataclass(frozen=True)
class RoiStats:
    """Intensity statistics of the voxels inside an ROI (``unit``: ``"HU"`` for CT, else ``""``)."""

    voxels: int
    mean: float
    sd: float
    min: float
    max: float
    median: float
    unit: str = ""
    area_mm2: float | None = None       # plane ROIs
    volume_ml: float | None = None      # 3D (label) ROIs


@dataclass(frozen=True)
class Measurement:
    """One measurement: what it is, where (index and LPS mm), and its value.

    ``value`` is the length (mm), the angle (degrees), the ROI's area (mm²) or the label's volume
    (mL), in ``unit`` (:data:`KINDS`); ROIs also carry :class:`RoiStats`. ``axis`` and ``slice``
    say which plane a plane ROI lies in; ``label`` is the label id of a 3D ROI.
    """

    kind: str
    name: str
    points_ijk: tuple[_Point, ...]
    points_lps: tuple[_Point, ...]
    value: float
    unit: str
    stats: RoiStats | None = None
    axis: int | None = None
    slice: int | None = None
    label: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"unknown measurement kind {self.kind!r} (known: {', '.join(KINDS)})")

    def renamed(self, name: str) -> Measurement:
        return replace(self, name=name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (lists for tuples, ``None`` for absent fields)."""
        d = asdict(self)
        d["points_ijk"] = [list(p) for p in self.points_ijk]
        d["points_lps"] = [list(p) for p in self.points_lps]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Measurement:
        try:
            stats = d.get("stats")
            return cls(
                kind=str(d["kind"]), name=str(d["name"]),
                points_ijk=tuple(_point(p) for p in d["points_ijk"]),
                points_lps=tuple(_point(p) for p in d["points_lps"]),
                value=float(d["value"]), unit=str(d["unit"]),
                stats=None if stats is None else RoiStats(**stats),
                axis=d.get("axis"), slice=d.get("slice"), label=d.get("label"))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"a stored measurement is malformed: {exc}") from None


def dumps(measurements: list[Measurement]) -> str:
    """A JSON document of ``measurements`` (:func:`loads` reads it back equal)."""
    return json.dumps({"measurements": [m.to_dict() for m in measurements]}, indent=1)


def loads(text: str) -> list[Measurement]:
    try:
        items = json.loads(text)["measurements"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"the measurements file is malformed: {exc}") from None
    return [Measurement.from_dict(d) for d in items]


def _point(p: Any) -> _Point:
    x, y, z = (float(v) for v in p)
    return (x, y, z)


def _points(geometry: Geometry, points: list[Any]) -> tuple[tuple[_Point, ...], tuple[_Point, ...]]:
    ijk = np.asarray(points, dtype=np.float64)
    if ijk.ndim != 2 or ijk.shape[1] != 3 or not np.all(np.isfinite(ijk)):
        raise InputError("a measurement point needs three finite (i, j, k) coordinates")
    lps = geometry.index_to_physical(ijk)
    return tuple(_point(p) for p in ijk), tuple(_point(p) for p in lps)


# Lines ------------------------------------------------------------------------------------------

def distance(geometry: Geometry, a: Any, b: Any, name: str = "") -> Measurement:
    """The distance in mm between two ``(i, j, k)`` points on ``geometry`` (a ruler)."""
    ijk, lps = _points(geometry, [a, b])
    mm = float(np.linalg.norm(np.subtract(lps[1], lps[0])))
    return Measurement("distance", name or "Distance", ijk, lps, mm, "mm")


def angle(geometry: Geometry, a: Any, vertex: Any, b: Any, name: str = "") -> Measurement:
    """The angle in degrees at ``vertex`` between the rays to ``a`` and ``b`` (0 … 180)."""
    ijk, lps = _points(geometry, [a, vertex, b])
    u = np.subtract(lps[0], lps[1])
    v = np.subtract(lps[2], lps[1])
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu == 0 or nv == 0:
        raise InputError("an angle needs its two end points away from the vertex")
    cos = float(np.clip(np.dot(u, v) / (nu * nv), -1.0, 1.0))
    return Measurement("angle", name or "Angle", ijk, lps, math.degrees(math.acos(cos)), "deg")


# Plane ROIs -------------------------------------------------------------------------------------

def value_unit(image: Volume) -> str:
    """``"HU"`` for CT (and any series whose rescale type says HU), else ``""`` (scanner units)."""
    kind = str(image.metadata.get("rescale_type") or "")
    return "HU" if kind.upper() == "HU" or (not kind and image.modality == "CT") else ""


def plane_roi(image: Volume, axis: int, a: Any, b: Any, *, shape: str = "rectangle",
              name: str = "") -> Measurement:
    """Statistics of the box (``shape="rectangle"``) or the ellipse inscribed in it
    (``"ellipse"``) spanned by the corner points ``a`` and ``b`` in the slice of index ``axis``.

    The slice is ``round(a[axis])``; ``b[axis]`` is ignored (set to the same slice). Raises
    :class:`InputError` for a shape or axis outside these, a slice outside the image, or an ROI
    that holds no pixel centre.
    """
    if shape not in ("rectangle", "ellipse"):
        raise InputError(f"an ROI is a 'rectangle' or an 'ellipse', not {shape!r}")
    if axis not in (0, 1, 2):
        raise InputError(f"the ROI's plane axis must be 0 (i), 1 (j) or 2 (k), got {axis}")
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64).copy()
    s = int(round(float(a[axis])))
    if not 0 <= s < image.size[axis]:
        raise InputError(f"slice {s} is outside the image (0 … {image.size[axis] - 1})")
    b[axis] = a[axis] = s
    inside, plane = _plane_mask(image, axis, a, b, shape)
    values = plane[inside]
    if values.size == 0:
        raise InputError("the ROI holds no voxel centre; draw it larger")
    in_plane = [image.spacing[d] for d in range(3) if d != axis]
    area = float(values.size) * in_plane[0] * in_plane[1]
    stats = _stats(values, value_unit(image), area_mm2=area)
    ijk, lps = _points(image.geometry, [a, b])
    return Measurement(shape, name or shape.capitalize(), ijk, lps, area, "mm2", stats=stats,
                       axis=axis, slice=s)


def _plane_mask(image: Volume, axis: int, a: np.ndarray, b: np.ndarray,
                shape: str) -> tuple[np.ndarray, np.ndarray]:
    """The slice as a 2-D array indexed by the two other index axes (ascending), and the ROI mask."""
    u_axis, v_axis = (d for d in range(3) if d != axis)
    plane = np.take(image.array, int(a[axis]), axis=2 - axis)   # NumPy axes run k, j, i
    plane = plane.T                                              # → [u, v] with u < v in (i, j, k)
    u = np.arange(plane.shape[0], dtype=np.float64)[:, None]
    v = np.arange(plane.shape[1], dtype=np.float64)[None, :]
    lo_u, hi_u = sorted((a[u_axis], b[u_axis]))
    lo_v, hi_v = sorted((a[v_axis], b[v_axis]))
    if shape == "rectangle":
        inside = (u >= lo_u) & (u <= hi_u) & (v >= lo_v) & (v <= hi_v)
    else:
        cu, cv = (lo_u + hi_u) / 2, (lo_v + hi_v) / 2
        ru, rv = (hi_u - lo_u) / 2, (hi_v - lo_v) / 2
        if ru == 0 or rv == 0:
            raise InputError("the ROI holds no voxel centre; draw it larger")
        inside = ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 <= 1.0 + 1e-12
    return inside, plane


def _stats(values: np.ndarray, unit: str, **extent: float) -> RoiStats:
    v = values.astype(np.float64, copy=False)
    sd = float(np.std(v, ddof=1)) if v.size > 1 else 0.0
    return RoiStats(voxels=int(v.size), mean=float(v.mean()), sd=sd, min=float(v.min()),
                    max=float(v.max()), median=float(np.median(v)), unit=unit, **extent)


# 3D ROI from a label ----------------------------------------------------------------------------

def label_roi(image: Volume, labels: Volume, label: int, name: str = "") -> Measurement:
    """Voxels, volume (mL) and intensity statistics of ``image`` inside ``label`` of ``labels``.

    ``labels`` must be on the image's grid. The points are the label's bounding-box corners
    (voxel centres), so a viewer can jump to it. Raises :class:`InputError` for another grid or
    a label with no voxel.
    """
    if not labels.geometry.is_close(image.geometry):
        raise InputError("the label map is not on the image's grid; resample it first")
    inside = labels.array == label
    count = int(np.count_nonzero(inside))
    if count == 0:
        raise InputError(f"label {label} has no voxel in this label map")
    ml = volume_ml(count, image.geometry.voxel_volume_ml)
    stats = _stats(image.array[inside], value_unit(image), volume_ml=ml)
    k, j, i = np.nonzero(inside)
    corners = [(i.min(), j.min(), k.min()), (i.max(), j.max(), k.max())]
    ijk, lps = _points(image.geometry, corners)
    return Measurement("label", name or f"Label {label}", ijk, lps, ml, "mL", stats=stats,
                       label=int(label))
