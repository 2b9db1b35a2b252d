"""The source DICOM instances a SEG references, checked against the reference volume.

A DICOM Segmentation is only as good as its references: each frame must point at the source
image it lies on, and all of them must share one frame of reference. Everything here refuses,
with a plain message, the references it cannot honour, before anything is written.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from engine.errors import InputError, UnsupportedError
from engine.jobs import report
from engine.volume import Volume

log = logging.getLogger(__name__)

_POSITION_TOL_MM = 0.01   # DS strings keep ~10 digits; geometry agrees far better than this
_COSINE_TOL = 1e-4


def source_paths(reference: Volume) -> list[Path]:
    """The reference's DICOM files in k order; refuses non-DICOM references and missing files."""
    files = reference.metadata.get("source_files")
    if not files or reference.metadata.get("source_format", "dicom") != "dicom":
        raise InputError("the reference image was not loaded from a DICOM series, so a DICOM SEG "
                         "cannot reference it; export to NIfTI or NRRD instead")
    paths = [Path(f) for f in files]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InputError(f"the reference series is missing: {len(missing)} of {len(paths)} source "
                         f"files cannot be found (first: {missing[0].name}); the SEG was not written")
    return paths


def read_sources(reference: Volume, *, with_pixels: bool = False, progress=None,
                 cancel=None) -> list[Dataset]:
    """Read and check the reference's source instances (headers only unless ``with_pixels``)."""
    paths = source_paths(reference)
    datasets = []
    for n, path in enumerate(paths):
        report(progress, cancel, n / len(paths), "reading the reference series")
        try:
            datasets.append(pydicom.dcmread(path, stop_before_pixels=not with_pixels))
        except (OSError, pydicom.errors.InvalidDicomError) as exc:
            raise InputError(f"source file {path.name} of the reference series cannot be read "
                             f"({type(exc).__name__})") from None
    check_sources(reference, datasets)
    return datasets


def check_sources(reference: Volume, datasets: list[Dataset]) -> None:
    """Refuse references a SEG cannot honour: multi-frame, mixed frames, wrong geometry."""
    g = reference.geometry
    if len(datasets) == 1 and int(datasets[0].get("NumberOfFrames", 1) or 1) > 1:
        raise UnsupportedError("DICOM SEG export from a multi-frame (enhanced) source image is "
                               "not supported yet; export to NIfTI or NRRD instead")
    if len(datasets) != g.size[2]:
        raise InputError(f"the reference volume has {g.size[2]} slices but {len(datasets)} "
                         "source files; the SEG cannot reference them one to one")
    frames = {str(ds.get("FrameOfReferenceUID", "")) for ds in datasets}
    if "" in frames:
        raise InputError("some source images have no frame of reference, so a SEG cannot be "
                         "placed on them")
    if len(frames) > 1:
        raise InputError(f"the reference series mixes {len(frames)} frames of reference; a SEG "
                         "must lie in exactly one")
    series = {str(ds.get("SeriesInstanceUID", "")) for ds in datasets}
    if len(series) > 1:
        raise InputError("the reference files belong to more than one series")
    expected_uids = reference.metadata.get("sop_instance_uids")
    m = g.matrix
    for k, ds in enumerate(datasets):
        if expected_uids and str(ds.SOPInstanceUID) != str(expected_uids[k]):
            raise InputError(f"source file for slice {k} is not the instance the volume was loaded "
                             "from (the series changed on disk since it was opened)")
        _check_frame(ds, k, g, m)


def _check_frame(ds: Dataset, k: int, g, m: np.ndarray) -> None:
    where = f"slice {k}"
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        iop = np.asarray([float(v) for v in ds.ImageOrientationPatient])
        ipp = np.asarray([float(v) for v in ds.ImagePositionPatient])
        spacing = [float(v) for v in ds.PixelSpacing]
    except (AttributeError, ValueError, TypeError):
        raise InputError(f"{where} of the reference series lacks its position, orientation or "
                         "pixel spacing; a SEG cannot be placed on it") from None
    if (cols, rows) != (g.size[0], g.size[1]):
        raise InputError(f"{where}: source image is {cols}×{rows} but the mask is "
                         f"{g.size[0]}×{g.size[1]}: the mask's geometry does not match the series")
    if not (np.allclose(iop[:3], m[:, 0], atol=_COSINE_TOL)
            and np.allclose(iop[3:], m[:, 1], atol=_COSINE_TOL)):
        raise InputError(f"{where}: the source image's orientation differs from the mask's; the "
                         "mask's geometry does not match the series")
    expected = g.index_to_physical([0.0, 0.0, float(k)])
    if not np.allclose(ipp, expected, atol=max(_POSITION_TOL_MM, 1e-3 * g.spacing[2])):
        raise InputError(f"{where}: the source image lies at a different position from the mask's "
                         "slice; the mask's geometry does not match the series")
    if not np.allclose(spacing, [g.spacing[1], g.spacing[0]], atol=1e-4):
        raise InputError(f"{where}: pixel spacing differs from the mask's; the mask's geometry "
                         "does not match the series")
