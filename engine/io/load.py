"""``load(path)``: one entry point for folders, DICOM files, DICOMDIRs and NIfTI/NRRD/MHA."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from engine.errors import InputError
from engine.io.dicom_load import load_series
from engine.io.formats import READ_SUFFIXES, read_image, suffix_of
from engine.io.model import ScanResult, SeriesInfo
from engine.io.scan import scan
from engine.jobs import CancelToken, ProgressCallback, sub_progress
from engine.volume import Volume

log = logging.getLogger(__name__)


def load(path: str | os.PathLike, series_uid: str | None = None, *,
         progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> Volume:
    """Load the image at ``path``; for DICOM, the stack ``series_uid`` or the largest one.

    When a folder holds several image stacks and no ``series_uid`` is given, the largest is
    loaded and ``volume.metadata["picked_largest_of"]`` says how many there were.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("the file or folder does not exist")
    if path.is_file() and suffix_of(path) in READ_SUFFIXES:
        return read_image(path)
    result = scan(path, progress=sub_progress(progress, 0.0, 0.3), cancel=cancel)
    info = pick_series(result, series_uid)
    volume = load_series(info, progress=sub_progress(progress, 0.3, 1.0), cancel=cancel)
    if series_uid is None and len(_images(result)) > 1:
        volume.metadata["picked_largest_of"] = len(_images(result))
    return volume


def _images(result: ScanResult) -> list[SeriesInfo]:
    return [s for s in result.series if s.kind == "image"]


def pick_series(result: ScanResult, series_uid: str | None) -> SeriesInfo:
    """The requested stack, or the largest image stack; a clear error when there is none."""
    if series_uid:
        info = result.find(series_uid)
        if info is None:
            raise InputError(f"no series {series_uid} here ({len(result.series)} series found)")
        return info
    info = result.largest()
    if info is None:
        reasons = sorted({s.reason for s in result.skipped})
        detail = f" ({'; '.join(reasons[:3])})" if reasons else ""
        raise InputError(f"no readable image series here{detail}")
    return info
