"""Seed inputs for the fuzzer: real DICOM files from pydicom's test data (and pydicom-data when it
is installed), a small DICOM series written by Candor, and NIfTI/NRRD/MetaImage files written with
SimpleITK. Each seed is a folder of files; ``target`` names the file the mutations edit."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# name → why it is here (transfer syntax, frames). Files of pydicom-data are used when present.
DICOM_SEEDS = {
    "CT_small.dcm": "explicit VR little endian, single frame",
    "MR_small_implicit.dcm": "implicit VR little endian",
    "MR_small_bigendian.dcm": "explicit VR big endian",
    "image_dfl.dcm": "deflated explicit VR little endian",
    "MR_small_RLE.dcm": "RLE lossless",
    "rtdose_rle.dcm": "RLE lossless, 15 frames, 32-bit (RT dose grid)",
    "rtdose.dcm": "implicit VR, 15 frames, 32-bit (RT dose grid)",
    "JPGExtended.dcm": "JPEG extended (process 2/4), 12-bit",
    "SC_rgb_jpeg_dcmtk.dcm": "JPEG baseline, colour",
    "SC_rgb_jpeg_gdcm.dcm": "JPEG lossless process 14, colour",
    "MR_small_jpeg_ls_lossless.dcm": "JPEG-LS lossless",
    "JPEGLSNearLossless_16.dcm": "JPEG-LS near-lossless",
    "MR_small_jp2klossless.dcm": "JPEG 2000 lossless",
    "JPEG2000.dcm": "JPEG 2000",
    "SC_rgb_rle_2frame.dcm": "RLE lossless, colour, 2 frames",
    # pydicom-data (data_store): multi-frame in every encoding
    "emri_small.dcm": "explicit VR little endian, 10 frames",
    "emri_small_RLE.dcm": "RLE lossless, 10 frames",
}

SERIES_SYNTAXES = {
    "series_explicit": "1.2.840.10008.1.2.1",
    "series_rle": "1.2.840.10008.1.2.5",
    "series_implicit": "1.2.840.10008.1.2",
    "series_j2k": "1.2.840.10008.1.2.4.90",
    "series_jpegls": "1.2.840.10008.1.2.4.80",
}

ENHANCED_SYNTAXES = {
    "enhanced_explicit": "1.2.840.10008.1.2.1",
    "enhanced_rle": "1.2.840.10008.1.2.5",
    "enhanced_jpegls": "1.2.840.10008.1.2.4.80",
    "enhanced_j2k": "1.2.840.10008.1.2.4.90",
}

VOLUME_SUFFIXES = {"nii": ".nii", "nii_gz": ".nii.gz", "nrrd": ".nrrd", "mha": ".mha",
                   "mhd": ".mhd", "nhdr": ".nhdr"}


@dataclass(frozen=True)
class Seed:
    name: str
    folder: Path  # the files of the seed (copied into each case)
    target: tuple[str, ...]  # files a mutation may edit
    kind: str  # "dicom", "volume" or "header" (a detached text header)
    about: str


def build_seeds(root: Path) -> list[Seed]:
    """Write every seed under ``root`` (idempotent) and list them, in a fixed order."""
    root.mkdir(parents=True, exist_ok=True)
    return (_dicom_seeds(root) + _series_seeds(root) + _enhanced_seeds(root)
            + _volume_seeds(root))


def _dicom_seeds(root: Path) -> list[Seed]:
    from pydicom.data import get_testdata_file

    seeds = []
    for name, about in DICOM_SEEDS.items():
        try:
            src = get_testdata_file(name)
        except Exception:  # pydicom-data absent, no network: fewer seeds, the rest still run
            src = None
        if not src:
            continue
        folder = root / Path(name).stem
        if not (folder / name).exists():
            folder.mkdir(exist_ok=True)
            shutil.copy(src, folder / name)
        seeds.append(Seed(Path(name).stem, folder, (name,), "dicom", about))
    return seeds


def _volume(nz: int, lo: int):
    from engine.volume import Geometry, Volume

    array = np.random.default_rng(0).integers(lo, 2000, size=(nz, 32, 32)).astype(np.int16)
    return Volume(array, Geometry((32, 32, nz), (0.7, 0.8, 2.5), (10.0, -20.0, 30.0)), "CT")


def _series_seeds(root: Path) -> list[Seed]:
    from engine.io import write_series

    seeds = []
    volume = _volume(3, -1000)
    for name, syntax in SERIES_SYNTAXES.items():
        folder = root / name
        if not folder.exists():
            try:
                write_series(volume, folder, transfer_syntax=syntax, patient_name="FUZZ^SEED",
                             patient_id="FUZZ0001")
            except Exception:  # an encoder is missing: skip that seed
                shutil.rmtree(folder, ignore_errors=True)
                continue
        files = tuple(sorted(p.name for p in folder.iterdir()))
        seeds.append(Seed(name, folder, files, "dicom", f"3-file series, {syntax}"))
    return seeds


def _enhanced_seeds(root: Path) -> list[Seed]:
    """Enhanced multi-frame CT (per-frame positions) built by highdicom, then re-encoded."""
    import tempfile

    import pydicom

    seeds = []
    for name, syntax in ENHANCED_SYNTAXES.items():
        folder = root / name
        if not folder.exists():
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    _write_enhanced(Path(tmp), folder, pydicom.uid.UID(syntax))
            except Exception:  # highdicom or an encoder missing: skip that seed
                shutil.rmtree(folder, ignore_errors=True)
                continue
        seeds.append(Seed(name, folder, ("mf.dcm",), "dicom", f"enhanced CT, 4 frames, {syntax}"))
    return seeds


def _write_enhanced(tmp: Path, folder: Path, syntax) -> None:
    import highdicom
    import pydicom

    from engine.io import write_series

    datasets = [pydicom.dcmread(f) for f in write_series(_volume(4, 0), tmp)]
    native = syntax in (pydicom.uid.ExplicitVRLittleEndian, pydicom.uid.RLELossless)
    enhanced = highdicom.legacy.LegacyConvertedEnhancedCTImage(
        datasets, series_instance_uid=pydicom.uid.generate_uid(), series_number=9,
        sop_instance_uid=pydicom.uid.generate_uid(), instance_number=1,
        transfer_syntax_uid=syntax if native else pydicom.uid.ExplicitVRLittleEndian)
    if not native:
        enhanced.compress(syntax)
    folder.mkdir(parents=True)
    enhanced.save_as(folder / "mf.dcm")


def _volume_seeds(root: Path) -> list[Seed]:
    import SimpleITK as sitk

    array = np.arange(4 * 8 * 6, dtype=np.int16).reshape(4, 8, 6) - 50
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.7, 0.8, 2.5))
    image.SetOrigin((10.0, -20.0, 30.0))
    seeds = []
    for name, suffix in VOLUME_SUFFIXES.items():
        folder = root / f"volume_{name}"
        path = folder / f"v_{name}{suffix}"
        if not path.exists():
            folder.mkdir(exist_ok=True)
            sitk.WriteImage(image, str(path))
        files = tuple(sorted(p.name for p in folder.iterdir()))
        kind = "header" if suffix in (".mhd", ".nhdr") else "volume"
        seeds.append(Seed(f"volume_{name}", folder, files if kind == "volume" else (path.name,),
                          kind, f"6×8×4 int16 {suffix} written by SimpleITK"))
    return seeds
