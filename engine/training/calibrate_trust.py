"""Calibrate the trust layer of a model package and write the result into its manifest.

    python -m engine.training.calibrate_trust [--model DIR] [--cases 24] [--temperature-cases 6]

On in-distribution validation cases generated with seeds never used for training
(``CALIBRATION_SEED_BASE``), in the mode the viewer and CLI use by default (primary member,
MC-Dropout with T samples):

1. **temperature** — fitted on voxel logits of the first cases (brain plus a 2-voxel rim), and the
   expected calibration error before/after measured on voxels of *other* cases; a temperature that
   does not lower that held-out ECE is not kept (T = 1 is stored, the fitted value recorded);
2. **OOD thresholds** — every soft score's median and 95 %-TPR threshold, then the combined score's
   95 %-TPR threshold (see ``engine.trust.ood``); plus the references the hard checks use (raw
   intensity range, smallest field of view, intensity-fingerprint percentiles, typical segmented
   volume).

Everything goes into ``manifest.trust`` (other manifest fields are kept). Run it after training
(``make calibrate-trust``); retraining rewrites the manifest, so calibrate again afterwards.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import binary_dilation

from engine.inference.predict import window_config
from engine.inference.sliding_window import sliding_window
from engine.models import load_model, save_manifest
from engine.models.discovery import DEFAULT_MODEL
from engine.models.trust_calibration import ScoreCalibration
from engine.trust.calibration import combined_threshold, ece, fit_temperature, nll, score_calibration, softmax_np
from engine.trust.ood import exceedance, mode_key
from engine.trust.ood_checks import fingerprint_distance, foreground_percentiles, raw_sample
from engine.trust.options import AnalysisOptions
from engine.trust.pipeline import all_soft_scores, model_grid_pass, preprocess
from engine.training.ood_shifts import CALIBRATION_SEED_BASE, case_volume
from engine.synthesis.template import load_template

log = logging.getLogger("candor.calibrate")

TPR = 0.95
MC_SAMPLES = 10
VOXELS_PER_CASE = 40_000


def voxel_logits(model, normalized: np.ndarray, labels: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Blended logits of the primary member at brain(+rim) voxels: ``(N, K)`` and ``(N,)``."""
    net = model.network.eval()
    logits = sliding_window(normalized[None], lambda b: net(b), window_config(model.manifest))
    region = binary_dilation(labels > 0, iterations=2)
    idx = np.flatnonzero(region)
    idx = rng.choice(idx, min(VOXELS_PER_CASE, idx.size), replace=False)
    return logits.reshape(logits.shape[0], -1)[:, idx].T.copy(), labels.reshape(-1)[idx].astype(np.int64)


def calibrate_temperature(model, cases, n_fit: int, rng) -> dict:
    fit, held = [], []
    for i, (vol, labels) in enumerate(cases):
        normalized, _, _ = preprocess(vol, model.manifest)
        (fit if i < n_fit else held).append(voxel_logits(model, normalized, labels, rng))
    x_fit, y_fit = np.concatenate([a for a, _ in fit]), np.concatenate([b for _, b in fit])
    x_held, y_held = np.concatenate([a for a, _ in held]), np.concatenate([b for _, b in held])
    t = fit_temperature(x_fit, y_fit)
    before, after = softmax_np(x_held, 1.0), softmax_np(x_held, t)
    ece_before, ece_after = ece(before, y_held), ece(after, y_held)
    kept = t if ece_after <= ece_before else 1.0   # only keep a temperature that helps on held-out cases
    return {"temperature": round(kept, 4),
            "calibration": {"fitted_temperature": round(t, 4), "kept": kept != 1.0 or t == 1.0,
                            "ece_before": round(ece_before, 5), "ece_after": round(ece_after, 5),
                            "nll_before": round(nll(before, y_held), 5), "nll_after": round(nll(after, y_held), 5),
                            "fit_cases": len(fit), "eval_cases": len(held), "fit_voxels": int(y_fit.size),
                            "eval_voxels": int(y_held.size),
                            "region": "brain plus a 2-voxel rim, model grid"}}


def case_scores(model, vol, options: AnalysisOptions, keep: list | None = None) -> tuple[dict, dict]:
    """Raw soft scores and the facts the reference-based checks need; ``keep`` receives the grid result."""
    normalized, grid, stats = preprocess(vol, model.manifest)
    g = model_grid_pass(normalized, grid, model, options)
    if keep is not None:
        keep.append(g)
    scores, extras = all_soft_scores(vol, g, stats["lower"], model.manifest)
    flat = {k: v for k, (_, v) in scores.items()}
    sample = raw_sample(vol)
    facts = {"percentiles": foreground_percentiles(normalized, stats["lower"]), "foreground_ml": extras["ml"],
             "upper": float(np.percentile(sample, model.manifest.normalization.upper_percentile)),
             "fov_mm": float(min(n * s for n, s in zip(vol.size, vol.spacing)))}
    return flat, facts


def shared_references(per_case: list[tuple[dict, dict]]) -> dict:
    """References the hard checks and the fingerprint/brain-volume scores use (mode-independent)."""
    pct_keys = per_case[0][1]["percentiles"].keys()
    uppers = [f["upper"] for _, f in per_case]
    return {
        "fingerprint_percentiles": {k: round(float(np.mean([f["percentiles"][k] for _, f in per_case])), 5)
                                    for k in pct_keys},
        "intensity_upper_range": [round(min(uppers), 3), round(max(uppers), 3)],
        "scale_tolerance_decades": 1.0,
        "fov_min_mm": round(min(f["fov_mm"] for _, f in per_case), 1),
        "foreground_ml_median": round(float(np.median([f["foreground_ml"] for _, f in per_case])), 1),
    }


def mode_thresholds(per_case: list[tuple[dict, dict]], refs: dict) -> dict:
    """Each score's median and 95 %-TPR threshold, and the combined score's threshold, for one mode."""
    for scores, facts in per_case:
        scores["fingerprint"] = fingerprint_distance(facts["percentiles"], refs["fingerprint_percentiles"])
        scores["brain_volume"] = abs(float(np.log(max(facts["foreground_ml"], 1e-3) / refs["foreground_ml_median"])))
    names = sorted({k for s, _ in per_case for k in s})
    cal = {n: score_calibration([s[n] for s, _ in per_case if s.get(n) is not None], TPR) for n in names}
    typed = {n: ScoreCalibration(c["median"], c["threshold"], c["sd"]) for n, c in cal.items()}
    combined = [max(exceedance(s[n], typed[n]) for n in names if s.get(n) is not None) for s, _ in per_case]
    return {"scores": {n: {k: round(v, 6) for k, v in c.items()} for n, c in cal.items()},
            "combined_threshold": round(combined_threshold(combined, len(names), TPR), 6), "cases": len(per_case)}


def score_cases(model, generated, members: list[int], tail_stages, part=(0, 1)) -> dict[str, list]:
    """``{mode: [(scores, facts), …]}`` for the cases of shard ``part = (k, n)``."""
    by_mode: dict[str, list] = {}
    for m in members:
        options = AnalysisOptions(mc_samples=MC_SAMPLES, use_ensemble=m > 1, tail_stages=tail_stages, device="cpu")
        rows = by_mode.setdefault(mode_key(m, MC_SAMPLES), [])
        for i, (vol, _labels) in enumerate(generated):
            if i % part[1] == part[0]:
                rows.append(case_scores(model, vol, options))
                log.info("mode %s: case %d/%d scored", mode_key(m, MC_SAMPLES), i + 1, len(generated))
    return by_mode


def finish(folder: Path, temp: dict, by_mode: dict[str, list], tail_stages, seconds: float) -> dict:
    """Thresholds from scored cases, written into ``folder``'s manifest (other fields kept)."""
    from engine.models import load_manifest

    first = next(iter(by_mode.values()))
    refs = shared_references(first)
    modes = {mode: mode_thresholds(rows, refs) for mode, rows in by_mode.items()}
    trust = {**temp, "mc": {"samples": MC_SAMPLES, "tail_stages": tail_stages},
             "ood": {"tpr": TPR, "cases": len(first), **refs, "modes": modes},
             "calibrated_with": "engine/training/calibrate_trust.py", "calibration_seconds": round(seconds, 1)}
    manifest = load_manifest(folder / "manifest.json").evolve(trust=trust)
    save_manifest(manifest, folder / "manifest.json")
    return trust


def run(folder: Path, cases: int, temperature_cases: int, tail_stages: int | None) -> dict:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = load_model(folder)
    template = load_template(float(model.manifest.target_spacing[0]))
    t0 = time.perf_counter()
    generated = [case_volume(CALIBRATION_SEED_BASE + i, template) for i in range(cases)]
    temp = calibrate_temperature(model, generated[: 2 * temperature_cases], temperature_cases, rng)
    log.info("temperature %.3f, ECE %.4f -> %.4f", temp["temperature"], temp["calibration"]["ece_before"],
             temp["calibration"]["ece_after"])
    model = _with_trust(model, {"temperature": temp["temperature"], "mc": {"tail_stages": tail_stages}})
    members = [1] + ([len(model.networks)] if len(model.networks) > 1 else [])
    by_mode = score_cases(model, generated, members, tail_stages)
    return finish(folder, temp, by_mode, tail_stages, time.perf_counter() - t0)


def run_shard(folder: Path, cases: int, tail_stages, temperature: float, part: tuple[int, int], out: Path) -> None:
    """Score one shard of the calibration cases with a given temperature (CPU-parallel calibration)."""
    model = load_model(folder)
    model = _with_trust(model, {"temperature": temperature, "mc": {"tail_stages": tail_stages}})
    template = load_template(float(model.manifest.target_spacing[0]))
    generated = [case_volume(CALIBRATION_SEED_BASE + i, template) for i in range(cases)]
    members = [1] + ([len(model.networks)] if len(model.networks) > 1 else [])
    out.write_text(json.dumps(score_cases(model, generated, members, tail_stages, part)), encoding="utf-8")


def _with_trust(model, trust: dict):
    from engine.models.package import LoadedModel

    return LoadedModel(model.manifest.evolve(trust=trust), model.networks, model.path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="model package folder (default: the bundled model)")
    parser.add_argument("--cases", type=int, default=24, help="validation cases for the OOD thresholds")
    parser.add_argument("--temperature-cases", type=int, default=6, help="cases to fit the temperature on "
                        "(as many others measure the ECE)")
    parser.add_argument("--tail-stages", type=int, default=1, help="MC-Dropout tail (see bench/bench_trust.py)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--temperature", type=float, default=None,
                        help="with --part/--from-rows: the temperature already fitted (its ECE as JSON in --ece)")
    parser.add_argument("--ece", default=None, help='e.g. \'{"ece_before": 0.04, "ece_after": 0.03}\'')
    parser.add_argument("--temperature-only", action="store_true", help="fit and print the temperature only")
    parser.add_argument("--part", default=None, help="k/n: score only shard k of the cases into --rows-out")
    parser.add_argument("--rows-out", type=Path, default=None)
    parser.add_argument("--from-rows", type=Path, nargs="*", help="finish from shard files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)
    folder = args.model
    if folder is None:
        from engine.models.discovery import find_model

        folder = find_model(DEFAULT_MODEL).path
    if args.temperature_only:
        model = load_model(Path(folder))
        template = load_template(float(model.manifest.target_spacing[0]))
        generated = [case_volume(CALIBRATION_SEED_BASE + 1000 + i, template) for i in range(2 * args.temperature_cases)]
        print(json.dumps(calibrate_temperature(model, generated, args.temperature_cases, np.random.default_rng(0))))
        return 0
    if args.part:
        k, n = (int(v) for v in args.part.split("/"))
        run_shard(Path(folder), args.cases, args.tail_stages, args.temperature, (k, n), args.rows_out)
        return 0
    if args.from_rows:
        by_mode: dict[str, list] = {}
        for path in args.from_rows:
            for mode, rows in json.loads(path.read_text(encoding="utf-8")).items():
                by_mode.setdefault(mode, []).extend(rows)
        temp = {"temperature": args.temperature, "calibration": json.loads(args.ece or "{}")}
        trust = finish(Path(folder), temp, by_mode, args.tail_stages, 0.0)
    else:
        trust = run(Path(folder), args.cases, args.temperature_cases, args.tail_stages)
    print(json.dumps(trust, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
