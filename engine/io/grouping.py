"""Group file headers into studies → series → stacks.

A stack is a set of slices that form one regular volume. One SeriesInstanceUID is split into
several stacks when orientation, matrix size or pixel spacing differ, or when slice positions
repeat (several phases, echoes or acquisitions); localizers (ImageType LOCALIZER) are kept apart,
each multi-frame object is its own stack, and SEG objects attach to the series they reference.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from engine.io.headers import SliceHeader
from engine.io.model import ScanResult, SeriesInfo, Skipped, StudyInfo

_ORIENT_DECIMALS = 3
_SPACING_DECIMALS = 3
_POSITION_TOL_MM = 1e-3


def group(headers: list[SliceHeader], root: str, skipped: list[Skipped]) -> ScanResult:
    """Build a :class:`ScanResult` from parsed headers (any order)."""
    result = ScanResult(root=root, skipped=list(skipped))
    headers = _dedupe(headers, result.skipped)
    segs = [h for h in headers if h.is_seg]
    images = [h for h in headers if not h.is_seg]
    by_study: dict[str, list[SliceHeader]] = defaultdict(list)
    for h in images:
        by_study[h.study_uid].append(h)
    for study_uid in sorted(by_study, key=lambda u: _first_path(by_study[u])):
        result.studies.append(_study(study_uid, by_study[study_uid]))
    _attach_segmentations(result, segs)
    return result


def _first_path(headers: list[SliceHeader]) -> str:
    return min(h.path for h in headers)


def _dedupe(headers: list[SliceHeader], skipped: list[Skipped]) -> list[SliceHeader]:
    """Drop second copies of one slice; keep distinct slices that share a SOP Instance UID.

    A copy (same SOP Instance UID, same position and acquisition facts) is skipped, and the
    slice it copies says so in its warnings. Files that share a UID but lie at different
    positions are distinct slices (a faulty de-identification or export tool rewrote the UIDs):
    all are kept, with a warning.
    """
    by_uid: dict[str, list[SliceHeader]] = defaultdict(list)
    for h in sorted(headers, key=lambda h: h.path):
        by_uid[h.sop_instance_uid].append(h)
    out = []
    for uid, same in by_uid.items():
        if not uid or len(same) == 1:
            out.extend(same)
            continue
        kept: dict[tuple, SliceHeader] = {}
        for h in same:
            key = _copy_key(h)
            if key in kept:
                skipped.append(Skipped(h.path, "duplicate of another file here (same SOP Instance "
                                               "UID and position)"))
                _note(kept[key], "a second copy of a slice (same SOP Instance UID and position) "
                                 "was left out")
                continue
            kept[key] = h
        if len(kept) > 1:
            for h in kept.values():
                _note(h, f"{len(kept)} slices share one SOP Instance UID at different positions; "
                         "all were kept (the UIDs were probably rewritten by a faulty "
                         "de-identification or export tool)")
        out.extend(kept.values())
    return sorted(out, key=lambda h: h.path)


def _copy_key(h: SliceHeader) -> tuple:
    return (_position_key(h), h.series_uid, h.phase_key, h.acquisition_number, h.instance_number,
            h.rows, h.columns, h.frames)


def _note(h: SliceHeader, warning: str) -> None:
    if warning not in h.warnings:
        h.warnings.append(warning)


def _study(study_uid: str, headers: list[SliceHeader]) -> StudyInfo:
    study = StudyInfo(study_uid, headers[0].study_description)
    by_series: dict[str, list[SliceHeader]] = defaultdict(list)
    for h in headers:
        by_series[h.series_uid].append(h)
    order = sorted(by_series, key=lambda u: (_number(by_series[u]), _first_path(by_series[u])))
    for uid in order:
        for stack in _stacks(uid, by_series[uid]):
            (study.localizers if stack.kind == "localizer" else study.series).append(stack)
    return study


def _number(headers: list[SliceHeader]) -> int:
    n = headers[0].series_number
    return n if n is not None else 1 << 30


def _stacks(series_uid: str, headers: list[SliceHeader]) -> list[SeriesInfo]:
    """Split one series into regular stacks, largest first; name them ``uid``, ``uid#2``…"""
    parts: list[tuple[str, list[SliceHeader], list[str]]] = []
    multi = [h for h in headers if h.is_multiframe]
    single = [h for h in headers if not h.is_multiframe]
    for h in multi:
        parts.append(("localizer" if h.is_localizer else "image", [h], []))
    loc = [h for h in single if h.is_localizer]
    img = [h for h in single if not h.is_localizer]
    for kind, members in (("image", img), ("localizer", loc)):
        geometry_groups = _by_geometry(members)
        reason = _split_reason(geometry_groups) if len(geometry_groups) > 1 else ""
        for g in geometry_groups:
            for phase, note in _by_phase(g):
                notes = [note] if note else []
                if reason:
                    notes.append(reason)
                parts.append((kind, phase, notes))
    parts.sort(key=lambda p: (p[0] != "image", -_voxels(p[1])))
    out = []
    for n, (kind, members, notes) in enumerate(parts):
        uid = series_uid if n == 0 else f"{series_uid}#{n + 1}"
        if len(parts) > 1:
            notes = notes + [f"series split into {len(parts)} stacks; this is stack {n + 1}"]
        out.append(_info(uid, kind, members, notes))
    return out


def _voxels(members: list[SliceHeader]) -> int:
    h = members[0]
    nz = h.frames if h.is_multiframe else len(members)
    return h.rows * h.columns * nz


def _info(uid: str, kind: str, members: list[SliceHeader], notes: list[str]) -> SeriesInfo:
    h = members[0]
    nz = h.frames if h.is_multiframe else len(members)
    warnings = list(dict.fromkeys(notes + [w for m in members for w in m.warnings]))
    if kind == "image" and not h.is_multiframe and any(m.position is None for m in members):
        warnings.append("slices lack ImagePositionPatient; geometry cannot be determined")
    return SeriesInfo(
        series_uid=uid, study_uid=h.study_uid, modality=h.modality,
        description=h.series_description, headers=members, size=(h.columns, h.rows, nz),
        kind=kind, series_number=h.series_number, warnings=warnings,
    )


def _geometry_key(h: SliceHeader) -> tuple:
    orient = tuple(np.round(h.orientation, _ORIENT_DECIMALS) + 0.0) if h.orientation else None
    spacing = tuple(np.round(h.pixel_spacing, _SPACING_DECIMALS)) if h.pixel_spacing else None
    return (orient, h.rows, h.columns, spacing, h.samples, h.bits_allocated)


def _by_geometry(members: list[SliceHeader]) -> list[list[SliceHeader]]:
    groups: dict[tuple, list[SliceHeader]] = defaultdict(list)
    for h in members:
        groups[_geometry_key(h)].append(h)
    return sorted(groups.values(), key=len, reverse=True)


def _split_reason(groups: list[list[SliceHeader]]) -> str:
    keys = [_geometry_key(g[0]) for g in groups]
    what = []
    if len({k[0] for k in keys}) > 1:
        what.append("orientation")
    if len({k[1:3] for k in keys}) > 1:
        what.append("matrix size")
    if len({k[3] for k in keys}) > 1:
        what.append("pixel spacing")
    return f"slices differ in {', '.join(what) or 'pixel format'}"


def _position_key(h: SliceHeader) -> tuple | None:
    if h.position is None:
        return None
    return tuple(np.round(np.asarray(h.position) / _POSITION_TOL_MM / 10).astype(np.int64))


def _by_phase(members: list[SliceHeader]) -> list[tuple[list[SliceHeader], str]]:
    """Split slices whose positions repeat into phases, by a telling attribute if one exists."""
    keys = [_position_key(h) for h in members]
    if None in keys or len(set(keys)) == len(keys):
        return [(members, "")]
    for attr in ("phase_key", "acquisition_number"):
        split: dict[object, list[SliceHeader]] = defaultdict(list)
        for h in members:
            split[getattr(h, attr)].append(h)
        if len(split) > 1 and all(len({_position_key(h) for h in g}) == len(g) for g in split.values()):
            groups = [split[k] for k in sorted(split, key=str)]
            return [(g, f"positions repeat: split by {attr.replace('_', ' ')}") for g in groups]
    # No attribute tells them apart: the n-th occurrence of each position goes to stack n.
    ordered = sorted(members, key=lambda h: (h.instance_number or 0, h.path))
    count: dict[tuple, int] = defaultdict(int)
    phases: dict[int, list[SliceHeader]] = defaultdict(list)
    for h in ordered:
        key = _position_key(h)
        phases[count[key]].append(h)
        count[key] += 1
    note = "slice positions repeat with no attribute telling them apart; split by instance number"
    return [(phases[n], note) for n in sorted(phases)]


def _attach_segmentations(result: ScanResult, segs: list[SliceHeader]) -> None:
    by_uid = {s.dicom_series_uid: s for s in reversed(result.series)}
    for h in segs:
        target = next((by_uid[u] for u in h.referenced_series if u in by_uid), None)
        if target is None:
            result.skipped.append(Skipped(h.path, "segmentation whose image series is not here"))
            continue
        target.segmentations.append(SeriesInfo(
            series_uid=h.series_uid, study_uid=h.study_uid, modality="SEG",
            description=h.series_description, headers=[h], size=target.size,
            kind="segmentation", series_number=h.series_number,
            referenced_series=list(h.referenced_series),
        ))
