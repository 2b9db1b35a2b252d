"""`candor scan / info / convert`: exactly the JSON fields of the spec, SimpleITK conventions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from engine.cli import main
from tests.engine.io.corpus import series
from tests.engine.io.helpers import phantom, sitk_read_series

ROOT = Path(__file__).resolve().parents[3]


def run_json(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else None), out.err


def test_scan_json_fields(tmp_path, capsys):
    series(tmp_path / "a", nz=3, series_uid="1.5.1", study_uid="1.5", series_description="Head")
    (tmp_path / "junk.bin").write_bytes(b"\0" * 10)
    code, doc, _ = run_json(capsys, "scan", str(tmp_path), "--json")
    assert code == 0 and set(doc) == {"series", "skipped"}
    (s,) = doc["series"]
    assert set(s) == {"series_uid", "study_uid", "modality", "description", "n_files", "size",
                      "warnings"}
    assert s == {"series_uid": "1.5.1", "study_uid": "1.5", "modality": "CT",
                 "description": "Head", "n_files": 3, "size": [14, 12, 3], "warnings": []}
    assert doc["skipped"] == [{"path": str(tmp_path / "junk.bin"), "reason": "not a DICOM file"}]


def test_info_json_matches_simpleitk(tmp_path, capsys):
    vol = phantom(oblique=True)
    from engine.io import write_series

    write_series(vol, tmp_path)
    code, doc, err = run_json(capsys, "info", str(tmp_path), "--json")
    assert code == 0 and err == ""
    assert set(doc) == {"size", "spacing", "origin", "direction", "modality", "dtype", "warnings"}
    img = sitk_read_series(tmp_path)
    assert doc["size"] == list(img.GetSize())
    np.testing.assert_allclose(doc["spacing"], img.GetSpacing(), atol=1e-4)
    np.testing.assert_allclose(doc["origin"], img.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(doc["direction"], img.GetDirection(), atol=1e-4)
    assert doc["modality"] == "CT" and doc["dtype"] == "int16" and doc["warnings"] == []


def test_info_picks_largest_and_says_so_on_stderr(tmp_path, capsys):
    series(tmp_path / "small", nz=2, series_uid="1.4.1", study_uid="1.4")
    series(tmp_path / "big", nz=6, series_uid="1.4.2", study_uid="1.4")
    code, doc, err = run_json(capsys, "info", str(tmp_path), "--json")
    assert doc["size"][2] == 6
    assert "2 image series found; loaded the largest, 1.4.2" in err
    code, doc, err = run_json(capsys, "info", str(tmp_path), "--series", "1.4.1", "--json")
    assert doc["size"][2] == 2 and err == ""


def test_convert_writes_geometry(tmp_path, capsys):
    vol = phantom(oblique=True)
    from engine.io import write_series

    write_series(vol, tmp_path / "dcm")
    for suffix in (".nii.gz", ".nrrd", ".mha"):
        out = tmp_path / f"out{suffix}"
        assert main(["convert", str(tmp_path / "dcm"), "--out", str(out)]) == 0
        img = sitk.ReadImage(str(out))
        np.testing.assert_array_equal(sitk.GetArrayFromImage(img), vol.array)
        np.testing.assert_allclose(img.GetDirection(), vol.geometry.direction, atol=1e-4)
        np.testing.assert_allclose(img.GetOrigin(), vol.origin, atol=1e-3)


def test_errors_are_one_line_exit_2(tmp_path, capsys):
    code = main(["info", str(tmp_path / "missing"), "--json"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    code = main(["convert", str(tmp_path), "--out", str(tmp_path / "x.png")])
    assert code == 2


def test_candor_scan_as_a_process(tmp_path):
    series(tmp_path, nz=2, series_uid="1.3.1", study_uid="1.3")
    exe = Path(sys.executable).parent / "candor"
    out = subprocess.run([str(exe), "scan", str(tmp_path), "--json"], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["series"][0]["series_uid"] == "1.3.1"


def test_convert_regular_resamples_an_irregular_stack(tmp_path, capsys):
    files = series(tmp_path / "dcm", nz=6)
    files[3].unlink()
    out = tmp_path / "regular.nii.gz"
    assert main(["convert", str(tmp_path / "dcm"), "--out", str(out), "--regular"]) == 0
    err = capsys.readouterr().err
    assert "1 slice missing" in err and "resampled to a regular grid" in err
    img = sitk.ReadImage(str(out))
    assert img.GetSize()[2] == 6 and abs(img.GetSpacing()[2] - 2.5) < 1e-6
