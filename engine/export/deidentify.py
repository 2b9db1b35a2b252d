"""De-identification of exported DICOM objects: the PS3.15 Basic Application Confidentiality Profile.

The attribute table (PS3.15 Annex E, Table E.1-1: which attribute is removed (X), emptied (Z),
replaced by a dummy (D) or given a new UID (U)) comes from the ``dicom-anonymizer`` package
(Kitware), which transcribes the standard's table per edition. Candor applies the actions itself
because it needs two things that package does not do: rules applied to attributes wherever they
occur (inside sequences such as the SEG's per-frame source image references), and UIDs replaced
*consistently across objects* (the de-identified SEG must reference the de-identified images).

Choices where the profile allows several (X/Z, Z/D, X/D, X/Z/D): the conservative one that keeps
every IOD valid — D for anything with a D option (dummy values), Z for X/Z. Private attributes
and curve/overlay groups are removed. Pixel data are not inspected: images flagged with burned-in
annotation are refused.
"""

from __future__ import annotations

import functools
import logging
import secrets

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from engine.errors import InputError

log = logging.getLogger(__name__)

TABLE_EDITION = "2026c"  # the DICOM edition of the table (see _rules)
METHOD = "DICOM PS3.15 Basic Application Confidentiality Profile (Candor)"
_DUMMY_TEXT = "ANONYMIZED"
_DUMMIES = {"DA": "19000101", "TM": "000000", "DT": "19000101000000", "AS": "000Y",
            "IS": "0", "DS": "0", "PN": "ANONYMOUS", "UR": ""}
_NUMERIC = {"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"}
_BINARY = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}


class UidMap:
    """Old UID → new ``2.25.`` UID, the same within one export and unguessable outside it.

    The new UID hashes the old one with a random per-export salt, so nobody can recompute it from
    a known original UID (a plain hash of UIDs could be reversed by trying candidates).
    """

    def __init__(self, salt: str | None = None) -> None:
        self._salt = salt or secrets.token_hex(16)
        self.mapped: dict[str, str] = {}

    def __call__(self, uid: str) -> str:
        uid = str(uid)
        if not uid:
            return uid
        if uid not in self.mapped:
            self.mapped[uid] = str(generate_uid(prefix=None, entropy_srcs=[self._salt, uid]))
        return self.mapped[uid]


@functools.lru_cache(maxsize=1)
def _rules() -> tuple[dict[int, str], list[tuple[int, int, int, int, str]]]:
    """(tag → action) for single tags and (group, element, masks, action) for repeating groups."""
    # a static import (not the package's importlib-based selector) so that PyInstaller bundles it
    from dicomanonymizer.dicom_anonymization_databases import dicomfields_2026c as table

    action_of = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "D",
                 "X_Z_TAGS": "Z", "X_D_TAGS": "D", "X_Z_D_TAGS": "D", "X_Z_U_STAR_TAGS": "U*"}
    single: dict[int, str] = {}
    masked: list[tuple[int, int, int, int, str]] = []
    for category, action in action_of.items():
        for tag in getattr(table, category):
            if len(tag) == 2:
                single[(tag[0] << 16) | tag[1]] = action
            else:
                masked.append((tag[0], tag[1], tag[2], tag[3], action))
    return single, masked


def _action_for(tag: int) -> str | None:
    single, masked = _rules()
    if tag in single:
        return single[tag]
    group, element = tag >> 16, tag & 0xFFFF
    for g, e, gmask, emask, action in masked:
        if group & gmask == g & gmask and element & emask == e & emask:
            return action
    return None


def _dummy(elem: DataElement, uids: UidMap) -> None:
    vr = elem.VR
    if vr == "SQ":
        for item in elem.value:
            for sub in list(item):
                _dummy(sub, uids)
    elif vr == "UI":
        _replace_uid(elem, uids)
    elif vr in _NUMERIC:
        elem.value = 0
    elif vr in _BINARY:
        elem.value = b""
    else:
        elem.value = _DUMMIES.get(vr, _DUMMY_TEXT)


def _replace_uid(elem: DataElement, uids: UidMap | None) -> None:
    if uids is None or elem.VR != "UI" or elem.value in (None, ""):
        return
    if elem.VM > 1:
        elem.value = [uids(v) for v in elem.value]
    else:
        elem.value = uids(elem.value)


def _clean(ds: Dataset, uids: UidMap | None) -> None:
    """Apply the profile to ``ds`` and, recursively, to every item of its sequences."""
    for elem in list(ds):
        tag = int(elem.tag)
        if elem.tag.is_private:
            del ds[elem.tag]
            continue
        action = _action_for(tag)
        if action == "X":
            del ds[elem.tag]
        elif action == "Z":
            elem.value = Sequence() if elem.VR == "SQ" else None
        elif action == "D":
            _dummy(elem, uids or UidMap())
        elif action == "U":
            _replace_uid(elem, uids)
        elif elem.VR == "SQ":  # U* or no rule: the sequence stays, its content is cleaned
            for item in elem.value:
                _clean(item, uids)


def deidentify(ds: Dataset, uids: UidMap | None, *, pseudonym: str | None = None) -> Dataset:
    """De-identify ``ds`` in place (and return it).

    ``uids``: the shared UID map of this export, or ``None`` to keep UIDs (for an object whose
    UIDs are new or already mapped, such as a SEG built from de-identified images).
    ``pseudonym``: a subject code put in PatientName and PatientID (research data sets need one).
    """
    if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        raise InputError("the images carry burned-in annotation (text in the pixels, which may "
                         "identify the patient); Candor cannot de-identify pixel data")
    _clean(ds, uids)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if pseudonym:
        ds.PatientName = pseudonym if "^" in pseudonym else f"{pseudonym}^"  # family-name form
        ds.PatientID = pseudonym
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    code = Dataset()
    code.CodeValue = "113100"
    code.CodingSchemeDesignator = "DCM"
    code.CodeMeaning = "Basic Application Confidentiality Profile"
    ds.DeidentificationMethodCodeSequence = Sequence([code])
    log.info("de-identified one %s object", ds.get("Modality", "DICOM"))
    return ds
