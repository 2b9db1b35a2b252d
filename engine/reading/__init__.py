"""What a radiologist reads off a segmentation: the lesion table (Qt-free, runs from the CLI).

* ``lesion_table(labels, label, *, connectivity=26, uncertainty=None, saliency=None, min_ml=0.01)``
  → one frozen :class:`Lesion` per connected component of ``label`` (largest first): voxels, mL,
  longest axial diameter and its perpendicular (mm, RECIST/WHO), centroid in LPS, slice range,
  the model's mean/max uncertainty and mean saliency inside, and a ``small`` flag.
"""

from engine.reading.lesions import CONNECTIVITIES, Lesion, lesion_table

__all__ = ["CONNECTIVITIES", "Lesion", "lesion_table"]
