"""Temperature scaling, ECE, thresholds at a TPR, AUROC."""

from __future__ import annotations

import numpy as np

from engine.trust.calibration import (auroc, combined_threshold, ece, fit_temperature, fpr_at_tpr, score_calibration, softmax_np,
                                      threshold_at_tpr)


def _overconfident(n=20000, k=4, t_true=2.5, seed=0):
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0, 1.5, (n, k))
    cdf = np.cumsum(softmax_np(true_logits), axis=1)
    labels = np.minimum((rng.random((n, 1)) > cdf).sum(axis=1), k - 1)
    return true_logits * t_true, labels, t_true


def test_temperature_recovers_the_scaling_and_lowers_ece():
    logits, labels, t_true = _overconfident()
    t = fit_temperature(logits, labels)
    assert abs(t - t_true) / t_true < 0.1
    before, after = ece(softmax_np(logits), labels), ece(softmax_np(logits, t), labels)
    assert after < before / 2


def test_threshold_at_tpr_accepts_the_asked_share():
    scores = np.arange(100, dtype=float)
    t = threshold_at_tpr(scores, 0.95)
    assert np.mean(scores <= t) >= 0.95 and np.mean(scores <= t - 1) < 0.95


def test_auroc_and_fpr():
    ind = np.random.default_rng(0).normal(0, 1, 500)
    assert abs(auroc(ind, ind) - 0.5) < 0.02
    assert auroc(ind, ind + 10) == 1.0 and fpr_at_tpr(ind, ind + 10) == 0.0
    assert fpr_at_tpr(ind, ind - 10) == 1.0


def test_score_calibration_gives_room_for_constant_scores():
    cal = score_calibration([0.0] * 20)
    assert cal["threshold"] > cal["median"]


def test_small_validation_sets_get_a_fitted_95_percent_threshold():
    rng = np.random.default_rng(0)
    few = rng.normal(0, 1, 6)
    assert score_calibration(few)["threshold"] >= few.max() - 1e-9     # never below the empirical quantile
    from statistics import NormalDist

    coverage = [NormalDist().cdf(score_calibration(rng.normal(0, 1, 30))["threshold"]) for _ in range(200)]
    assert 0.9 < float(np.mean(coverage)) < 0.98     # on average the threshold accepts ~95 %


def test_combined_threshold_keeps_95_percent_of_independent_scores():
    rng = np.random.default_rng(1)
    k = 8
    from statistics import NormalDist

    z95 = NormalDist().inv_cdf(0.95)
    exceed = rng.normal(0, 1, (20000, k)).max(axis=1) / z95   # exceedance = 1 at each score's 95 % point
    c = combined_threshold(exceed[:10], k)
    assert 0.94 < np.mean(exceed <= c) < 0.99
