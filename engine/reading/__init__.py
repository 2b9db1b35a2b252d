"""What a radiologist reads off an image and a segmentation (Qt-free, runs from the CLI).

* ``lesion_table(labels, label, *, connectivity=26, uncertainty=None, saliency=None, min_ml=0.01)``
  → one frozen :class:`Lesion` per connected component of ``label`` (largest first): voxels, mL,
  longest axial diameter and its perpendicular (mm, RECIST/WHO), centroid in LPS, slice range,
  the model's mean/max uncertainty and mean saliency inside, and a ``small`` flag.
* :mod:`engine.reading.measure`: ``distance``, ``angle``, ``plane_roi`` (rectangle/ellipse in a
  slice of any index axis) and ``label_roi`` (3D ROI of a label) → frozen :class:`Measurement`
  (with :class:`RoiStats`), serialised by ``dumps``/``loads``.
* :class:`Findings` (a label's lesion table + measurements + :class:`AIProvenance`): what the
  DICOM SR (:mod:`engine.export.sr`) and the HTML report (:mod:`engine.reading.report`) say.
* :mod:`engine.reading.stats`: ``label_stats`` (voxels, mL, mean/SD/min/max per label), ``to_csv``.
"""

from engine.reading.findings import AIProvenance, Findings
from engine.reading.lesions import CONNECTIVITIES, Lesion, lesion_table
from engine.reading.measure import (Measurement, RoiStats, angle, distance, dumps, label_roi,
                                    loads, plane_roi, value_unit)

__all__ = ["CONNECTIVITIES", "AIProvenance", "Findings", "Lesion", "Measurement", "RoiStats", "angle", "distance", "dumps",
           "label_roi", "lesion_table", "loads", "plane_roi", "value_unit"]
