"""DICOM Segmentation objects (SEG) written with highdicom on the reference series' frames.

One segment per exported label: its name, SNOMED CT category/type codes, display colour, and who
made it (AUTOMATIC with the model's name and version for an AI result, SEMIAUTOMATIC for an AI
result a person corrected, MANUAL otherwise). Frames are the reference's own slices, referenced
one to one (source image per frame) with the series and frame of reference; only frames that hold
a label are stored (highdicom's ``omit_empty_frames``). BINARY or FRACTIONAL.
"""

from __future__ import annotations

import logging

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from engine import __version__
from engine.errors import InputError
from engine.export.codes import codes_for
from engine.export.options import Provenance
from engine.labels import LabelTable

log = logging.getLogger(__name__)

MANUFACTURER = "Candor"


def _algorithm(provenance: Provenance) -> hd.AlgorithmIdentificationSequence | None:
    if provenance.kind == "manual":
        return None
    return hd.AlgorithmIdentificationSequence(
        name=provenance.model_name or "Candor",
        family=_ai_family(),
        version=provenance.model_version or __version__,
        source=MANUFACTURER,
    )


def _ai_family():
    from pydicom.sr.codedict import codes

    return codes.cid7162.ArtificialIntelligence


def segment_descriptions(table: LabelTable, label_ids: list[int],
                         provenance: Provenance) -> list[hd.seg.SegmentDescription]:
    """One description per label, numbered 1..N in ``label_ids`` order."""
    algorithm = _algorithm(provenance)
    out = []
    for number, label_id in enumerate(label_ids, start=1):
        info = table.get(label_id)
        c = codes_for(info.name)
        out.append(hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=info.name[:64],
            segmented_property_category=c.category,
            segmented_property_type=c.type,
            algorithm_type=provenance.algorithm_type,
            algorithm_identification=algorithm,
            tracking_id=f"Candor label {label_id}",
            tracking_uid=generate_uid(),
            display_color=hd.color.CIELabColor.from_rgb(*info.color),
        ))
    return out


def binary_frames(labels: np.ndarray, label_ids: list[int], seg_type: str) -> np.ndarray:
    """Pixel array for highdicom: a label map of segment numbers, or stacked 0/1 segments."""
    if seg_type == "BINARY":
        numbers = np.zeros(labels.shape, dtype=np.uint8 if len(label_ids) < 256 else np.uint16)
        for number, label_id in enumerate(label_ids, start=1):
            numbers[labels == label_id] = number
        return numbers
    stacked = np.zeros((*labels.shape, len(label_ids)), dtype=np.uint8)
    for n, label_id in enumerate(label_ids):
        stacked[..., n] = labels == label_id
    return stacked


def build_segmentation(sources: list[Dataset], pixel_array: np.ndarray, table: LabelTable,
                       label_ids: list[int], provenance: Provenance, *, seg_type: str,
                       series_description: str, series_number: int,
                       fractional_type: str = "PROBABILITY") -> hd.seg.Segmentation:
    """The SEG dataset (not yet saved) for ``pixel_array`` frames on ``sources`` (k order)."""
    if not label_ids:
        raise InputError("nothing to export: none of the chosen labels is present in the mask")
    descriptions = segment_descriptions(table, label_ids, provenance)
    try:
        seg = hd.seg.Segmentation(
            source_images=sources,
            pixel_array=pixel_array,
            segmentation_type=seg_type,
            segment_descriptions=descriptions,
            series_instance_uid=generate_uid(),
            series_number=series_number,
            sop_instance_uid=generate_uid(),
            instance_number=1,
            manufacturer=MANUFACTURER,
            manufacturer_model_name="Candor",
            software_versions=__version__,
            device_serial_number="CANDOR",
            fractional_type=fractional_type if seg_type == "FRACTIONAL" else None,
            content_description=series_description[:64],
            content_label="CANDOR_SEG",
            transfer_syntax_uid=ExplicitVRLittleEndian,
            omit_empty_frames=True,
        )
    except (ValueError, TypeError) as exc:  # highdicom's own checks of the references
        raise InputError(f"the DICOM SEG cannot be built on this series: {exc}") from None
    seg.SeriesDescription = series_description[:64]
    return seg
