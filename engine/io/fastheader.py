"""A fast, strict reader for the top level of ordinary DICOM headers (little endian only).

pydicom spends ~1 ms per file turning raw elements into Python values; a folder scan needs two
dozen values. This reader walks the elements of the first bytes of a Part-10 file, keeps the ones
:mod:`engine.io.headers` asks for and stops at Pixel Data. Anything unusual (no preamble, big
endian, deflate, undefined-length elements before the pixels, a header longer than the bytes at
hand, segmentation objects) returns ``None`` and the caller uses pydicom instead, so correctness
never depends on this shortcut.
"""

from __future__ import annotations

import struct
from typing import Any

_EXPLICIT, _IMPLICIT = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT",
             b"UV"}
_PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}
SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"

# tag → (keyword, VR used to decode the value)
TAGS: dict[int, tuple[str, str]] = {
    0x00080008: ("ImageType", "CS"), 0x00080016: ("SOPClassUID", "UI"),
    0x00080018: ("SOPInstanceUID", "UI"), 0x00080060: ("Modality", "CS"),
    0x00080070: ("Manufacturer", "LO"), 0x00081030: ("StudyDescription", "LO"),
    0x0008103E: ("SeriesDescription", "LO"), 0x00180015: ("BodyPartExamined", "CS"),
    0x00180050: ("SliceThickness", "DS"), 0x00180086: ("EchoNumbers", "IS"),
    0x00181060: ("TriggerTime", "DS"), 0x00181164: ("ImagerPixelSpacing", "DS"),
    0x00189087: ("DiffusionBValue", "FD"),
    0x0020000D: ("StudyInstanceUID", "UI"), 0x0020000E: ("SeriesInstanceUID", "UI"),
    0x00200011: ("SeriesNumber", "IS"), 0x00200012: ("AcquisitionNumber", "IS"),
    0x00200013: ("InstanceNumber", "IS"), 0x00200032: ("ImagePositionPatient", "DS"),
    0x00200037: ("ImageOrientationPatient", "DS"), 0x00200052: ("FrameOfReferenceUID", "UI"),
    0x00200100: ("TemporalPositionIdentifier", "IS"),
    0x00280002: ("SamplesPerPixel", "US"), 0x00280004: ("PhotometricInterpretation", "CS"),
    0x00280008: ("NumberOfFrames", "IS"), 0x00280010: ("Rows", "US"),
    0x00280011: ("Columns", "US"), 0x00280030: ("PixelSpacing", "DS"),
    0x00280100: ("BitsAllocated", "US"), 0x00280101: ("BitsStored", "US"),
    0x00280103: ("PixelRepresentation", "US"), 0x00281050: ("WindowCenter", "DS"),
    0x00281051: ("WindowWidth", "DS"), 0x00281052: ("RescaleIntercept", "DS"),
    0x00281053: ("RescaleSlope", "DS"), 0x00281054: ("RescaleType", "LO"),
    0x00041220: ("DirectoryRecordSequence", "SQ"), 0x00283000: ("ModalityLUTSequence", "SQ"),
}


class FastHeader(dict):
    """Keyword → value; the small part of pydicom's ``Dataset`` interface that headers.py uses."""

    file_meta: dict


def parse(head: bytes, complete: bool) -> tuple[FastHeader, int | None] | None:
    """``(values, pixel element offset or None)``, or ``None`` when pydicom must do it.

    ``complete`` says whether ``head`` is the whole file (so running out of bytes means "no
    pixel data" rather than "read more").
    """
    if len(head) < 144 or head[128:132] != b"DICM":
        return None
    try:
        meta, pos = _walk(head, 132, explicit=True, group2_only=True)
        syntax = str(meta.get("TransferSyntaxUID", ""))
        if not syntax or syntax == "1.2.840.10008.1.2.2" or syntax.startswith("1.2.840.10008.1.2.1.99"):
            return None  # big endian, deflate: pydicom
        values, end = _walk(head, pos, explicit=syntax != _IMPLICIT, group2_only=False,
                            complete=complete)
    except (struct.error, ValueError, UnicodeDecodeError, _Unusual):
        return None
    if end is None and not complete:
        return None
    if values.get("SOPClassUID") == SEG_STORAGE or values.get("NumberOfFrames", "1") not in ("1", ""):
        return None  # sequences matter for these: pydicom
    out = FastHeader(values)
    out.file_meta = meta
    return out, end


class _Unusual(Exception):
    pass


class Truncated(Exception):
    """The whole file was at hand and an element runs past its end."""


_EXPLICIT_HEAD = struct.Struct("<HH2sH")  # group, element, VR, short length
_IMPLICIT_HEAD = struct.Struct("<HHI")  # group, element, length
_U32 = struct.Struct("<I")


def _walk(data: bytes, pos: int, *, explicit: bool, group2_only: bool,
          complete: bool = False) -> tuple[dict, Any]:
    values: dict[str, Any] = {}
    n = len(data)
    while pos + 8 <= n:
        short = explicit or (data[pos] == 2 and data[pos + 1] == 0)  # group 2 is explicit VR
        if short:
            group, elem, vr, length = _EXPLICIT_HEAD.unpack_from(data, pos)
        else:
            group, elem, length = _IMPLICIT_HEAD.unpack_from(data, pos)
        tag = (group << 16) | elem
        if group2_only and group != 2:
            return values, pos
        if tag in _PIXEL_TAGS:
            return values, pos
        start = pos + 8
        if short:
            if vr in _LONG_VRS:
                if pos + 12 > n:
                    break
                length = _U32.unpack_from(data, pos + 8)[0]
                start = pos + 12
            elif not vr.isalpha():
                raise _Unusual()
        if length == 0xFFFFFFFF:
            raise _Unusual()  # undefined-length sequence before the pixels
        if start + length > n:
            if complete:
                raise Truncated()
            break
        if group == 2 and elem == 0x0010:
            values["TransferSyntaxUID"] = _text(data[start:start + length])
        elif group == 2 and elem == 0x0002:
            values["MediaStorageSOPClassUID"] = _text(data[start:start + length])
        elif tag in TAGS:
            keyword, vr_name = TAGS[tag]
            values[keyword] = _decode(data[start:start + length], vr_name)
        pos = start + length
    if pos == n and not group2_only:
        return values, None  # no pixel data in these bytes
    raise _Unusual()  # an element runs past the bytes at hand


def _text(raw: bytes) -> str:
    return raw.decode("latin-1").strip(" \x00")


def _decode(raw: bytes, vr: str) -> Any:
    if vr == "US":
        return struct.unpack_from("<H", raw)[0] if len(raw) >= 2 else None
    if vr == "FD":
        return struct.unpack_from("<d", raw)[0] if len(raw) >= 8 else None
    if vr == "SQ":
        return [raw]
    text = _text(raw)
    if "\\" in text:
        return [v.strip() for v in text.split("\\")]
    return text
