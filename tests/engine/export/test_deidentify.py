"""De-identified export: PS3.15 basic profile on the SEG and on the images it references."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from engine.export import ExportOptions, export_labels, import_seg
from engine.export.deidentify import UidMap, deidentify
from engine.io import load

from .data import CANARY_ID, CANARY_NAME
from .dicom_checks import dciodvfy_errors


def test_deidentified_seg_and_images_are_clean_consistent_and_valid(series, mask, table, tmp_path):
    out = tmp_path / "share.dcm"
    result = export_labels(mask, table, series.reference, out,
                           ExportOptions(deidentify=True, pseudonym="SUBJ-007"))
    images = tmp_path / "share_images"
    assert result.extra_paths == [images]
    files = sorted(images.iterdir())
    assert len(files) == len(series.paths)
    for path in [out, *files]:
        raw = path.read_bytes()
        assert b"CANARY" not in raw and CANARY_ID.encode() not in raw
        ds = pydicom.dcmread(path)
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
        assert str(ds.PatientID) == "SUBJ-007"
        assert ds.StudyInstanceUID != series.reference.metadata["study_uid"]
        assert not any(e.tag.is_private for e in ds)
    assert dciodvfy_errors(out) == []
    assert dciodvfy_errors(files[0]) == []
    seg = hd.seg.segread(out)
    new_images = [pydicom.dcmread(p, stop_before_pixels=True) for p in files]
    new_uids = {str(d.SOPInstanceUID) for d in new_images}
    referenced = {str(f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID)
                  for f in seg.PerFrameFunctionalGroupsSequence}
    assert referenced <= new_uids
    assert not new_uids & set(series.reference.metadata["sop_instance_uids"])
    assert seg.FrameOfReferenceUID == new_images[0].FrameOfReferenceUID
    assert seg.StudyInstanceUID == new_images[0].StudyInstanceUID
    # the shared pair works on its own: load the de-identified images, import the SEG onto them
    shared = load(images)
    assert shared.geometry.is_close(series.reference.geometry)
    assert np.array_equal(shared.array, series.reference.array)
    back = import_seg(out, shared, label_names=table)
    assert back.warnings == [] and np.array_equal(back.labels.array, mask.array)


def test_default_export_keeps_identifiers_for_the_pacs(series, mask, table, tmp_path):
    out = tmp_path / "pacs.dcm"
    export_labels(mask, table, series.reference, out)
    ds = pydicom.dcmread(out)
    assert str(ds.PatientName) == CANARY_NAME and str(ds.PatientID) == CANARY_ID
    assert "PatientIdentityRemoved" not in ds


def test_profile_reaches_into_sequences_and_maps_uids_consistently():
    ds = Dataset()
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "12345"
    ds.PatientBirthDate = "19700101"
    ds.InstitutionName = "General Hospital"
    ds.StudyInstanceUID = "1.2.3.4"
    ds.SOPInstanceUID = "1.2.3.4.5"
    ds.StudyDate = "20240101"
    ds.ContentDate = "20240101"
    ds.SOPClassUID = pydicom.uid.CTImageStorage
    ref = Dataset()
    ref.ReferencedSOPClassUID = pydicom.uid.CTImageStorage
    ref.ReferencedSOPInstanceUID = "1.2.3.4.5"
    ref.add_new(0x00091010, "LO", "private note")
    ds.SourceImageSequence = Sequence([ref])
    ds.add_new(0x00291010, "LO", "vendor secret")
    uids = UidMap()
    deidentify(ds, uids)
    assert ds.PatientName in ("", None) or str(ds.PatientName) == ""
    assert ds.get("InstitutionName") in (None, "", "ANONYMIZED")   # X/Z/D: a dummy keeps IODs valid
    assert ds.StudyDate in ("", None) and ds.ContentDate == "19000101"
    assert ds.StudyInstanceUID == uids("1.2.3.4") != "1.2.3.4"
    nested = ds.SourceImageSequence[0]
    assert nested.ReferencedSOPInstanceUID == ds.SOPInstanceUID == uids("1.2.3.4.5")
    assert nested.ReferencedSOPClassUID == pydicom.uid.CTImageStorage   # class UIDs stay
    assert not any(e.tag.is_private for e in ds) and not any(e.tag.is_private for e in nested)
    assert UidMap()("1.2.3.4") != uids("1.2.3.4")    # a new export gets new UIDs
