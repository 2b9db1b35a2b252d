"""The exports read by the tools 3D Slicer itself uses: slicerio (.seg.nrrd) and dcmqi (DICOM SEG)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import slicerio

from engine.export import export_labels
from engine.export.grid import resample_nearest
from engine.volume import Volume


def test_slicer_reads_names_colours_and_geometry_of_the_nrrd(series, mask, table, tmp_path):
    out = tmp_path / "mask.seg.nrrd"
    export_labels(mask, table, series.reference, out)
    seg = slicerio.read_segmentation(str(out))
    got = [(s["name"], s["labelValue"], s["layer"]) for s in seg["segments"]]
    assert got == [(l.name, l.id, 0) for l in table]
    for s, info in zip(seg["segments"], table):
        assert np.allclose(s["color"], np.asarray(info.color) / 255, atol=1e-5)
        assert s["terminology"]["type"][1] == {1: "389081007", 2: "389080008", 3: "52988006"}[info.id]
    assert np.allclose(seg["ijkToLPS"], series.reference.geometry.affine_lps, atol=1e-5)
    assert np.array_equal(np.asarray(seg["voxels"]).transpose(2, 1, 0), mask.array)


def test_dcmqi_reads_the_seg_onto_the_same_voxels(series, mask, table, tmp_path):
    beside = Path(sys.executable).parent / "segimage2itkimage"   # the venv's scripts folder
    exe = str(beside) if beside.is_file() else shutil.which("segimage2itkimage")
    if exe is None:
        pytest.skip("dcmqi is not installed")
    out = tmp_path / "mask.dcm"
    export_labels(mask, table, series.reference, out)
    folder = tmp_path / "dcmqi"
    folder.mkdir()
    subprocess.run([exe, "--inputDICOM", str(out), "--outputDirectory", str(folder),
                    "--outputType", "nrrd"], check=True, capture_output=True)
    meta = json.loads((folder / "meta.json").read_text())
    attrs = [group[0] for group in meta["segmentAttributes"]]
    assert [a["SegmentLabel"] for a in attrs] == [l.name for l in table]
    assert attrs[0]["SegmentAlgorithmType"] == "SEMIAUTOMATIC"
    for number, info in enumerate(table, start=1):
        image = sitk.ReadImage(str(folder / f"{number}.nrrd"))
        placed = resample_nearest(Volume.from_sitk(image), series.reference.geometry)
        assert np.array_equal(placed > 0, mask.array == info.id), info.name
