"""Issue 16 target 1: the full AI analysis of the demo head, through the code the viewer runs.

    python bench/bench_analysis.py [--rounds 1] [--json out.json]

Runs :func:`engine.trust.analyze` (the one analysis path of the viewer's AI › Segment with
Uncertainty and of ``candor segment --uncertainty``) on the 1 mm demo head
(:func:`engine.demo.demo_volume`, 197×233×189) with the default model:

* **full**: segmentation + MC-Dropout (T = 10) + the ensemble + OOD scores + the uncertainty maps
  (the viewer's default run);
* **plain**: the deterministic segmentation of all members (``engine.trust.SEGMENTATION``);
* **explain**: Grad-CAM for the lesion label (the viewer's Explain › Lesion: one member, T = 1);

and, as the peer in the same run, MONAI's ``sliding_window_inference`` of the primary member on
the same preprocessed input with the same window, overlap and Gaussian weighting (one
deterministic pass, the floor any of the above pays once per member). Prints the engine's own
stage timings (``result.timings``) so the cost is attributed, and the machine and CPU flags.
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


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    model = next((l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("model name")), "?")
    flags = next((l.split(":", 1)[1].split() for l in text.splitlines() if l.startswith("flags")), [])
    wanted = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    return f"{model}; {os.cpu_count()} logical CPUs; {' '.join(wanted) or 'no AVX2'}"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def monai_peer(volume, model):
    """MONAI's sliding window on Candor's preprocessed input (primary member, deterministic)."""
    import torch
    from monai.inferers import sliding_window_inference

    from engine.inference.predict import window_config
    from engine.trust.pipeline import preprocess

    cfg = window_config(model.manifest)
    arr, _grid, _stats = preprocess(volume, model.manifest)
    net = model.network.eval()
    tensor = torch.from_numpy(arr[None, None].astype("float32"))

    def run():
        with torch.inference_mode():
            return sliding_window_inference(tensor, cfg.patch_size, sw_batch_size=cfg.batch_size,
                                            predictor=net, overlap=cfg.overlap, mode="gaussian",
                                            sigma_scale=cfg.sigma_scale)
    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json", metavar="OUT")
    ap.add_argument("--skip-peer", action="store_true")
    args = ap.parse_args()

    import torch

    from engine.demo import demo_volume
    from engine.labels import LabelTable  # noqa: F401  (imports the label machinery once)
    from engine.models.store import ModelStore
    from engine.trust import SEGMENTATION, AnalysisOptions, analyze

    volume, _truth = demo_volume()
    store = ModelStore()
    t_load, model = timed(lambda: store.load("candor-brain-t1"))
    lesion = next(i.id for i in model.manifest.labels if i.name.lower() == "lesion")
    only = set(os.environ.get("BENCH_ONLY", "").split(",")) - {""}
    runs = {
        "full": AnalysisOptions(mc_samples=10, use_ensemble=True),
        "plain": SEGMENTATION,
        "explain": AnalysisOptions(mc_samples=1, use_ensemble=False, saliency_labels=(lesion,),
                                   maps=()),
    }
    runs = {k: v for k, v in runs.items() if not only or k in only}
    print(f"machine: {platform.node()} — {cpu_flags()}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; bf16 path: "
          f"{'off (CANDOR_FORCE_FLOAT32)' if os.environ.get('CANDOR_FORCE_FLOAT32') else 'auto'}")
    print(f"volume {volume.size}, spacing {volume.spacing}; model {model.manifest.name} "
          f"{model.manifest.version}, {len(model.networks)} member(s); model load {t_load:.2f} s")
    results = {"machine": cpu_flags(), "torch": torch.__version__, "volume": list(volume.size),
               "runs": {}}
    for round_ in range(args.rounds):
        for name, options in runs.items():
            wall, result = timed(lambda o=options: analyze(volume, model, o))
            stages = {k: round(float(v), 2) for k, v in (result.timings or {}).items()
                      if isinstance(v, (int, float))}
            best = results["runs"].get(name)
            if best is None or wall < best["wall_s"]:
                results["runs"][name] = {"wall_s": round(wall, 2), "stages": stages,
                                         "ood_flag": bool(result.ood.flag)}
            print(f"round {round_ + 1} {name:8s} {wall:7.2f} s  stages: {stages}")
        if not args.skip_peer:
            wall, _ = timed(monai_peer(volume, model))
            best = results["runs"].get("monai_peer")
            if best is None or wall < best["wall_s"]:
                results["runs"]["monai_peer"] = {"wall_s": round(wall, 2)}
            print(f"round {round_ + 1} monai    {wall:7.2f} s  (one deterministic pass, primary member)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
