"""What a radiologist reads off an image and a segmentation (Qt-free, runs from the CLI).

* ``lesion_table(labels, label, *, connectivity=26, uncertainty=None, saliency=None, min_ml=0.01)``
  → one frozen :class:`Lesion` per connected component of ``label`` (largest first): voxels, mL,
  longest axial diameter and its perpendicular (mm, RECIST/WHO), centroid in LPS, slice range,
  the model's mean/max uncertainty and mean saliency inside, and a ``small`` flag.
* :mod:`engine.reading.measure`: ``distance``, ``angle``, ``plane_roi`` (rectangle/ellipse in a
  slice of any index axis) and ``label_roi`` (3D ROI of a label) → frozen :class:`Measurement`
  (with :class:`RoiStats`), serialised by ``dumps``/``loads``.
"""

from engine.reading.lesions import CONNECTIVITIES, Lesion, lesion_table
from engine.reading.measure import (Measurement, RoiStats, angle, distance, dumps, label_roi,
                                    loads, plane_roi, value_unit)

__all__ = ["CONNECTIVITIES", "Lesion", "Measurement", "RoiStats", "angle", "distance", "dumps",
           "label_roi", "lesion_table", "loads", "plane_roi", "value_unit"]
