"""Export of a label map: NIfTI/NRRD on the reference grid, or a DICOM SEG on its frames."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from engine import __version__
from engine.errors import InputError
from engine.export import label_files
from engine.export._atomic import atomic_outputs
from engine.export.grid import (as_label_array, labels_on_grid, present_labels,
                                same_grid_or_refuse)
from engine.export.options import ExportOptions, ExportResult, Provenance, format_of
from engine.export.seg_dicom import write_seg
from engine.export.seg_write import binary_frames
from engine.io.formats import READ_SUFFIXES, suffix_of
from engine.jobs import report, sub_progress
from engine.labels import LabelTable
from engine.volume import Volume

log = logging.getLogger(__name__)


def chosen_labels(labels: np.ndarray, table: LabelTable,
                  selection: tuple[int, ...] | None) -> tuple[list[int], list[str]]:
    """Labels to export: the selection (or every label present), minus empty ones (warned)."""
    present = set(present_labels(labels))
    wanted = sorted(present) if selection is None else sorted(set(selection))
    warnings = [f"label {table.get(i).name!r} is empty in this mask and was not exported"
                for i in wanted if i not in present]
    ids = [i for i in wanted if i in present]
    if not ids:
        raise InputError("nothing to export: the mask holds none of the chosen labels")
    return ids, warnings


def export_labels(mask: Volume, table: LabelTable, reference: Volume, out: str | Path,
                  options: ExportOptions | None = None, *, progress=None,
                  cancel=None) -> ExportResult:
    """Write ``mask`` (labels with ``table``'s names/colours) for the ``reference`` image.

    The format follows ``out``'s ending: ``.nii.gz``/``.nii``, ``.nrrd`` or ``.dcm`` (DICOM SEG).
    Nothing is left under ``out`` unless the whole export succeeded.
    """
    options = options or ExportOptions()
    out = Path(out)
    fmt = format_of(out)
    provenance = options.provenance or Provenance.from_metadata(mask.metadata)
    report(progress, cancel, 0.0, "preparing the mask")
    if fmt == "seg":
        same_grid_or_refuse(mask.geometry, reference.geometry)
        labels, warnings = as_label_array(mask.array), []
    else:
        labels, warnings = labels_on_grid(mask, reference.geometry)
    ids, empty = chosen_labels(labels, table, options.labels)
    warnings += empty
    if options.labels is not None and set(present_labels(labels)) - set(ids):
        labels = np.where(np.isin(labels, ids), labels, 0).astype(labels.dtype)
    if fmt == "seg":
        frames = binary_frames(labels, ids, options.seg_type)
        result = write_seg(frames, table, ids, reference, out, options, provenance,
                           progress=sub_progress(progress, 0.05, 1.0), cancel=cancel)
        result.warnings[:0] = warnings
        return result
    volume = reference.with_array(labels, modality="SEG", metadata={})
    extra = _file_extras(reference, provenance, options)
    with atomic_outputs() as outputs:
        report(progress, cancel, 0.3, f"writing {out.name}")
        extra_paths = _write_label_file(fmt, volume, table, ids, out, outputs, extra)
        if options.include_image:
            report(progress, cancel, 0.6, "writing the image")
            image_out = image_path_for(out)
            label_files.write_image(reference, outputs.temp_for(image_out))
            extra_paths.append(image_out)
        report(progress, cancel, 0.95, "finishing")
    report(progress, cancel, 1.0, "done")
    log.info("exported %d label(s) as %s", len(ids), fmt)
    return ExportResult(out, fmt, ids, extra_paths, warnings)


def _write_label_file(fmt, volume, table, ids, out, outputs, extra) -> list[Path]:
    if fmt == "nrrd":
        label_files.write_nrrd_labels(volume, table, ids, outputs.temp_for(out))
        return []
    side = label_files.sidecar_path(out)
    label_files.write_nifti_labels(volume, table, ids, outputs.temp_for(out),
                                   outputs.temp_for(side), extra)
    return [side]


def image_path_for(out: Path) -> Path:
    """Where the reference image goes beside an exported file: ``mask_image.nii.gz`` etc."""
    name, ending = out.name, suffix_of(out)
    if ending in READ_SUFFIXES:
        return out.with_name(name[: -len(ending)] + "_image" + name[-len(ending):])
    return out.with_name(out.stem + "_images")


def _file_extras(reference: Volume, provenance: Provenance, options: ExportOptions) -> dict:
    extra = {"provenance": provenance.to_dict(), "geometry": reference.geometry.to_dict(),
             "software": f"Candor {__version__}", "deidentified": options.deidentify}
    if not options.deidentify:
        keys = ("study_uid", "series_uid", "frame_of_reference_uid")
        extra["reference"] = {k: reference.metadata[k] for k in keys if reference.metadata.get(k)}
    return extra
