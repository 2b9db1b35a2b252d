"""Held-out evaluation of a model on generated cases and on the 1 mm sample study.

    python -m engine.training.evaluate [--model NAME|DIR] [--cases 20] [--members N] [--json FILE]

Held-out cases use seeds from ``EVAL_SEED_BASE`` (never used by training or validation): new
deformations, contrasts and lesions. Dice per class and lesion-wise detection are measured on the
model's 2 mm grid against the generator's labels; the sample study is segmented end to end
(1 mm in, 1 mm out) and compared with its 1 mm ground truth. Both go through the shipped analysis,
``engine.trust.analyze(volume, model, SEGMENTATION)`` (all loaded members averaged, no dropout);
``--members N`` loads only the first N members.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np

from engine.models.package import LoadedModel, load_model
from engine.training.metrics import dice, lesion_detection, lesion_detection_by_size
from engine.synthesis.synth import LESION, generate_case
from engine.synthesis.template import load_template
from engine.trust import SEGMENTATION, analyze
from engine.volume import Volume

log = logging.getLogger(__name__)

EVAL_SEED_BASE = 900_000_000


def _summary(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return {"n": 0}
    return {"mean": float(arr.mean()), "sd": float(arr.std()), "min": float(arr.min()), "n": int(arr.size)}


def _plain_labels(volume: Volume, model: LoadedModel) -> tuple[np.ndarray, dict]:
    """Labels (and timings) of the shipped deterministic analysis, on the volume's grid, on the CPU."""
    from dataclasses import replace

    result = analyze(volume, model, replace(SEGMENTATION, device="cpu"))
    return result.labels.array, result.timings


def evaluate_generated(model: LoadedModel, cases: int) -> dict:
    template = load_template(model.manifest.target_spacing[0])
    scores: dict[str, list[float]] = {label.name: [] for label in model.manifest.labels}
    detection = {"lesions": 0, "detected": 0, "false_positive_blobs": 0}
    by_size: list[dict] | None = None
    lesion_cases: list[float] = []   # lesion Dice of the cases that hold a lesion
    seconds = []
    for i in range(cases):
        case = generate_case(EVAL_SEED_BASE + i, template)
        t0 = time.perf_counter()
        pred, _ = _plain_labels(Volume(case.image, case.geometry, "MR"), model)
        seconds.append(time.perf_counter() - t0)
        for label in model.manifest.labels:
            d = dice(pred, case.labels, label.id)
            if d is not None:
                scores[label.name].append(d)
        for k, v in lesion_detection(pred, case.labels, LESION).items():
            detection[k] += v
        bins = lesion_detection_by_size(pred, case.labels, LESION, float(np.prod(case.geometry.spacing)) / 1000.0)
        by_size = bins if by_size is None else [
            dict(a, lesions=a["lesions"] + b["lesions"], detected=a["detected"] + b["detected"])
            for a, b in zip(by_size, bins)]
        if (case.labels == LESION).any():
            lesion_cases.append(dice(pred, case.labels, LESION))
        log.info("case %d: %s", i, {k: round(v[-1], 3) for k, v in scores.items() if v})
    return {
        "cases": cases, "seeds": [EVAL_SEED_BASE, EVAL_SEED_BASE + cases - 1], "members": len(model.networks),
        "grid": "model grid (2 mm), labels from the generator",
        "dice": {k: _summary(v) for k, v in scores.items()},
        "lesion_detection": detection | {
            "rate": detection["detected"] / detection["lesions"] if detection["lesions"] else None,
            "false_positive_blobs_per_case": detection["false_positive_blobs"] / cases,
            "by_size_ml": [dict(b, rate=b["detected"] / b["lesions"] if b["lesions"] else None)
                           for b in by_size or []]},
        "lesion_dice_cases_with_lesions": _summary(lesion_cases),
        "seconds_per_case": _summary(seconds),
    }


def evaluate_demo(model: LoadedModel) -> dict:
    from engine.demo import demo_volume

    volume, truth = demo_volume()
    pred, timings = _plain_labels(volume, model)
    return {
        "grid": "1 mm sample study, end to end through engine.trust.analyze",
        "dice": {l.name: dice(pred, truth, l.id) for l in model.manifest.labels},
        "lesion_detection": lesion_detection(pred, truth, LESION),
        "timings": timings,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="candor-brain-t1")
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--members", type=int, default=None)
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    model = load_model(args.model, members=args.members)
    out = {"model": {"name": model.manifest.name, "version": model.manifest.version},
           "generated": evaluate_generated(model, args.cases),
           "demo": evaluate_demo(model)}
    text = json.dumps(out, indent=2)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
