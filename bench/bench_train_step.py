"""One training step of the default architecture: bfloat16 autocast vs float32, in one run.

    python bench/bench_train_step.py [--steps 15] [--threads 2] [--json out.json]

Peer: the same step in float32 (what training does on a CPU without bf16 hardware). Each mode
trains a freshly seeded network on the same random batch (batch 2 × 48³, the default model's
patch) with AdamW and Dice + cross-entropy, with ``engine.training.train.train_step``, the step training runs; the median
of the steps after three warm-up steps is reported. Each mode runs twice to show that a bf16 run
is reproducible (identical weights after the same steps).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402


def run(cfg, bf16: bool, steps: int) -> tuple[float, float]:
    from monai.losses import DiceCELoss

    from engine.models.unet import ResUNet3D
    from engine.training.train import train_step

    torch.manual_seed(0)
    net = ResUNet3D(1, cfg.num_classes, **{**cfg.architecture_params(), "channels": tuple(cfg.channels)})
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    weight = torch.tensor(cfg.class_weights, dtype=torch.float32) if cfg.class_weights else None
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, batch=True, weight=weight)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(cfg.batch_size, 1, *cfg.patch_size, generator=g)
    y = torch.randint(0, cfg.num_classes, (cfg.batch_size, 1, *cfg.patch_size), generator=g)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        train_step(net, opt, loss_fn, x, y, bf16)
        times.append(time.perf_counter() - t0)
    checksum = sum(float(p.detach().double().sum()) for p in net.parameters())
    return statistics.median(times[3:]), checksum


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from engine.training.train import bf16_native
    from engine.training.train_default import DEFAULT_CONFIG as cfg

    torch.set_num_threads(args.threads)
    native = bf16_native()
    out = {"machine": platform.processor() or platform.machine(), "threads": args.threads, "bf16_native": native,
           "channels": list(cfg.channels), "patch": list(cfg.patch_size), "batch": cfg.batch_size}
    for mode, bf16 in (("float32", False), ("bf16_autocast", True)):
        (a, ca), (b, cb) = run(cfg, bf16, args.steps), run(cfg, bf16, args.steps)
        out[mode] = {"step_s": round(min(a, b), 4), "reproducible": ca == cb}
    out["ratio_bf16_over_fp32"] = round(out["bf16_autocast"]["step_s"] / out["float32"]["step_s"], 3)
    if not native:
        out["note"] = "no bf16 hardware: autocast is emulated here and training falls back to float32"
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
