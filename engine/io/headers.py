"""Read one DICOM file's header (never its pixels) into a small, picklable :class:`SliceHeader`.

Only the first few kilobytes of a file are read for a typical image; the byte offset and length of
an uncompressed Pixel Data element are remembered so that the loader can later read the pixels
straight into the volume (``readinto``) without parsing the header again. Non-identifying facts
only: no patient name, ID or dates are kept.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.errors import CandorError, InputError
from engine.io import fastheader
from engine.io.dicomlib import pydicom
from engine.io.formats import READ_SUFFIXES
from engine.io.guard import MAX_SLICE_PIXELS, PASS_THROUGH, damage, max_voxel_bytes

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

log = logging.getLogger(__name__)

HEAD_BYTES = 16384
_DEFER_BYTES = 1 << 20
SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
ENHANCED_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.2.1": "Enhanced CT",
    "1.2.840.10008.5.1.4.1.1.2.2": "Legacy Converted Enhanced CT",
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR",
    "1.2.840.10008.5.1.4.1.1.4.4": "Legacy Converted Enhanced MR",
    "1.2.840.10008.5.1.4.1.1.130": "Enhanced PET",
    "1.2.840.10008.5.1.4.1.1.128.1": "Legacy Converted Enhanced PET",
}
EXPLICIT_LE, IMPLICIT_LE = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
_DEFLATED, _EXPLICIT_BE = "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2"
_RAW_SYNTAXES = {EXPLICIT_LE, IMPLICIT_LE}
_PIXEL_VRS = (b"OB", b"OW", b"OD", b"OF", b"OL", b"UN", b"OV")
# What a 128-byte preamble may hide (CVE-2019-11687: a file that is DICOM and also something
# else). TIFF is left out on purpose: DICOM/TIFF dual-personality files are allowed by Part 10.
_EXECUTABLE_MAGIC = (
    (b"MZ", "a Windows executable"), (b"\x7fELF", "a Linux executable"),
    (b"\xca\xfe\xba\xbe", "a macOS executable or Java class"),
    (b"\xcf\xfa\xed\xfe", "a macOS executable"), (b"\xce\xfa\xed\xfe", "a macOS executable"),
    (b"\xfe\xed\xfa\xce", "a macOS executable"), (b"\xfe\xed\xfa\xcf", "a macOS executable"),
    (b"#!", "a script"), (b"\x00asm", "a WebAssembly module"),
)
_CONTAINER_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive"), (b"PK\x05\x06", "a ZIP archive"),
    (b"PK\x07\x08", "a ZIP archive"), (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"), (b"Rar!\x1a\x07", "a RAR archive"),
    (b"BZh", "a bzip2 archive"), (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a Zstandard archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office document"),
    (b"{\\rtf", "an RTF document"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"), (b"<?xml", "an XML document"), (b"<!DOCTYPE", "an HTML document"),
    (b"<html", "an HTML document"), (b"<svg", "an SVG image"),
)


class SkipFile(InputError):
    """This file is not a usable image; the message says why (goes to ``ScanResult.skipped``)."""


@dataclass
class SliceHeader:
    """What the scan and the loader need to know about one DICOM file."""

    path: str
    file_size: int
    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    modality: str = "OT"
    series_description: str = ""
    study_description: str = ""
    series_number: int | None = None
    instance_number: int | None = None
    acquisition_number: int | None = None
    frame_uid: str = ""
    rows: int = 0
    columns: int = 0
    frames: int = 1
    samples: int = 1
    bits_allocated: int = 16
    bits_stored: int = 16
    signed: bool = False
    photometric: str = "MONOCHROME2"
    pixel_spacing: tuple[float, float] | None = None  # (row spacing, column spacing) = (sy, sx)
    orientation: tuple[float, ...] | None = None  # 6 direction cosines
    position: tuple[float, float, float] | None = None
    thickness: float | None = None
    frame_index: int | None = None  # for one frame of a multi-frame object
    slope: float = 1.0
    intercept: float = 0.0
    has_rescale: bool = False
    transfer_syntax: str = EXPLICIT_LE
    pixel_offset: int | None = None  # byte offset of raw (uncompressed LE) pixel values
    pixel_length: int | None = None
    image_type: tuple[str, ...] = ()
    phase_key: tuple = ()  # attributes that tell phases/echoes apart
    windows: list[tuple[float, float]] = field(default_factory=list)
    manufacturer: str = ""
    body_part: str = ""
    rescale_type: str = ""
    referenced_series: list[str] = field(default_factory=list)  # SEG: the image series it labels
    warnings: list[str] = field(default_factory=list)

    @property
    def is_seg(self) -> bool:
        return self.sop_class_uid == SEG_STORAGE

    @property
    def is_multiframe(self) -> bool:
        return self.frames > 1 or self.sop_class_uid in ENHANCED_CLASSES

    @property
    def is_localizer(self) -> bool:
        return "LOCALIZER" in self.image_type

    @property
    def frame_bytes(self) -> int:
        return self.rows * self.columns * self.samples * ((self.bits_allocated + 7) // 8)


def read_header(path: str | os.PathLike) -> SliceHeader:
    """Parse ``path``'s header; raise :class:`SkipFile` with a reason if it is not a usable image.

    Everything pydicom raises, while parsing or later while its values are converted (unknown
    VRs fail lazily), becomes a :class:`SkipFile`, so one damaged file never stops a folder scan.
    """
    path = str(path)
    try:
        size = os.path.getsize(path)
        if size == 0:
            raise SkipFile("empty file (0 bytes)")
        with open(path, "rb") as fp:
            head = fp.read(HEAD_BYTES)
            ds, offset = _parse(fp, head, size)
        return _to_header(path, size, ds, offset, head)
    except CandorError:
        raise
    except PASS_THROUGH:
        raise
    except fastheader.Truncated:
        raise SkipFile("damaged or truncated DICOM (an element runs past the end of the file)") from None
    except RecursionError:
        raise SkipFile("malformed DICOM: sequences nested too deeply") from None
    except MemoryError:
        raise SkipFile("malformed DICOM: an element declares an impossible length") from None
    except OSError as exc:
        raise SkipFile(f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    except BaseException as exc:  # pydicom raises many types on damaged files, some lazily
        raise SkipFile(f"damaged or truncated DICOM ({damage(exc)})") from None


def _parse(fp: Any, head: bytes, size: int) -> tuple[Dataset, int | None]:
    """Header dataset and, when pixel data follows, the offset of its element tag."""
    force = False
    if len(head) < 132 or head[128:132] != b"DICM":
        if not _looks_like_raw_dicom(head):
            raise SkipFile(_not_dicom_reason(fp.name))
        force = True
    if not force:
        fast = fastheader.parse(head, complete=len(head) >= size)
        if fast is not None:
            return fast
    if len(head) < size:  # try the first chunk only; fall back to the whole file
        try:
            buf = io.BytesIO(head)
            ds = pydicom().dcmread(buf, stop_before_pixels=True, force=force)
            if _stopped_at_pixels(head, buf.tell()):
                return ds, buf.tell()
        except PASS_THROUGH:
            raise
        except BaseException:  # noqa: BLE001 - the whole file is read next, with its own errors
            pass
    _check_inflated_size(fp, head, size)
    fp.seek(0)
    # large values are skipped, not read: a length field claiming 4 GB must not allocate 4 GB
    ds = pydicom().dcmread(fp, stop_before_pixels=True, force=force, defer_size=_DEFER_BYTES)
    at = fp.tell()
    if at > size:
        raise SkipFile("damaged or truncated DICOM (an element runs past the end of the file)")
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if syntax == _DEFLATED:  # position is in the inflated stream
        return ds, (-1 if "Rows" in ds else None)
    return ds, (at if at < size else None)


def _not_dicom_reason(path: str) -> str:
    name = str(path).lower()
    if name.endswith(READ_SUFFIXES):
        return "not a DICOM file (a NIfTI/NRRD/MetaImage volume: open the file itself)"
    return "not a DICOM file"


def _stopped_at_pixels(head: bytes, at: int) -> bool:
    return head[at:at + 4] in (b"\xe0\x7f\x10\x00", b"\xe0\x7f\x08\x00", b"\xe0\x7f\x09\x00")


def _looks_like_raw_dicom(head: bytes) -> bool:
    """A file without preamble that starts with a group 0002/0008 element (old ACR-NEMA style)."""
    if len(head) < 8:
        return False
    group, elem = struct.unpack("<HH", head[:4])
    return group in (0x0002, 0x0008) and elem < 0x0100


def _to_header(path: str, size: int, ds: Dataset, offset: int | None, head: bytes) -> SliceHeader:
    meta = getattr(ds, "file_meta", None) or {}
    sop_class = str(ds.get("SOPClassUID", "") or meta.get("MediaStorageSOPClassUID", "") or "")
    if sop_class == DICOMDIR_CLASS or "DirectoryRecordSequence" in ds:
        raise SkipFile("DICOMDIR (an index; the images it lists are read directly)")
    is_seg = sop_class == SEG_STORAGE
    series_uid = str(ds.get("SeriesInstanceUID", "") or "")
    if not series_uid:
        if offset is None or "Rows" not in ds:
            raise SkipFile("DICOM without a series and without an image")
        # de-identified exports sometimes strip the UID: group by frame of reference instead
        series_uid = f"no-series-uid:{ds.get('FrameOfReferenceUID', '') or ds.get('StudyInstanceUID', '') or 'unknown'}"
    if offset is None and not is_seg:
        name = pydicom().uid.UID(sop_class).name if sop_class else "unknown object"
        raise SkipFile(f"no image data ({name})")
    h = SliceHeader(
        path=path, file_size=size, sop_class_uid=sop_class,
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        study_uid=str(ds.get("StudyInstanceUID", "") or ""),
        series_uid=series_uid,
        modality=str(ds.get("Modality", "") or "OT"),
        series_description=str(ds.get("SeriesDescription", "") or ""),
        study_description=str(ds.get("StudyDescription", "") or ""),
        series_number=_int(ds.get("SeriesNumber")),
        instance_number=_int(ds.get("InstanceNumber")),
        acquisition_number=_int(ds.get("AcquisitionNumber")),
        frame_uid=str(ds.get("FrameOfReferenceUID", "") or ""),
        manufacturer=str(ds.get("Manufacturer", "") or ""),
        body_part=str(ds.get("BodyPartExamined", "") or ""),
        rescale_type=str(ds.get("RescaleType", "") or ""),
        image_type=tuple(str(v).upper() for v in _list(ds.get("ImageType"))),
    )
    h.transfer_syntax = str(meta.get("TransferSyntaxUID", "") or _encoding_of(ds))
    if series_uid.startswith("no-series-uid:"):
        h.warnings.append("files without a SeriesInstanceUID, grouped by frame of reference")
    note = _preamble_warning(head)
    if note:
        h.warnings.append(note)
    if is_seg:
        h.referenced_series = _referenced_series(ds)
        return h
    _image_facts(h, ds)
    _pixel_location(h, offset, head, path)
    if h.rows * h.columns > MAX_SLICE_PIXELS:  # the file holds them (a sparse file, say)
        gib = h.frame_bytes / 1024**3
        raise SkipFile(f"declares {h.rows}×{h.columns} pixels per slice ({gib:.1f} GiB), more "
                       f"than any scanner produces (Candor reads at most "
                       f"{MAX_SLICE_PIXELS // 10**6} million pixels per slice)")
    return h


def _preamble_warning(head: bytes) -> str:
    """A warning when the preamble holds another format's header (a possible polyglot file)."""
    if len(head) < 132 or head[128:132] != b"DICM" or not head[:128].strip(b"\0"):
        return ""
    preamble = head[:128]
    for magic, what in _EXECUTABLE_MAGIC:
        if preamble.startswith(magic):
            return (f"a file's preamble holds an executable header ({what}: a possible DICOM/"
                    "executable polyglot, CVE-2019-11687); only the image data was read")
    lowered = preamble.lower()
    for magic, what in _CONTAINER_MAGIC:
        if lowered.startswith(magic.lower()) if magic[:1] == b"<" else preamble.startswith(magic):
            return _polyglot(what)
    if b"%PDF-" in preamble:  # PDF readers accept the signature anywhere in the first 1 KB
        return _polyglot("a PDF document")
    return ""


def _polyglot(what: str) -> str:
    return (f"a file's preamble holds the header of {what} (a possible polyglot file that is "
            "also another format, CVE-2019-11687); only the image data was read")


def _check_inflated_size(fp: Any, head: bytes, size: int) -> None:
    """A deflated file small on disk may inflate to gigabytes (pydicom inflates it whole)."""
    limit = max_voxel_bytes()
    if size * 1100 < limit or b"1.2.840.10008.1.2.1.99" not in head[:4096]:
        return  # deflate cannot exceed ~1032:1
    try:
        _, start = fastheader._walk(head, 132, explicit=True, group2_only=True)
    except Exception:  # noqa: BLE001 - pydicom reads the meta group next and says what is wrong
        return
    fp.seek(start)
    inflater, total = zlib.decompressobj(-zlib.MAX_WBITS), 0
    while chunk := fp.read(1 << 20):
        while chunk:
            total += len(inflater.decompress(chunk, 1 << 24))
            chunk = inflater.unconsumed_tail
            if total > limit:
                raise SkipFile(f"the deflated data inflates to more than {limit >> 20} MiB "
                               "(a decompression bomb, or a damaged file)")


def _encoding_of(ds: Any) -> str:
    """The syntax pydicom found in a file without meta information (no preamble)."""
    implicit, little = getattr(ds, "original_encoding", (True, True))
    if not little:
        return _EXPLICIT_BE
    return IMPLICIT_LE if implicit else EXPLICIT_LE


def _image_facts(h: SliceHeader, ds: Dataset) -> None:
    h.rows, h.columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if h.rows <= 0 or h.columns <= 0:
        raise SkipFile("image without rows/columns")
    h.frames = max(1, _int(ds.get("NumberOfFrames")) or 1)
    h.samples = int(ds.get("SamplesPerPixel", 1) or 1)
    h.bits_allocated = int(ds.get("BitsAllocated", 16) or 16)
    h.bits_stored = int(ds.get("BitsStored", h.bits_allocated) or h.bits_allocated)
    if h.bits_allocated not in (1, 8, 16, 32, 64) or not 1 <= h.bits_stored <= h.bits_allocated:
        raise SkipFile(f"unsupported pixel layout (BitsAllocated {h.bits_allocated}, "
                       f"BitsStored {h.bits_stored})")
    h.signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    h.photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2") or "MONOCHROME2").upper()
    h.pixel_spacing = _floats(ds.get("PixelSpacing"), 2) or _floats(ds.get("ImagerPixelSpacing"), 2)
    h.orientation = _floats(ds.get("ImageOrientationPatient"), 6)
    h.position = _floats(ds.get("ImagePositionPatient"), 3)
    h.thickness = _float(ds.get("SliceThickness"), 0.0) or None
    if "RescaleSlope" in ds or "RescaleIntercept" in ds:
        slope = _float(ds.get("RescaleSlope"), 1.0)
        h.slope = slope if slope != 0.0 else 1.0
        if slope == 0.0:
            h.warnings.append("a RescaleSlope of 0 was ignored (1 used)")
        h.intercept = _float(ds.get("RescaleIntercept"), 0.0)
        h.has_rescale = True
    h.windows = _windows(ds)
    if ds.get("ModalityLUTSequence"):
        h.warnings.append("a Modality LUT is present and was not applied: values are as stored")
    h.phase_key = tuple(str(ds.get(k, "")) for k in (
        "TemporalPositionIdentifier", "EchoNumbers", "TriggerTime", "DiffusionBValue"))


def _pixel_location(h: SliceHeader, offset: int | None, head: bytes, path: str) -> None:
    """Remember where raw pixel values start; refuse sizes the file cannot hold."""
    if offset is None:
        return
    need = h.frame_bytes * h.frames if h.bits_allocated != 1 else (h.rows * h.columns * h.frames + 7) // 8
    if offset >= 0:
        tag = head[offset:offset + 4] if offset + 4 <= len(head) else _read_at(path, offset, 4)
        if tag in (b"\xe0\x7f\x08\x00", b"\xe0\x7f\x09\x00"):
            raise SkipFile("floating-point pixel data (a parametric map) is not supported yet")
    if h.transfer_syntax not in _RAW_SYNTAXES or offset < 0:
        if need > max(h.file_size, 1) * 2000:  # no codec reaches this ratio on images
            raise SkipFile(f"declares {h.rows}×{h.columns}×{h.frames} pixels but holds only "
                           f"{h.file_size} bytes")
        return
    element = head[offset:offset + 12] if offset + 12 <= len(head) else _read_at(path, offset, 12)
    # what the bytes say, whatever the header claims: explicit VR has "OW"/"OB" + two zero bytes
    implicit = element[4:6] not in _PIXEL_VRS or element[6:8] != b"\0\0"
    if implicit:
        length, start = struct.unpack("<I", element[4:8])[0], offset + 8
    else:
        length, start = struct.unpack("<I", element[8:12])[0], offset + 12
    if length == 0xFFFFFFFF:
        raise SkipFile("encapsulated pixel data in an uncompressed transfer syntax")
    if need > length or start + need > h.file_size:
        raise SkipFile(f"truncated pixel data: {h.rows}×{h.columns}×{h.frames} pixels declared, "
                       f"{max(0, min(length, h.file_size - start))} bytes present")
    if element[:4] == b"\xe0\x7f\x10\x00":
        h.pixel_offset, h.pixel_length = start, length


def _read_at(path: str, offset: int, n: int) -> bytes:
    with open(path, "rb") as fp:
        fp.seek(offset)
        return fp.read(n)


def _referenced_series(ds: Dataset) -> list[str]:
    out = []
    for item in ds.get("ReferencedSeriesSequence", []) or []:
        uid = item.get("SeriesInstanceUID")
        if uid:
            out.append(str(uid))
    return out


def _windows(ds: Dataset) -> list[tuple[float, float]]:
    centers, widths = _list(ds.get("WindowCenter")), _list(ds.get("WindowWidth"))
    out = []
    for c, w in zip(centers, widths):
        try:
            c, w = float(c), float(w)
        except (TypeError, ValueError):
            continue
        if w > 0 and abs(c) < 1e7 and w < 1e7:
            out.append((c, w))
    return out


def _list(value: Any) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):  # pydicom MultiValue too
        return list(value)
    return [value]


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    try:
        vals = tuple(float(v) for v in _list(value))
    except (TypeError, ValueError):
        return None
    if len(vals) != n or not all(abs(v) < 1e9 and v == v for v in vals):
        return None
    return vals


def _float(value: Any, default: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return v if v == v and abs(v) < 1e12 else default


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def decoder_hint(transfer_syntax: str) -> str:
    """Which package decodes ``transfer_syntax`` (for 'missing decoder' messages)."""
    uids = pydicom().uid
    uid = uids.UID(transfer_syntax)
    if uid in uids.JPEGLSTransferSyntaxes:
        return "pyjpegls (pip install pyjpegls)"
    if uid in uids.JPEG2000TransferSyntaxes:
        return "pylibjpeg-openjpeg (pip install pylibjpeg pylibjpeg-openjpeg)"
    if uid == uids.RLELossless:
        return "pylibjpeg-rle (pip install pylibjpeg pylibjpeg-rle)"
    if uid in uids.JPEGTransferSyntaxes:
        return "pylibjpeg-libjpeg (pip install pylibjpeg pylibjpeg-libjpeg)"
    return "python-gdcm (pip install python-gdcm)"
