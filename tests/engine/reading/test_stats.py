"""Per-label statistics and ``candor stats``: NIfTI files written by the test, known boxes.

Truths come from the generated image's formula over each box's voxels (listed explicitly).
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from engine.cli import main
from engine.errors import InputError
from engine.labels import LabelInfo, LabelTable
from engine.reading.stats import COLUMNS, label_stats, to_csv
from engine.volume import Geometry, Volume

from .test_lesions import DIRECTIONS, SPACING, write_image, write_labels_sidecar

SIZE = (12, 10, 6)
VOXEL_ML = SPACING[0] * SPACING[1] * SPACING[2] / 1000.0
BOX_1 = [(i, j, k) for k in range(1, 3) for j in range(2, 5) for i in range(3, 7)]   # 24 voxels
BOX_4 = [(i, 8, 5) for i in range(9, 12)]                                             # 3 voxels


def _value(i, j, k):
    return i + 10 * j + 100 * k - 300.0


def _scene() -> tuple[np.ndarray, np.ndarray]:
    k, j, i = np.indices(SIZE[::-1])
    image = _value(i, j, k).astype(np.float32)
    lab = np.zeros(SIZE[::-1], np.uint8)
    for (i_, j_, k_) in BOX_1:
        lab[k_, j_, i_] = 1
    for (i_, j_, k_) in BOX_4:
        lab[k_, j_, i_] = 4            # an id the table does not name
    return image, lab


def _truth(box):
    v = [_value(*p) for p in box]
    return {"voxels": len(v), "volume_ml": len(v) * VOXEL_ML, "mean": np.mean(v),
            "sd": np.std(v, ddof=1), "min": min(v), "max": max(v)}


def _check(row: dict, box) -> None:
    for key, want in _truth(box).items():
        assert float(row[key]) == pytest.approx(want, rel=1e-6), key  # NIfTI keeps float32 spacing


def test_label_stats_on_an_oblique_anisotropic_grid():
    image, lab = _scene()
    g = Geometry(SIZE, SPACING, (1.0, 2.0, 3.0), DIRECTIONS["oblique"].ravel())
    img = Volume(image, g, "CT", metadata={"rescale_type": "HU"})
    table = LabelTable([LabelInfo(1, "Lesion", (230, 25, 75)), LabelInfo(2, "oedema", (60, 180, 75))])
    rows = label_stats(img, img.with_array(lab), table)
    assert [(r.id, r.name) for r in rows] == [(1, "Lesion"), (2, "oedema"), (4, "label 4")]
    _check(rows[0].to_dict(), BOX_1)
    _check(rows[2].to_dict(), BOX_4)
    assert (rows[1].voxels, rows[1].mean, rows[1].sd) == (0, None, None)
    assert {r.unit for r in rows} == {"HU"}
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert list(parsed[0]) == COLUMNS and parsed[1]["mean"] == ""
    _check(parsed[0], BOX_1)


def test_a_label_map_on_another_grid_is_refused():
    image, lab = _scene()
    g = Geometry(SIZE, SPACING, (0.0, 0.0, 0.0))
    other = Geometry(SIZE, SPACING, (0.0, 0.0, 5.0))
    with pytest.raises(InputError, match="not on the image's grid"):
        label_stats(Volume(image, g), Volume(lab, other))


def test_candor_stats_json_and_csv(tmp_path, capsys):
    image, lab = _scene()
    oblique = DIRECTIONS["oblique"]
    mask = write_image(lab, oblique, tmp_path / "mask.nii.gz")
    write_labels_sidecar(mask)
    img = write_image(image, oblique, tmp_path / "t1.nii.gz")
    out = tmp_path / "stats.csv"
    assert main(["stats", str(mask), "--image", str(img), "--csv", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = [(r["id"], r["name"]) for r in doc["labels"]]
    assert names == [(1, "Lesion"), (2, "oedema"), (4, "label 4")]
    _check(doc["labels"][0], BOX_1)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    _check(rows[2], BOX_4)
    assert main(["stats", str(mask), "--image", str(img)]) == 0
    text = capsys.readouterr().out
    assert "Lesion" in text and "label 4" in text


def test_candor_stats_refuses_a_mask_on_another_grid(tmp_path, capsys):
    image, lab = _scene()
    mask = write_image(lab, DIRECTIONS["axial"], tmp_path / "mask.nii.gz")
    img = write_image(image, DIRECTIONS["oblique"], tmp_path / "t1.nii.gz")
    assert main(["stats", str(mask), "--image", str(img)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the mask is not on the image's grid") and "Traceback" not in err
