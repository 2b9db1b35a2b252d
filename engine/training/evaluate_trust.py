"""Evaluate the trust layer on the generated OOD suite (``engine.training.ood_shifts``).

    python -m engine.training.evaluate_trust [--model DIR] [--members M] [--cases 8] [--out results.json]

For held-out in-distribution cases and each shift: every OOD score, the combined decision, whether
the case was flagged, and the mean epistemic uncertainty. Prints Markdown tables (AUROC and FPR at
95 % TPR per score and for the combined decision, detection rate per shift, epistemic rise) and,
on the in-distribution cases, where uncertainty concentrates (label boundaries, lesions, interior).
``--members M`` evaluates the ensemble mode (M members × T samples, with the member-disagreement
score) against that mode's calibration; the default is the primary member, as the viewer runs it.

Every case goes through the shipped analysis, :func:`engine.trust.analyze`: its OOD verdict
(``result.ood``: hard checks, soft scores, combined score, flag) is what the tables count, so the
published numbers measure the code that ships, not a copy of its decision. ``--calibration PKG``
evaluates with another package's ``manifest.trust`` (the network stays the evaluated one).
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
from engine.models.package import LoadedModel
from engine.trust.analysis import AnalysisResult, analyze
from engine.trust.calibration import auroc, fpr_at_tpr
from engine.trust.options import AnalysisOptions
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


def evaluation_options(model: LoadedModel) -> AnalysisOptions:
    """The mode the suite runs: T = 10, the loaded members (1 = the viewer's default), the calibrated tail."""
    return AnalysisOptions(mc_samples=10, use_ensemble=len(model.networks) > 1, tail_stages=1, device="cpu",
                           maps=("total", "epistemic"))


def evaluate_case(model: LoadedModel, vol, options: AnalysisOptions) -> tuple[dict, AnalysisResult]:
    """One case through the shipped :func:`engine.trust.analyze`; the row is its OOD verdict."""
    result = analyze(vol, model, options)
    ood = result.ood
    hard = [c.name for c in ood.checks if c.hard and c.fired]
    combined = ood.combined if ood.combined is not None else float("nan")
    row = {"members": result.model["members_used"], "calibrated": ood.calibrated, "flag": ood.flag,
           "scores": {c.name: c.score for c in ood.checks if not c.hard and c.score is not None},
           "hard": hard, "soft_fired": [c.name for c in ood.checks if not c.hard and c.fired],
           "combined": combined, "decision": HARD_SCORE if hard else combined,
           "mean_epistemic_fg": result.uncertainty.get("mean_epistemic_foreground")}
    return row, result


def evaluate(model: LoadedModel, cases: int, shifted_cases: int, part: tuple[int, int] = (0, 1)) -> dict:
    """Rows of the suite (``part = (k, n)``: every n-th run from the k-th, for parallel shards)."""
    template = load_template(float(model.manifest.target_spacing[0]))
    options = evaluation_options(model)
    rows, conc = [], []
    for n, (shift, i, vol, labels) in enumerate(suite(template, cases, OOD_SEED_BASE)):
        if shift != "in_distribution" and i >= (shifted_cases + (1 if shift in FAR_SHIFTS else 0)):
            continue   # each shift on the first cases only (far ones on one more): affordable on the CPU
        if n % part[1] != part[0]:
            continue
        t0 = time.perf_counter()
        row, result = evaluate_case(model, vol, options)
        rows.append({"shift": shift, "case": i, **row, "seconds": round(time.perf_counter() - t0, 2)})
        if shift == "in_distribution":
            conc.append(concentration({k: v.array for k, v in result.maps.items()}, labels))
        log.info("%s case %d analysed (%.1f s)", shift, i, rows[-1]["seconds"])
    return {"rows": rows, "concentration": conc}


def summarise(results: dict) -> dict:
    """AUROC / FPR per score and for the shipped decision, flags per shift, uncertainty concentration."""
    rows = results["rows"]
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
    parser.add_argument("--calibration", type=Path, default=None,
                        help="model package whose manifest.trust decides (default: the evaluated model's)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)
    if args.merge:
        parts = [json.loads(p.read_text(encoding="utf-8")) for p in args.merge]
        results = {"rows": [r for p in parts for r in p["rows"]],
                   "concentration": [c for p in parts for c in p["concentration"]]}
    else:
        k, n = (int(v) for v in args.part.split("/"))
        model = load_model(args.model or DEFAULT_MODEL, members=args.members)
        if args.calibration:
            trust = load_manifest(Path(args.calibration) / "manifest.json").trust
            model = LoadedModel(model.manifest.evolve(trust=trust), model.networks, model.path)
        if not model.manifest.trust_calibration.ood.modes:
            print("warning: the model is not calibrated: only the hard checks decide (make calibrate-trust)")
        results = evaluate(model, args.cases, args.shifted_cases, (k, n))
    summary = summarise(results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"summary": summary, **results}, indent=1) + "\n", encoding="utf-8")
    print(markdown(summary))
    for s_name, v in summary["per_shift"].items():
        print(f"{s_name}: checks that fired: {', '.join(v['fired']) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
