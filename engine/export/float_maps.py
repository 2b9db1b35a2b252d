"""Probability and uncertainty maps: float NIfTI/NRRD, and fractional DICOM SEG for probabilities."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine import __version__
from engine.errors import InputError
from engine.export import label_files
from engine.export._atomic import atomic_outputs
from engine.export.grid import resample_linear, same_grid_or_refuse
from engine.export.options import ExportOptions, ExportResult, Provenance, format_of
from engine.export.seg_dicom import write_seg
from engine.jobs import report
from engine.labels import LabelInfo, LabelTable
from engine.volume import Volume

log = logging.getLogger(__name__)

MAP_KINDS = ("probability", "uncertainty")


def _float_on_grid(volume: Volume, reference: Volume) -> tuple[np.ndarray, list[str]]:
    array = np.asarray(volume.array, dtype=np.float32)
    if volume.geometry.is_close(reference.geometry):
        return array, []
    out = resample_linear(volume.with_array(array), reference.geometry)
    return out, ["the map was on a different voxel grid and was resampled (linear) onto the "
                 "reference image"]


def export_float_map(volume: Volume, reference: Volume, out: str | Path, *,
                     kind: str = "probability", label: LabelInfo | None = None,
                     options: ExportOptions | None = None, progress=None,
                     cancel=None) -> ExportResult:
    """A probability or uncertainty map as float32 NIfTI/NRRD (JSON sidecar), or a fractional SEG.

    DICOM SEG holds probabilities only (``kind="probability"``, values in 0..1).
    """
    if kind not in MAP_KINDS:
        raise InputError(f"map kind must be one of {', '.join(MAP_KINDS)}")
    out = Path(out)
    options = options or ExportOptions()
    label = label or LabelInfo(1, volume.metadata.get("label_name") or "Probability", (255, 0, 0))
    if format_of(out) == "seg":
        if kind != "probability":
            raise InputError("a DICOM SEG can hold probabilities but not uncertainty maps; "
                             "export the uncertainty map to NIfTI or NRRD")
        return export_probability_seg({label.id: volume}, LabelTable([label]), reference, out,
                                      options, progress=progress, cancel=cancel)
    report(progress, cancel, 0.1, "preparing the map")
    array, warnings = _float_on_grid(volume, reference)
    image = reference.with_array(array, modality="OT", metadata={})
    side = label_files.sidecar_path(out)
    content = {"format": "candor-map/1", "kind": kind, "label": label.to_dict(),
               "value_range": [float(array.min()), float(array.max())] if array.size else [0, 0],
               "software": f"Candor {__version__}", "deidentified": options.deidentify}
    with atomic_outputs() as outputs:
        report(progress, cancel, 0.4, f"writing {out.name}")
        label_files.write_image(image, outputs.temp_for(out))
        outputs.temp_for(side).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    report(progress, cancel, 1.0, "done")
    return ExportResult(out, format_of(out), [label.id], [side], warnings)


def export_probability_seg(maps: dict[int, Volume], table: LabelTable, reference: Volume,
                           out: str | Path, options: ExportOptions | None = None, *,
                           progress=None, cancel=None) -> ExportResult:
    """Per-label probability maps (0..1) as one FRACTIONAL (PROBABILITY) DICOM SEG."""
    out = Path(out)
    options = options or ExportOptions(seg_type="FRACTIONAL")
    if options.seg_type != "FRACTIONAL":
        options = replace(options, seg_type="FRACTIONAL")
    if not maps:
        raise InputError("no probability map to export")
    ids = sorted(maps)
    stacked = np.zeros((*reference.geometry.shape, len(ids)), dtype=np.float32)
    for n, label_id in enumerate(ids):
        same_grid_or_refuse(maps[label_id].geometry, reference.geometry)
        p = np.asarray(maps[label_id].array, dtype=np.float32)
        if not np.all(np.isfinite(p)) or p.min(initial=0) < -1e-6 or p.max(initial=0) > 1 + 1e-6:
            raise InputError(f"the map for {table.get(label_id).name!r} is not a probability "
                             "(values must lie in 0..1)")
        stacked[..., n] = np.rint(np.clip(p, 0, 1) * 255) / 255  # the SEG stores 255 levels
    provenance = options.provenance or Provenance.from_metadata(
        next(iter(maps.values())).metadata)
    return write_seg(stacked, table, ids, reference, out, options, provenance,
                     fractional_type="PROBABILITY", progress=progress, cancel=cancel)
