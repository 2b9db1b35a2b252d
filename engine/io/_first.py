"""Temporary first version of load/scan (replaced by the full loader)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pydicom

from engine.errors import InputError
from engine.volume import Volume


@dataclass
class ScanResult:
    series: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


def scan(path, *, progress=None, cancel=None) -> ScanResult:
    groups: dict[str, list[Path]] = {}
    result = ScanResult()
    for root, _dirs, files in os.walk(path):
        for name in files:
            p = Path(root) / name
            try:
                ds = pydicom.dcmread(p, stop_before_pixels=True)
                groups.setdefault(str(ds.SeriesInstanceUID), []).append(p)
            except Exception as exc:
                result.skipped.append({"path": str(p), "reason": type(exc).__name__})
    result.series = [{"series_uid": k, "files": v} for k, v in groups.items()]
    return result


def load(path, series_uid=None, *, progress=None, cancel=None) -> Volume:
    import SimpleITK as sitk

    path = Path(path)
    if path.is_dir():
        reader = sitk.ImageSeriesReader()
        names = reader.GetGDCMSeriesFileNames(str(path), series_uid or "")
        if not names:
            raise InputError("no DICOM series in this folder")
        reader.SetFileNames(names)
        return Volume.from_sitk(reader.Execute(), "CT")
    return Volume.from_sitk(sitk.ReadImage(str(path)))
