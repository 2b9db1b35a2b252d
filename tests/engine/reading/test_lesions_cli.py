"""``candor lesions``: NIfTI files written by the test, the command run as the user runs it."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from engine.cli import main
from engine.export import read_label_file
from engine.io.formats import write_vector_image
from engine.reading import lesion_table

from .test_lesions import (DIRECTIONS, N_A, N_B, N_C, VOXEL_ML, scene_labels, scene_uncertainty,
                           write_image, write_labels_sidecar)

RAMP_MEAN = float((0.2 + 0.02 * np.arange(20, dtype=np.float32)).mean())


@pytest.fixture
def files(tmp_path):
    """A named label map (1 = Lesion, 2 = oedema), its image, a 4-component uncertainty vector
    image as ``candor segment`` writes it, a scalar uncertainty map and a saliency map."""
    oblique = DIRECTIONS["oblique"]
    mask = write_image(scene_labels(), oblique, tmp_path / "mask.nii.gz")
    write_labels_sidecar(mask)
    image = write_image(np.full(scene_labels().shape, 100, np.int16), oblique, tmp_path / "t1.nii.gz")
    geometry = read_label_file(mask)[0].geometry
    u = scene_uncertainty()      # the epistemic component; the others differ from it
    vector = write_vector_image(np.stack([u + 1.0, u + 0.5, u, u * 0 + 0.3]), geometry,
                                tmp_path / "unc.nii.gz")
    scalar = write_image(u, oblique, tmp_path / "epistemic.nii.gz")
    sal = write_image((scene_labels() == 1).astype(np.float32) * 0.25, oblique, tmp_path / "sal.nii.gz")
    return {"mask": mask, "image": image, "vector": vector, "scalar": scalar, "sal": sal,
            "dir": tmp_path}


def test_python_m_engine_lesions_json(files):
    result = subprocess.run(
        [sys.executable, "-m", "engine", "lesions", str(files["mask"]), "--image", str(files["image"]),
         "--uncertainty", str(files["vector"]), "--saliency", str(files["sal"]), "--json"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["label"], doc["name"], doc["connectivity"], doc["min_ml"]) == (1, "Lesion", 26, 0.01)
    rows = doc["lesions"]
    assert [r["voxels"] for r in rows] == [N_A, N_B, N_C]
    assert [r["small"] for r in rows] == [False, False, True]
    assert rows[0]["volume_ml"] == round(N_A * VOXEL_ML, 3)
    long_a = math.hypot(10.0, 7.0)
    assert rows[0]["long_diameter_mm"] == pytest.approx(long_a, abs=0.01)
    assert rows[0]["short_diameter_mm"] == pytest.approx(0.7 * long_a, abs=0.01)
    assert rows[0]["uncertainty_mean"] == pytest.approx(RAMP_MEAN, abs=1e-4)   # epistemic, not total
    assert rows[1]["uncertainty_max"] == pytest.approx(0.9, abs=1e-4)
    assert all(r["saliency_mean"] == pytest.approx(0.25) for r in rows)
    assert [r["slice_range"] for r in rows] == [[2, 4], [6, 9], [11, 11]]
    labels, _ = read_label_file(files["mask"])     # the same numbers as the library's
    expected = [r.to_dict() for r in lesion_table(labels, 1)]
    for got, want in zip(rows, expected):
        for key in ("centroid_lps", "long_axis_lps", "diameter_slice", "index"):
            assert got[key] == want[key]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["lesions", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_table_with_a_scalar_map_and_a_named_label(files, capsys):
    code, out, err = _run(capsys, str(files["mask"]), "--image", str(files["image"]),
                          "--uncertainty", str(files["scalar"]), "--label", "oedema",
                          "--connectivity", "6")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("label 2 (oedema), 6-connected: 1 component;")
    assert len(lines) == 3 and lines[2].split()[:2] == ["1", str(3 * 2 * 20)]
    code, out, _ = _run(capsys, str(files["mask"]), "--image", str(files["image"]), "--label", "1")
    assert code == 0
    assert "3 components" in out and out.strip().splitlines()[-1].lstrip().startswith("3*")
    assert out.strip().splitlines()[2].split()[-3:] == ["-", "-", "-"]   # no maps given


def test_the_label_defaults_to_lesion_else_is_required(files, capsys):
    bare = write_image(scene_labels(), DIRECTIONS["oblique"], files["dir"] / "bare.nii.gz")
    code, _, err = _run(capsys, str(bare), "--image", str(files["image"]))
    assert code == 2
    assert "names no 'lesion' label; choose one with --label NAME or ID" in err
    code, _, err = _run(capsys, str(files["mask"]), "--image", str(files["image"]), "--label", "scar")
    assert code == 2 and "no label named 'scar'" in err


@pytest.mark.parametrize("option", ["--image", "--uncertainty"])
def test_a_file_on_another_grid_is_refused_plainly(files, capsys, option):
    other = write_image(np.zeros((12, 40, 47), np.float32), np.eye(3), files["dir"] / "other.nii.gz")
    argv = {"--image": str(files["image"]), option: str(other)}
    code, out, err = _run(capsys, str(files["mask"]), *[v for kv in argv.items() for v in kv])
    assert code == 2 and out == ""
    assert "not on the" in err and "grid" in err and "Traceback" not in err


def test_missing_and_unusable_inputs_are_plain_errors(files, capsys):
    secret = files["dir"] / "Smith_John" / "unc.nii.gz"
    code, _, err = _run(capsys, str(files["mask"]), "--image", str(files["image"]),
                        "--uncertainty", str(secret))
    assert code == 2 and "the uncertainty map does not exist: unc.nii.gz" in err
    assert "Smith_John" not in err
    code, _, err = _run(capsys, str(files["mask"]), "--image", str(files["image"]),
                        "--saliency", str(files["vector"]))
    assert code == 2 and "holds 4 components per voxel; give a scalar map" in err
    code, _, err = _run(capsys, str(files["mask"]), "--image", str(files["dir"] / "nothing"))
    assert code == 2 and "the image does not exist: nothing" in err
    code, _, err = _run(capsys, str(files["mask"]), "--image", str(files["image"]), "--min-ml", "-1")
    assert code == 2 and "0 mL or more" in err


def test_other_connectivities_are_refused_by_the_parser(files, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["lesions", str(files["mask"]), "--image", str(files["image"]), "--connectivity", "18"])
    assert exc.value.code == 2
    assert "invalid choice: 18" in capsys.readouterr().err
