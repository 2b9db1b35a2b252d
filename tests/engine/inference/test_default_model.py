"""The shipped default model, end to end: `candor demo`, `candor segment`, lesion found, geometry kept."""

import json
from dataclasses import replace

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from engine.cli import main as cli
from engine.demo import PATIENT_NAME, demo_volume
from engine.io import load
from engine.models import DEFAULT_MODEL, load_model
from engine.training.evaluate import EVAL_SEED_BASE
from engine.training.metrics import dice, lesion_detection
from engine.synthesis.synth import LESION, generate_case
from engine.synthesis.template import load_template
from engine.trust import SEGMENTATION, analyze
from engine.volume import Volume


@pytest.fixture(scope="module")
def default_model():
    return load_model(DEFAULT_MODEL)


def test_bundled_default_model_is_listed(capsys):
    assert cli(["models", "list", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    entry = listed[DEFAULT_MODEL]
    assert entry["source"] == "bundled" and entry["members"] >= 1 and entry["modality"] == "MR"
    assert cli(["models", "list"]) == 0
    assert DEFAULT_MODEL in capsys.readouterr().out
    assert cli(["models", "show", DEFAULT_MODEL]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert "Copyright (C) 1993-2009 Louis Collins" in manifest["license"]
    assert [l["name"] for l in manifest["labels"]] == ["Grey matter", "White matter", "Lesion"]


def test_demo_then_segment_writes_an_aligned_mask_that_finds_the_lesion(tmp_path, capsys):
    assert cli(["demo", "--no-view", "--out", str(tmp_path / "demo" / "T1")]) == 0
    folder = capsys.readouterr().out.strip().splitlines()[-1]
    files = sorted((tmp_path / "demo" / "T1").glob("*.dcm"))
    assert folder == str(tmp_path / "demo" / "T1") and len(files) == 189
    ds = pydicom.dcmread(files[0])
    assert str(ds.PatientName) == PATIENT_NAME and ds.Modality == "MR" and ds.MagneticFieldStrength == 3
    assert (tmp_path / "demo" / "NOTICE.txt").read_text().count("McConnell Brain Imaging Centre") == 1

    out, probs, report = tmp_path / "mask.nii.gz", tmp_path / "probs.nii.gz", tmp_path / "report.json"
    assert cli(["segment", folder, "--out", str(out), "--probabilities", str(probs), "--report", str(report),
                "--device", "cpu"]) == 0
    image = load(folder)
    mask = sitk.ReadImage(str(out))
    assert Volume.from_sitk(mask).geometry.is_close(image.geometry, spacing_tol=1e-5, origin_tol=1e-4)
    p = sitk.ReadImage(str(probs))
    assert p.GetNumberOfComponentsPerPixel() == 4 and p.GetSize() == mask.GetSize()

    rep = json.loads(report.read_text())
    assert rep["model"]["name"] == DEFAULT_MODEL and rep["model"]["version"]
    assert {l["name"] for l in rep["labels"]} == {"Grey matter", "White matter", "Lesion"}
    for entry in rep["labels"]:
        assert set(entry) >= {"id", "name", "voxels", "volume_ml"}
    assert isinstance(rep["warnings"], list) and rep["timings"]["total_s"] > 0

    labels = sitk.GetArrayFromImage(mask)
    _, truth = demo_volume()
    assert dice(labels, truth, 1) > 0.6 and dice(labels, truth, 2) > 0.7  # tissues, at 1 mm from a 2 mm model


def test_lesion_found_in_the_demo_study(default_model):
    volume, truth = demo_volume()
    labels = analyze(volume, default_model, replace(SEGMENTATION, device="cpu")).labels.array
    found = lesion_detection(labels, truth, LESION)
    assert found["detected"] == 1 and found["false_positive_blobs"] <= 2
    assert dice(labels, truth, LESION) > 0.5


def test_lesion_found_in_a_held_out_generated_case(default_model):
    template = load_template(2.0)
    seed = EVAL_SEED_BASE
    while True:  # the first held-out case with a lesion of at least ~1 mL
        case = generate_case(seed, template)
        if (case.labels == LESION).sum() * 8 >= 1000:
            break
        seed += 1
    volume = Volume(case.image, case.geometry, "MR")
    result = analyze(volume, default_model, replace(SEGMENTATION, device="cpu", probabilities=True))
    assert result.labels.geometry == volume.geometry
    found = lesion_detection(result.labels.array, case.labels, LESION)
    assert found["detected"] >= 1 and found["false_positive_blobs"] <= 2
    assert dice(result.labels.array, case.labels, LESION) > 0.5
    assert np.isfinite(result.probabilities.astype(np.float32)).all()
