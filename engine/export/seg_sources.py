"""The source DICOM instances a SEG references, checked against the reference volume.

A DICOM Segmentation is only as good as its references: each frame must point at the source
image (or the frame of a multi-frame image) it lies on, and all of them must share one frame of
reference. Everything here refuses,
with a plain message, the references it cannot honour, before anything is written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from engine.errors import InputError
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


@dataclass
class Sources:
    """The source instances of a reference volume and how its k slices map onto their frames.

    ``frame_of_k`` is ``None`` for a classic series (slice k is ``datasets[k]``); for one
    multi-frame (enhanced) image it holds the 0-based frame index of each k slice.
    """

    datasets: list[Dataset]
    frame_of_k: list[int] | None = None

    def arrange(self, frames: np.ndarray) -> np.ndarray:
        """SEG pixel frames in k order → the order highdicom pairs with the source frames."""
        if self.frame_of_k is None:
            return frames
        n = int(self.datasets[0].NumberOfFrames)
        out = np.zeros((n, *frames.shape[1:]), dtype=frames.dtype)  # other frames stay empty
        out[self.frame_of_k] = frames
        return out


def read_sources(reference: Volume, *, with_pixels: bool = False, progress=None,
                 cancel=None) -> Sources:
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
    return check_sources(reference, datasets)


def check_sources(reference: Volume, datasets: list[Dataset]) -> Sources:
    """Refuse references a SEG cannot honour: mixed frames, wrong geometry, changed files."""
    g = reference.geometry
    frame_of_k = _multiframe_map(reference, datasets)
    if frame_of_k is None and len(datasets) != g.size[2]:
        raise InputError(f"the reference volume has {g.size[2]} slices but {len(datasets)} "
                         "source files; the SEG cannot reference them one to one")
    frames = {str(ds.get("FrameOfReferenceUID", "")) for ds in datasets}
    if "" in frames:
        raise InputError("some source images have no frame of reference, so a SEG cannot be "
                         "placed on them")
    if len(frames) > 1:
        raise InputError(f"the reference series mixes {len(frames)} frames of reference; a SEG "
                         "must lie in exactly one")
    if len({str(ds.get("SeriesInstanceUID", "")) for ds in datasets}) > 1:
        raise InputError("the reference files belong to more than one series")
    expected_uids = reference.metadata.get("sop_instance_uids")
    positions = _true_positions(reference)
    for k in range(g.size[2]):
        ds = datasets[0] if frame_of_k is not None else datasets[k]
        if expected_uids and str(ds.SOPInstanceUID) != str(expected_uids[k]):
            raise InputError(f"source file for slice {k} is not the instance the volume was loaded "
                             "from (the series changed on disk since it was opened)")
        frame = frame_of_k[k] if frame_of_k is not None else None
        expected = positions[k] if positions is not None else g.index_to_physical([0.0, 0.0, k])
        _check_plane(_plane(ds, frame, k), k, g, expected)
    return Sources(datasets, frame_of_k)


def _true_positions(reference: Volume) -> np.ndarray | None:
    """Where each slice really is, for an irregular stack shown on a regular grid.

    Each SEG frame lies on its own source slice, so a mask drawn slice by slice on an irregular
    stack (a missing slice, uneven spacing) is still referenced exactly; only the regular grid
    the viewer shows it on is approximate (the loader warns about that).
    """
    positions = reference.metadata.get("slice_positions")
    if not reference.metadata.get("irregular_slices") or positions is None:
        return None
    positions = np.asarray(positions, dtype=np.float64)
    return positions if positions.shape == (reference.geometry.size[2], 3) else None


def _multiframe_map(reference: Volume, datasets: list[Dataset]) -> list[int] | None:
    if len(datasets) != 1 or int(datasets[0].get("NumberOfFrames", 1) or 1) <= 1:
        return None
    numbers = reference.metadata.get("frame_numbers")
    n = int(datasets[0].NumberOfFrames)
    if not numbers or len(numbers) != reference.geometry.size[2] or \
            not all(1 <= int(f) <= n for f in numbers):
        raise InputError("the reference volume does not say which frames of its multi-frame "
                         "source image it holds; the SEG cannot reference them")
    return [int(f) - 1 for f in numbers]


def _group_item(ds: Dataset, frame: int | None, sequence: str, keyword: str):
    """An attribute from the per-frame functional groups of ``frame``, else the shared ones."""
    groups = []
    if frame is not None and "PerFrameFunctionalGroupsSequence" in ds:
        groups.append(ds.PerFrameFunctionalGroupsSequence[frame])
    if "SharedFunctionalGroupsSequence" in ds:
        groups.append(ds.SharedFunctionalGroupsSequence[0])
    for group in groups:
        if sequence in group and keyword in group[sequence][0]:
            return group[sequence][0][keyword].value
    return ds.get(keyword)


def _plane(ds: Dataset, frame: int | None, k: int):
    """(columns, rows, orientation, position, pixel spacing) of one source frame."""
    try:
        iop = _group_item(ds, frame, "PlaneOrientationSequence", "ImageOrientationPatient")
        ipp = _group_item(ds, frame, "PlanePositionSequence", "ImagePositionPatient")
        spacing = _group_item(ds, frame, "PixelMeasuresSequence", "PixelSpacing")
        return (int(ds.Columns), int(ds.Rows), np.asarray([float(v) for v in iop]),
                np.asarray([float(v) for v in ipp]), [float(v) for v in spacing])
    except (AttributeError, ValueError, TypeError):
        raise InputError(f"slice {k} of the reference series lacks its position, orientation or "
                         "pixel spacing; a SEG cannot be placed on it") from None


def _check_plane(plane, k: int, g, expected: np.ndarray) -> None:
    cols, rows, iop, ipp, spacing = plane
    where, m = f"slice {k}", g.matrix
    if (cols, rows) != (g.size[0], g.size[1]):
        raise InputError(f"{where}: source image is {cols}×{rows} but the mask is "
                         f"{g.size[0]}×{g.size[1]}: the mask's geometry does not match the series")
    if not (np.allclose(iop[:3], m[:, 0], atol=_COSINE_TOL)
            and np.allclose(iop[3:], m[:, 1], atol=_COSINE_TOL)):
        raise InputError(f"{where}: the source image's orientation differs from the mask's; the "
                         "mask's geometry does not match the series")
    if not np.allclose(ipp, expected, atol=max(_POSITION_TOL_MM, 1e-3 * g.spacing[2])):
        raise InputError(f"{where}: the source image lies at a different position from the mask's "
                         "slice; the mask's geometry does not match the series")
    if not np.allclose(spacing, [g.spacing[1], g.spacing[0]], atol=1e-4):
        raise InputError(f"{where}: pixel spacing differs from the mask's; the mask's geometry "
                         "does not match the series")
