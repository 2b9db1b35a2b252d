"""Candor runs an imported nnU-Net v2 model exactly as nnUNetPredictor does (the oracle: nnunetv2 itself).

The results folder is built with nnunetv2's own planner and saved in nnU-Net's checkpoint format
(``tests/peers/nnunet_folder.py``, cached). Each test writes a new case as NIfTI; nnU-Net reads it
with its own ``SimpleITKIO`` and predicts with ``nnUNetPredictor.initialize_from_trained_model_folder``
(two folds); Candor loads the same file with ``engine.io.load`` and runs ``engine.trust.analyze``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.peers.fixtures import nnunet_results, nnunet_results_2d  # noqa: F401  (pytest fixtures)
from tests.peers.nnunet_folder import FOLDS, make_case, write_nifti

torch = pytest.importorskip("torch")

CASES = {  # (shape z, y, x; spacing x, y, z): the second one is resampled to the plans' 1 mm grid
    "iso": ((30, 32, 30), (1.0, 1.0, 1.0)),     # cropped to 26×28×26: padded to the 28³ patch
    "aniso": ((30, 40, 26), (0.8, 1.25, 1.3)),
}


@pytest.fixture(scope="module")
def package(nnunet_results, tmp_path_factory):  # noqa: F811
    from engine.models import load_model
    from engine.models.importers.nnunet import convert

    return load_model(convert(nnunet_results, tmp_path_factory.mktemp("pkg"), name="nnunet-test"))


def _oracle(folder, path, mirroring: bool):
    from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    predictor = nnUNetPredictor(tile_step_size=0.5, use_mirroring=mirroring, device=torch.device("cpu"),
                                allow_tqdm=False)
    predictor.initialize_from_trained_model_folder(str(folder), use_folds=FOLDS)
    image, props = SimpleITKIO().read_images([str(path)])
    return predictor.predict_single_npy_array(image, props, None, None, True)


@pytest.mark.parametrize("case,mirroring", [("aniso", False), ("iso", True)])
def test_labels_and_probabilities_equal_nnunet_predictor(package, nnunet_results, tmp_path, case, mirroring):  # noqa: F811
    from engine.io import load
    from engine.trust import analyze
    from engine.trust.options import MAP_KEYS, AnalysisOptions

    shape, spacing = CASES[case]
    image, truth = make_case(77 if mirroring else 78, shape)
    path = tmp_path / "case_0000.nii.gz"
    write_nifti(image, path, spacing)
    seg, probs = _oracle(nnunet_results, path, mirroring)

    result = analyze(load(path), package, AnalysisOptions(mc_samples=1, maps=MAP_KEYS, probabilities=True,
                                                          mirroring=mirroring))
    assert result.labels.array.shape == seg.shape
    assert np.array_equal(result.labels.array, seg), f"{int((result.labels.array != seg).sum())} voxels differ"
    assert len(np.unique(seg)) >= 2 and (seg == truth).mean() > 0.8     # not a trivial output
    # float16 is what AnalysisResult keeps: within its rounding (2^-12 below 1) of nnU-Net's float32
    assert np.abs(result.probabilities.astype(np.float32) - probs).max() <= 2.5e-4
    assert result.model["members_used"] == len(FOLDS) and result.model["mirroring"] is mirroring
    assert "no dropout" in result.uncertainty["mc_dropout"]
    expected = {"total", "aleatoric", "epistemic", "disagreement"} | ({"mirroring"} if mirroring else set())
    assert set(result.maps) == expected
    if mirroring:          # the flipped passes disagree somewhere
        mi = result.maps["mirroring"].array
        assert mi.shape == seg.shape and mi.min() >= 0 and mi.max() > 0
        assert result.uncertainty["mean_mirroring"] > 0
    assert result.maps["disagreement"].array.shape == seg.shape and result.maps["disagreement"].array.max() > 0
    json.dumps(result.report())


def test_float32_path_matches_to_1e4(package, nnunet_results, tmp_path):  # noqa: F811
    """The engine's float32 export (before the float16 of AnalysisResult) against nnU-Net's probabilities."""
    import SimpleITK as sitk

    from engine.inference import nnunet as nn
    from engine.models.nnunet import NnUNetAdapter

    shape, spacing = CASES["aniso"]
    image, _ = make_case(79, shape)
    path = tmp_path / "case_0000.nii.gz"
    write_nifti(image, path, spacing)
    seg, probs = _oracle(nnunet_results, path, False)
    ad = NnUNetAdapter.from_dict(package.manifest.adapter)
    arr = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    prep = nn.preprocess(arr, spacing[::-1], ad)
    logits = [nn.member_logits(prep.data, net, ad, 3, mirror=False) for net in package.networks]
    labels, ours = nn.to_input(nn.ensemble_logits(logits), prep, ad)
    assert np.array_equal(labels, seg)
    assert np.abs(ours - probs).max() <= 1e-4


def test_candor_models_import_then_segment_writes_mask_maps_and_report(nnunet_results, tmp_path):  # noqa: F811
    """The CLI: ``candor models import FOLDER --name X`` then ``candor segment PATH --model X``."""
    import SimpleITK as sitk

    from engine.cli import main

    assert main(["models", "import", str(nnunet_results), "--name", "nn-cli"]) == 0
    image, _ = make_case(80, (30, 32, 30))
    path = tmp_path / "case.nii.gz"
    write_nifti(image, path, (1.0, 1.1, 0.9))
    out, unc, rep = tmp_path / "mask.nii.gz", tmp_path / "unc.nii.gz", tmp_path / "report.json"
    assert main(["segment", str(path), "--model", "nn-cli", "--out", str(out), "--uncertainty", str(unc),
                 "--mc-samples", "1", "--report", str(rep)]) == 0
    mask = sitk.ReadImage(str(out))
    ref = sitk.ReadImage(str(path))
    assert mask.GetSize() == ref.GetSize() and np.allclose(mask.GetSpacing(), ref.GetSpacing())
    assert np.allclose(mask.GetOrigin(), ref.GetOrigin()) and len(np.unique(sitk.GetArrayFromImage(mask))) >= 2
    assert sitk.ReadImage(str(unc)).GetNumberOfComponentsPerPixel() == 4
    report = json.loads(rep.read_text())
    assert report["model"]["name"] == "nn-cli" and report["model"]["members_used"] == len(FOLDS)
    assert "no dropout" in report["uncertainty"]["mc_dropout"]
    assert isinstance(report["ood"]["flag"], bool) and report["ood"]["calibrated"] is False


@pytest.mark.parametrize("mirroring", [False, True])
def test_2d_configuration_equals_nnunet_predictor(nnunet_results_2d, tmp_path, mirroring):  # noqa: F811
    """The 2d configuration (slice-by-slice windows, in-plane resampling) against nnUNetPredictor."""
    from engine.io import load
    from engine.models import load_model
    from engine.models.importers.nnunet import convert
    from engine.trust import analyze
    from engine.trust.options import AnalysisOptions

    model = load_model(convert(nnunet_results_2d, tmp_path / "pkg", name="nnunet-2d"))
    assert model.manifest.adapter["configuration"] == "2d"
    image, _ = make_case(81, (20, 34, 30))
    path = tmp_path / "case_0000.nii.gz"
    write_nifti(image, path, (1.0, 0.9, 2.0))
    seg, probs = _oracle(nnunet_results_2d, path, mirroring)
    result = analyze(load(path), model, AnalysisOptions(mc_samples=1, probabilities=True, mirroring=mirroring))
    assert np.array_equal(result.labels.array, seg), f"{int((result.labels.array != seg).sum())} voxels differ"
    assert len(np.unique(seg)) >= 2
    assert np.abs(result.probabilities.astype(np.float32) - probs).max() <= 2.5e-4


def test_intensity_scale_check_from_the_fingerprint(package, nnunet_results, tmp_path):  # noqa: F811
    """The import states the fingerprint's foreground 99.5th percentile; a rescaled scan is flagged, the scale
    of the training cases is not (the OOD scores themselves stay uncalibrated)."""
    from engine.io import load
    from engine.trust import analyze
    from engine.trust.options import AnalysisOptions

    plans = json.loads((nnunet_results / "plans.json").read_text())
    top = plans["foreground_intensity_properties_per_channel"]["0"]["percentile_99_5"]
    assert package.manifest.trust_calibration.ood.intensity_upper_range == (top, top)
    image, _ = make_case(83, (30, 32, 30))
    fired = {}
    for scale in (1.0, 1000.0):
        path = tmp_path / f"case_{int(scale)}.nii.gz"
        write_nifti(image * scale, path)
        result = analyze(load(path), package, AnalysisOptions(mc_samples=1, maps=(), mirroring=False))
        (check,) = [c for c in result.ood.checks if c.name == "intensity_scale"]
        fired[scale] = check.fired
        assert result.ood.calibrated is False
    assert fired == {1.0: False, 1000.0: True}
    assert any("larger" in r for r in result.ood.reasons)
