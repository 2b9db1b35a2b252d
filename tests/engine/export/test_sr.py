"""DICOM SR Measurement Report: written on a generated oblique series, checked by dicom3tools'
``dciodvfy``, and read back with highdicom's own SR reader (the peer as oracle) with the same
numbers as the lesion table and the measurements."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from engine.errors import InputError
from engine.export import ExportOptions, Provenance, export_labels
from engine.export.sr import PRIVATE_CODES, write_sr
from engine.reading import angle, distance, label_roi, lesion_table, plane_roi
from engine.reading.findings import AIProvenance, Findings

from .data import CANARY_ID
from .dicom_checks import dciodvfy_errors


def _mask(reference):
    lab = np.zeros(reference.geometry.shape, np.uint8)
    lab[2:5, 3:9, 2:8] = 3            # lesion 1: 108 voxels
    lab[8:10, 12:15, 14:20] = 3       # lesion 2: 36 voxels
    lab[10:12, 2:5, 2:5] = 1          # another label, not in the table of label 3
    return reference.with_array(lab, modality="SEG")


def _uncertainty(reference, lab):
    u = np.full(lab.shape, 0.05, np.float32)
    u[2:5, 3:9, 2:8] = np.linspace(0.1, 0.6, 6, dtype=np.float32)[None, None, :]
    u[9, 13, 15] = 0.95
    return reference.with_array(u)


def _findings(reference, mask, *, ood=False, kind="ai"):
    lesions = lesion_table(mask, 3, uncertainty=_uncertainty(reference, mask.array))
    g = reference.geometry
    measurements = (distance(g, (1, 1, 1), (5, 6, 1), name="ruler"),
                    angle(g, (3, 0, 2), (0, 0, 2), (0, 4, 2)),
                    plane_roi(reference, 2, (2, 3, 4), (8, 9, 4), name="box"),
                    plane_roi(reference, 1, (2, 7, 2), (9, 7, 8), shape="ellipse", name="oval"),
                    label_roi(reference, mask, 3, name="all lesions"))
    prov = AIProvenance(kind, "candor-brain-t1", "1.2.0", ood, ("intensity out of range",) if ood else ())
    return Findings(3, "lesion", tuple(lesions), measurements=measurements, provenance=prov)


def _texts(item, code: str) -> list[str]:
    """TEXT values of every content item named ``code``, anywhere in the tree."""
    out = []
    for child in getattr(item, "ContentSequence", []):
        name = getattr(child, "ConceptNameCodeSequence", None)
        if name and name[0].CodeValue == code and "TextValue" in child:
            out.append(str(child.TextValue))
        out += _texts(child, code)
    return out


def _value(group, concept, derivation=None) -> float:
    found = [m for m in group.get_measurements(name=concept)
             if derivation is None or m.derivation == derivation]
    assert len(found) == 1, (concept, derivation)
    return float(found[0].value)


AI_FAMILY = {"111000": codes.DCM.ArtificialIntelligence.value}   # Algorithm Family: AI


def _qualitative(group) -> dict[str, str]:
    """Coded evaluations by concept code (the algorithm family is one of them)."""
    return {q.name.value: q.value.value for q in group.get_qualitative_evaluations()}


def test_sr_passes_dciodvfy_and_reads_back_the_lesion_table(series, tmp_path):
    ref = series.reference
    mask = _mask(ref)
    findings = _findings(ref, mask)
    out = write_sr(findings, ref, tmp_path / "report.dcm")
    assert dciodvfy_errors(out) == []
    sr = hd.sr.srread(out)
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"   # Comprehensive 3D SR
    assert sr.PatientID == CANARY_ID          # the SR belongs to the reference study (for the PACS)
    assert sr.StudyInstanceUID == ref.metadata["study_uid"]
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert [g.tracking_identifier for g in groups] == ["lesion 1", "lesion 2"]
    for group, lesion in zip(groups, findings.lesions):
        assert _value(group, codes.SCT.Volume) == pytest.approx(lesion.volume_ml, rel=1e-12)
        assert _value(group, codes.SCT.LongAxis) == pytest.approx(lesion.long_diameter_mm, rel=1e-12)
        assert _value(group, codes.SCT.ShortAxis) == pytest.approx(lesion.short_diameter_mm, rel=1e-12)
        assert _value(group, PRIVATE_CODES["EPIUNC"], codes.SCT.Mean) == pytest.approx(lesion.uncertainty_mean)
        assert _value(group, PRIVATE_CODES["EPIUNC"], codes.SCT.Maximum) == pytest.approx(lesion.uncertainty_max)
        assert _qualitative(group) == {"CORRECTED": codes.SCT.No.value, "OODFLAG": codes.SCT.No.value,
                                       **AI_FAMILY}
        assert group.finding_type == codes.SCT.Lesion
        assert group.roi.graphic_type.value == "POINT"          # no SEG: the centroid
        np.testing.assert_allclose(group.roi.graphic_data[0], lesion.centroid_lps, atol=1e-4)
    assert findings.lesions[0].volume_ml == pytest.approx(108 * ref.geometry.voxel_volume_ml)
    assert findings.lesions[1].uncertainty_max == pytest.approx(0.95)
    names = _texts(pydicom.dcmread(out), codes.DCM.AlgorithmName.value)
    assert set(names) == {"candor-brain-t1"} and len(names) == 2 * 3   # per lesion: group + 2 maps


def test_sr_reads_back_the_measurements(series, tmp_path):
    ref = series.reference
    findings = _findings(ref, _mask(ref), ood=True, kind="corrected")
    out = write_sr(findings, ref, tmp_path / "report.dcm")
    assert dciodvfy_errors(out) == []
    sr = hd.sr.srread(out)
    planar = {g.tracking_identifier: g for g in sr.content.get_planar_roi_measurement_groups()}
    ruler, ang, box, oval, label3d = findings.measurements
    assert _value(planar["ruler"], codes.SCT.Length) == pytest.approx(ruler.value, rel=1e-12)
    assert _value(planar["Angle"], codes.SCT.Angle) == pytest.approx(ang.value, rel=1e-12)
    np.testing.assert_allclose(planar["ruler"].roi.value, ruler.points_lps, atol=1e-4)
    for name, m in (("box", box), ("oval", oval)):
        assert _value(planar[name], codes.SCT.Area) == pytest.approx(m.stats.area_mm2, rel=1e-12)
        for key, how in (("mean", codes.SCT.Mean), ("sd", codes.SCT.StandardDeviation),
                         ("min", codes.SCT.Minimum), ("max", codes.SCT.Maximum),
                         ("median", codes.SCT.Median)):
            got = _value(planar[name], codes.DCM.MRSignalIntensity, how)
            assert got == pytest.approx(getattr(m.stats, key), rel=1e-12), (name, key)
    assert planar["box"].roi.graphic_type.value == "POLYGON"
    assert planar["oval"].roi.graphic_type.value == "ELLIPSE"
    (group,) = sr.content.get_image_measurement_groups()
    assert _value(group, codes.SCT.Volume) == pytest.approx(label3d.value, rel=1e-12)
    for lesion_group in sr.content.get_volumetric_roi_measurement_groups():
        assert _qualitative(lesion_group) == {"CORRECTED": codes.SCT.Yes.value,
                                              "OODFLAG": codes.SCT.Yes.value, **AI_FAMILY}


def test_sr_references_the_exported_seg(series, table, tmp_path):
    ref = series.reference
    mask = _mask(ref)
    seg_path = tmp_path / "mask.dcm"
    export_labels(mask, table, ref, seg_path,
                  ExportOptions(provenance=Provenance("ai", "candor-brain-t1", "1.2.0")))
    seg = pydicom.dcmread(seg_path)
    out = write_sr(_findings(ref, mask), ref, tmp_path / "report.dcm", segmentation=seg)
    assert dciodvfy_errors(out) == []
    sr = hd.sr.srread(out)
    number = next(int(s.SegmentNumber) for s in seg.SegmentSequence if s.SegmentLabel == "lesion")
    for group in sr.content.get_volumetric_roi_measurement_groups():
        ref_seg = group.referenced_segment
        assert ref_seg.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert ref_seg.referenced_segment_numbers == [number]
    uids = {i.ReferencedSOPInstanceUID for study in sr.CurrentRequestedProcedureEvidenceSequence
            for s in study.ReferencedSeriesSequence for i in s.ReferencedSOPSequence}
    assert seg.SOPInstanceUID in uids
    assert set(ref.metadata["sop_instance_uids"]) <= uids


def test_sr_refuses_a_non_dicom_reference_and_a_wrong_suffix(series, tmp_path):
    ref = series.reference
    findings = _findings(ref, _mask(ref))
    with pytest.raises(InputError, match=r"\.dcm"):
        write_sr(findings, ref, tmp_path / "report.json")
    nifti = ref.with_array(ref.array, metadata={"source_format": "nii"})
    with pytest.raises(InputError, match="not loaded from a DICOM series"):
        write_sr(findings, nifti, tmp_path / "report.dcm")
    assert not list(tmp_path.glob("report*"))
