"""Multi-frame objects (Enhanced / Legacy Converted CT, MR, PET; RT Dose-style grids) as stacks.

Each frame becomes a :class:`SliceHeader` with its own position, orientation, spacing and rescale
from the functional groups (per-frame first, then shared), so the ordinary stack assembly
applies. Uncompressed frames are read in place at their byte offset; compressed ones are decoded
one frame at a time.
"""

from __future__ import annotations

import dataclasses
import logging

from pydicom.dataset import Dataset

from engine.errors import InputError
from engine.io.dicomlib import pydicom as _configured_pydicom
from engine.io.guard import boundary
from engine.io.headers import SliceHeader, _float, _floats, _windows

log = logging.getLogger(__name__)
pydicom = _configured_pydicom()  # imported by the loader only for multi-frame files


def frame_headers(h: SliceHeader) -> list[SliceHeader]:
    """One header per frame of the multi-frame file ``h``; several phases → the first, stated."""
    # pydicom parses sequences lazily: damage may surface while the functional groups are read
    with boundary("the multi-frame file"):
        ds = pydicom.dcmread(h.path, stop_before_pixels=True)
        shared = _first(ds, "SharedFunctionalGroupsSequence")
        per_frame = list(ds.get("PerFrameFunctionalGroupsSequence", []) or [])
        if per_frame and len(per_frame) != h.frames:
            raise InputError(f"the multi-frame file lists {len(per_frame)} frame descriptions "
                             f"for {h.frames} frames")
        offsets = _grid_offsets(ds, h.frames)
        frames = []
        for f in range(h.frames):
            item = per_frame[f] if per_frame else None
            frames.append(_frame(h, f, item, shared, offsets))
    if all(fr.position is None for fr in frames) and h.frames > 1:
        raise InputError("the multi-frame file gives no frame positions; its geometry is unknown")
    return _first_phase(frames)


def _frame(h: SliceHeader, f: int, item: Dataset | None, shared: Dataset | None,
           offsets: list[float] | None) -> SliceHeader:
    fr = dataclasses.replace(h, frames=1, frame_index=f, warnings=list(h.warnings))
    fr.pixel_offset = (h.pixel_offset + f * h.frame_bytes) if h.pixel_offset is not None else None
    groups = [g for g in (item, shared) if g is not None]
    orient = _from_groups(groups, "PlaneOrientationSequence", "ImageOrientationPatient")
    fr.orientation = _floats(orient, 6) or h.orientation
    pos = _from_groups(groups, "PlanePositionSequence", "ImagePositionPatient")
    fr.position = _floats(pos, 3) or h.position
    if offsets is not None and h.position is not None and fr.orientation is not None:
        import numpy as np

        normal = np.cross(fr.orientation[:3], fr.orientation[3:])
        fr.position = tuple(np.asarray(h.position) + offsets[f] * normal)
    spacing = _from_groups(groups, "PixelMeasuresSequence", "PixelSpacing")
    fr.pixel_spacing = _floats(spacing, 2) or h.pixel_spacing
    thick = _from_groups(groups, "PixelMeasuresSequence", "SliceThickness")
    fr.thickness = _float(thick, 0.0) or h.thickness
    slope = _from_groups(groups, "PixelValueTransformationSequence", "RescaleSlope")
    intercept = _from_groups(groups, "PixelValueTransformationSequence", "RescaleIntercept")
    if slope is not None or intercept is not None:
        fr.slope = _float(slope, 1.0) or 1.0
        fr.intercept = _float(intercept, 0.0)
        fr.has_rescale = True
    voi = next((g.FrameVOILUTSequence[0] for g in groups if g.get("FrameVOILUTSequence")), None)
    if voi is not None:
        fr.windows = _windows(voi) or h.windows
    content = _from_groups(groups, "FrameContentSequence", None)
    if content is not None:
        fr.phase_key = tuple(str(content.get(k, "")) for k in (
            "StackID", "TemporalPositionIndex", "FrameAcquisitionNumber"))
        fr.instance_number = f + 1
    return fr


def _first(ds: Dataset, keyword: str) -> Dataset | None:
    seq = ds.get(keyword)
    return seq[0] if seq else None


def _from_groups(groups: list[Dataset], seq: str, keyword: str | None):
    for g in groups:
        inner = g.get(seq)
        if inner:
            if keyword is None:
                return inner[0]
            value = inner[0].get(keyword)
            if value is not None:
                return value
    return None


def _grid_offsets(ds: Dataset, frames: int) -> list[float] | None:
    """RT Dose / NM style: GridFrameOffsetVector gives frame positions along the normal."""
    vec = ds.get("GridFrameOffsetVector")
    if vec is None or "PerFrameFunctionalGroupsSequence" in ds:
        return None
    try:
        offsets = [float(v) for v in vec]
    except (TypeError, ValueError):
        return None
    return offsets if len(offsets) == frames else None


def _first_phase(frames: list[SliceHeader]) -> list[SliceHeader]:
    from engine.io.grouping import _by_phase

    if any(f.position is None for f in frames):
        return frames
    phases = _by_phase(frames)
    if len(phases) == 1:
        return frames
    first = phases[0][0]
    note = (f"the multi-frame object holds {len(phases)} stacks or phases at the same positions; "
            "the first is shown")
    for fr in first:
        fr.warnings = fr.warnings + [note]
    return first
