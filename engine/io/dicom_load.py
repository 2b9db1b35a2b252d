"""Assemble one scanned stack (:class:`SeriesInfo`) into a :class:`Volume`."""

from __future__ import annotations

import logging

from engine.errors import InputError
from engine.io.model import SeriesInfo
from engine.io.pixels import allocate, fill, plan_pixels
from engine.io.stack import StackGeometry, stack_geometry
from engine.jobs import CancelToken, ProgressCallback, report, sub_progress
from engine.volume import Volume

log = logging.getLogger(__name__)


def load_series(info: SeriesInfo, *, progress: ProgressCallback | None = None,
                cancel: CancelToken | None = None) -> Volume:
    """Read the pixels of ``info`` into a new volume with full geometry and warnings."""
    if info.kind == "segmentation":
        raise InputError("this is a segmentation; open its image series and add it as an overlay")
    headers = info.headers
    if len(headers) == 1 and headers[0].is_multiframe:
        from engine.io.multiframe import frame_headers  # pydicom: only for multi-frame files

        headers = frame_headers(headers[0])
    report(progress, cancel, 0.0, "ordering slices")
    stack = stack_geometry(headers)
    plan = plan_pixels(stack.headers)
    array = allocate(stack.geometry.shape, plan.out)
    array = fill(array, stack.headers, plan, progress=sub_progress(progress, 0.0, 1.0),
                 cancel=cancel)
    frame_notes = [w for h in stack.headers for w in h.warnings]
    warnings = list(dict.fromkeys(info.warnings + frame_notes + stack.warnings))
    if plan.invert:
        warnings.append("MONOCHROME1 image: values were inverted so that higher values are "
                        "brighter, as the image is meant to be displayed")
    volume = Volume(array, stack.geometry, info.modality or "OT",
                    _metadata(info, stack, plan.invert, plan), warnings)
    log.info("loaded %s stack: %s voxels, %s", volume.modality, volume.size, volume.array.dtype)
    return volume


def _metadata(info: SeriesInfo, stack: StackGeometry, inverted: bool, plan) -> dict:
    h = stack.headers[0]
    windows = h.windows
    if inverted and windows:
        lo, hi = plan.stored_range
        slope, intercept = plan.rescales[0]
        total = slope * (lo + hi) + 2 * intercept
        windows = [(total - c, w) for c, w in windows]
    files = list(dict.fromkeys(x.path for x in stack.headers))
    meta = {
        "source_format": "dicom",
        "series_uid": info.dicom_series_uid,
        "study_uid": h.study_uid,
        "frame_of_reference_uid": h.frame_uid,
        "series_description": h.series_description,
        "series_number": h.series_number,
        "manufacturer": h.manufacturer,
        "sop_class_uid": h.sop_class_uid,
        "source_files": files,
        "sop_instance_uids": [x.sop_instance_uid for x in stack.headers],
        "window_presets": [tuple(w) for w in windows],
        "rescale_type": h.rescale_type or ("HU" if info.modality == "CT" else ""),
        "body_part": h.body_part,
        "slice_positions": stack.positions.tolist(),
        "irregular_slices": stack.irregular,
    }
    if info.series_uid != info.dicom_series_uid:
        meta["stack_id"] = info.series_uid
    if h.frame_index is not None:
        meta["frame_numbers"] = [x.frame_index + 1 for x in stack.headers]
    return {k: v for k, v in meta.items() if v not in ("", None)}
