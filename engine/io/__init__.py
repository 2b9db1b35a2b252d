"""Reading scans: folder scan, DICOM series assembly, NIfTI/NRRD/MHA, and a DICOM series writer.

Public API (stable):

* ``load(path, series_uid=None, *, progress=None, cancel=None) -> Volume`` — a folder, a DICOM
  file, a DICOMDIR, ``.nii``/``.nii.gz``, ``.nrrd``, ``.mha``/``.mhd``.
* ``scan(path, *, progress=None, cancel=None) -> ScanResult`` — headers-only scan of a folder.
* ``write_series(volume, folder, *, modality=..., ...) -> list[Path]`` — a real DICOM series.
"""

from __future__ import annotations

from engine.io._first import ScanResult, load, scan
from engine.io.dicom_write import write_series

__all__ = ["ScanResult", "load", "scan", "write_series"]
