"""Cost of the trust maps against one deterministic pass, measured in one run on the same volume.

    python bench/bench_trust.py [--model DIR] [--rounds 2] [--json out.json]

Peer: one deterministic sliding-window pass of the primary member (``predict_probabilities``).
Measured (interleaved rounds, best of each): MC-Dropout T=10 with the stochastic tail at each
placement (``tail_stages`` 1 … 2: trunk once per patch, tail T times), and Grad-CAM for one label.
For each tail placement it also reports whether the epistemic map is informative: its mean over
the predicted foreground on a clean held-out case and on a strongly noise-corrupted version
of it. Naive MC (T full passes) costs T deterministic passes by construction; ``--naive``
measures it too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.inference.predict import predict_probabilities, window_config  # noqa: E402
from engine.models import load_model, mc_dropout  # noqa: E402
from engine.trust import TrustOptions, model_grid_pass  # noqa: E402
from engine.trust.pipeline import preprocess  # noqa: E402
from engine.training.ood_shifts import OOD_SEED_BASE, case_volume, shift_volume  # noqa: E402
from engine.synthesis.template import load_template  # noqa: E402
from engine.volume import Geometry, Volume  # noqa: E402

T = 10
LESION = 3


def central_crop(vol: Volume, labels: np.ndarray, size: int):
    """The central ``size``³ (at most) of a case, with its exact geometry (keeps the bench affordable)."""
    start = [max(0, (n - size) // 2) for n in labels.shape]
    sl = tuple(slice(a, a + size) for a in start)
    g = vol.geometry
    arr = np.ascontiguousarray(vol.array[sl])
    geometry = Geometry(arr.shape[::-1], g.spacing, tuple(g.index_to_physical(start[::-1])), g.direction)
    return Volume(arr, geometry, vol.modality, dict(vol.metadata)), labels[sl]


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def naive_mc(image, model, cfg):
    net = model.network
    with mc_dropout(net):
        for _ in range(T):
            predict_probabilities(image, [net], cfg)


def epistemic_rise(model, vol, labels, tails) -> dict:
    rng = np.random.default_rng(1)
    cases = {"clean": vol, "strong_noise": shift_volume("strong_noise", vol, labels, rng)}
    print("epistemic rise per tail placement…", flush=True)
    out = {}
    for tail in tails:
        row = {}
        for name, v in cases.items():
            img, grid, _ = preprocess(v, model.manifest)
            g = model_grid_pass(img, grid, model, TrustOptions(mc_samples=T, use_ensemble=False, tail_stages=tail,
                                                              device="cpu"))
            fg = g.probs.argmax(0) > 0
            row[name] = float(g.maps["epistemic"][fg].mean()) if fg.any() else float(g.maps["epistemic"].mean())
        row["rise_noise"] = row["strong_noise"] / max(row["clean"], 1e-9)
        out[tail] = row
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="candor-brain-t1")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--naive", action="store_true")
    parser.add_argument("--crop", type=int, default=80, help="central crop side in voxels (default 80 = 160 mm)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model(args.model, members=1)
    net = model.network
    tails = list(range(1, min(net.dropout_stages, len(net.decoder)) + 1))
    vol, labels = central_crop(*case_volume(OOD_SEED_BASE + 500, load_template(float(model.manifest.target_spacing[0]))),
                               args.crop)
    image, grid, _ = preprocess(vol, model.manifest)
    cfg = window_config(model.manifest)
    runs = {"deterministic": lambda: predict_probabilities(image, [net], cfg)}
    for tail in tails:
        runs[f"mc{T}_tail{tail}"] = (lambda t=tail: model_grid_pass(
            image, grid, model, TrustOptions(mc_samples=T, use_ensemble=False, tail_stages=t, device="cpu")))
    runs["gradcam_one_label"] = lambda: model_grid_pass(
        image, grid, model, TrustOptions(mc_samples=1, use_ensemble=False, saliency_labels=(LESION,), device="cpu"))
    if args.naive:
        runs[f"naive_mc{T}"] = lambda: naive_mc(image, model, cfg)
    best = {k: float("inf") for k in runs}
    for r in range(args.rounds):
        for name, fn in runs.items():
            best[name] = min(best[name], timed(fn))
            print(f"round {r + 1}: {name} {best[name]:.2f} s", flush=True)
    base = best["deterministic"]
    result = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                          "threads": args.threads, "load_avg": os.getloadavg()[0]},
              "volume": {"model_grid": list(grid.size), "patch": list(model.manifest.patch_size)},
              "seconds": {k: round(v, 3) for k, v in best.items()},
              "ratio_to_deterministic": {k: round(v / base, 2) for k, v in best.items()},
              "epistemic_mean_foreground": epistemic_rise(model, vol, labels, tails)}
    print(f"model grid {grid.size}, patch {model.manifest.patch_size}, {args.rounds} interleaved rounds (best)")
    print(f"{'run':<22}{'seconds':>10}{'× det':>8}")
    for k, v in best.items():
        print(f"{k:<22}{v:>10.2f}{v / base:>8.2f}")
    for tail, row in result["epistemic_mean_foreground"].items():
        print(f"tail {tail}: epistemic clean {row['clean']:.4f}, noise {row['strong_noise']:.4f} "
              f"(×{row['rise_noise']:.2f})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
