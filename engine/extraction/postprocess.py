"""deepbet's mask post-processing with SciPy: largest component, hole filling, dilation.

* largest connected component: 26-connectivity (``cc3d.connected_components``' default, which
  deepbet uses), the component with the most voxels (lowest label on a tie);
* hole filling: background regions not 6-connected to the border of the array are filled
  (``fill_voids.fill``; ``scipy.ndimage.binary_fill_holes`` with its default 6-connected structure);
* ``n_dilate`` > 0: that many 6-connected dilations; < 0: erosions, the array border counting as
  inside (deepbet's ``cc3d.voxel_connectivity_graph`` rule).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

CONNECTIVITY_26 = np.ones((3, 3, 3), dtype=bool)
CROSS_6 = ndimage.generate_binary_structure(3, 1)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 26-connected component of ``mask`` (bool); all False when ``mask`` is empty."""
    labels, count = ndimage.label(mask, structure=CONNECTIVITY_26)
    if count == 0:
        return np.zeros(mask.shape, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    return ndimage.binary_fill_holes(mask, structure=CROSS_6)


def dilate(mask: np.ndarray, n_dilate: int) -> np.ndarray:
    n = int(n_dilate)
    if n > 0:
        return ndimage.binary_dilation(mask, structure=CROSS_6, iterations=n)
    if n < 0:
        return ndimage.binary_erosion(mask, structure=CROSS_6, iterations=-n, border_value=1)
    return mask
