"""Write a :class:`~engine.volume.Volume` as a real single-frame DICOM series (CT, MR, …).

Used by ``candor demo``, by the exporters' tests and by every test that needs a scan on disk.
One file per k slice; each file's ImagePositionPatient is the LPS centre of voxel ``(0, 0, k)``,
ImageOrientationPatient the i (row) and j (column) axes, PixelSpacing ``(spacing_y, spacing_x)``
(row spacing first, as DICOM defines it).

DICOM readers (Candor's, SimpleITK's) sort slices along the normal ``row × column``; a volume whose
k axis points the other way (a left-handed direction matrix) is read back with k reversed, which
is the same physical image. ``write_series`` logs that case.

Pixel values: integer arrays are stored as they are (int8/int32 narrowed to 16 bits when they fit)
unless ``rescale`` is given; float arrays are stored as int16 with a rescale computed from their
range unless ``rescale`` says otherwise. ``rescale`` may be one ``(slope, intercept)`` pair or one
pair per slice (per-slice rescale, as some scanners write).
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    PositronEmissionTomographyImageStorage,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from engine import __version__
from engine.errors import InputError
from engine.volume import Volume

log = logging.getLogger(__name__)

SOP_CLASSES = {
    "CT": CTImageStorage,
    "MR": MRImageStorage,
    "PT": PositronEmissionTomographyImageStorage,
}
_UNCOMPRESSED = {ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian,
                 ExplicitVRBigEndian}
Rescale = tuple[float, float]


def write_series(
    volume: Volume,
    folder: str | Path,
    *,
    modality: str | None = None,
    series_description: str = "Candor series",
    patient_name: str = "ANONYMOUS^CANDOR",
    patient_id: str = "CANDOR0001",
    study_uid: str | None = None,
    series_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    transfer_syntax: str = ExplicitVRLittleEndian,
    rescale: Rescale | Sequence[Rescale] | None = None,
    filename_pattern: str = "IM{index:04d}.dcm",
    series_number: int = 1,
    window: tuple[float, float] | None = None,
    extra: dict[str, Any] | None = None,
    edit: Callable[[Dataset, int], None] | None = None,
) -> list[Path]:
    """Write ``volume`` as one DICOM file per k slice into ``folder``; return the paths in k order.

    ``filename_pattern`` is formatted with ``index`` (k) and ``instance`` (InstanceNumber, k + 1).
    ``extra`` sets attributes (by keyword) on every file; ``edit(ds, k)`` may change each dataset
    just before it is saved (tests use it to build tricky series). Compressed ``transfer_syntax``
    values go through pydicom's encoders (RLE, JPEG-LS, JPEG 2000 lossless and lossy).
    """
    modality = (modality or volume.modality or "CT").upper()
    if modality == "OT":
        modality = "CT"
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nz = volume.geometry.size[2]
    stored, rescales = _stored_pixels(volume.array, rescale, nz)
    shared = _SeriesFacts(
        modality=modality,
        study_uid=study_uid or generate_uid(),
        series_uid=series_uid or generate_uid(),
        frame_uid=frame_of_reference_uid or generate_uid(),
        description=series_description,
        patient_name=patient_name,
        patient_id=patient_id,
        series_number=series_number,
        window=window or _default_window(modality, volume.array),
    )
    _warn_left_handed(volume)
    paths = []
    for k in range(nz):
        ds = _slice_dataset(volume, stored[k], k, rescales[k], shared)
        for key, value in (extra or {}).items():
            setattr(ds, key, value)
        path = folder / filename_pattern.format(index=k, instance=k + 1)
        _finish_and_save(ds, path, UID(transfer_syntax), edit, k)
        paths.append(path)
    return paths


class _SeriesFacts:
    """What every slice of the series shares."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)
        now = _dt.datetime.now()
        self.date = now.strftime("%Y%m%d")
        self.time = now.strftime("%H%M%S")


# Pixel values ---------------------------------------------------------------------------------
def _stored_pixels(array: np.ndarray, rescale: Any, nz: int) -> tuple[np.ndarray, list[Rescale | None]]:
    """Stored (integer) values per slice and the rescale of each slice (None = no rescale tags)."""
    if rescale is not None:
        pairs = _rescale_pairs(rescale, nz)
        out = np.empty(array.shape, dtype=np.int16)
        for k, (slope, intercept) in enumerate(pairs):
            raw = np.rint((np.asarray(array[k], dtype=np.float64) - intercept) / slope)
            if raw.min(initial=0) < -32768 or raw.max(initial=0) > 32767:
                raise InputError(f"slice {k} does not fit 16 bits with rescale {slope}, {intercept}")
            out[k] = raw
        return out, list(pairs)
    if np.issubdtype(array.dtype, np.floating):
        return _auto_rescale(array, nz)
    if array.dtype == np.bool_:
        return array.astype(np.uint8), [None] * nz
    if array.dtype in (np.int16, np.uint16, np.uint8):
        return array, [None] * nz
    lo, hi = (int(array.min()), int(array.max())) if array.size else (0, 0)
    if -32768 <= lo and hi <= 32767:
        return array.astype(np.int16), [None] * nz
    if 0 <= lo and hi <= 65535:
        return array.astype(np.uint16), [None] * nz
    raise InputError(f"integer values {lo}..{hi} do not fit 16 bits; give a rescale")


def _rescale_pairs(rescale: Any, nz: int) -> list[Rescale]:
    arr = np.asarray(rescale, dtype=np.float64)
    if arr.shape == (2,):
        pairs = [(float(arr[0]), float(arr[1]))] * nz
    elif arr.shape == (nz, 2):
        pairs = [(float(s), float(i)) for s, i in arr]
    else:
        raise InputError("rescale must be (slope, intercept) or one such pair per slice")
    if any(s == 0 or not np.isfinite(s) or not np.isfinite(i) for s, i in pairs):
        raise InputError("rescale slopes must be finite and non-zero")
    return pairs


def _auto_rescale(array: np.ndarray, nz: int) -> tuple[np.ndarray, list[Rescale | None]]:
    lo, hi = (float(np.nanmin(array)), float(np.nanmax(array))) if array.size else (0.0, 0.0)
    whole = np.all(np.mod(array, 1) == 0)
    if whole and -32768 <= lo and hi <= 32767:
        return array.astype(np.int16), [(1.0, 0.0)] * nz
    slope = (hi - lo) / 65000.0 if hi > lo else 1.0
    intercept = lo + 32500.0 * slope
    return _stored_pixels(array, (slope, intercept), nz)


def _default_window(modality: str, array: np.ndarray) -> tuple[float, float]:
    if modality == "CT":
        return (40.0, 400.0)
    lo, hi = (float(np.min(array)), float(np.max(array))) if array.size else (0.0, 1.0)
    return ((lo + hi) / 2.0, max(hi - lo, 1.0))


def _warn_left_handed(volume: Volume) -> None:
    m = volume.geometry.matrix
    if volume.geometry.size[2] > 1 and np.dot(np.cross(m[:, 0], m[:, 1]), m[:, 2]) < 0:
        log.info("direction is left-handed: DICOM readers will return this series with k reversed")


# Datasets -------------------------------------------------------------------------------------
def _slice_dataset(volume: Volume, pixels: np.ndarray, k: int, rescale: Rescale | None,
                   facts: _SeriesFacts) -> Dataset:
    g = volume.geometry
    m = g.matrix
    position = np.asarray(g.origin) + m[:, 2] * g.spacing[2] * k
    ds = Dataset()
    _patient_and_study(ds, facts)
    ds.SOPClassUID = SOP_CLASSES.get(facts.modality, SecondaryCaptureImageStorage)
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = facts.modality
    ds.SeriesInstanceUID = facts.series_uid
    ds.SeriesNumber = facts.series_number
    ds.SeriesDescription = facts.description
    ds.FrameOfReferenceUID = facts.frame_uid
    ds.PositionReferenceIndicator = ""
    ds.InstanceNumber = k + 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ImagePositionPatient = [_ds(v) for v in position]
    ds.ImageOrientationPatient = [_ds(v) for v in (*m[:, 0], *m[:, 1])]
    ds.SliceLocation = _ds(float(np.dot(position, np.cross(m[:, 0], m[:, 1]))))
    ds.PixelSpacing = [_ds(g.spacing[1]), _ds(g.spacing[0])]
    ds.SliceThickness = _ds(g.spacing[2])
    _image_pixel(ds, pixels)
    if rescale is not None or facts.modality == "CT":
        slope, intercept = rescale if rescale is not None else (1.0, 0.0)
        ds.RescaleSlope = _ds(slope)
        ds.RescaleIntercept = _ds(intercept)
        ds.RescaleType = "HU" if facts.modality == "CT" else "US"
    ds.WindowCenter = _ds(facts.window[0])
    ds.WindowWidth = _ds(facts.window[1])
    _modality_module(ds, facts.modality, g.spacing[2])
    return ds


def _patient_and_study(ds: Dataset, facts: _SeriesFacts) -> None:
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = facts.patient_name
    ds.PatientID = facts.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyInstanceUID = facts.study_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = facts.date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = facts.time
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.Manufacturer = "Candor"
    ds.ManufacturerModelName = "Candor synthetic"
    ds.SoftwareVersions = __version__
    ds.BodyPartExamined = "CHEST"
    ds.PatientPosition = "HFS"


def _image_pixel(ds: Dataset, pixels: np.ndarray) -> None:
    bits = pixels.dtype.itemsize * 8
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if np.issubdtype(pixels.dtype, np.signedinteger) else 0
    ds.PixelData = np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder("<")).tobytes()
    ds["PixelData"].VR = "OB" if bits == 8 else "OW"
    if pixels.size:
        lo, hi = int(pixels.min()), int(pixels.max())
        vr = "SS" if ds.PixelRepresentation else "US"
        if bits == 16:
            ds.add_new(0x00280106, vr, lo)  # SmallestImagePixelValue
            ds.add_new(0x00280107, vr, hi)  # LargestImagePixelValue


def _modality_module(ds: Dataset, modality: str, thickness: float) -> None:
    if modality == "CT":
        ds.KVP = "120"
        ds.ConvolutionKernel = "STANDARD"
        ds.XRayTubeCurrent = 200
        ds.ExposureTime = 1000
        ds.GantryDetectorTilt = "0"
        ds.AcquisitionNumber = 1
    elif modality == "MR":
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "NONE"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "3D"
        ds.RepetitionTime = "500"
        ds.EchoTime = "15"
        ds.EchoTrainLength = 1
        ds.MagneticFieldStrength = "1.5"
        ds.ImagingFrequency = "63.87"
        ds.ImagedNucleus = "1H"
        ds.SpacingBetweenSlices = _ds(thickness)


def _ds(value: float) -> str:
    """A DS string of at most 16 characters that keeps as much precision as fits."""
    value = float(value)
    if value == 0:
        return "0"
    for digits in range(15, 0, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    return f"{value:.6e}"


# Saving ---------------------------------------------------------------------------------------
def _finish_and_save(ds: Dataset, path: Path, syntax: UID, edit: Callable | None, k: int) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"CANDOR_{__version__}"[:16]
    ds.file_meta = meta
    if syntax in _UNCOMPRESSED:
        meta.TransferSyntaxUID = syntax
        if syntax == ExplicitVRBigEndian:
            _to_big_endian(ds)
    else:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        _compress(ds, syntax)
    if edit is not None:
        edit(ds, k)
    ds.save_as(path, enforce_file_format=True)


def _compress(ds: Dataset, syntax: UID) -> None:
    kwargs: dict[str, Any] = {}
    if syntax == pydicom.uid.JPEG2000:  # lossy J2K: a modest, fixed compression ratio
        kwargs["j2k_cr"] = [10]
    try:
        ds.compress(syntax, **kwargs)
    except (RuntimeError, ValueError, NotImplementedError) as exc:
        raise InputError(f"cannot encode {syntax.name}: {exc}") from exc


def _to_big_endian(ds: Dataset) -> None:
    bits = int(ds.BitsAllocated)
    if bits > 8:
        dtype = np.dtype(f"<{'i' if ds.PixelRepresentation else 'u'}{bits // 8}")
        values = np.frombuffer(ds.PixelData, dtype=dtype)
        ds.PixelData = values.astype(dtype.newbyteorder(">")).tobytes()
