"""Display orientation: show any volume in the patient's anatomical axes without copying it.

The slice views and the 3D view work on a *display grid*: the source grid with its array axes
permuted and flipped so that the array is indexed ``[S, P, L]`` (numpy axis 0 runs inferior →
superior, axis 1 anterior → posterior, axis 2 right → left), i.e. LPS orientation. A permutation
plus flips of a NumPy array is a strided *view*: no voxel is copied, whatever the source
orientation (axial, coronal or sagittal acquisitions, flipped axes).

With that order the three radiological views are plain slices:

* axial    ``disp[k]``        rows anterior → posterior, columns patient right → left
  (the patient's left is on the screen's right, anterior at the top);
* coronal  ``disp[:, j, :]``  rows inferior → superior (drawn bottom-up), columns right → left;
* sagittal ``disp[:, :, i]``  rows inferior → superior (drawn bottom-up), columns anterior → posterior.

Oblique acquisitions are shown on the closest anatomical axes (like ITK-SNAP's "voxel space"
display); positions reported to the user always come from the true geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.volume import Geometry

#: Display numpy axis → LPS axis it runs along (0 = L, 1 = P, 2 = S).
_DISPLAY_LPS_AXIS = (2, 1, 0)


def closest_axes(matrix: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """For each LPS axis (L, P, S): the source index axis (i=0, j=1, k=2) closest to it, and its sign.

    Resolves ties (45° obliques) by assigning the strongest cosines first, so every LPS axis gets
    a distinct source axis.
    """
    weights = np.abs(matrix)  # [lps_axis, index_axis]
    pairs = sorted(((weights[r, c], r, c) for r in range(3) for c in range(3)), reverse=True)
    lps_to_index: dict[int, int] = {}
    used: set[int] = set()
    for _, r, c in pairs:
        if r not in lps_to_index and c not in used:
            lps_to_index[r] = c
            used.add(c)
    axes = tuple(lps_to_index[r] for r in range(3))
    signs = tuple(1 if matrix[r, axes[r]] >= 0 else -1 for r in range(3))
    return axes, signs


@dataclass(frozen=True)
class DisplayGrid:
    """How a source grid maps onto the display grid (``[S, P, L]`` arrays, LPS-oriented)."""

    source: Geometry
    geometry: Geometry          # the display grid (same physical space, axes re-ordered)
    transpose: tuple[int, int, int]   # numpy axes of the source array, in display order
    flips: tuple[bool, bool, bool]    # display numpy axes that run backwards in the source

    @classmethod
    def for_geometry(cls, source: Geometry) -> DisplayGrid:
        axes, signs = closest_axes(source.matrix)
        transpose, flips = [], []
        for lps_axis in _DISPLAY_LPS_AXIS:
            index_axis = axes[lps_axis]
            transpose.append(2 - index_axis)           # numpy axis of that (i, j, k) axis
            flips.append(signs[lps_axis] < 0)
        # Display (i, j, k) = (L, P, S) source axes; corner voxel = source index at display (0,0,0).
        corner = [0.0, 0.0, 0.0]
        size, spacing, columns = [], [], []
        for lps_axis in range(3):
            index_axis, sign = axes[lps_axis], signs[lps_axis]
            n = source.size[index_axis]
            if sign < 0:
                corner[index_axis] = n - 1
            size.append(n)
            spacing.append(source.spacing[index_axis])
            columns.append(source.matrix[:, index_axis] * sign)
        origin = source.index_to_physical(corner)
        geometry = Geometry(tuple(size), tuple(spacing), tuple(origin),
                            tuple(np.stack(columns, axis=1).ravel()))
        return cls(source, geometry, tuple(transpose), tuple(flips))

    @property
    def is_identity(self) -> bool:
        return self.transpose == (0, 1, 2) and not any(self.flips)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Display array shape ``(nS, nP, nL)``."""
        return self.geometry.shape

    def view(self, array: np.ndarray) -> np.ndarray:
        """The source-grid ``array`` seen on the display grid: a strided view, never a copy."""
        out = np.transpose(array, self.transpose)
        slicer = tuple(slice(None, None, -1) if f else slice(None) for f in self.flips)
        return out[slicer]

    # Coordinates ------------------------------------------------------------------------------
    def display_to_lps(self, zyx) -> np.ndarray:
        """Display numpy index ``(s, p, l)`` (continuous) → patient LPS mm."""
        zyx = np.asarray(zyx, dtype=np.float64)
        return self.geometry.index_to_physical(zyx[..., ::-1])

    def lps_to_display(self, xyz) -> np.ndarray:
        """Patient LPS mm → continuous display numpy index ``(s, p, l)``."""
        return self.geometry.physical_to_index(xyz)[..., ::-1]

    def display_to_source_index(self, zyx) -> np.ndarray:
        """Display numpy index → the source file's voxel index ``(i, j, k)``."""
        return self.source.physical_to_index(self.display_to_lps(zyx))

    @property
    def display_spacing_zyx(self) -> tuple[float, float, float]:
        sx, sy, sz = self.geometry.spacing
        return (sz, sy, sx)


def resample_onto(volume, geometry: Geometry, *, labels: bool):
    """``volume`` resampled onto ``geometry`` (nearest neighbour for labels, linear otherwise).

    Used when an overlay does not share the image's grid; same-grid overlays are never resampled.
    """
    import SimpleITK as sitk

    from engine.volume import Volume, sitk_reference

    ref = sitk_reference(geometry)
    interp = sitk.sitkNearestNeighbor if labels else sitk.sitkLinear
    out = sitk.Resample(volume.to_sitk(), ref, sitk.Transform(), interp, 0.0)
    return Volume.from_sitk(out, volume.modality, dict(volume.metadata), list(volume.warnings))
