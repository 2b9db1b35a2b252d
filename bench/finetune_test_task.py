"""Fine-tuning on the test task, across CPU kernel paths and base-model seeds (issue 13, item 7).

Not a test: it measures how much the result of ``engine.corrections.finetune.finetune`` (the code
``candor finetune`` runs) depends on the numeric path. Each run is a child process that trains the
test task's base model (``tests/engine/corrections/lesion_task.py``: it misses dark lesions), queues
10 corrections with ``candor queue add``, fine-tunes with the settings of
``tests/engine/corrections/test_finetune.py`` and measures dark-lesion Dice on 4 held-out cases.
A kernel path is ``ATEN_CPU_CAPABILITY`` / ``ONEDNN_MAX_CPU_ISA`` (AVX2 is the path of a CPU
without AVX-512, such as the AMD EPYC machines this project runs on); ``CANDOR_FORCE_FLOAT32=1``
is set in every run.

    .venv/bin/python bench/finetune_test_task.py [--runs avx2/AVX2/0 default/SSE41/0 ...] [--config '{"lr": 3e-4}']
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_RUNS = ["avx2/AVX2/0", "default/SSE41/0", "default/AVX2/0", "avx512/AVX512_CORE/0",
                "avx2/AVX2/1", "avx2/AVX2/2", "avx2/AVX2/3", "avx2/AVX2/4", "avx2/AVX2/5"]
EPOCHS, STEPS, LR = 16, 10, 5e-4  # as tests/engine/corrections/test_finetune.py
HELD_OUT = range(600, 604)


def _ai_labels(image, model):
    """The shipped deterministic segmentation (``engine.trust.analyze`` with ``SEGMENTATION``), on the CPU."""
    from dataclasses import replace

    from engine.trust import SEGMENTATION, analyze

    return analyze(image, model, replace(SEGMENTATION, device="cpu")).labels

def child(base_seed: int, overrides: dict) -> dict:
    import numpy as np
    import SimpleITK as sitk
    import torch

    from engine.cli import main
    from engine.corrections import dice
    from engine.corrections.finetune import finetune
    from engine.corrections.finetune_train import FinetuneConfig
    from engine.models.discovery import find_model
    from engine.models.package import load_model
    from engine.resources import user_subdir
    from tests.engine.corrections import lesion_task as task

    torch.set_num_threads(1)
    start = time.perf_counter()
    task.build_base_model(user_subdir("models") / f"{task.NAME}-{task.VERSION}", seed=base_seed)
    base = load_model(find_model(task.NAME).path)
    tmp = Path(tempfile.mkdtemp())
    for i in range(10):
        image, truth, _ = task.make_case(500 + i, 1, 2)
        paths = {}
        for name, vol in (("image", image), ("ai", _ai_labels(image, base)),
                          ("corrected", truth)):
            paths[name] = tmp / f"c{i}_{name}.nii.gz"
            sitk.WriteImage(vol.to_sitk(), str(paths[name]))
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["queue", "add", str(paths["image"]), "--ai", str(paths["ai"]), "--corrected",
                         str(paths["corrected"]), "--model", f"{task.NAME}@{task.VERSION}"]) == 0

    def dark_dice(model) -> float:
        cases = [task.make_case(s, 0, 2) for s in HELD_OUT]
        return float(np.mean([dice(_ai_labels(img, model).array == 1, truth.array == 1)
                              for img, truth, _ in cases]))

    before = dark_dice(base)
    cfg = FinetuneConfig(**{"epochs": EPOCHS, "steps_per_epoch": STEPS, "lr": LR, **overrides})
    report = finetune(task.NAME, cfg)
    after = dark_dice(load_model(find_model(task.NAME).path)) if report["accepted"] else None
    reg = report["metrics"]["regression_set"]
    member = report["training"]["members"][0]
    return {"accepted": report["accepted"], "before": round(before, 3),
            "after": None if after is None else round(after, 3),
            "regression": [reg["before"]["dice_mean"], reg["after"]["dice_mean"]],
            "best_epoch": member["best_epoch"], "seconds": round(time.perf_counter() - start, 1)}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", default=DEFAULT_RUNS, metavar="ATEN/ONEDNN/SEED")
    parser.add_argument("--config", default="{}", help="FinetuneConfig overrides (JSON)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    overrides = json.loads(args.config)
    if args.child is not None:
        print(json.dumps(child(int(args.child), overrides)))
        return 0
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; settings: epochs {EPOCHS}, steps {STEPS}, "
          f"lr {LR}, overrides {overrides}")
    print("| kernels (ATen / oneDNN) | base seed | accepted | dark-lesion Dice before → after | gain "
          "| regression set | chosen epoch | s |")
    print("|---|---|---|---|---|---|---|---|")
    for run in args.runs:
        aten, onednn, seed = run.split("/")
        env = {**os.environ, "ATEN_CPU_CAPABILITY": aten, "ONEDNN_MAX_CPU_ISA": onednn,
               "CANDOR_FORCE_FLOAT32": "1", "CANDOR_HOME": tempfile.mkdtemp()}
        out = subprocess.run([sys.executable, __file__, "--child", seed, "--config", args.config],
                             env=env, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"| {aten} / {onednn} | {seed} | failed: {out.stderr.strip().splitlines()[-1:]} |")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        gain = "—" if r["after"] is None else f"{r['after'] - r['before']:+.3f}"
        print(f"| {aten} / {onednn} | {seed} | {'yes' if r['accepted'] else 'no'} | {r['before']:.3f} → "
              f"{'—' if r['after'] is None else format(r['after'], '.3f')} | {gain} | "
              f"{r['regression'][0]:.3f} → {r['regression'][1]:.3f} | {r['best_epoch']} | {r['seconds']} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
