"""Reading the files to send: each one DICOM or named as not, never stopping the others."""

from __future__ import annotations

from pathlib import Path


def read_for_send(path: Path, index: int, count: int):
    """``(dataset, "")`` or ``(None, why)`` for file ``index`` of ``count``."""
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    if not path.is_file():
        return None, "no such file"
    try:
        ds = dcmread(path)
    except (InvalidDicomError, OSError, ValueError, EOFError):
        return None, "not a readable DICOM file"
    if "SOPClassUID" not in ds or "SOPInstanceUID" not in ds:
        return None, "not a DICOM instance (no SOP Class or SOP Instance UID)"
    return ds, ""
