"""Fine-tune the default model (candor-brain-t1) on corrections of a systematic error, on the CPU.

Not a test: it copies the shipped package into a throw-away resources folder (it never writes
into ``resources/``), gives the copy a held-out regression set when it ships none (generated
cases of the base distribution, seeds no training or rehearsal uses), queues corrections of one
lesion kind with ``candor queue add``, runs ``candor finetune`` and measures lesion Dice on
held-out cases of that kind before and after.

    nice -n 10 .venv/bin/python bench/finetune_default_model.py [--kind faint-hyper] [--corrections 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KINDS = {  # (radius mm range, contrast × white matter range)
    "faint-hyper": ((3.0, 6.0), (1.12, 1.3)),
    "small-hypo": ((2.5, 4.0), (0.45, 0.7)),
    "large-hypo": ((10.0, 14.0), (0.25, 0.5)),
}


def _ai_labels(image, model):
    """The shipped deterministic segmentation (``engine.trust.analyze`` with ``SEGMENTATION``), on the CPU."""
    from dataclasses import replace

    from engine.trust import SEGMENTATION, analyze

    return analyze(image, model, replace(SEGMENTATION, device="cpu")).labels

def _resources(tmp: Path) -> None:
    """A resources folder that links the shipped one, with a private copy of the model."""
    src = ROOT / "resources"
    (tmp / "models").mkdir(parents=True)
    for entry in src.iterdir():
        if entry.name != "models":
            (tmp / entry.name).symlink_to(entry)
    shutil.copytree(src / "models" / "candor-brain-t1", tmp / "models" / "candor-brain-t1",
                    ignore=shutil.ignore_patterns(".checkpoint*"))
    os.environ["CANDOR_RESOURCES"] = str(tmp)


def make_case(seed: int, kind: str | None, lesions: int = 2):
    """(image, truth) of the base generator without lesions, plus ``lesions`` of ``kind``."""
    from scipy.ndimage import map_coordinates

    from engine.synthesis.lesions import _centre, paint_lesion, white_matter_level
    from engine.synthesis.synth import SynthConfig, generate_case, sampling_coordinates
    from engine.synthesis.template import load_template
    from engine.volume import Volume

    template = load_template(2.0)
    no_lesions = SynthConfig(lesion_probability=0.0)
    case = generate_case(seed, template, no_lesions if kind else SynthConfig())
    rng = np.random.default_rng(seed + 1)
    if kind:  # the generator's own tissue maps for this seed (same random stream)
        coords = sampling_coordinates(np.random.default_rng(seed), case.image.shape, template, no_lesions)
        gm = map_coordinates(template.gm, coords, order=1)
        wm = map_coordinates(template.wm, coords, order=1)
        (r0, r1), (c0, c1) = KINDS[kind]
        level = white_matter_level(case.image, wm)
        for _ in range(lesions):
            centre = _centre(rng, gm, wm)
            paint_lesion(rng, case.image, case.labels, gm, wm, centre, 2.0, radius_mm=rng.uniform(r0, r1),
                         contrast=rng.uniform(c0, c1), border_mm=rng.uniform(0.5, 1.5), wm_level=level)
    image = Volume(case.image, case.geometry, "MR")
    return image, image.with_array(case.labels)


def lesion_dice(model, cases) -> float:
    from engine.corrections import dice

    return float(np.mean([dice(_ai_labels(img, model).array == 3, truth.array == 3)
                          for img, truth in cases]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", default="faint-hyper", choices=sorted(KINDS))
    ap.add_argument("--corrections", type=int, default=10)
    ap.add_argument("--epochs", default="6")
    ap.add_argument("--steps-per-epoch", default="15")
    ap.add_argument("--lr", default="2e-4")
    ap.add_argument("--baseline-only", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="candor-ft-"))
    os.environ["CANDOR_HOME"] = str(tmp / "home")
    _resources(tmp / "resources")
    import SimpleITK as sitk
    import torch

    torch.set_num_threads(2)
    from engine.cli import main as candor
    from engine.corrections.finetune_data import REGRESSION_DIR, write_regression_set
    from engine.models.discovery import find_model
    from engine.models.package import load_model

    package = tmp / "resources" / "models" / "candor-brain-t1"
    if not (package / REGRESSION_DIR).is_dir():
        write_regression_set(package, [(f"g{i}", *make_case(800_000_000 + i, None)) for i in range(3)])
    base = load_model(find_model("candor-brain-t1").path)
    held_out = [make_case(700_000 + i, args.kind) for i in range(3)]
    before = lesion_dice(base, held_out)
    print(f"held-out {args.kind} lesion Dice before: {before:.3f}", flush=True)
    if args.baseline_only:
        return 0
    for i in range(args.corrections):
        image, truth = make_case(600_000 + i, args.kind)

        ai = _ai_labels(image, base)
        paths = {}
        for name, vol in (("image", image), ("ai", ai), ("corrected", truth)):
            paths[name] = tmp / f"c{i}_{name}.nii.gz"
            sitk.WriteImage(vol.to_sitk(), str(paths[name]))
        assert candor(["queue", "add", str(paths["image"]), "--ai", str(paths["ai"]), "--corrected",
                       str(paths["corrected"]), "--model", "candor-brain-t1"]) == 0
    start = time.perf_counter()
    code = candor(["finetune", "--epochs", args.epochs, "--steps-per-epoch", args.steps_per_epoch,
                   "--lr", args.lr, "--report", str(tmp / "report.json")])
    seconds = time.perf_counter() - start
    report = json.loads((tmp / "report.json").read_text())
    after = lesion_dice(load_model(find_model("candor-brain-t1").path), held_out) if code == 0 else None
    reg = report["metrics"]["regression_set"]
    print(json.dumps({"kind": args.kind, "accepted": report["accepted"], "reason": report["reason"],
                      "held_out_lesion_dice": [round(before, 3), after and round(after, 3)],
                      "regression_dice": [reg["before"]["dice_mean"], reg["after"]["dice_mean"]],
                      "validation": [report["metrics"]["validation_split"]["before"]["dice_mean"],
                                     report["metrics"]["validation_split"]["after"]["dice_mean"]],
                      "rehearsal": report["rehearsal"]["source"], "finetune_seconds": round(seconds, 1),
                      "history": report["training"]["members"][0]["history"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
