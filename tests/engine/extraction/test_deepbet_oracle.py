"""Candor's ``extract_brain`` against deepbet's own ``run_bet`` on the same files: Dice ≥ 0.99.

Inputs: the MNI template shipped in ``resources/template`` (as the NIfTI file itself), the same
template stored with its axes permuted and flipped (a sagittal, left-to-right series: deepbet's
reorientation against Candor's), and the demo study as DICOM (Candor reads the series, deepbet a
NIfTI of it), with one dilation. deepbet's mask file is read with nibabel, not with Candor.
"""

from pathlib import Path

import numpy as np
import pytest

from engine.extraction import extract_brain, load_extraction_model
from engine.io import load, write_image
from engine.models.importers import import_model
from engine.resources import resource_path

deepbet = pytest.importorskip("deepbet")
nib = pytest.importorskip("nibabel")

MIN_DICE = 0.99


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = import_model(Path("deepbet"), tmp_path_factory.mktemp("models"), allow_torchscript=True)
    return load_extraction_model(folder)


def _deepbet_mask(path: Path, tmp: Path, n_dilate: int = 0) -> np.ndarray:
    """deepbet's mask for ``path`` in Candor's ``[k, j, i]`` order of the file's own array."""
    out = tmp / "deepbet_mask.nii.gz"
    deepbet.run_bet([str(path)], mask_paths=[str(out)], no_gpu=True, n_dilate=n_dilate)
    img = nib.load(str(out))
    assert img.shape == nib.load(str(path)).shape[:3]
    return np.asanyarray(img.dataobj).transpose(2, 1, 0) > 0


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


def _check(candor, want: np.ndarray, geometry) -> None:
    got = candor.array > 0
    assert candor.array.dtype == np.uint8 and candor.geometry == geometry
    brain_ml = got.sum() * geometry.voxel_volume_ml
    assert 900 < brain_ml < 2200, brain_ml  # an adult brain, not the head or nothing
    assert _dice(got, want) >= MIN_DICE, f"Dice {_dice(got, want):.5f}, {(got ^ want).sum()} voxels differ"


def test_template(model, tmp_path):
    path = resource_path("template", "mni152_2009a_t1.nii.gz")
    volume = load(path)
    _check(extract_brain(volume, model), _deepbet_mask(path, tmp_path), volume.geometry)


@pytest.mark.slow  # ~14 s more; the reorientation itself is checked fast in test_postprocess.py
def test_template_stored_sagittal_and_flipped(model, tmp_path):
    src = nib.load(str(resource_path("template", "mni152_2009a_t1.nii.gz")))
    ornt = np.array([[2, -1], [0, 1], [1, -1]])  # permute and flip: another acquisition order
    img = src.as_reoriented(ornt)
    path = tmp_path / "sagittal.nii.gz"
    nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine).to_filename(str(path))
    volume = load(path)
    assert volume.geometry.size != load(resource_path("template", "mni152_2009a_t1.nii.gz")).geometry.size
    _check(extract_brain(volume, model), _deepbet_mask(path, tmp_path), volume.geometry)


def test_demo_study_from_dicom_with_dilation(model, tmp_path):
    from engine.demo import write_demo

    series = load(write_demo(tmp_path / "demo" / "T1"))
    path = write_image(series, tmp_path / "demo.nii.gz")
    progress = []
    mask = extract_brain(series, model, n_dilate=1, progress=lambda f, s: progress.append(f))
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress)
    _check(mask, _deepbet_mask(path, tmp_path, n_dilate=1), series.geometry)
    assert mask.warnings == series.warnings
