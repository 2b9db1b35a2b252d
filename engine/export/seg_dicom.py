"""Writing a DICOM SEG file (and, on request, the images it references) in one atomic step.

With ``deidentify`` the source images are de-identified first (PS3.15 basic profile, UIDs mapped
consistently), the SEG is built on those de-identified images, and both the SEG and a copy of the
images (``<name>_images/``) are written: a de-identified SEG is only useful next to the images it
references. Without it, the SEG keeps the reference study's identifiers and UIDs, for the PACS.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from engine.export._atomic import AtomicOutputs, atomic_outputs
from engine.export.deidentify import UidMap, deidentify
from engine.export.options import ExportOptions, ExportResult, Provenance
from engine.export.seg_sources import read_sources
from engine.export.seg_write import build_segmentation
from engine.jobs import report, sub_progress
from engine.labels import LabelTable
from engine.volume import Volume

log = logging.getLogger(__name__)


def images_folder_for(out: Path) -> Path:
    return out.with_name(out.name[: -len(out.suffix)] + "_images" if out.suffix else out.name + "_images")


def write_seg(frames: np.ndarray, table: LabelTable, label_ids: list[int], reference: Volume,
              out: Path, options: ExportOptions, provenance: Provenance, *,
              fractional_type: str = "PROBABILITY", progress=None, cancel=None) -> ExportResult:
    """Build the SEG of ``frames`` (k-ordered, see ``seg_write``) on ``reference`` and save it."""
    with_images = options.include_image or options.deidentify
    found = read_sources(reference, with_pixels=with_images,
                         progress=sub_progress(progress, 0.0, 0.3), cancel=cancel)
    sources = found.datasets
    warnings: list[str] = []
    if options.deidentify:
        uids = UidMap()
        sources = [deidentify(copy.deepcopy(ds), uids, pseudonym=options.pseudonym) for ds in sources]
    report(progress, cancel, 0.35, "building the DICOM SEG")
    seg = build_segmentation(sources, found.arrange(frames), table, label_ids, provenance,
                             seg_type=options.seg_type,
                             series_description=options.series_description,
                             series_number=options.series_number,
                             fractional_type=fractional_type)
    if options.deidentify:
        deidentify(seg, None, pseudonym=options.pseudonym)
    report(progress, cancel, 0.8, f"writing {out.name}")
    extra: list[Path] = []
    with atomic_outputs() as outputs:
        seg.save_as(outputs.temp_for(out), enforce_file_format=True)
        if with_images:
            extra.append(_write_images(sources, images_folder_for(out), outputs, progress, cancel))
    report(progress, cancel, 1.0, "done")
    log.info("wrote a %s DICOM SEG with %d segment(s), %d frame(s)", options.seg_type,
             len(label_ids), int(seg.NumberOfFrames))
    return ExportResult(out, "seg", list(label_ids), extra, warnings)


def _write_images(sources: list[Dataset], folder: Path, outputs: AtomicOutputs, progress,
                  cancel) -> Path:
    temp = outputs.temp_for(folder)
    temp.mkdir()
    for k, ds in enumerate(sources):
        report(progress, cancel, 0.85 + 0.15 * k / max(len(sources), 1), "writing the images")
        ds.save_as(temp / f"IM{k:04d}.dcm", enforce_file_format=True)
    return folder
