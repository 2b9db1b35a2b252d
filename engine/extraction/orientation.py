"""From a Candor volume (LPS, array ``[k, j, i]``) to the array deepbet works on, and back.

deepbet reads a NIfTI with nibabel and calls ``nib.as_closest_canonical``: the data array
(nibabel's ``[i, j, k]`` order) is flipped and permuted, never resampled, so that its axes run
closest to R, A, S. Candor does the same from the volume's own geometry: the RAS direction is
``diag(-1, -1, 1) @ direction`` (LPS → RAS), and the axis choice is nibabel's ``io_orientation``
rule (polar decomposition of the direction, then, strongest input axis first, the output axis with
the largest component). :func:`to_canonical` and :func:`from_canonical` are exact inverses.
"""

from __future__ import annotations

import numpy as np

from engine.volume import Geometry

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def ras_orientation(geometry: Geometry) -> np.ndarray:
    """``(3, 2)`` int array: for array axis i/j/k, the closest RAS axis (0=R, 1=A, 2=S) and its sign."""
    rs = LPS_TO_RAS @ geometry.matrix  # columns: the i, j, k axes in RAS (unit length)
    p, _, qs = np.linalg.svd(rs)
    r = p @ qs
    ornt = np.zeros((3, 2), dtype=int)
    for in_ax in np.argsort(np.min(-(r ** 2), axis=0), kind="stable"):
        col = r[:, in_ax]
        out_ax = int(np.argmax(np.abs(col)))
        ornt[in_ax] = (out_ax, -1 if col[out_ax] < 0 else 1)
        r[out_ax, :] = 0
    return ornt


def to_canonical(array_kji: np.ndarray, geometry: Geometry) -> np.ndarray:
    """The volume's array as deepbet's canonical ``[R, A, S]`` array (a view where possible)."""
    ornt = ras_orientation(geometry)
    arr = array_kji.transpose(2, 1, 0)  # nibabel order [i, j, k]
    for ax, flip in enumerate(ornt[:, 1]):
        if flip == -1:
            arr = np.flip(arr, axis=ax)
    return arr.transpose(np.argsort(ornt[:, 0]))


def from_canonical(array_ras: np.ndarray, geometry: Geometry) -> np.ndarray:
    """The inverse of :func:`to_canonical`: a canonical array back in the volume's ``[k, j, i]``."""
    ornt = ras_orientation(geometry)
    arr = array_ras.transpose(ornt[:, 0])  # back to [i, j, k], still flipped
    for ax, flip in enumerate(ornt[:, 1]):
        if flip == -1:
            arr = np.flip(arr, axis=ax)
    return np.ascontiguousarray(arr.transpose(2, 1, 0))
