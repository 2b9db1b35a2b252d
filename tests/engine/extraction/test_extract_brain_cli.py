"""``candor extract-brain``: the mask file on the input's grid, the JSON report, deepbet as the oracle."""

import json

import numpy as np
import pytest

from engine.cli import main
from engine.io import load, write_image
from engine.labels import volume_ml
from engine.resources import resource_path
from engine.volume import Geometry, Volume

deepbet = pytest.importorskip("deepbet")
nib = pytest.importorskip("nibabel")


def _template_2mm(tmp_path):
    """The MNI template at 2 mm (every other voxel), on an oblique-free grid of its own."""
    t1 = load(resource_path("template", "mni152_2009a_t1.nii.gz"))
    g = t1.geometry
    small = t1.array[::2, ::2, ::2]
    geometry = Geometry(small.shape[::-1], tuple(2 * s for s in g.spacing), g.origin, g.direction)
    return write_image(Volume(np.ascontiguousarray(small), geometry, "MR"), tmp_path / "t1_2mm.nii.gz")


def test_without_the_imported_model_it_says_how_to_import(tmp_path, capsys):
    assert main(["extract-brain", str(resource_path("template", "mni152_2009a_t1.nii.gz")),
                 "--out", str(tmp_path / "m.nii.gz")]) == 2
    assert "candor models import deepbet --allow-torchscript" in capsys.readouterr().err
    assert not (tmp_path / "m.nii.gz").exists()


def test_writes_the_mask_and_report(tmp_path, capsys):
    assert main(["models", "import", "deepbet", "--allow-torchscript"]) == 0
    src = _template_2mm(tmp_path)
    out = tmp_path / "mask.nii.gz"
    assert main(["extract-brain", str(src), "--out", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    mask, image = load(out), load(src)
    assert mask.geometry.is_close(image.geometry) and set(np.unique(mask.array)) == {0, 1}
    voxels = int(mask.array.sum())
    assert rep["brain"]["voxels"] == voxels
    assert rep["brain"]["volume_ml"] == pytest.approx(volume_ml(voxels, image.geometry.voxel_volume_ml), abs=1e-3)
    assert rep["model"]["name"] == "deepbet" and rep["outputs"]["mask"] == str(out)
    assert set(rep["timings"]) >= {"extract_s", "total_s"}
    ref_path = tmp_path / "deepbet.nii.gz"
    deepbet.run_bet([str(src)], mask_paths=[str(ref_path)], no_gpu=True)
    ref = np.asanyarray(nib.load(str(ref_path)).dataobj).transpose(2, 1, 0) > 0
    got = mask.array > 0
    assert 2.0 * (got & ref).sum() / (got.sum() + ref.sum()) >= 0.99
    # its own pipeline only: `candor segment` would run it without deepbet's steps
    assert main(["segment", str(src), "--model", "deepbet", "--out", str(tmp_path / "seg.nii.gz")]) == 2
    assert "candor extract-brain" in capsys.readouterr().err
