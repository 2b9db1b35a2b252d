"""A DICOM SR Measurement Report (TID 1500) of the findings, written with highdicom.

Content (a Comprehensive 3D SR, because ROIs are given as 3D coordinates in the frame of
reference, which holds for any slice orientation):

* **Observer**: the device Candor (and the model's name as its model name).
* **Image library**: the reference series' instances (all of them are the evidence).
* **One volumetric group (TID 1411) per lesion**, tracked as ``"<label> <n>"``, finding type
  SCT Lesion, with measurements Volume (SCT 118565006, mL), Long axis (SCT 103339001, mm; TID 1411
  allows no coordinates on its measurements, so the end points stay in the lesion table) and
  Short axis (SCT 103340004, mm), and, when known, the
  model's epistemic uncertainty (private ``99CANDOR EPIUNC``, derivation SCT Mean / Maximum, UCUM
  ``1``) and saliency (``99CANDOR SALIENCY``, derivation SCT Mean). The region is the label's
  segment of the DICOM SEG when one is given; otherwise the component's centroid as a 3D POINT
  surface on the reference series. The AI model is the groups' algorithm identification
  (family DCM Artificial Intelligence); the qualitative evaluations say whether the trust check
  flagged the image (``99CANDOR OODFLAG``: SCT Yes/No) and whether a person corrected the mask
  (``99CANDOR CORRECTED``: SCT Yes/No).
* **One planar group (TID 1410) per line or plane-ROI measurement**: Length (SCT 410668003) or
  Angle (SCT 1483009) on a 3D POLYLINE; Area (SCT 42798000) with Mean / SD / Min / Max / Median
  (SCT derivations) of the attenuation coefficient (DCM 112031, HU) for CT or of the signal
  (DCM 110852, UCUM ``1``) otherwise, on a 3D POLYGON (rectangle) or ELLIPSE.
* **One TID 1501 group per 3D label ROI**: Volume and the intensity statistics.

Private codes use the coding scheme designator ``99CANDOR`` (PS3.16 8.2 allows a "99" prefix for
local schemes); they are listed in :data:`PRIVATE_CODES` and in docs/ARCHITECTURE.md.
The patient and study modules are copied from the reference series (the SR belongs to that
study, for the PACS), as ``candor export-seg`` does without ``--deidentify``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from engine import __version__
from engine.errors import InputError
from engine.export._atomic import atomic_outputs
from engine.export.seg_sources import read_sources
from engine.export.seg_write import MANUFACTURER
from engine.reading.findings import Findings
from engine.reading.lesions import Lesion
from engine.reading.measure import Measurement
from engine.volume import Volume

log = logging.getLogger(__name__)

_C = hd.sr.CodedConcept
PRIVATE_CODES = {
    "EPIUNC": _C("EPIUNC", "99CANDOR", "Epistemic uncertainty"),
    "SALIENCY": _C("SALIENCY", "99CANDOR", "Saliency"),
    "OODFLAG": _C("OODFLAG", "99CANDOR", "Image flagged as out of distribution"),
    "CORRECTED": _C("CORRECTED", "99CANDOR", "Segmentation corrected by a person"),
}
ML = _C("ml", "UCUM", "milliliter")
_DERIVATIONS = {"mean": codes.SCT.Mean, "sd": codes.SCT.StandardDeviation,
                "min": codes.SCT.Minimum, "max": codes.SCT.Maximum, "median": codes.SCT.Median}


def _yes_no(value: bool):
    return codes.SCT.Yes if value else codes.SCT.No


def _procedure(modality: str):
    return {"CT": codes.LN.CTUnspecifiedBodyRegion,
            "MR": codes.LN.MRIUnspecifiedBodyRegion}.get(modality, codes.LN.DiagnosticImagingReport)


def _algorithm(findings: Findings) -> hd.sr.AlgorithmIdentification | None:
    p = findings.provenance
    if p.kind == "manual" or not p.model_name:
        return None
    return hd.sr.AlgorithmIdentification(name=p.model_name, version=p.model_version or "unknown",
                                         family=codes.DCM.ArtificialIntelligence,
                                         manufacturer=MANUFACTURER)


def _qualitative(findings: Findings) -> list[hd.sr.QualitativeEvaluation]:
    p = findings.provenance
    out = [hd.sr.QualitativeEvaluation(PRIVATE_CODES["CORRECTED"], _yes_no(p.corrected))]
    if p.ood_flag is not None:
        out.append(hd.sr.QualitativeEvaluation(PRIVATE_CODES["OODFLAG"], _yes_no(p.ood_flag)))
    return out


def _num(name, value: float, unit, **kw) -> hd.sr.Measurement:
    return hd.sr.Measurement(name=name, value=float(value), unit=unit, **kw)


# Lesions ----------------------------------------------------------------------------------------

def _lesion_measurements(lesion: Lesion, algorithm) -> list[hd.sr.Measurement]:
    out = [_num(codes.SCT.Volume, lesion.volume_ml, ML),
           _num(codes.SCT.LongAxis, lesion.long_diameter_mm, codes.UCUM.Millimeter),
           _num(codes.SCT.ShortAxis, lesion.short_diameter_mm, codes.UCUM.Millimeter)]
    maps = [(PRIVATE_CODES["EPIUNC"], codes.SCT.Mean, lesion.uncertainty_mean),
            (PRIVATE_CODES["EPIUNC"], codes.SCT.Maximum, lesion.uncertainty_max),
            (PRIVATE_CODES["SALIENCY"], codes.SCT.Mean, lesion.saliency_mean)]
    out += [_num(name, value, codes.UCUM.NoUnits, derivation=how, algorithm_id=algorithm)
            for name, how, value in maps if value is not None]
    return out


def _segment_number(segmentation: Dataset, label_name: str) -> int:
    for item in segmentation.SegmentSequence:
        if item.SegmentLabel == label_name[:64]:
            return int(item.SegmentNumber)
    raise InputError(f"the DICOM SEG holds no segment named {label_name!r}; export the label "
                     "the report is about")


def _lesion_region(findings: Findings, lesion: Lesion, reference: Volume,
                   segmentation: Dataset | None) -> dict:
    series = hd.sr.SourceSeriesForSegmentation(reference.metadata["series_uid"])
    if segmentation is not None:
        return {"referenced_segment": hd.sr.ReferencedSegment(
            sop_class_uid=segmentation.SOPClassUID, sop_instance_uid=segmentation.SOPInstanceUID,
            segment_number=_segment_number(segmentation, findings.label_name),
            source_series=series)}
    return {"referenced_volume_surface": hd.sr.VolumeSurface(
        graphic_type=hd.sr.GraphicTypeValues3D.POINT,
        graphic_data=np.asarray([lesion.centroid_lps], dtype=np.float64),
        frame_of_reference_uid=reference.metadata["frame_of_reference_uid"],
        source_series=series)}


def _lesion_group(findings: Findings, lesion: Lesion, reference: Volume,
                  segmentation: Dataset | None):
    algorithm = _algorithm(findings)
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=generate_uid(), identifier=f"{findings.label_name} {lesion.index}"[:64]),
        finding_type=codes.SCT.Lesion,
        algorithm_id=algorithm,
        measurements=_lesion_measurements(lesion, algorithm),
        qualitative_evaluations=_qualitative(findings),
        **_lesion_region(findings, lesion, reference, segmentation))


# Reader's measurements --------------------------------------------------------------------------

def _intensity(reference: Volume):
    if (reference.modality == "CT" or str(reference.metadata.get("rescale_type", "")).upper() == "HU"):
        return codes.DCM.AttenuationCoefficient, codes.UCUM.HounsfieldUnit
    return codes.DCM.MRSignalIntensity, codes.UCUM.NoUnits


def _stats_measurements(m: Measurement, reference: Volume) -> list[hd.sr.Measurement]:
    name, unit = _intensity(reference)
    return [_num(name, getattr(m.stats, key), unit, derivation=how)
            for key, how in _DERIVATIONS.items()]


def _region(m: Measurement, reference: Volume) -> hd.sr.ImageRegion3D:
    """The measurement's outline in LPS mm: a polyline, a closed polygon or an ellipse."""
    frame_uid = reference.metadata["frame_of_reference_uid"]
    if m.kind in ("distance", "angle"):
        lps = np.asarray(m.points_lps, dtype=np.float64)
        return hd.sr.ImageRegion3D(hd.sr.GraphicTypeValues3D.POLYLINE, lps, frame_uid)
    a, b = np.asarray(m.points_ijk, dtype=np.float64)
    u, v = (d for d in range(3) if d != m.axis)
    corners = np.repeat(a[None], 4, axis=0)
    corners[[1, 2], u] = b[u]
    corners[[2, 3], v] = b[v]                 # a, (b_u, a_v), b, (a_u, b_v)
    to_lps = reference.geometry.index_to_physical
    if m.kind == "rectangle":
        ring = to_lps(np.vstack([corners, corners[:1]]))
        return hd.sr.ImageRegion3D(hd.sr.GraphicTypeValues3D.POLYGON, ring, frame_uid)
    ends = to_lps(np.asarray([(corners[0] + corners[3]) / 2, (corners[1] + corners[2]) / 2,
                              (corners[0] + corners[1]) / 2, (corners[2] + corners[3]) / 2]))
    if np.linalg.norm(ends[1] - ends[0]) < np.linalg.norm(ends[3] - ends[2]):
        ends = ends[[2, 3, 0, 1]]             # the major axis comes first
    return hd.sr.ImageRegion3D(hd.sr.GraphicTypeValues3D.ELLIPSE, ends, frame_uid)


def _planar_group(m: Measurement, reference: Volume):
    if m.kind == "distance":
        measurements = [_num(codes.SCT.Length, m.value, codes.UCUM.Millimeter)]
    elif m.kind == "angle":
        measurements = [_num(codes.SCT.Angle, m.value, codes.UCUM.Degree)]
    else:
        measurements = [_num(codes.SCT.Area, m.value, codes.UCUM.SquareMillimeter),
                        *_stats_measurements(m, reference)]
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=m.name[:64]),
        referenced_region=_region(m, reference), measurements=measurements)


def _label_group(m: Measurement, reference: Volume):
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=m.name[:64]),
        measurements=[_num(codes.SCT.Volume, m.value, ML), *_stats_measurements(m, reference)])


# The document -----------------------------------------------------------------------------------

def build_sr(findings: Findings, reference: Volume, sources: list[Dataset], *,
             segmentation: Dataset | None = None, series_number: int = 901) -> hd.sr.Comprehensive3DSR:
    """The SR dataset (not yet saved) of ``findings`` on ``reference``'s source instances."""
    if not reference.metadata.get("frame_of_reference_uid") or not reference.metadata.get("series_uid"):
        raise InputError("the reference series has no frame of reference or series UID; a DICOM "
                         "SR cannot point into it")
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(), name="Candor", manufacturer_name=MANUFACTURER,
            model_name=(findings.provenance.model_name or "Candor")[:64]))
    groups = [_lesion_group(findings, lesion, reference, segmentation) for lesion in findings.lesions]
    for m in findings.measurements:
        groups.append(_label_group(m, reference) if m.kind == "label" else _planar_group(m, reference))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=device),
        procedure_reported=_procedure(reference.modality),
        imaging_measurements=groups or None, referenced_images=sources)
    evidence = [*sources, *([segmentation] if segmentation is not None else [])]
    try:
        sr = hd.sr.Comprehensive3DSR(
            evidence=evidence, content=report, series_instance_uid=generate_uid(),
            series_number=series_number, sop_instance_uid=generate_uid(), instance_number=1,
            manufacturer=MANUFACTURER, is_complete=True, is_final=False, is_verified=False)
    except (ValueError, TypeError) as exc:
        raise InputError(f"the DICOM SR cannot be built on this series: {exc}") from None
    sr.SeriesDescription = f"Candor report: {findings.label_name}"[:64]
    sr.SoftwareVersions = __version__
    return sr


def write_sr(findings: Findings, reference: Volume, out: str | Path, *,
             segmentation: Dataset | None = None) -> Path:
    """Build the SR on the reference's source files and write it to ``out`` (atomically)."""
    out = Path(out)
    if out.suffix.lower() != ".dcm":
        raise InputError(f"a DICOM SR is written to a .dcm file, not {out.name}")
    sources = read_sources(reference).datasets
    sr = build_sr(findings, reference, sources, segmentation=segmentation)
    with atomic_outputs() as outputs:
        sr.save_as(outputs.temp_for(out), enforce_file_format=True)
    log.info("wrote a DICOM SR with %d lesion(s) and %d measurement(s)",
             len(findings.lesions), len(findings.measurements))
    return out
