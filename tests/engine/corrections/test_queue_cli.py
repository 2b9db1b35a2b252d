"""``candor queue`` end to end on real files, and the PHI canary: identity never reaches the queue."""

from __future__ import annotations

import gzip
import json
import logging

import numpy as np
import pytest
import SimpleITK as sitk

from engine import io
from engine.cli import main
from engine.resources import user_subdir
from engine.volume import Geometry, Volume

CANARY = "ZZCANARY7319"


@pytest.fixture
def scan(tmp_path):
    """A real DICOM series whose patient name and ID hold the canary, and two NIfTI masks on it."""
    geometry = Geometry((40, 32, 10), (0.9, 0.9, 3.0), (-18.0, -14.4, 20.0))
    rng = np.random.default_rng(3)
    volume = Volume(rng.integers(0, 400, geometry.shape).astype(np.int16), geometry, "CT")
    folder = tmp_path / "dicom"
    io.write_series(volume, folder, modality="CT", patient_name=f"{CANARY}^PATIENT",
                    patient_id=f"ID{CANARY}", series_description=f"head {CANARY}")
    ai = np.zeros(geometry.shape, np.uint8)
    ai[3:7, 10:20, 10:20] = 1
    corrected = ai.copy()
    corrected[3:7, 10:20, 20:25] = 1
    paths = []
    for name, arr in (("ai", ai), ("corrected", corrected)):
        path = tmp_path / f"{name}.nii.gz"
        sitk.WriteImage(volume.with_array(arr).to_sitk(), str(path))
        paths.append(path)
    return folder, paths[0], paths[1], ai, corrected


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_queue_add_list_show_export_remove(scan, capsys, tmp_path):
    folder, ai_path, corr_path, ai, corrected = scan
    code, out, err = _run(capsys, "queue", "add", str(folder), "--ai", str(ai_path),
                          "--corrected", str(corr_path), "--model", "demo-net@2.1")
    assert code == 0, err
    item_id = out.strip()
    assert len(item_id) == 10

    code, out, _ = _run(capsys, "queue", "list", "--json")
    items = json.loads(out)
    assert [i["id"] for i in items] == [item_id]
    assert items[0]["model"]["name"] == "demo-net" and items[0]["model"]["version"] == "2.1"
    assert items[0]["stats"]["voxels_added"] == 4 * 10 * 5
    assert items[0]["status"] == "queued"

    code, out, _ = _run(capsys, "queue", "show", item_id[:5])
    shown = json.loads(out)
    assert shown["id"] == item_id and shown["history"][0]["event"] == "queued"

    code, out, _ = _run(capsys, "queue", "export", item_id, "--out", str(tmp_path / "exp"))
    assert code == 0 and len(out.split()) == 4
    back = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "exp" / "corrected.nii.gz")))
    np.testing.assert_array_equal(back, corrected)

    code, out, err = _run(capsys, "queue", "list")
    assert item_id in out and "demo-net@2.1" in out
    assert _run(capsys, "queue", "remove", item_id)[0] == 0
    assert json.loads(_run(capsys, "queue", "list", "--json")[1]) == []
    code, _, err = _run(capsys, "queue", "show", item_id)
    assert code == 2 and "no queued correction" in err


def test_queue_add_refuses_masks_on_another_grid(scan, capsys, tmp_path):
    folder, ai_path, _, ai, _ = scan
    other = tmp_path / "other.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(ai[:, :, :-2].copy()), str(other))
    code, out, err = _run(capsys, "queue", "add", str(folder), "--ai", str(ai_path),
                          "--corrected", str(other), "--json")
    assert code == 2 and err.startswith("error:") and "grid" in err
    assert json.loads(_run(capsys, "queue", "list", "--json")[1]) == []
    code, _, err = _run(capsys, "queue", "add", str(folder), "--ai", str(ai_path),
                        "--corrected", str(ai_path), "--model", "no-version")
    assert code == 2 and "no-version" in err


def test_phi_canary_never_reaches_queue_or_logs(scan, capsys, caplog):
    folder, ai_path, corr_path, _, _ = scan
    caplog.set_level(logging.DEBUG)
    loaded = io.load(folder)
    # the loader keeps no name or ID; the (free-text) description may hold it, the queue must not
    leaked = {k for k, v in loaded.metadata.items() if CANARY in repr(v)}
    assert leaked <= {"series_description"}
    code, out, err = _run(capsys, "-vv", "queue", "add", str(folder), "--ai", str(ai_path),
                          "--corrected", str(corr_path), "--json")
    assert code == 0, err
    item = json.loads(out)
    code2, out2, err2 = _run(capsys, "queue", "show", item["id"])
    texts = [out, err, out2, err2, caplog.text]
    assert all(CANARY not in t for t in texts)
    assert item["study"] and item["study"].startswith("study-")  # pseudonym made from the real UID
    scanned = 0
    for path in user_subdir("queue").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.name.endswith(".gz"):
                data = gzip.decompress(data)
            assert CANARY.encode() not in data, path.name
            assert CANARY.encode("utf-16-le") not in data, path.name
            scanned += 1
    assert scanned >= 5  # database (+ WAL), secret, image, two masks
