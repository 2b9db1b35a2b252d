"""Calibration: temperature scaling, expected calibration error, and OOD thresholds at a target TPR.

* :func:`fit_temperature` — one scalar ``T`` minimising the negative log-likelihood of
  ``softmax(logits / T)`` on validation voxels (Guo et al. 2017), optimised over ``log T``.
* :func:`ece` — expected calibration error with equal-width confidence bins.
* :func:`threshold_at_tpr` — the score threshold that keeps ``tpr`` of in-distribution cases
  below it (in-distribution = positive; "true positive" = an in-distribution case accepted).
* :func:`auroc`, :func:`fpr_at_tpr` — how well a score separates shifted from in-distribution cases.
"""

from __future__ import annotations

import numpy as np
import torch


def fit_temperature(logits: np.ndarray, labels: np.ndarray, iters: int = 200) -> float:
    """Temperature for ``(N, K)`` logits and ``(N,)`` integer labels."""
    x = torch.from_numpy(np.asarray(logits, np.float32))
    y = torch.from_numpy(np.asarray(labels, np.int64))
    log_t = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp())


def softmax_np(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of ``(N, K)`` probabilities against ``(N,)`` labels."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            total += sel.mean() * abs(float(correct[sel].mean()) - float(conf[sel].mean()))
    return float(total)


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(labels.size), labels], 1e-12, 1.0))))


def threshold_at_tpr(in_dist_scores, tpr: float = 0.95) -> float:
    """Smallest threshold that accepts (score ≤ threshold) at least ``tpr`` of in-distribution scores."""
    s = np.sort(np.asarray(in_dist_scores, np.float64))
    if s.size == 0:
        raise ValueError("no in-distribution scores")
    k = int(np.ceil(tpr * s.size)) - 1
    return float(s[min(max(k, 0), s.size - 1)])


def auroc(in_dist, shifted) -> float:
    """Probability that a shifted case scores higher than an in-distribution one (ties count half)."""
    a, b = np.asarray(in_dist, np.float64), np.asarray(shifted, np.float64)
    if a.size == 0 or b.size == 0:
        return float("nan")
    greater = (b[:, None] > a[None, :]).sum()
    ties = (b[:, None] == a[None, :]).sum()
    return float((greater + 0.5 * ties) / (a.size * b.size))


def fpr_at_tpr(in_dist, shifted, tpr: float = 0.95) -> float:
    """Share of shifted cases *accepted* at the threshold that accepts ``tpr`` of in-distribution cases.

    (In OOD-detection papers "FPR at 95 % TPR": the false positives are OOD cases taken for
    in-distribution.)
    """
    t = threshold_at_tpr(in_dist, tpr)
    b = np.asarray(shifted, np.float64)
    return float(np.mean(b <= t)) if b.size else float("nan")


def score_calibration(in_dist_scores, tpr: float = 0.95) -> dict[str, float]:
    """``{"median", "sd", "threshold"}`` of one OOD score from in-distribution validation scores.

    Validation sets are small (tens of cases), so the threshold is the ``tpr`` quantile of a normal
    fitted to the scores (median + z·SD, SD = the larger of the sample SD and 1.4826·MAD), never
    below the empirical quantile: a new in-distribution case is not flagged just for exceeding the
    largest of a handful of validation values.
    """
    from statistics import NormalDist

    s = np.asarray(in_dist_scores, np.float64)
    s = s[np.isfinite(s)]
    median = float(np.median(s))
    sd = max(float(np.std(s, ddof=1)) if s.size > 1 else 0.0, 1.4826 * float(np.median(np.abs(s - median))))
    sd = max(sd, 1e-3 * max(abs(median), 1e-3))
    thr = max(median + NormalDist().inv_cdf(tpr) * sd, threshold_at_tpr(s, tpr))
    return {"median": median, "sd": sd, "threshold": float(thr)}


def combined_threshold(combined_scores, n_scores: int, tpr: float = 0.95) -> float:
    """Threshold of the combined (max normalised exceedance) score.

    Each score's exceedance is 1 at its own ``tpr`` quantile; the maximum of ``n_scores`` of them
    keeps ``tpr`` overall when each is held to ``1 − (1 − tpr) / n_scores`` (Bonferroni), i.e. at
    ``z_bonferroni / z_tpr`` on the exceedance scale — or at the empirical ``tpr`` quantile of the
    combined validation scores, whichever is larger.
    """
    from statistics import NormalDist

    nd = NormalDist()
    bonferroni = nd.inv_cdf(1.0 - (1.0 - tpr) / max(n_scores, 1)) / nd.inv_cdf(tpr)
    return float(max(bonferroni, threshold_at_tpr(combined_scores, tpr), 1.0))
