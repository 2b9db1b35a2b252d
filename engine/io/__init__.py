"""Reading scans: folder scan, DICOM series assembly, NIfTI/NRRD/MHA, and a DICOM series writer.

Public API (stable; everything else in this package is internal):

``load(path, series_uid=None, *, progress=None, cancel=None) -> Volume``
    ``path`` is a folder (scanned recursively), a DICOM file, a DICOMDIR, or a ``.nii``,
    ``.nii.gz``, ``.nrrd``, ``.nhdr``, ``.mha``, ``.mhd`` file. For DICOM, ``series_uid`` picks a
    stack (a ``ScanResult.series[i].series_uid``); without it the largest image stack is loaded
    and ``metadata["picked_largest_of"]`` counts the candidates. Geometry follows ITK/SimpleITK;
    irregular stacks carry warnings and ``metadata["slice_positions"]``.
``scan(path, *, progress=None, cancel=None) -> ScanResult``
    Headers-only, parallel scan: ``result.studies`` (``StudyInfo`` → ``series``/``localizers``),
    ``result.series`` (every stack, ``SeriesInfo``), ``result.skipped`` (``Skipped(path, reason)``),
    ``result.largest()``, ``result.find(uid)``, ``result.to_dict()`` (the ``candor scan --json``
    document). SEG objects are ``SeriesInfo(kind="segmentation")`` in ``series.segmentations``.
``load_series(info, *, progress=None, cancel=None) -> Volume``
    Load a stack a scan found (the viewer's series browser does scan → pick → load_series).
``regularize(volume, spacing=None, *, progress=None, cancel=None) -> Volume``
    Resample an irregular stack (missing slices, uneven spacing, gantry tilt) to a regular grid.
``write_image(volume, path) -> Path`` / ``read_image(path) -> Volume``
    NIfTI/NRRD/MetaImage through SimpleITK, geometry preserved. A detached header (``.mhd``,
    ``.nhdr``, ``.hdr``) may only name data files in its own folder. What SimpleITK would fill in
    silently is refused (a short gzip/zlib stream) or stated in ``volume.warnings``: pixdim 0/NaN
    or missing spacing (1 mm assumed), qform/sform disagreement and sheared sforms (which one was
    used), NaN/inf voxels (set to 0, counted), 4-D images (first volume shown).
``write_series(volume, folder, *, modality=None, series_description=..., patient_name=...,
patient_id=..., study_uid=None, series_uid=None, frame_of_reference_uid=None,
transfer_syntax=ExplicitVRLittleEndian, rescale=None, filename_pattern="IM{index:04d}.dcm",
series_number=1, window=None, extra=None, edit=None) -> list[Path]``
    A real single-frame CT/MR/PT DICOM series, one file per k slice (tests, demo, exporters).

DICOM volumes carry these ``metadata`` keys (never patient identity): ``source_format``,
``series_uid`` (the DICOM UID), ``study_uid``, ``frame_of_reference_uid``, ``series_description``,
``series_number``, ``manufacturer``, ``sop_class_uid``, ``source_files`` and ``sop_instance_uids``
(k order), ``window_presets`` [(center, width)], ``rescale_type``, ``body_part``,
``slice_positions`` (true LPS position of each k slice), ``irregular_slices`` (bool: missing,
uneven or tilted; see ``regularize``), and when they apply ``stack_id`` (``uid#2`` for a split
series), ``frame_numbers`` (multi-frame), ``picked_largest_of`` (``load`` chose among several).
Values: integer dtype kept when the rescale is exact, float32 when slopes vary or are fractional;
MONOCHROME1 inverted (stated in ``warnings``); slices sharing one SOP Instance UID at different
positions are kept and stated, true duplicates dropped and stated, polyglot preambles (ZIP, PDF,
executables, CVE-2019-11687) stated. Errors are ``InputError``/``UnsupportedError``.

Bad input: every third-party parse or decode runs inside ``engine.io.guard.boundary``, which turns
whatever it raises (Rust panics included) into a ``guard.DamagedData`` (an ``InputError``) naming
the file by position, never by name; in a folder scan such a file is skipped with its reason and
the rest load. No single array larger than ``CANDOR_MAX_VOLUME_BYTES`` (default 32 GiB; e.g.
``8G``) is allocated, and a deflated file may not inflate beyond it
(``guard.check_allocation``); declared sizes are compared with what a file holds first.
"""

from __future__ import annotations

from engine.io import dicomlib as _dicomlib

# pydicom's reading warnings quote element values, which may identify a patient: keep them out of
# logs and stderr. Damaged files are reported by Candor itself (ScanResult.skipped, errors).
# pydicom itself is imported only when a file needs it (engine.io.dicomlib).
_dicomlib.quiet_filters()
_dicomlib.configure_if_loaded()

from engine.io.dicom_load import load_series  # noqa: E402, I001
from engine.io.formats import read_image, write_image  # noqa: E402
from engine.io.load import load, pick_series  # noqa: E402
from engine.io.model import ScanResult, SeriesInfo, Skipped, StudyInfo  # noqa: E402
from engine.io.resample import regularize  # noqa: E402
from engine.io.scan import scan  # noqa: E402


def __getattr__(name: str):
    """``write_series`` imports pydicom's writer classes: only when it is used."""
    if name == "write_series":
        from engine.io.dicom_write import write_series

        globals()["write_series"] = write_series
        return write_series
    raise AttributeError(f"module 'engine.io' has no attribute {name!r}")


__all__ = [
    "ScanResult", "SeriesInfo", "Skipped", "StudyInfo", "load", "load_series", "pick_series",
    "read_image", "regularize", "scan", "write_image", "write_series",
]
