"""The typed, validated trust calibration of a model package (``manifest.trust``).

``engine/training/calibrate_trust.py`` writes the JSON; :meth:`TrustCalibration.from_dict` parses
and validates it once, when the manifest is read (a negative temperature, a threshold that is not
a number or below its median, an unknown key: a clear :class:`ModelError`), and
:meth:`TrustCalibration.to_dict` writes the same JSON back. The trust layer reads only these typed
attributes (``manifest.trust_calibration.temperature``, ``.ood.modes["1x10"].scores["energy_fg"]``, …).

JSON shape (every part optional; absent = not calibrated, the check stays silent)::

    {"temperature": 1.21, "calibration": {...report...}, "calibrated_with": "...", "calibration_seconds": 1243,
     "mc": {"samples": 10, "tail_stages": 1},
     "ood": {"tpr": 0.95, "cases": 12, "fingerprint_percentiles": {"p01": -2.26, ...},
             "intensity_upper_range": [136.7, 1869.2], "scale_tolerance_decades": 1.0, "fov_min_mm": 188,
             "foreground_ml_median": 1716.8,
             "modes": {"1x10": {"scores": {"energy_fg": {"median": ., "sd": ., "threshold": .}, ...},
                                "combined_threshold": 1.52, "cases": 12}}}}
"""

from __future__ import annotations

import copy
import math
import numbers
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from collections.abc import Mapping
from typing import Any

from engine.errors import ModelError


def _frozen(d: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(d or {}))


def _number(value: Any, what: str, *, low: float | None = None, strict: bool = False) -> float:
    """A finite number (``> low`` when ``strict``, else ``>= low``), or a ModelError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ModelError(f"manifest: trust {what} must be a finite number, got {value!r}")
    if low is not None and (value <= low if strict else value < low):
        raise ModelError(f"manifest: trust {what} must be {'above' if strict else 'at least'} {low:g}, got {value!r}")
    return float(value)


def _opt(d: Mapping[str, Any], key: str, what: str, **bounds) -> float | None:
    return None if d.get(key) is None else _number(d[key], what, **bounds)


def _count(d: Mapping[str, Any], key: str, what: str) -> int | None:
    value = _opt(d, key, what, low=0.0)
    if value is not None and value != int(value):
        raise ModelError(f"manifest: trust {what} must be a whole number, got {d[key]!r}")
    return None if value is None else int(value)


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` without ``None`` values and empty sections."""
    return {k: v for k, v in d.items() if v is not None and v != {}}


def _section(value: Any, what: str, known: tuple[str, ...] | None = None) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ModelError(f"manifest: trust {what} must be a JSON object")
    unknown = sorted(set(value) - set(known)) if known is not None else []
    if unknown:
        raise ModelError(f"manifest: unknown trust {what} keys {unknown}")
    return value


@dataclass(frozen=True)
class ScoreCalibration:
    """One soft OOD score on validation cases: median, spread, and the 95 %-TPR threshold."""

    median: float
    threshold: float
    sd: float | None = None

    @classmethod
    def from_dict(cls, d: Any, what: str) -> ScoreCalibration:
        d = _section(d, what, ("median", "threshold", "sd"))
        if "median" not in d or "threshold" not in d:
            raise ModelError(f"manifest: trust {what} needs a median and a threshold")
        median, threshold = _number(d["median"], f"{what}.median"), _number(d["threshold"], f"{what}.threshold")
        if threshold < median:
            raise ModelError(f"manifest: trust {what}.threshold ({threshold:g}) is below its median ({median:g})")
        return cls(median, threshold, _opt(d, "sd", f"{what}.sd", low=0.0))

    def to_dict(self) -> dict[str, Any]:
        return _clean({"median": self.median, "sd": self.sd, "threshold": self.threshold})


@dataclass(frozen=True)
class ModeCalibration:
    """Thresholds for one sampling mode (``"<members>x<samples>"``, e.g. ``"1x10"``)."""

    scores: Mapping[str, ScoreCalibration]
    combined_threshold: float | None = None
    cases: int | None = None

    @classmethod
    def from_dict(cls, d: Any, what: str) -> ModeCalibration:
        d = _section(d, what, ("scores", "combined_threshold", "cases"))
        scores = {str(n): ScoreCalibration.from_dict(c, f"{what}.scores.{n}")
                  for n, c in _section(d.get("scores"), f"{what}.scores").items()}
        return cls(_frozen(scores), _opt(d, "combined_threshold", f"{what}.combined_threshold", low=0.0, strict=True),
                   _count(d, "cases", f"{what}.cases"))

    def to_dict(self) -> dict[str, Any]:
        return _clean({"scores": {n: c.to_dict() for n, c in self.scores.items()},
                       "combined_threshold": self.combined_threshold, "cases": self.cases})


_OOD_KEYS = ("tpr", "cases", "fingerprint_percentiles", "intensity_upper_range", "scale_tolerance_decades",
             "fov_min_mm", "foreground_ml_median", "modes")


@dataclass(frozen=True)
class OODCalibration:
    """References of the OOD checks (``trust.ood``); ``None`` = not calibrated (the check stays silent)."""

    tpr: float | None = None
    cases: int | None = None
    fingerprint_percentiles: Mapping[str, float] = field(default_factory=dict)
    intensity_upper_range: tuple[float, float] | None = None
    scale_tolerance_decades: float | None = None
    fov_min_mm: float | None = None
    foreground_ml_median: float | None = None
    modes: Mapping[str, ModeCalibration] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any) -> OODCalibration:
        d = _section(d, "ood", _OOD_KEYS)
        tpr = _opt(d, "tpr", "ood.tpr", low=0.0, strict=True)
        if tpr is not None and tpr >= 1:
            raise ModelError(f"manifest: trust ood.tpr must be below 1, got {tpr!r}")
        pct = {str(k): _number(v, f"ood.fingerprint_percentiles.{k}")
               for k, v in _section(d.get("fingerprint_percentiles"), "ood.fingerprint_percentiles").items()}
        rng = d.get("intensity_upper_range")
        if rng is not None:
            if not isinstance(rng, (list, tuple)) or len(rng) != 2:
                raise ModelError(f"manifest: trust ood.intensity_upper_range must be [low, high], got {rng!r}")
            rng = tuple(_number(v, "ood.intensity_upper_range", low=0.0, strict=True) for v in rng)
            if rng[0] > rng[1]:
                raise ModelError(f"manifest: trust ood.intensity_upper_range must be [low, high], got {list(rng)}")
        modes = {}
        for key, entry in _section(d.get("modes"), "ood.modes").items():
            if not re.fullmatch(r"\d+x\d+", str(key)):
                raise ModelError(f"manifest: trust ood.modes key {key!r} is not '<members>x<samples>'")
            modes[str(key)] = ModeCalibration.from_dict(entry, f"ood.modes.{key}")
        return cls(tpr, _count(d, "cases", "ood.cases"), _frozen(pct), rng,
                   _opt(d, "scale_tolerance_decades", "ood.scale_tolerance_decades", low=0.0, strict=True),
                   _opt(d, "fov_min_mm", "ood.fov_min_mm", low=0.0, strict=True),
                   _opt(d, "foreground_ml_median", "ood.foreground_ml_median", low=0.0, strict=True), _frozen(modes))

    def to_dict(self) -> dict[str, Any]:
        rng = list(self.intensity_upper_range) if self.intensity_upper_range else None
        return _clean({"tpr": self.tpr, "cases": self.cases, "fingerprint_percentiles": dict(self.fingerprint_percentiles),
                       "intensity_upper_range": rng, "scale_tolerance_decades": self.scale_tolerance_decades,
                       "fov_min_mm": self.fov_min_mm, "foreground_ml_median": self.foreground_ml_median,
                       "modes": {k: m.to_dict() for k, m in self.modes.items()}})


@dataclass(frozen=True)
class TrustCalibration:
    """The typed, validated ``manifest.trust`` (written by ``engine/training/calibrate_trust.py``).

    ``temperature`` divides the logits (1 = uncalibrated); ``mc_samples`` / ``tail_stages`` the
    MC-Dropout setting it was calibrated with (``None``: the network's default tail); ``ood`` the
    references and thresholds of the OOD decision; ``record`` the calibration's own report (ECE
    before/after, which script, how long), kept as written.
    """

    temperature: float = 1.0
    mc_samples: int | None = None
    tail_stages: int | None = None
    ood: OODCalibration = field(default_factory=OODCalibration)
    record: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> TrustCalibration:
        d = _section(d, "section", ("temperature", "mc", "ood", "calibration", "calibrated_with",
                                    "calibration_seconds"))
        mc = _section(d.get("mc"), "mc", ("samples", "tail_stages"))
        samples = _opt(mc, "samples", "mc.samples", low=1)
        tail = _opt(mc, "tail_stages", "mc.tail_stages", low=1)
        record = {k: d[k] for k in ("calibration", "calibrated_with", "calibration_seconds") if k in d}
        return cls(_number(d.get("temperature", 1.0), "temperature", low=0.0, strict=True),
                   None if samples is None else int(samples), None if tail is None else int(tail),
                   OODCalibration.from_dict(d.get("ood")), _frozen(record))

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``calibrate_trust.py`` writes into ``manifest.trust`` (absent values left out)."""
        mc = _clean({"samples": self.mc_samples, "tail_stages": self.tail_stages})
        return _clean({"temperature": self.temperature, **copy.deepcopy(dict(self.record)), "mc": mc, "ood": self.ood.to_dict()})
