"""The OOD evaluation counts the shipped decision: its rows equal ``analyze(...).ood`` case by case."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from engine.models import load_model
from engine.models.discovery import DEFAULT_MODEL
from engine.models.package import LoadedModel
from engine.synthesis.template import load_template
from engine.training.evaluate_trust import evaluate_case, evaluation_options, summarise
from engine.training.ood_shifts import OOD_SEED_BASE, case_volume
from engine.trust import analyze


@pytest.fixture(scope="module")
def calibrated():
    from engine.errors import ModelError

    try:
        model = load_model(DEFAULT_MODEL, members=1)
    except ModelError as exc:
        pytest.skip(f"the default model is not bundled: {exc}")
    if not model.manifest.trust_calibration.ood.modes:
        pytest.skip("the bundled model has not been calibrated (make calibrate-trust)")
    return model


def _blind(model: LoadedModel) -> LoadedModel:
    """The same calibrated package whose network sees background everywhere: an empty foreground."""
    net = copy.deepcopy(model.network)
    with torch.no_grad():
        net.head.bias[0] += 1e3
    return LoadedModel(model.manifest, (net,), model.path)


def _same(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and
                                         (a == pytest.approx(b) or (math.isnan(a) and math.isnan(b))))


def _rows_against_the_shipped_verdict(models, volume) -> list:
    """Each model's evaluation row next to a separate ``analyze`` of the same case: they must agree."""
    rows = []
    for model in models:
        options = evaluation_options(model)
        row, result = evaluate_case(model, volume, options)
        shipped = analyze(volume, model, options).ood
        assert row["flag"] == shipped.flag
        assert _same(row["combined"], shipped.combined if shipped.combined is not None else float("nan"))
        assert sorted(row["hard"] + row["soft_fired"]) == sorted(c.name for c in shipped.checks if c.fired)
        assert row["scores"] == {c.name: c.score for c in shipped.checks if not c.hard and c.score is not None}
        rows.append((row, result))
    return rows


#: A calibration in the shape calibrate_trust writes, for the tiny model's scale (1 member, T = 10).
TINY_TRUST = {"temperature": 1.0, "mc": {"samples": 10, "tail_stages": 1},
              "ood": {"tpr": 0.95, "cases": 12, "intensity_upper_range": [100.0, 400.0], "fov_min_mm": 30.0,
                      "foreground_ml_median": 8.0, "scale_tolerance_decades": 1.0,
                      "modes": {"1x10": {"scores": {"confidence": {"median": 0.3, "sd": 0.05, "threshold": 0.4},
                                                    "brain_volume": {"median": 0.1, "sd": 0.1, "threshold": 0.3}},
                                         "combined_threshold": 1.5, "cases": 12}}}}


def test_evaluation_rows_are_the_shipped_verdict_on_a_tiny_calibrated_model(tmp_path, blob_volume):
    from tests.engine.trust.tiny import save_tiny_model

    model = load_model(save_tiny_model(tmp_path / "tiny", members=1, trust=TINY_TRUST))
    (_row, _), (empty, result) = _rows_against_the_shipped_verdict((model, _blind(model)), blob_volume)
    assert all(e["voxels"] == 0 for e in result.label_report)
    assert empty["scores"]["brain_volume"] == 10.0 and empty["flag"] and "brain_volume" in empty["soft_fired"]


@pytest.mark.slow   # four full-head MC passes of the bundled model: ~4 min on 2 shared CPU cores
def test_evaluation_rows_are_the_shipped_verdict_incl_an_empty_foreground(calibrated):
    held_out, _ = case_volume(OOD_SEED_BASE + 22, load_template(2.0))
    (normal, _), (empty, empty_result) = _rows_against_the_shipped_verdict((calibrated, _blind(calibrated)), held_out)
    assert not normal["flag"] and normal["calibrated"]          # a held-out case passes
    assert all(e["voxels"] == 0 for e in empty_result.label_report)
    # the shipped scores of an empty segmentation (the former copy used |ln(1e-3 mL / typical)| ≈ 14.4)
    assert empty["scores"]["brain_volume"] == 10.0 and empty["scores"]["confidence"] == 1.0
    assert empty["flag"] and "brain_volume" in empty["soft_fired"]
    summary = summarise({"rows": [dict(normal, shift="in_distribution", case=0),
                                  dict(empty, shift="non_brain", case=0)], "concentration": []})
    assert summary["in_distribution"]["flagged"] == 0 and summary["per_shift"]["non_brain"]["flagged"] == 1
    assert summary["per_shift"]["non_brain"]["auroc"] == 1.0
    assert np.isfinite(summary["in_distribution"]["mean_epistemic_fg"])
