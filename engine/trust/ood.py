"""The OOD decision: hard input checks, soft scores from input and output, calibrated combination.

Soft scores (higher = more unusual) and where they come from:

=================  ======  ================================================================
``fingerprint``    input   distance of the normalised intensity percentiles from training's
``template``       input   1 − correlation with the brain template (not brain-like)
``orientation``    input   how much better another orientation matches the template
``confidence``     output  1 − mean maximum softmax probability over the predicted foreground
``energy_fg``      output  mean energy score −logsumexp(logits) over the predicted foreground
``energy_all``     output  the same over the whole volume
``epistemic``      output  mean MC-Dropout mutual information over the predicted foreground
``disagreement``   output  mean ensemble-member mutual information over the predicted foreground
``brain_volume``   output  |ln(segmented volume / typical training volume)|
=================  ======  ================================================================

Calibration (``engine/training/calibrate_trust.py``) stores, per sampling mode (``"1x10"`` = one
member, T = 10), each score's in-distribution median ``m`` and 95 %-TPR threshold ``t``, read as
``manifest.trust_calibration.ood.modes[mode].scores[name]`` (typed, validated); a score's
exceedance is ``r = (s − m) / (t − m)`` (``r > 1``: beyond what 95 % of validation cases show).
The combined score is ``max r`` over the available scores, and its own threshold (the 95 % TPR
point of the combined score on the validation cases) decides the flag. Hard checks flag alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from engine.models.trust_calibration import OODCalibration, ScoreCalibration
from engine.trust.ood_checks import Check

_SENTENCES = {
    "fingerprint": "the intensity distribution inside the scan differs from the training data "
                   "(distance {s:.2f}; validation cases stay below {t:.2f})",
    "template": "the image does not look like a brain MRI in the expected position "
                "(similarity to the brain template {sim:.2f}; validation cases reach {tsim:.2f} or more)",
    "orientation": "the image content looks rotated or flipped relative to its header: another "
                   "orientation matches the brain template better",
    "confidence": "the model is unsure over what it segmented (mean confidence {conf:.0%}; "
                  "validation cases are at {tconf:.0%} or more)",
    "energy_fg": "the network's evidence over the segmented region is unusually weak (energy score "
                 "{s:.2f}, validation cases below {t:.2f})",
    "energy_all": "the network's evidence over the whole scan is unusually weak (energy score "
                  "{s:.2f}, validation cases below {t:.2f})",
    "epistemic": "the model's Monte-Carlo samples disagree (model uncertainty {s:.3f} nats; "
                 "validation cases below {t:.3f})",
    "disagreement": "the ensemble members disagree (disagreement {s:.3f} nats; validation cases "
                    "below {t:.3f})",
    "brain_volume": "the segmented volume is far from a typical brain ({ml:,.0f} mL)",
}


@dataclass
class OODReport:
    checks: list[Check] = field(default_factory=list)
    combined: float | None = None
    combined_threshold: float | None = None
    calibrated: bool = False

    @property
    def flag(self) -> bool:
        return any(c.fired for c in self.checks)

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self.checks if c.fired and c.reason]

    def scores(self) -> dict[str, float]:
        return {c.name: c.score for c in self.checks if c.score is not None and math.isfinite(c.score)}

    def to_dict(self) -> dict:
        thresholds = {c.name: c.threshold for c in self.checks if c.threshold is not None}
        if self.combined_threshold is not None:
            thresholds["combined"] = self.combined_threshold
        scores = self.scores()
        if self.combined is not None:
            scores["combined"] = self.combined
        return {"flag": self.flag, "scores": _rounded(scores), "thresholds": _rounded(thresholds),
                "reasons": self.reasons, "calibrated": self.calibrated,
                "checks": [c.to_dict() for c in self.checks]}


def _rounded(d: dict) -> dict:
    return {k: round(float(v), 5) for k, v in d.items() if v is not None and math.isfinite(float(v))}


def exceedance(score: float, cal: ScoreCalibration) -> float:
    """``(s − median) / (threshold − median)``: 1 at the score's 95 %-TPR threshold."""
    return (score - cal.median) / max(cal.threshold - cal.median, 1e-9)


INPUT_SCORES = ("fingerprint", "template", "orientation")


def mode_key(members: int, samples: int) -> str:
    """Output scores depend on how predictions were drawn: ``"<members>x<samples>"``."""
    return f"{int(members)}x{int(samples)}"


def mode_calibration(ood_cal: OODCalibration, mode: str) -> tuple[dict[str, ScoreCalibration], float | None, bool]:
    """Score calibrations and combined threshold for ``mode``; falls back to the input-stage scores
    of another calibrated mode (output scores of an uncalibrated mode are reported, not judged)."""
    modes = ood_cal.modes
    if mode in modes:
        entry = modes[mode]
        return dict(entry.scores), entry.combined_threshold, True
    if modes:
        entry = next(iter(modes.values()))
        return {n: c for n, c in entry.scores.items() if n in INPUT_SCORES}, entry.combined_threshold, False
    return {}, None, False


def soft_checks(scores: dict[str, tuple[str, float]], extras: dict, ood_cal: OODCalibration,
                mode: str = "1x10") -> tuple[list[Check], float | None, float | None]:
    """Soft checks from ``{name: (stage, score)}``; returns the checks, combined score and its threshold."""
    calib, c_thr, _ = mode_calibration(ood_cal, mode)
    ratios = {n: exceedance(s, calib[n]) for n, (_, s) in scores.items() if n in calib and math.isfinite(s)}
    combined = max(ratios.values()) if ratios else None
    fire = combined is not None and c_thr is not None and combined > c_thr
    checks = []
    for name, (stage, s) in scores.items():
        cal = calib.get(name)
        r = ratios.get(name)
        fired = bool(fire and r is not None and r > c_thr)
        reason = _sentence(name, s, cal, extras) if fired else ""
        checks.append(Check(name, stage, s, cal.threshold if cal else None, fired, reason, hard=False))
    return checks, combined, c_thr


def _sentence(name: str, s: float, cal: ScoreCalibration | None, extras: dict) -> str:
    t = cal.threshold if cal else float("nan")
    values = {"s": s, "t": t, "sim": 1.0 - s, "tsim": 1.0 - t, "conf": 1.0 - s, "tconf": 1.0 - t, **extras}
    try:
        return _SENTENCES[name].format(**values)
    except (KeyError, ValueError):
        return f"{name} score {s:.3g} is beyond its calibrated threshold {t:.3g}"
