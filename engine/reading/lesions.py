"""The lesion table: one row per connected component of a label, as a radiologist reports it.

Conventions (those of :mod:`engine.volume`):

* **Connectivity** is 6 (faces) or 26 (faces, edges and corners), on the voxel grid
  (:func:`scipy.ndimage.label`); the default 26 joins diagonally touching voxels.
* **Axial** means the slice planes of the volume's k axis (the third index, ``array[k]``): on an
  axial acquisition these are the patient's axial planes; on a sagittal or coronal one they are
  the acquired slices, which is where a reader measures.
* **Diameters** follow RECIST 1.1 / WHO: the longest in-plane diameter, in the axial slice where
  it is largest, and the longest diameter perpendicular to it in that same slice. Both are
  measured on the convex hull of the corners of the component's pixels in that slice (a pixel
  covers ±½ voxel around its centre, so a box of n×m pixels measures n·Δi × m·Δj), with every
  corner mapped through the geometry's spacing and direction to millimetres, so anisotropic and
  oblique grids are measured as they are. The perpendicular is the longest chord of that hull at
  right angles to the longest diameter (for a concave lesion: of its hull).
* **Centroid** is the mean of the component's voxel centres, in LPS millimetres.
* **Volume** comes from :func:`engine.labels.volume_ml`, the one place voxels become mL.
* **Uncertainty / saliency** are the mean (and for uncertainty also the max) of a scalar map on
  the label map's own grid over the component's voxels; a map on another grid is refused.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from engine.errors import InputError
from engine.labels import volume_ml
from engine.volume import Geometry, Volume

#: The connectivities :func:`lesion_table` accepts, with their SciPy structuring-element rank.
CONNECTIVITIES = {6: 1, 26: 3}

_Point = tuple[float, float, float]


@dataclass(frozen=True)
class Lesion:
    """One connected component of a label (lengths in mm, volume in mL, positions in LPS mm)."""

    index: int                          # 1 = the largest component
    label: int
    voxels: int
    volume_ml: float
    long_diameter_mm: float             # longest axial diameter (RECIST)
    short_diameter_mm: float            # longest diameter perpendicular to it, same slice
    diameter_slice: int                 # k of the slice both diameters are measured in
    long_axis_lps: tuple[_Point, _Point]  # end points of the longest diameter
    centroid_lps: _Point
    slice_range: tuple[int, int]        # first and last k the component touches (inclusive)
    uncertainty_mean: float | None
    uncertainty_max: float | None
    saliency_mean: float | None
    small: bool                         # volume below the table's ``min_ml``: shown, but marked

    def to_dict(self) -> dict:
        """JSON-ready: lists for tuples; mL to 1 µL, mm to 0.01 mm, map values to 4 decimals."""
        d = asdict(self)
        d["volume_ml"] = round(self.volume_ml, 3)
        for key in ("long_diameter_mm", "short_diameter_mm"):
            d[key] = round(d[key], 2)
        d["long_axis_lps"] = [[round(v, 2) for v in p] for p in self.long_axis_lps]
        d["centroid_lps"] = [round(v, 2) for v in self.centroid_lps]
        d["slice_range"] = list(self.slice_range)
        for key in ("uncertainty_mean", "uncertainty_max", "saliency_mean"):
            d[key] = None if d[key] is None else round(d[key], 4)
        return d


def lesion_table(labels: Volume, label: int, *, connectivity: int = 26,
                 uncertainty: Volume | None = None, saliency: Volume | None = None,
                 min_ml: float = 0.01) -> list[Lesion]:
    """The connected components of ``label`` in ``labels``, largest first (see the module doc).

    ``uncertainty`` and ``saliency`` are scalar maps on the same grid as ``labels`` (for
    ``candor segment``'s uncertainty vector image: its epistemic component). Components under
    ``min_ml`` mL are kept with ``small=True``. Raises :class:`InputError` for a connectivity other
    than 6 or 26, a label id below 1, a negative ``min_ml`` or a map on another grid.
    """
    from scipy import ndimage

    if connectivity not in CONNECTIVITIES:
        raise InputError(f"connectivity must be 6 or 26 (voxel neighbours), got {connectivity}")
    if int(label) != label or label < 1:
        raise InputError(f"the label must be an id of 1 or more, got {label}")
    if not (math.isfinite(min_ml) and min_ml >= 0):
        raise InputError(f"the small-lesion threshold must be 0 mL or more, got {min_ml}")
    unc = _map_on_grid(uncertainty, labels, "uncertainty")
    sal = _map_on_grid(saliency, labels, "saliency")
    structure = ndimage.generate_binary_structure(3, CONNECTIVITIES[connectivity])
    components, n = ndimage.label(labels.array == label, structure=structure)
    if n == 0:
        return []
    ids = np.arange(1, n + 1)
    counts = np.bincount(components.ravel(), minlength=n + 1)[1:]
    stats = _map_stats(components, ids, unc, sal)
    boxes = ndimage.find_objects(components)
    centroids = _centroids(components, ids, labels.geometry)
    order = np.argsort(-counts, kind="stable")  # ties keep SciPy's raster order
    ml = volume_ml(counts, labels.geometry.voxel_volume_ml)
    rows = []
    for rank, c in enumerate(order, start=1):
        long_mm, short_mm, k, ends = _axial_diameters(components, int(ids[c]), boxes[c], labels.geometry)
        rows.append(Lesion(
            index=rank, label=int(label), voxels=int(counts[c]), volume_ml=float(ml[c]),
            long_diameter_mm=long_mm, short_diameter_mm=short_mm, diameter_slice=k,
            long_axis_lps=ends, centroid_lps=centroids[c],
            slice_range=(int(boxes[c][0].start), int(boxes[c][0].stop) - 1),
            uncertainty_mean=stats["unc_mean"][c], uncertainty_max=stats["unc_max"][c],
            saliency_mean=stats["sal_mean"][c], small=bool(ml[c] < min_ml)))
    return rows


def _map_on_grid(volume: Volume | None, labels: Volume, what: str) -> np.ndarray | None:
    if volume is None:
        return None
    if not volume.geometry.is_close(labels.geometry):
        raise InputError(f"the {what} map is not on the label map's grid (size {volume.size} vs "
                         f"{labels.size}, or another spacing, origin or direction); give the map "
                         "written with this mask")
    return np.asarray(volume.array, dtype=np.float64)


def _map_stats(components: np.ndarray, ids: np.ndarray, unc: np.ndarray | None,
               sal: np.ndarray | None) -> dict[str, list[float | None]]:
    """Mean/max uncertainty and mean saliency per component (``None`` each without its map)."""
    from scipy import ndimage

    none = [None] * len(ids)

    def per(values, fn):
        return none if values is None else [float(v) for v in fn(values, components, ids)]

    return {"unc_mean": per(unc, ndimage.mean), "unc_max": per(unc, ndimage.maximum),
            "sal_mean": per(sal, ndimage.mean)}


def _centroids(components: np.ndarray, ids: np.ndarray, geometry: Geometry) -> list[_Point]:
    """Mean voxel centre of each component in LPS mm."""
    from scipy import ndimage

    kji = np.asarray(ndimage.center_of_mass(components > 0, components, ids), dtype=np.float64)
    lps = geometry.index_to_physical(kji.reshape(-1, 3)[:, ::-1])
    return [tuple(float(v) for v in p) for p in lps]


# Diameters ------------------------------------------------------------------------------------

_CORNERS = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])  # (di, dj)


def _axial_diameters(components: np.ndarray, cid: int, box: tuple[slice, ...],
                     geometry: Geometry) -> tuple[float, float, int, tuple[_Point, _Point]]:
    """Longest axial diameter, its perpendicular, the slice k and the long axis end points (LPS)."""
    k, j, i = np.nonzero(components[box] == cid)
    k, j, i = k + box[0].start, j + box[1].start, i + box[2].start
    order = np.argsort(k, kind="stable")
    k, j, i = k[order], j[order], i[order]
    slices, starts = np.unique(k, return_index=True)
    best = None
    for kk, lo, hi in zip(slices, starts, [*starts[1:], len(k)]):
        lps, plane = _slice_corners(geometry, int(kk), i[lo:hi], j[lo:hi])
        hull = _hull(plane)
        length, a, b = _longest(plane[hull])
        if best is None or length > best[0]:
            best = (length, int(kk), lps[hull[[a, b]]], plane[hull], plane[hull[b]] - plane[hull[a]])
    length, kk, ends, hull_pts, axis = best
    short = _perpendicular_chord(hull_pts, axis / length)
    return float(length), float(short), kk, tuple(tuple(float(v) for v in p) for p in ends)


def _slice_corners(geometry: Geometry, k: int, i: np.ndarray,
                   j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel corners of slice ``k`` in LPS mm ``(4N, 3)`` and in the slice plane's mm ``(4N, 2)``.

    The plane coordinates are the LPS offsets projected on the i and j direction cosines, so
    in-plane distances are physical distances on any (orthonormal) grid."""
    ij = (np.stack([i, j], axis=1)[:, None, :] + _CORNERS[None]).reshape(-1, 2)
    ijk = np.column_stack([ij, np.full(len(ij), float(k))])
    lps = geometry.index_to_physical(ijk)
    rel = lps - np.asarray(geometry.origin)
    return lps, rel @ geometry.matrix[:, :2]


def _hull(points: np.ndarray) -> np.ndarray:
    """Indices of the convex hull's vertices, counter-clockwise (pixel corners are never collinear)."""
    from scipy.spatial import ConvexHull

    return ConvexHull(points).vertices


def _longest(points: np.ndarray) -> tuple[float, int, int]:
    """The largest pairwise distance among ``points`` and the indices of its two ends."""
    d = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
    a, b = np.unravel_index(int(np.argmax(d)), d.shape)
    return float(d[a, b]), int(a), int(b)


def _perpendicular_chord(hull: np.ndarray, axis: np.ndarray) -> float:
    """The longest chord of the convex polygon ``hull`` (vertices in order) at right angles to
    the unit vector ``axis``. The chord length along the axis is concave and piecewise linear with
    its corners at the vertices, so its maximum lies at one of the vertices' positions."""
    s = hull @ axis
    t = hull @ np.array([-axis[1], axis[0]])
    s0, s1 = s, np.roll(s, -1)          # edge m runs from vertex m to vertex m+1
    t0, t1 = t, np.roll(t, -1)
    eps = 1e-9 * max(1.0, float(np.ptp(s)))
    at = s[:, None]                     # candidate positions (rows) × edges (columns)
    inside = (at >= np.minimum(s0, s1) - eps) & (at <= np.maximum(s0, s1) + eps)
    span = np.where(np.abs(s1 - s0) > eps, s1 - s0, 1.0)
    frac = np.clip((at - s0) / span, 0.0, 1.0)
    tt = np.where(inside, t0 + frac * (t1 - t0), np.nan)
    on = np.where(np.abs(s[None, :] - at) <= eps, t[None, :], np.nan)  # vertices at that position
    both = np.concatenate([tt, on], axis=1)  # an edge at right angles to the axis: both ends
    hi, lo = np.nanmax(both, axis=1), np.nanmin(both, axis=1)
    return float(np.max(hi - lo))
