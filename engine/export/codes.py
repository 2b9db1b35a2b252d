"""Coded meaning of each label: SNOMED CT category and type for DICOM SEG and 3D Slicer.

DICOM requires every segment to say what it is with codes (Segmented Property Category and Type,
DICOM CID 7150/7151), not only with a free-text label. Candor's brain labels map to SNOMED CT
codes that PACS viewers and 3D Slicer's terminology browser know; any other label is a generic
"Tissue" so the object stays valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code


@dataclass(frozen=True)
class SegmentCodes:
    category: Code
    type: Code


_ANATOMY = codes.SCT.AnatomicalStructure            # SCT 91723000
_ABNORMAL = codes.SCT.MorphologicallyAbnormalStructure  # SCT 49755003
_TISSUE = codes.SCT.Tissue                          # SCT 85756007

#: Normalised label names (lower case, single spaces) and the codes they stand for.
_KNOWN: dict[str, SegmentCodes] = {}
for _names, _codes in (
    (("grey matter", "gray matter", "gm", "cortical grey matter", "cortical gray matter"),
     SegmentCodes(_ANATOMY, codes.SCT.GrayMatter)),          # SCT 389081007
    (("white matter", "wm", "cerebral white matter"),
     SegmentCodes(_ANATOMY, codes.SCT.WhiteMatter)),         # SCT 389080008
    (("lesion", "lesions", "white matter lesion", "white matter lesions", "wml", "tumour", "tumor"),
     SegmentCodes(_ABNORMAL, codes.SCT.Lesion)),             # SCT 52988006
    (("csf", "cerebrospinal fluid"),
     SegmentCodes(_ANATOMY, codes.SCT.CerebrospinalFluid)),  # SCT 65216001
    (("brain",), SegmentCodes(_ANATOMY, codes.SCT.Brain)),   # SCT 12738006
):
    for _name in _names:
        _KNOWN[_name] = _codes

GENERIC = SegmentCodes(_TISSUE, _TISSUE)


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


def codes_for(label_name: str) -> SegmentCodes:
    """SNOMED CT category/type for a label name; generic tissue when the name is not known."""
    return _KNOWN.get(_normalise(label_name), GENERIC)


def slicer_terminology(label_name: str) -> str:
    """The ``TerminologyEntry`` tag 3D Slicer stores for a segment (category and type codes)."""
    c = codes_for(label_name)

    def part(code: Code) -> str:
        return f"{code.scheme_designator}^{code.value}^{code.meaning}"

    return ("Segmentation category and type - DICOM master list"
            f"~{part(c.category)}~{part(c.type)}~^^"
            "~Anatomic codes - DICOM master list~^^~^^")
