"""The one in-memory image type that flows from loader to engine to viewer to exporter.

Geometry follows SimpleITK/ITK exactly:

* ``array`` is indexed ``[k, j, i]`` (slice, row, column), the order ``sitk.GetArrayFromImage`` uses;
* ``size``, ``spacing`` and ``origin`` are ``(x, y, z)`` = ``(i, j, k)`` ordered;
* ``origin`` is the centre of voxel ``(0, 0, 0)`` in patient LPS millimetres;
* ``direction`` is a 3×3 matrix whose *columns* are the unit vectors of the i, j, k axes in LPS
  (``np.array(img.GetDirection()).reshape(3, 3)``).

So ``physical = origin + direction @ (spacing * index)`` for an ``(i, j, k)`` index.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from engine.errors import InputError

_ORTHONORMAL_TOL = 1e-3


@dataclass(frozen=True)
class Geometry:
    """Voxel grid of an image: size, spacing, origin and direction (ITK conventions)."""

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", tuple(int(v) for v in self.size))
        object.__setattr__(self, "spacing", tuple(float(v) for v in self.spacing))
        object.__setattr__(self, "origin", tuple(float(v) for v in self.origin))
        object.__setattr__(self, "direction", tuple(float(v) for v in np.ravel(self.direction)))
        if len(self.size) != 3 or len(self.spacing) != 3 or len(self.origin) != 3:
            raise InputError("geometry needs 3 sizes, 3 spacings and a 3-D origin")
        if len(self.direction) != 9:
            raise InputError("geometry direction must hold 9 numbers (a 3×3 matrix)")
        if any(s <= 0 for s in self.size):
            raise InputError(f"image size must be positive, got {self.size}")
        if not all(np.isfinite(self.spacing)) or any(s <= 0 for s in self.spacing):
            raise InputError(f"voxel spacing must be finite and positive, got {self.spacing}")
        if not all(np.isfinite(self.origin)):
            raise InputError(f"image origin must be finite, got {self.origin}")
        m = self.matrix
        if not np.all(np.isfinite(m)) or not np.allclose(m.T @ m, np.eye(3), atol=_ORTHONORMAL_TOL):
            raise InputError("image direction cosines are not orthonormal; the orientation is unusable")

    @property
    def matrix(self) -> np.ndarray:
        """Direction as a 3×3 array (columns = i, j, k axes in LPS)."""
        return np.asarray(self.direction, dtype=np.float64).reshape(3, 3)

    @property
    def shape(self) -> tuple[int, int, int]:
        """NumPy shape ``(nz, ny, nx)`` of an array on this grid."""
        return (self.size[2], self.size[1], self.size[0])

    @property
    def voxel_volume_ml(self) -> float:
        return float(np.prod(self.spacing)) / 1000.0

    @property
    def affine_lps(self) -> np.ndarray:
        """4×4 matrix mapping homogeneous ``(i, j, k, 1)`` to LPS millimetres."""
        a = np.eye(4)
        a[:3, :3] = self.matrix * np.asarray(self.spacing)[None, :]
        a[:3, 3] = self.origin
        return a

    def index_to_physical(self, ijk: Any) -> np.ndarray:
        """``(..., 3)`` continuous ``(i, j, k)`` indices → ``(..., 3)`` LPS mm."""
        ijk = np.asarray(ijk, dtype=np.float64)
        return np.asarray(self.origin) + (ijk * np.asarray(self.spacing)) @ self.matrix.T

    def physical_to_index(self, xyz: Any) -> np.ndarray:
        """``(..., 3)`` LPS mm → ``(..., 3)`` continuous ``(i, j, k)`` indices."""
        xyz = np.asarray(xyz, dtype=np.float64) - np.asarray(self.origin)
        return (xyz @ self.matrix) / np.asarray(self.spacing)

    def is_close(self, other: Geometry, spacing_tol: float = 1e-4, origin_tol: float = 1e-3,
                 direction_tol: float = 1e-4) -> bool:
        """Same grid within tolerances (the ones SimpleITK comparisons in the tests use)."""
        return (
            self.size == other.size
            and np.allclose(self.spacing, other.spacing, atol=spacing_tol)
            and np.allclose(self.origin, other.origin, atol=origin_tol)
            and np.allclose(self.direction, other.direction, atol=direction_tol)
        )

    def axis_codes(self) -> str:
        """Three letters naming where i, j, k point, e.g. ``"LPS"`` (ITK's orientation code style)."""
        letters = (("L", "R"), ("P", "A"), ("S", "I"))
        out = []
        for col in self.matrix.T:
            axis = int(np.argmax(np.abs(col)))
            out.append(letters[axis][0] if col[axis] > 0 else letters[axis][1])
        return "".join(out)

    def to_dict(self) -> dict[str, list]:
        return {
            "size": list(self.size),
            "spacing": list(self.spacing),
            "origin": list(self.origin),
            "direction": list(self.direction),
        }


@dataclass(eq=False)
class Volume:
    """An image (or a label map, or a heatmap) with its full geometry.

    ``metadata`` holds source facts that identify no person (series/study UIDs, description,
    manufacturer, rescale type, window presets…); patient names, IDs and dates never go here.
    ``warnings`` are plain sentences for the user ("2 slices missing between 40.0 and 46.0 mm").
    """

    array: np.ndarray
    geometry: Geometry
    modality: str = "OT"
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.array.ndim != 3:
            raise InputError(f"a volume needs a 3-D array, got {self.array.ndim}-D")
        if tuple(self.array.shape) != self.geometry.shape:
            raise InputError(
                f"array shape {self.array.shape} does not match geometry size {self.geometry.size}"
            )

    # Convenience views of the geometry -------------------------------------------------------
    @property
    def size(self) -> tuple[int, int, int]:
        return self.geometry.size

    @property
    def spacing(self) -> tuple[float, float, float]:
        return self.geometry.spacing

    @property
    def origin(self) -> tuple[float, float, float]:
        return self.geometry.origin

    @property
    def direction(self) -> np.ndarray:
        return self.geometry.matrix

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)

    def with_array(self, array: np.ndarray, **changes: Any) -> Volume:
        """A new volume on the same grid (a mask, a probability map…); metadata is copied."""
        changes.setdefault("metadata", dict(self.metadata))
        changes.setdefault("warnings", [])
        return replace(self, array=array, **changes)

    # SimpleITK bridge -----------------------------------------------------------------------
    def to_sitk(self) -> Any:
        """A SimpleITK image sharing nothing with this volume (SimpleITK copies the buffer)."""
        return sitk_image(self.array, self.geometry)

    @classmethod
    def from_sitk(cls, image: Any, modality: str = "OT", metadata: dict | None = None,
                  warnings: list[str] | None = None) -> Volume:
        import SimpleITK as sitk

        if image.GetDimension() != 3:
            raise InputError(f"expected a 3-D image, got {image.GetDimension()}-D")
        if image.GetNumberOfComponentsPerPixel() != 1:
            raise InputError("multi-component (RGB or vector) images are not supported as volumes")
        geometry = Geometry(image.GetSize(), image.GetSpacing(), image.GetOrigin(),
                            image.GetDirection())
        return cls(sitk.GetArrayFromImage(image), geometry, modality,
                   dict(metadata or {}), list(warnings or []))


# Geometry → SimpleITK: the one place an image or a resampling reference gets its geometry -------

def _set_geometry(image: Any, geometry: Geometry) -> Any:
    image.SetSpacing(geometry.spacing)
    image.SetOrigin(geometry.origin)
    image.SetDirection(geometry.direction)
    return image


def sitk_image(array: np.ndarray, geometry: Geometry, *, is_vector: bool = False) -> Any:
    """A SimpleITK image of ``array`` (``[k, j, i]``, or ``[k, j, i, c]`` with ``is_vector``) on ``geometry``.

    SimpleITK copies the buffer, so the image shares nothing with ``array``.
    """
    import SimpleITK as sitk

    return _set_geometry(sitk.GetImageFromArray(np.ascontiguousarray(array), isVector=is_vector), geometry)


def sitk_reference(geometry: Geometry) -> Any:
    """An empty (uint8) SimpleITK image on ``geometry``: the reference grid for ``sitk.Resample``."""
    import SimpleITK as sitk

    return _set_geometry(sitk.Image([int(s) for s in geometry.size], sitk.sitkUInt8), geometry)
