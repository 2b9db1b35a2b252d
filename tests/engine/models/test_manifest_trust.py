"""The typed trust calibration: parsed and validated once from the manifest, written back unchanged."""

from __future__ import annotations

import copy
import json

import pytest

from engine.errors import ModelError
from engine.models import load_manifest
from engine.models.discovery import DEFAULT_MODEL, find_model
from engine.models.trust_calibration import ModeCalibration, ScoreCalibration, TrustCalibration
from tests.engine.trust.tiny import tiny_manifest

#: The shape engine/training/calibrate_trust.py writes (finish(): temperature record, mc, ood, provenance).
WRITTEN = {
    "temperature": 1.2141,
    "calibration": {"fitted_temperature": 1.2141, "kept": True, "ece_before": 0.0273, "ece_after": 0.01117,
                    "fit_cases": 6, "region": "brain plus a 2-voxel rim, model grid"},
    "mc": {"samples": 10, "tail_stages": 1},
    "ood": {"tpr": 0.95, "cases": 12,
            "fingerprint_percentiles": {"p01": -2.25879, "p50": 0.1652, "p99": 1.85798},
            "intensity_upper_range": [136.689, 1869.222], "scale_tolerance_decades": 1.0, "fov_min_mm": 188.0,
            "foreground_ml_median": 1716.8,
            "modes": {"1x10": {"scores": {"confidence": {"median": 0.105, "sd": 0.0046, "threshold": 0.1125},
                                          "energy_fg": {"median": -9.1, "sd": 0.3, "threshold": -8.6}},
                               "combined_threshold": 1.518497, "cases": 12}}},
    "calibrated_with": "engine/training/calibrate_trust.py", "calibration_seconds": 1243.0,
}


def test_the_bundled_manifest_parses_into_typed_values():
    m = load_manifest(find_model(DEFAULT_MODEL).path / "manifest.json")
    cal = m.trust_calibration
    assert cal.temperature == pytest.approx(float(m.trust["temperature"])) and cal.temperature > 0
    assert cal.tail_stages == m.trust["mc"]["tail_stages"]
    assert set(cal.ood.modes) == set(m.trust["ood"]["modes"]) >= {"1x10"}
    one = cal.ood.modes["1x10"]
    assert isinstance(one, ModeCalibration) and one.combined_threshold > 1
    assert all(isinstance(s, ScoreCalibration) and s.threshold >= s.median for s in one.scores.values())
    lo, hi = cal.ood.intensity_upper_range
    assert 0 < lo < hi and cal.ood.fov_min_mm > 0 and cal.ood.foreground_ml_median > 0
    # what the calibration wrote comes back unchanged
    assert cal.to_dict() == json.loads(json.dumps(m.to_dict()["trust"]))


def test_round_trip_to_the_json_the_calibration_script_writes(tmp_path):
    cal = TrustCalibration.from_dict(WRITTEN)
    assert cal.to_dict() == WRITTEN
    assert cal.ood.modes["1x10"].scores["energy_fg"].threshold == -8.6
    assert cal.record["calibrated_with"] == "engine/training/calibrate_trust.py"
    # through a manifest file, as load_model reads it
    from engine.models import save_manifest

    save_manifest(tiny_manifest(trust=WRITTEN), tmp_path / "manifest.json")
    back = load_manifest(tmp_path / "manifest.json")
    assert back.trust_calibration == cal and back.trust_calibration.to_dict() == WRITTEN


def test_an_uncalibrated_manifest_has_neutral_defaults():
    cal = tiny_manifest().trust_calibration
    assert cal.temperature == 1.0 and cal.tail_stages is None and cal.mc_samples is None
    assert cal.ood.modes == {} and cal.ood.intensity_upper_range is None and cal.ood.fov_min_mm is None
    assert cal.to_dict() == {"temperature": 1.0}


def _broken(path: tuple, value):
    d = copy.deepcopy(WRITTEN)
    node = d
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return d


@pytest.mark.parametrize("path, value, message", [
    (("temperature",), -1.2, "temperature must be above 0"),
    (("temperature",), 0, "temperature must be above 0"),
    (("temperature",), "1.2", "temperature must be a finite number"),
    (("temperature",), float("nan"), "temperature must be a finite number"),
    (("mc", "tail_stages"), 0, "mc.tail_stages must be at least 1"),
    (("ood", "modes", "1x10", "scores", "confidence", "threshold"), "high", "threshold must be a finite number"),
    (("ood", "modes", "1x10", "scores", "confidence", "threshold"), 0.01, "is below its median"),
    (("ood", "modes", "1x10", "scores", "confidence"), {"median": 0.1}, "needs a median and a threshold"),
    (("ood", "modes", "1x10", "combined_threshold"), -1.0, "combined_threshold must be above 0"),
    (("ood", "modes", "1x10", "combined_treshold"), 1.5, "unknown trust ood.modes.1x10 keys"),
    (("ood", "modes", "one"), {"scores": {}}, "is not '<members>x<samples>'"),
    (("ood", "intensity_upper_range"), [1869.0, 136.0], "must be \\[low, high\\]"),
    (("ood", "intensity_upper_range"), [136.0], "must be \\[low, high\\]"),
    (("ood", "fov_min_mm"), -5, "fov_min_mm must be above 0"),
    (("ood", "tpr"), 1.5, "tpr must be below 1"),
    (("ood", "cases"), 2.5, "whole number"),
    (("ood", "fingerprint_percentiles", "p50"), None, "must be a finite number"),
    (("temprature",), 1.0, "unknown trust section keys"),
])
def test_bad_values_are_refused_with_a_clear_model_error(path, value, message):
    with pytest.raises(ModelError, match=message):
        TrustCalibration.from_dict(_broken(path, value))
    with pytest.raises(ModelError, match=message):   # and when the manifest is read
        tiny_manifest(trust=_broken(path, value))
