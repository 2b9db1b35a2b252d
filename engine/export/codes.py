"""Coded meaning of each label: SNOMED CT category and type for DICOM SEG and 3D Slicer.

DICOM requires every segment to say what it is with codes (Segmented Property Category and Type,
DICOM CID 7150/7151), not only with a free-text label. Candor's brain labels map to SNOMED CT
codes that PACS viewers and 3D Slicer's terminology browser know; any other label is a generic
"Tissue" so the object stays valid.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from pydicom.sr.coding import Code


@dataclass(frozen=True)
class SegmentCodes:
    category: Code
    type: Code


@functools.lru_cache(maxsize=1)
def _known() -> dict[str, SegmentCodes]:
    """Normalised label names (lower case, single spaces) and the codes they stand for."""
    from pydicom.sr.codedict import codes   # ~0.3 s to import: only when codes are needed

    anatomy = codes.SCT.AnatomicalStructure                 # SCT 91723000
    abnormal = codes.SCT.MorphologicallyAbnormalStructure   # SCT 49755003
    known: dict[str, SegmentCodes] = {}
    for names, pair in (
        (("grey matter", "gray matter", "gm", "cortical grey matter", "cortical gray matter"),
         SegmentCodes(anatomy, codes.SCT.GrayMatter)),         # SCT 389081007
        (("white matter", "wm", "cerebral white matter"),
         SegmentCodes(anatomy, codes.SCT.WhiteMatter)),        # SCT 389080008
        (("lesion", "lesions", "white matter lesion", "white matter lesions", "wml", "tumour",
          "tumor"), SegmentCodes(abnormal, codes.SCT.Lesion)),  # SCT 52988006
        (("csf", "cerebrospinal fluid"),
         SegmentCodes(anatomy, codes.SCT.CerebrospinalFluid)),  # SCT 65216001
        (("brain",), SegmentCodes(anatomy, codes.SCT.Brain)),   # SCT 12738006
    ):
        for name in names:
            known[name] = pair
    return known


def generic() -> SegmentCodes:
    """Generic tissue (SCT 85756007) for labels Candor has no specific code for."""
    tissue = Code("85756007", "SCT", "Tissue")
    return SegmentCodes(tissue, tissue)


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


def codes_for(label_name: str) -> SegmentCodes:
    """SNOMED CT category/type for a label name; generic tissue when the name is not known."""
    return _known().get(_normalise(label_name)) or generic()


def slicer_terminology(label_name: str) -> str:
    """The ``TerminologyEntry`` tag 3D Slicer stores for a segment (category and type codes)."""
    c = codes_for(label_name)

    def part(code: Code) -> str:
        return f"{code.scheme_designator}^{code.value}^{code.meaning}"

    return ("Segmentation category and type - DICOM master list"
            f"~{part(c.category)}~{part(c.type)}~^^"
            "~Anatomic codes - DICOM master list~^^~^^")
