"""Evaluate the trust layer on the generated OOD suite (``engine.training.ood_shifts``).

    python -m engine.training.evaluate_trust [--model DIR] [--members M] [--cases 8] [--out results.json]

For held-out in-distribution cases and each shift: every OOD score, the combined decision, whether
the case was flagged, and the mean epistemic uncertainty. Prints Markdown tables (AUROC and FPR at
95 % TPR per score and for the combined decision, detection rate per shift, epistemic rise) and,
on the in-distribution cases, where uncertainty concentrates (label boundaries, lesions, interior).
``--members M`` evaluates the ensemble mode (M members × T samples, with the member-disagreement
score) against that mode's calibration; the default is the primary member, as the viewer runs it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import binary_dilation, binary_erosion

from engine.models import load_manifest, load_model
from engine.models.discovery import DEFAULT_MODEL
from engine.trust.calibration import auroc, fpr_at_tpr
from engine.trust.pipeline import TrustOptions
from engine.training.ood_shifts import FAR_SHIFTS, OOD_SEED_BASE, SHIFTS, suite
from engine.synthesis.template import load_template

log = logging.getLogger("candor.evaluate_trust")
HARD_SCORE = 1e6   # the combined decision score of a case a hard check flagged


def boundary_mask(labels: np.ndarray) -> np.ndarray:
    """Voxels within one voxel of a change of label."""
    edge = np.zeros(labels.shape, bool)
    for axis in range(3):
        d = np.diff(labels, axis=axis) != 0
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        edge[tuple(lo)] |= d
        edge[tuple(hi)] |= d
    return edge


def concentration(maps: dict, labels: np.ndarray) -> dict:
    """Mean uncertainty at label boundaries, in lesions, and in tissue interiors (in-distribution)."""
    edge = boundary_mask(labels)
    brain = labels > 0
    interior = binary_erosion(brain, iterations=2) & ~binary_dilation(edge, iterations=1)
    lesion = labels == 3
    out = {}
    for key in ("total", "epistemic"):
        m = maps.get(key)
        if m is None:
            continue
        out[key] = {"boundary": float(m[edge & brain].mean()), "interior": float(m[interior].mean()),
                    "lesion": float(m[lesion].mean()) if lesion.any() else None, "whole": float(m.mean())}
    return out


def evaluate(model, cases: int, shifted_cases: int, part: tuple[int, int] = (0, 1)) -> dict:
    """Raw scores of the suite (``part = (k, n)``: every n-th run from the k-th, for parallel shards).

    Rows keep raw scores and facts, so the calibrated decision can be recomputed at summary time
    from any calibration (``decide``): evaluation and calibration can run side by side.
    """
    from engine.training.calibrate_trust import case_scores
    from engine.trust.ood_checks import input_checks

    template = load_template(float(model.manifest.target_spacing[0]))
    options = TrustOptions(mc_samples=10, use_ensemble=len(model.networks) > 1, tail_stages=1, device="cpu")
    rows, conc = [], []
    for n, (shift, i, vol, labels) in enumerate(suite(template, cases, OOD_SEED_BASE)):
        if shift != "in_distribution" and i >= (shifted_cases + (1 if shift in FAR_SHIFTS else 0)):
            continue   # each shift on the first cases only (far ones on one more): affordable on the CPU
        if n % part[1] != part[0]:
            continue
        t0 = time.perf_counter()
        keep: list = []
        scores, facts = case_scores(model, vol, options, keep)
        g = keep[0]
        fg = g.probs.argmax(0) > 0
        hard = [c.name for c in input_checks(vol, model.manifest) if c.fired]
        rows.append({"shift": shift, "case": i, "members": len(model.networks), "scores": scores, "facts": facts,
                     "hard_fired": hard,
                     "mean_epistemic_fg": float(g.maps["epistemic"][fg].mean()) if fg.any() else None,
                     "seconds": round(time.perf_counter() - t0, 2)})
        if shift == "in_distribution":
            conc.append(concentration(g.maps, labels))
        log.info("%s case %d scored (%.1f s)", shift, i, rows[-1]["seconds"])
    return {"rows": rows, "concentration": conc}


def recheck_hard(results: dict, model_path, cases: int) -> None:
    """Recompute the rows' hard input checks (cheap: no network) with the current rules."""
    from engine.models import load_manifest
    from engine.models.discovery import find_model
    from engine.trust.ood_checks import input_checks

    folder = Path(model_path) if model_path else find_model(DEFAULT_MODEL).path
    manifest = load_manifest(folder / "manifest.json")
    template = load_template(float(manifest.target_spacing[0]))
    index = {(r["shift"], r["case"]): r for r in results["rows"]}
    for shift, i, vol, _labels in suite(template, cases, OOD_SEED_BASE):
        if (shift, i) in index:
            index[(shift, i)]["hard_fired"] = [c.name for c in input_checks(vol, manifest) if c.fired]


def decide(row: dict, ood_cal: dict, mode: str = "1x10") -> dict:
    """The calibrated decision for one evaluated row (same rules as ``engine.trust.ood``)."""
    from engine.trust.ood import exceedance, mode_calibration
    from engine.trust.ood_checks import FOV_FRACTION, fingerprint_distance

    facts, scores = row["facts"], dict(row["scores"])
    scores["fingerprint"] = fingerprint_distance(facts["percentiles"], ood_cal["fingerprint_percentiles"])
    scores["brain_volume"] = abs(math.log(max(facts["foreground_ml"], 1e-3) / ood_cal["foreground_ml_median"]))
    hard = list(row["hard_fired"])
    lo, hi = ood_cal["intensity_upper_range"]
    top = facts["upper"]
    decades = max(math.log10(lo / top) if 0 < top < lo else 0.0, math.log10(top / hi) if top > hi else 0.0)
    if top <= 0 or decades > ood_cal.get("scale_tolerance_decades", 1.0):
        hard.append("intensity_scale")
    if facts["fov_mm"] < FOV_FRACTION * ood_cal["fov_min_mm"]:
        hard.append("field_of_view")
    calib, c_thr, _ = mode_calibration(ood_cal, mode)
    ratios = {n: exceedance(v, calib[n]) for n, v in scores.items() if n in calib and v is not None and math.isfinite(v)}
    combined = max(ratios.values()) if ratios else float("nan")
    fired = [n for n, r in ratios.items() if r > c_thr]
    return {"scores": scores, "hard": hard, "combined": combined, "soft_fired": fired,
            "decision": HARD_SCORE if hard else combined, "flag": bool(hard) or combined > c_thr}


def summarise(results: dict, ood_cal: dict) -> dict:
    from engine.trust.ood import mode_key

    rows = [dict(r, **decide(r, ood_cal, mode_key(r.get("members", 1), 10))) for r in results["rows"]]
    ind = [r for r in rows if r["shift"] == "in_distribution"]
    ood = [r for r in rows if r["shift"] != "in_distribution"]
    names = sorted({k for r in rows for k in r["scores"]})
    per_score = {}
    for n in names + ["decision"]:
        get = (lambda r: r["decision"]) if n == "decision" else (lambda r, n=n: r["scores"].get(n, float("nan")))
        a = [get(r) for r in ind if get(r) is not None and math.isfinite(get(r))]
        b = [get(r) for r in ood if get(r) is not None and math.isfinite(get(r))]
        if a and b:
            per_score[n] = {"auroc": auroc(a, b), "fpr_at_95tpr": fpr_at_tpr(a, b)}
    per_shift = {}
    for s in SHIFTS:
        sel = [r for r in ood if r["shift"] == s]
        per_shift[s] = {"cases": len(sel), "flagged": sum(r["flag"] for r in sel),
                        "auroc": auroc([r["decision"] for r in ind], [r["decision"] for r in sel]),
                        "mean_epistemic_fg": float(np.mean([r["mean_epistemic_fg"] or 0 for r in sel])) if sel else None,
                        "fired": sorted({n for r in sel for n in r["hard"] + r["soft_fired"]})}
    conc = results["concentration"]
    agg = {}
    for key in ("total", "epistemic"):
        vals = [c[key] for c in conc if key in c]
        if vals:
            agg[key] = {part: (float(np.mean(xs)) if (xs := [v[part] for v in vals if v[part] is not None]) else None)
                        for part in ("boundary", "interior", "lesion", "whole")}
    return {"in_distribution": {"cases": len(ind), "flagged": sum(r["flag"] for r in ind),
                                "mean_epistemic_fg": float(np.mean([r["mean_epistemic_fg"] or 0 for r in ind]))},
            "per_score": per_score, "per_shift": per_shift, "concentration": agg}


def _f(v, fmt: str = ".3f") -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)


def markdown(summary: dict) -> str:
    lines = ["| score | AUROC | FPR at 95 % TPR |", "| --- | --- | --- |"]
    for n, v in summary["per_score"].items():
        name = "**combined decision**" if n == "decision" else f"`{n}`"
        lines.append(f"| {name} | {_f(v['auroc'])} | {_f(v['fpr_at_95tpr'], '.2f')} |")
    ind = summary["in_distribution"]
    lines += ["", "| cases | n | flagged | AUROC (combined) | mean epistemic (fg, nats) |", "| --- | --- | --- | --- | --- |",
              f"| in-distribution (held out) | {ind['cases']} | {ind['flagged']} | — | {_f(ind['mean_epistemic_fg'], '.4f')} |"]
    for s, v in summary["per_shift"].items():
        far = " (far)" if s in FAR_SHIFTS else ""
        lines.append(f"| {s}{far} | {v['cases']} | {v['flagged']} | {_f(v['auroc'])} | {_f(v['mean_epistemic_fg'], '.4f')} |")
    lines += ["", "| map (in-distribution) | label boundaries | lesions | tissue interior | whole volume |",
              "| --- | --- | --- | --- | --- |"]
    for key, v in summary["concentration"].items():
        lines.append(f"| {key} | {_f(v['boundary'], '.4f')} | {_f(v['lesion'], '.4f')} | {_f(v['interior'], '.4f')} | "
                     f"{_f(v['whole'], '.4f')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--members", type=int, default=1, help="ensemble members to run (default 1: the primary)")
    parser.add_argument("--cases", type=int, default=8, help="held-out in-distribution cases")
    parser.add_argument("--shifted-cases", type=int, default=3, help="cases each shift is applied to")
    parser.add_argument("--part", default="0/1", help="k/n: run only shard k of n (merge with --merge)")
    parser.add_argument("--merge", type=Path, nargs="*", help="combine JSON files of shards and summarise")
    parser.add_argument("--out", type=Path, default=None, help="write all rows and the summary as JSON")
    parser.add_argument("--recheck-hard", action="store_true", help="with --merge: recompute the hard input checks")
    parser.add_argument("--calibration", type=Path, default=None,
                        help="model package whose manifest.trust decides (default: the evaluated model)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)
    if args.merge:
        parts = [json.loads(p.read_text(encoding="utf-8")) for p in args.merge]
        results = {"rows": [r for p in parts for r in p["rows"]],
                   "concentration": [c for p in parts for c in p["concentration"]]}
        if args.recheck_hard:
            recheck_hard(results, args.model, 1 + max(r["case"] for r in results["rows"]))
    else:
        k, n = (int(v) for v in args.part.split("/"))
        model = load_model(args.model or DEFAULT_MODEL, members=args.members)
        results = evaluate(model, args.cases, args.shifted_cases, (k, n))
    cal_model = load_manifest(Path(args.calibration) / "manifest.json") if args.calibration else \
        load_model(args.model or DEFAULT_MODEL, members=1).manifest
    if not cal_model.trust.get("ood"):
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        print("no calibration yet: raw rows written; summarise later with --merge and --calibration")
        return 0
    summary = summarise(results, dict(cal_model.trust["ood"]))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"summary": summary, **results}, indent=1) + "\n", encoding="utf-8")
    print(markdown(summary))
    for s_name, v in summary["per_shift"].items():
        print(f"{s_name}: checks that fired: {', '.join(v['fired']) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
