"""OOD checks that run *before* inference: metadata and intensities against the model's manifest.

Hard checks (each fires on its own, with a plain reason): modality, body part, voxel spacing,
CT-like (Hounsfield-unit) intensities given to an MR model, intensity scale far outside the
training range, and a field of view too small for the anatomy the model was trained on.
Soft scores (combined with the output scores, thresholds calibrated): the intensity fingerprint
distance and the template similarity / orientation gap (``engine.trust.ood_template``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.models.manifest import Manifest
from engine.models.trust_calibration import OODCalibration
from engine.volume import Volume

FINGERPRINT_KEYS = ("p01", "p05", "p25", "p50", "p75", "p95", "p99")
_HEAD = {"BRAIN", "HEAD", "SKULL", "HEADNECK", "HEAD_NECK", "CEREBRUM"}
#: Defaults used where the manifest's calibration (``trust_calibration.ood``) gives none.
SCALE_TOLERANCE_DECADES = 1.0
FOV_FRACTION = 0.6
SPACING_SLACK = 1.25


@dataclass
class Check:
    """One OOD check: its score, the threshold it is compared with, whether it fired, and why."""

    name: str
    stage: str                      # "input" (before inference) or "output"
    score: float | None
    threshold: float | None
    fired: bool
    reason: str = ""
    hard: bool = True               # hard checks fire alone; soft ones go through the combined score

    def to_dict(self) -> dict:
        return {"name": self.name, "stage": self.stage, "score": _round(self.score),
                "threshold": _round(self.threshold), "fired": self.fired, "reason": self.reason,
                "kind": "hard" if self.hard else "soft"}


def _round(v):
    return None if v is None or not math.isfinite(v) else round(float(v), 5)


def modality_check(volume: Volume, manifest: Manifest) -> Check:
    have, want = (volume.modality or "").upper(), manifest.modality.upper()
    if have in ("", "OT"):
        return Check("modality", "input", None, None, False, "")
    fired = have != want
    return Check("modality", "input", None, None, fired,
                 f"the scan is {have} but the model was trained on {want} images" if fired else "")


def body_part_check(volume: Volume, manifest: Manifest) -> Check:
    have = str(volume.metadata.get("body_part") or "").upper().replace(" ", "")
    want = manifest.body_part.upper()
    if not have or not want:
        return Check("body_part", "input", None, None, False)
    same = have == want or (have in _HEAD and want in _HEAD)
    return Check("body_part", "input", None, None, not same,
                 "" if same else f"the scan's body part is {have.lower()}, the model was trained on {want.lower()}")


def spacing_check(volume: Volume, manifest: Manifest) -> Check:
    fp = manifest.fingerprint
    worst = max(volume.spacing)
    limit = max(fp.spacing_max) * SPACING_SLACK
    fired = worst > limit
    return Check("spacing", "input", worst, limit, fired,
                 f"the voxels are {worst:.1f} mm along one axis; the model was trained on spacings up to "
                 f"{max(fp.spacing_max):.1f} mm" if fired else "")


def ct_like_check(volume: Volume, manifest: Manifest, sample: np.ndarray) -> Check:
    """MR magnitude images are non-negative; CT has a plateau of air at −1000 Hounsfield units.

    Fires when more than 10 % of the voxels lie in [−1100, −850] (air in HU): noise around zero,
    a rescaled MR or a bias field never puts a tenth of the volume there.
    """
    if manifest.modality.upper() != "MR":
        return Check("ct_like", "input", None, None, False)
    frac = float(np.mean((sample > -1100.0) & (sample < -850.0)))
    fired = frac > 0.10
    return Check("ct_like", "input", frac, 0.10, fired,
                 f"{frac:.0%} of the voxels sit near −1000, the value of air in CT Hounsfield units; "
                 "an MR image has no such values" if fired else "")


def scale_check(sample: np.ndarray, ood_cal: OODCalibration, upper_pct: float) -> Check:
    """Raw intensity scale (upper percentile) against the range seen in training."""
    rng = ood_cal.intensity_upper_range
    top = float(np.percentile(sample, upper_pct))
    if rng is None or top <= 0:
        return Check("intensity_scale", "input", None, None, False)
    lo, hi = rng
    decades = max(math.log10(lo / top) if top < lo else 0.0, math.log10(top / hi) if top > hi else 0.0)
    tol = ood_cal.scale_tolerance_decades if ood_cal.scale_tolerance_decades is not None else SCALE_TOLERANCE_DECADES
    fired = decades > tol
    return Check("intensity_scale", "input", decades, tol, fired,
                 f"the intensities are about {10 ** decades:,.0f}× {'larger' if top > hi else 'smaller'} than "
                 f"anything in the training data (upper level {top:,.0f}, trained {lo:,.0f}–{hi:,.0f}): "
                 "the values may be rescaled or corrupted" if fired else "")


def fov_check(volume: Volume, ood_cal: OODCalibration) -> Check:
    extents = sorted(n * s for n, s in zip(volume.size, volume.spacing))
    reference = ood_cal.fov_min_mm
    if reference is None:
        return Check("field_of_view", "input", None, None, False)
    limit = FOV_FRACTION * reference
    fired = extents[0] < limit
    return Check("field_of_view", "input", extents[0], limit, fired,
                 f"the scan covers only {extents[0]:.0f} mm along one axis; the model expects the whole "
                 f"head (training scans cover at least {reference:.0f} mm)" if fired else "")


def raw_sample(volume: Volume, limit: int = 2_000_000) -> np.ndarray:
    flat = np.asarray(volume.array).reshape(-1)
    return flat[:: max(1, flat.size // limit)].astype(np.float32)


def foreground_percentiles(normalized: np.ndarray, lower_bound: float) -> dict[str, float]:
    """Percentiles of the normalised foreground (voxels above the clip floor) — the intensity fingerprint."""
    flat = normalized.reshape(-1)[:: max(1, normalized.size // 2_000_000)]
    fg = flat[flat > lower_bound + 1e-3]
    if fg.size < 64:
        fg = flat
    pct = np.percentile(fg, [int(k[1:]) for k in FINGERPRINT_KEYS])
    return {k: float(v) for k, v in zip(FINGERPRINT_KEYS, pct)}


def fingerprint_distance(observed: dict[str, float], reference: dict[str, float]) -> float | None:
    keys = [k for k in FINGERPRINT_KEYS if k in reference and k in observed]
    if not keys:
        return None
    return float(np.mean([abs(observed[k] - float(reference[k])) for k in keys]))


def input_checks(volume: Volume, manifest: Manifest) -> list[Check]:
    """The hard pre-inference checks (cheap: headers and a strided sample of the voxels)."""
    cal = manifest.trust_calibration.ood
    sample = raw_sample(volume)
    return [modality_check(volume, manifest), body_part_check(volume, manifest),
            spacing_check(volume, manifest), ct_like_check(volume, manifest, sample),
            scale_check(sample, cal, manifest.normalization.upper_percentile), fov_check(volume, cal)]
