"""The bundled sample study: the MNI ICBM152 2009a T1 template with one synthetic lesion, as DICOM.

No real person's data: the image is a population-average template (copyright notice in
``resources/template/LICENSE.txt``, copied next to the series as ``NOTICE.txt``), the patient is
"CANDOR^DEMO", and the lesion is painted by ``engine.synthesis.lesions``. Header fields are those a
3-D T1 MR series carries (modality, sequence, field strength, orientation, spacing, windowing).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from engine.jobs import CancelToken, ProgressCallback, report
from engine.resources import resource_path, user_subdir
from engine.volume import Volume

log = logging.getLogger(__name__)

DEMO_SEED = 2009
DEMO_LESION = {"centre_vox": (110, 130, 66), "radius_mm": 9.0, "contrast": 0.45, "border_mm": 1.5}
INTENSITY_SCALE = 4.0  # template 0–255 → 0–1020, a typical 12-bit MR range
PATIENT_NAME = "CANDOR^DEMO"
PATIENT_ID = "CANDOR-DEMO-0001"
SERIES_DESCRIPTION = "T1 3D demo (MNI152 2009a template + synthetic lesion)"


def demo_volume() -> tuple[Volume, np.ndarray]:
    """The demo image (int16, MR) and its ground truth (0 bg, 1 GM, 2 WM, 3 lesion) on the same grid."""
    from engine.synthesis.lesions import paint_lesion, white_matter_level
    from engine.synthesis.template import read_raw_template

    raw = read_raw_template()
    t1 = raw["t1"].astype(np.float32)
    gm, wm = raw["gm"].astype(np.float32) / 255.0, raw["wm"].astype(np.float32) / 255.0
    truth = np.argmax(np.stack([np.clip(1 - gm - wm, 0, 1), gm, wm]), axis=0).astype(np.uint8)
    rng = np.random.default_rng(DEMO_SEED)
    lesion = DEMO_LESION
    paint_lesion(rng, t1, truth, gm, wm, lesion["centre_vox"], raw["geometry"].spacing[0],
                 radius_mm=lesion["radius_mm"], contrast=lesion["contrast"], border_mm=lesion["border_mm"],
                 wm_level=white_matter_level(t1, wm))
    image = np.clip(np.rint(t1 * INTENSITY_SCALE), 0, 32767).astype(np.int16)
    metadata = {"series_description": SERIES_DESCRIPTION, "body_part": "BRAIN", "source_format": "synthetic"}
    return Volume(image, raw["geometry"], "MR", metadata), truth


def demo_window(image: np.ndarray) -> tuple[float, float]:
    """(center, width) written as the series' WindowCenter/WindowWidth: the 1st–99th percentile of
    the foreground (voxels above the background floor), so grey and white matter both keep their
    contrast. A fixed W 800 / L 400 saturated white matter to flat white (issue 20, item 12)."""
    foreground = image[image > image.min()]
    lo, hi = np.percentile(foreground if foreground.size else image, [1.0, 99.0])
    return float(round((lo + hi) / 2.0)), float(max(round(hi - lo), 1))


def _mr_fields() -> dict:
    return {
        "Manufacturer": "Candor (synthetic)", "ManufacturerModelName": "Demo",
        "InstitutionName": "", "BodyPartExamined": "BRAIN", "ProtocolName": "T1 3D MPRAGE (demo)",
        "SequenceName": "tfl3d1", "ScanningSequence": "GR\\IR", "SequenceVariant": "SP\\MP",
        "MRAcquisitionType": "3D", "RepetitionTime": "2300", "EchoTime": "2.98", "InversionTime": "900",
        "FlipAngle": "9", "MagneticFieldStrength": "3", "ImagingFrequency": "123.25",
        "PatientSex": "O", "PatientAge": "040Y", "StudyDescription": "MR BRAIN (Candor demo)",
        "ReferringPhysicianName": "", "AccessionNumber": "DEMO0001", "StudyID": "1",
    }


def write_demo(folder: str | Path | None = None, *, progress: ProgressCallback | None = None,
               cancel: CancelToken | None = None) -> Path:
    """Write the demo series (one DICOM file per slice) and return its folder.

    Default location: ``<user data>/demo/T1``; ``NOTICE.txt`` (the template's licence) goes next to it.
    """
    from engine.io import write_series

    report(progress, cancel, 0.0, "building the sample study")
    target = Path(folder) if folder is not None else user_subdir("demo") / "T1"
    if target.exists():
        shutil.rmtree(target)
    volume, _ = demo_volume()
    report(progress, cancel, 0.3, "writing DICOM files")
    write_series(volume, target, modality="MR", series_description=SERIES_DESCRIPTION,
                 patient_name=PATIENT_NAME, patient_id=PATIENT_ID, window=demo_window(volume.array),
                 extra=_mr_fields())
    shutil.copyfile(resource_path("template", "LICENSE.txt"), target.parent / "NOTICE.txt")
    report(progress, cancel, 1.0, "done")
    log.info("wrote the demo series (%d slices)", volume.size[2])
    return target
