"""Import of DICOM SEG objects (Candor's or any other tool's) as label maps on the displayed series.

When every frame of the SEG names the displayed series' image it lies on (the usual case: a SEG
made on this series, by Candor or another tool), frames are placed by that reference: exact, even
on irregular stacks. Otherwise highdicom assembles the frames into a regularly spaced volume in
the frame of reference's patient coordinates (missing, i.e. empty, frames are zeros), placed on
the displayed grid by index when its voxels are the grid's, else resampled: nearest neighbour for
BINARY segments, linear then ≥ 0.5 for FRACTIONAL ones (whose probabilities are kept as float
maps too).

A SEG is placed on the displayed series only when both share a frame of reference (same
FrameOfReferenceUID); a series without one (e.g. opened from NIfTI) gets the SEG by its
coordinates, with a warning.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom

from engine.errors import InputError, UnsupportedError
from engine.export.grid import label_dtype, place_on_subgrid, resample_linear, resample_nearest
from engine.jobs import report
from engine.labels import LabelInfo, LabelTable, default_color
from engine.volume import Geometry, Volume

log = logging.getLogger(__name__)

_PROVENANCE = {"AUTOMATIC": "ai", "SEMIAUTOMATIC": "corrected", "MANUAL": "manual"}


@dataclass
class SegImport:
    """A SEG as Candor uses it: a label map, its table, and (fractional SEGs) probability maps."""

    labels: Volume
    table: LabelTable
    segmentation_type: str
    probabilities: dict[int, Volume] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Segment:
    number: int
    name: str
    color: tuple[int, int, int]
    algorithm_type: str
    algorithm_name: str | None
    algorithm_version: str | None
    candor_id: int | None = None   # the label id Candor exported it from (its tracking ID)


_TRACKING = re.compile(r"^Candor label (\d+)$")


def read_segmentation(path: str | Path) -> hd.seg.Segmentation:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"the segmentation file does not exist: {path.name}")
    try:
        ds = pydicom.dcmread(path)
    except (OSError, pydicom.errors.InvalidDicomError):
        raise InputError(f"{path.name} is not a DICOM file") from None
    if ds.get("SOPClassUID") not in hd.seg.SOP_CLASS_UIDS:
        raise InputError(f"{path.name} is a DICOM {ds.get('Modality', '?')} object, not a "
                         "segmentation (SEG)")
    try:
        return hd.seg.Segmentation.from_dataset(ds, copy=False)
    except (ValueError, AttributeError, KeyError) as exc:
        raise InputError(f"{path.name} is not a valid DICOM SEG: {exc}") from None


def _segments(seg: hd.seg.Segmentation) -> list[_Segment]:
    out = []
    for item in seg.SegmentSequence:
        number = int(item.SegmentNumber)
        color = default_color(number)
        if "RecommendedDisplayCIELabValue" in item:
            lab = hd.color.CIELabColor.from_dicom_value(item.RecommendedDisplayCIELabValue)
            color = tuple(int(c) for c in lab.to_rgb())
        algo = item.get("SegmentAlgorithmName")
        version = None
        if "SegmentationAlgorithmIdentificationSequence" in item:
            version = item.SegmentationAlgorithmIdentificationSequence[0].get("AlgorithmVersion")
        match = _TRACKING.match(str(item.get("TrackingID", "")))
        out.append(_Segment(number, str(item.get("SegmentLabel") or f"Segment {number}"), color,
                            str(item.get("SegmentAlgorithmType", "MANUAL")),
                            str(algo) if algo else None, str(version) if version else None,
                            int(match.group(1)) if match and 0 < int(match.group(1)) < 65536
                            else None))
    return out


def _assign_ids(segments: list[_Segment], names: LabelTable | None) -> dict[int, LabelInfo]:
    """Segment number → label id: by name in ``names`` when it has one, else the label id a
    Candor SEG recorded (tracking ID "Candor label N"), else the segment number."""
    taken: set[int] = set()
    result: dict[int, LabelInfo] = {}
    for s in segments:
        if names is not None:
            match = next((l for l in names if l.name.lower() == s.name.lower()), None)
            if match is not None and match.id not in taken:
                result[s.number] = LabelInfo(match.id, s.name, s.color)
                taken.add(match.id)
    for s in segments:
        if s.number not in result and s.candor_id is not None and s.candor_id not in taken \
                and (names is None or s.candor_id not in names):
            result[s.number] = LabelInfo(s.candor_id, s.name, s.color)
            taken.add(s.candor_id)
    for s in segments:
        if s.number not in result:
            new_id = s.number
            while new_id in taken or (names is not None and new_id in names):
                new_id += 1
            result[s.number] = LabelInfo(new_id, s.name, s.color)
            taken.add(new_id)
    return result


def _geometry_of(volume: hd.Volume) -> Geometry:
    """highdicom's (slice, row, column) affine → Candor's (i = column, j = row, k = slice) grid."""
    a = np.asarray(volume.affine, dtype=np.float64)
    axes = [a[:3, 2], a[:3, 1], a[:3, 0]]
    spacing = [float(np.linalg.norm(v)) for v in axes]
    direction = np.column_stack([v / s for v, s in zip(axes, spacing)])
    nz, ny, nx = volume.spatial_shape
    return Geometry((nx, ny, nz), spacing, a[:3, 3], direction.ravel())


def _check_frame(seg: hd.seg.Segmentation, reference: Volume | None) -> list[str]:
    if reference is None:
        return []
    seg_frame = str(seg.get("FrameOfReferenceUID", ""))
    ref_frame = str(reference.metadata.get("frame_of_reference_uid") or "")
    if seg_frame and ref_frame and seg_frame != ref_frame:
        raise InputError("this segmentation was made on another scan (its frame of reference "
                         "differs from the displayed series'), so it cannot be placed on it")
    if not ref_frame:
        return ["the displayed image has no DICOM frame of reference; the segmentation was "
                "placed by its patient coordinates"]
    return []


def _seg_volume(seg: hd.seg.Segmentation, numbers: list[int]) -> hd.Volume:
    try:
        return seg.get_volume(segment_numbers=numbers, combine_segments=False,
                              rescale_fractional=True)
    except (ValueError, RuntimeError) as exc:
        raise UnsupportedError("the segmentation's frames do not form a regular 3-D grid, so "
                               f"they cannot be placed on a volume ({exc})") from None


@dataclass
class _Placed:
    labels: np.ndarray
    probabilities: dict[int, Volume]
    overlap: bool


def _referenced_instances(seg: hd.seg.Segmentation) -> set[str]:
    """SOP instance UIDs the SEG's frames were derived from (empty when they say none)."""
    out = set()
    for frame in seg.get("PerFrameFunctionalGroupsSequence", []):
        for derivation in frame.get("DerivationImageSequence", []):
            for source in derivation.get("SourceImageSequence", []):
                out.add(str(source.ReferencedSOPInstanceUID))
    return out


def _by_reference(seg: hd.seg.Segmentation, reference: Volume | None,
                  numbers: list[int]) -> np.ndarray | None:
    """``(k, j, i, segments)`` frames matched to the reference's own instances, or ``None``.

    When every frame names the source image it lies on and those images are the displayed
    series' slices, frames are placed by that reference: exact for any stack, even an irregular
    one whose slices are not evenly spaced.
    """
    if reference is None:
        return None
    uids = [str(u) for u in reference.metadata.get("sop_instance_uids") or []]
    referenced = _referenced_instances(seg)
    g = reference.geometry
    if (not uids or len(set(uids)) != len(uids) or not referenced or not referenced <= set(uids)
            or (int(seg.Rows), int(seg.Columns)) != (g.size[1], g.size[0])):
        return None
    try:
        return seg.get_pixels_by_source_instance(uids, segment_numbers=numbers,
                                                 assert_missing_frames_are_empty=True,
                                                 rescale_fractional=True)
    except (ValueError, KeyError, RuntimeError) as exc:
        log.info("SEG frames not placed by reference (%s); using their positions",
                 type(exc).__name__)
        return None


def _native_channels(seg, numbers: list[int], target: Geometry | None):
    """Per-segment arrays on ``target`` (or the SEG's own grid) placed by position."""
    hd_vol = _seg_volume(seg, numbers)
    geometry = _geometry_of(hd_vol)
    target = target or geometry
    fractional = str(seg.SegmentationType).upper() == "FRACTIONAL"
    for n in range(len(numbers)):
        channel = np.asarray(hd_vol.array[..., n])
        native = Volume(channel.astype(np.float32 if fractional else np.uint8), geometry, "SEG")
        placed = place_on_subgrid(native, target)
        if placed is None:
            placed = (resample_linear if fractional else resample_nearest)(native, target)
        yield target, placed


def _combine(channels, segments: list[_Segment], ids: dict[int, LabelInfo], fractional: bool,
             progress, cancel) -> tuple[Geometry, _Placed]:
    """One label map (and probability maps) from per-segment arrays on one grid."""
    labels = overlap = best = None
    probabilities: dict[int, Volume] = {}
    target = None
    for n, (target, values) in enumerate(channels):
        report(progress, cancel, 0.3 + 0.65 * n / len(segments), f"placing {segments[n].name}")
        if labels is None:
            labels = np.zeros(target.shape, dtype=label_dtype(max(i.id for i in ids.values())))
            overlap = np.zeros(target.shape, dtype=bool)
            best = np.zeros(target.shape, dtype=np.float32)
        label_id = ids[segments[n].number].id
        if fractional:
            p = np.asarray(values, dtype=np.float32)
            probabilities[label_id] = Volume(p, target, "OT", {"label_name": segments[n].name,
                                                               "kind": "probability"})
            mask = (p >= 0.5) & (p > best)
            best = np.maximum(best, p)
        else:
            mask = np.asarray(values) > 0
            overlap |= mask & (labels > 0)
        labels[mask] = label_id
    return target, _Placed(labels, probabilities, bool(overlap.any()))


def _metadata_of(seg: hd.seg.Segmentation, segments: list[_Segment]) -> dict:
    """Provenance of the imported label map (from its first segment), for a later re-export."""
    metadata = {"source_format": "dicom-seg", "series_uid": str(seg.SeriesInstanceUID)}
    if seg.get("FrameOfReferenceUID"):
        metadata["frame_of_reference_uid"] = str(seg.FrameOfReferenceUID)
    first = segments[0]
    metadata["provenance"] = _PROVENANCE.get(first.algorithm_type, "manual")
    if first.algorithm_name:
        metadata["model_name"] = first.algorithm_name
        metadata["model_version"] = first.algorithm_version
    else:
        metadata["provenance"] = "manual"
    return metadata


def import_seg(path: str | Path, reference: Volume | None = None, *,
               label_names: LabelTable | None = None, progress=None, cancel=None) -> SegImport:
    """Read a DICOM SEG as a label map, resampled onto ``reference``'s grid when given.

    ``label_names``: an existing table; segments whose names match one of its labels get that
    label's id (so a re-imported SEG lines up with the labels it was exported from).
    """
    report(progress, cancel, 0.0, "reading the segmentation")
    seg = read_segmentation(path)
    warnings = _check_frame(seg, reference)
    segments = _segments(seg)
    if not segments:
        raise InputError(f"{Path(path).name} describes no segment")
    ids = _assign_ids(segments, label_names)
    report(progress, cancel, 0.2, "assembling the segment frames")
    numbers = [s.number for s in segments]
    fractional = str(seg.SegmentationType).upper() == "FRACTIONAL"
    stacked = _by_reference(seg, reference, numbers)
    if stacked is not None:
        g = reference.geometry
        channels = ((g, stacked[..., n]) for n in range(len(numbers)))
    else:
        channels = _native_channels(seg, numbers, reference.geometry if reference else None)
    target, placed = _combine(channels, segments, ids, fractional, progress, cancel)
    if placed.overlap:
        warnings.append("some segments overlap; where they do, the later segment is shown")
    report(progress, cancel, 1.0, "done")
    log.info("imported a %s SEG with %d segment(s)", seg.SegmentationType, len(segments))
    table = LabelTable(sorted(ids.values(), key=lambda l: l.id))
    labels = Volume(placed.labels, target, "SEG", _metadata_of(seg, segments))
    return SegImport(labels, table, str(seg.SegmentationType), placed.probabilities, warnings)
