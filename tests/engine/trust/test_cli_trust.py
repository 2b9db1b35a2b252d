"""``candor segment --uncertainty --saliency --target --mc-samples``: maps on the input geometry, report sections."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from engine.cli import main
from engine.io import write_image
from engine.volume import Geometry, Volume


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    from tests.engine.trust.tiny import save_tiny_model

    return str(save_tiny_model(tmp_path_factory.mktemp("cli_model")))


def _scan(tmp_path, modality_ct=False):
    rng = np.random.default_rng(0)
    arr = rng.normal(120, 30, (18, 20, 22)).astype(np.float32)
    if modality_ct:   # a head-like CT: air at −1000 HU around 40 HU tissue
        arr = np.where(arr > 135, 40.0, -1000.0) + rng.normal(0, 5, arr.shape).astype(np.float32)
    g = Geometry((22, 20, 18), (1.8, 1.6, 2.2), (10.0, -5.0, 3.0), (0, 0, 1, 1, 0, 0, 0, 1, 0))
    path = tmp_path / "scan.nii.gz"
    write_image(Volume(arr, g, "MR"), path)
    return path, g


def test_segment_writes_uncertainty_and_saliency_on_the_input_geometry(tmp_path, tiny_folder, capsys):
    scan, g = _scan(tmp_path)
    out, unc, sal, rep = (tmp_path / n for n in ("mask.nii.gz", "unc.nii.gz", "sal.nii.gz", "report.json"))
    code = main(["segment", str(scan), "--model", tiny_folder, "--out", str(out), "--uncertainty", str(unc),
                 "--saliency", str(sal), "--target", "Beta", "--mc-samples", "3",
                 "--report", str(rep), "--device", "cpu"])
    assert code == 0
    report = json.loads(rep.read_text())
    assert set(report["ood"]) >= {"flag", "scores", "thresholds", "reasons"}
    assert isinstance(report["ood"]["flag"], bool)
    u = report["uncertainty"]
    assert u["mc_samples"] == 3 and u["mean_epistemic"] >= 0 and u["mean_aleatoric"] >= 0
    assert report["saliency"]["2"]["label"] == "Beta" and report["saliency"]["2"]["layer"]
    assert report["outputs"]["uncertainty_components"][:3] == ["total", "aleatoric", "epistemic"]
    for path in (out, unc, sal):
        img = sitk.ReadImage(str(path))
        assert img.GetSize() == g.size
        assert np.allclose(img.GetSpacing(), g.spacing, atol=1e-4) and np.allclose(img.GetOrigin(), g.origin, atol=1e-3)
        assert np.allclose(img.GetDirection(), g.direction, atol=1e-5)
    maps = sitk.GetArrayFromImage(sitk.ReadImage(str(unc)))
    assert np.allclose(maps[..., 0], maps[..., 1] + maps[..., 2], atol=1e-4)   # total = aleatoric + epistemic
    s = sitk.GetArrayFromImage(sitk.ReadImage(str(sal)))
    assert s.min() >= 0 and s.max() <= 1


def test_saliency_of_a_region_of_interest(tmp_path, tiny_folder):
    scan, g = _scan(tmp_path)
    roi = np.zeros(g.shape, np.uint8)
    roi[6:12, 6:12, 6:12] = 1
    write_image(Volume(roi, g), tmp_path / "roi.nii.gz")
    sal = tmp_path / "sal.nii.gz"
    assert main(["segment", str(scan), "--model", tiny_folder, "--out", str(tmp_path / "m.nii.gz"), "--saliency",
                 str(sal), "--target", "1", "--roi", str(tmp_path / "roi.nii.gz"), "--mc-samples", "1",
                 "--device", "cpu"]) == 0
    assert sitk.GetArrayFromImage(sitk.ReadImage(str(sal))).max() > 0


def test_saliency_without_target_and_unknown_target_are_clear_errors(tmp_path, tiny_folder, capsys):
    scan, _ = _scan(tmp_path)
    args = ["segment", str(scan), "--model", tiny_folder, "--out", str(tmp_path / "m.nii.gz"), "--device", "cpu"]
    assert main(args + ["--saliency", str(tmp_path / "s.nii.gz")]) == 2
    assert "--target" in capsys.readouterr().err
    assert main(args + ["--saliency", str(tmp_path / "s.nii.gz"), "--target", "Gamma"]) == 2
    assert "Alpha" in capsys.readouterr().err


def test_ct_values_given_to_the_mr_model_stop_before_inference_unless_forced(tmp_path, tiny_folder, capsys):
    """Issue 16 target 3: a hard input check stops the CLI before the first window (exit code 3,
    nothing written); --force runs it and the report still carries the flag."""
    scan, _ = _scan(tmp_path, modality_ct=True)
    rep, out = tmp_path / "r.json", tmp_path / "m.nii.gz"
    args = ["segment", str(scan), "--model", tiny_folder, "--out", str(out), "--mc-samples", "1",
            "--report", str(rep), "--device", "cpu"]
    assert main(args) == 3
    err = capsys.readouterr().err
    assert "was not made for this scan" in err and "Hounsfield" in err and "--force" in err
    assert "Nothing was run" in err and "Traceback" not in err
    assert not out.exists() and not rep.exists()
    assert main(args + ["--force"]) == 0
    report = json.loads(rep.read_text())
    ood = report["ood"]
    assert ood["flag"] and any("Hounsfield" in r for r in ood["reasons"])
    assert report["forced"]["by"] == "--force"                  # the choice is on the record
    assert any("Hounsfield" in r for r in report["forced"]["input_checks"])


def test_plain_segment_writes_mask_probabilities_and_the_same_report_keys(tmp_path, tiny_folder, capsys):
    """Everything the command wrote before the one analysis path: mask, probabilities, --report (file and '-')."""
    scan, g = _scan(tmp_path)
    out, probs = tmp_path / "mask.nii.gz", tmp_path / "probs.nii.gz"
    assert main(["segment", str(scan), "--model", tiny_folder, "--out", str(out), "--probabilities", str(probs),
                 "--mc-samples", "1", "--report", "-", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"device", "model", "labels", "warnings", "timings", "input", "model_grid", "outputs",
                           "ood", "uncertainty", "saliency"}
    # the former keys, plus the hash of the weights the result came from (provenance)
    assert set(report["model"]) == {"name", "version", "parent_version", "members_used", "task", "weights_hash"}
    assert len(report["model"]["weights_hash"]) == 64
    assert report["model"]["members_used"] == 2 and report["device"] == "cpu"
    assert report["outputs"] == {"mask": str(out), "probabilities": str(probs)}
    assert report["model_grid"]["spacing"] == [2.0, 2.0, 2.0] and report["input"]["size"] == list(g.size)
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(out)))
    p = sitk.ReadImage(str(probs))
    assert p.GetNumberOfComponentsPerPixel() == 3 and p.GetSize() == g.size
    pa = sitk.GetArrayFromImage(p)                      # (z, y, x, K)
    np.testing.assert_allclose(pa.sum(-1), 1.0, atol=5e-3)
    chosen = np.take_along_axis(pa, mask[..., None].astype(np.intp), -1)[..., 0]
    np.testing.assert_array_equal(chosen, pa.max(-1))    # the mask is the argmax of the written probabilities
    voxel_ml = float(np.prod(g.spacing)) / 1000
    for entry in report["labels"]:
        assert entry["voxels"] == int((mask == entry["id"]).sum())
        assert entry["volume_ml"] == pytest.approx(entry["voxels"] * voxel_ml, abs=1e-3)
