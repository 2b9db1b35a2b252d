"""Export of masks and maps (NIfTI, NRRD, DICOM SEG) on the reference geometry, and SEG import.

Public API (stable):

* ``export_labels(mask, table, reference, out, options=None, *, progress=None, cancel=None)
  -> ExportResult`` — a label ``Volume`` with its ``LabelTable`` written for the ``reference``
  image; the format follows ``out``: ``.nii.gz``/``.nii`` (+ JSON sidecar), ``.nrrd`` (3D Slicer
  segment fields), ``.dcm`` (DICOM SEG, BINARY or FRACTIONAL). Atomic: nothing partial is left.
* ``export_float_map(volume, reference, out, *, kind="probability"|"uncertainty", label=None,
  options=None, ...)`` — float32 NIfTI/NRRD, or a fractional SEG for probabilities;
  ``export_probability_seg(maps, table, reference, out, options=None, ...)`` for several labels.
* ``import_seg(path, reference=None, *, label_names=None, ...) -> SegImport`` — any DICOM SEG as
  a label map (and probability maps for fractional SEGs) on the reference grid.
* ``read_label_file(path) -> (Volume, LabelTable)`` — NIfTI/NRRD label maps with their names.
* ``ExportOptions`` (labels, seg_type, deidentify, pseudonym, include_image, provenance, …),
  ``Provenance`` (ai / corrected / manual + model name and version), ``ExportResult``.
"""

from __future__ import annotations

from engine.export.float_maps import export_float_map, export_probability_seg
from engine.export.label_files import read_label_file, read_sidecar, sidecar_path
from engine.export.labels_export import export_labels
from engine.export.options import FORMATS, ExportOptions, ExportResult, Provenance, format_of
from engine.export.seg_read import SegImport, import_seg

__all__ = [
    "FORMATS", "ExportOptions", "ExportResult", "Provenance", "SegImport", "export_float_map",
    "export_labels", "export_probability_seg", "format_of", "import_seg", "read_label_file",
    "read_sidecar", "sidecar_path",
]
