"""The default model's definition: name, labels, manifest, training-data fingerprint."""

from __future__ import annotations

import datetime as _dt

import numpy as np

from engine.training.synth import SynthConfig

from engine.inference.preprocess import normalize
from engine.labels import LabelInfo, LabelTable
from engine.models.manifest import Architecture, Fingerprint, InferenceSettings, Manifest
from engine.training.synth import generate_case
from engine.training.template import Template, template_notice
from engine.training.train import TRAIN_SEED_STRIDE, TrainConfig

NAME = "candor-brain-t1"
VERSION = "1.0.0"
SPACING_MM = 2.0
MEMBER_SEEDS = (1, 2, 3)
SHIPPED_MEMBERS = 1  # members 2 and 3 came out weaker than member 1 (docs/MODELS.md), so they do not ship
#: Training plan per member: a list of stages, each a set of changes to ``TrainConfig``; a stage
#: after the first continues from the previous stage's best weights, with its own seed (member
#: seed + 100 × stage) so it sees new cases.
#: Member 1: stage 1 learns the tissues (300 steps of the 1000-step cosine schedule; lesions are
#: too rare there to be learnt), stage 2 focuses on lesions: every case has 1–5 lesions of 4–16 mm
#: radius, 70 % lesion-centred patches, lesion class weight 20, restarted 300-step cosine; the
#: lesion class was still not learnt, so stage 3 uses weighted cross-entropy only (lesion weight
#: 50, 600-step cosine; early-stopped), which learns a rare class faster than soft Dice but
#: over-predicts it; stage 4 rebalances (Dice + CE, lesion weight 10, low learning rate).
#: Members 2 and 3 (the ensemble members the trust layer uses for disagreement) do not fit
#: the shared CPU's budget as independent runs: they start from member 1's weights and continue on
#: their own seed's cases, patches and dropout masks (snapshot-style members; see docs/MODELS.md).
_LESION_SYNTH = SynthConfig(lesion_probability=1.0, max_lesions=5, lesion_radius_mm=(4.0, 16.0))
_LESION_FOCUS = {"max_steps": 300, "schedule_steps": 300, "warmup_steps": 10, "lr": 2e-3, "lesion_fraction": 0.7,
                 "class_weights": (1.0, 1.0, 1.0, 20.0), "synth": _LESION_SYNTH}
_SNAPSHOT = {"max_steps": 100, "schedule_steps": 100, "warmup_steps": 10, "lr": 5e-4, "val_every": 50,
             "patience": 3, "lesion_fraction": 0.7, "class_weights": (1.0, 1.0, 1.0, 50.0), "lambda_dice": 0.0,
             "synth": _LESION_SYNTH}
_LESION_CE = {"max_steps": 600, "schedule_steps": 600, "warmup_steps": 10, "lr": 2e-3, "lesion_fraction": 0.7,
               "class_weights": (1.0, 1.0, 1.0, 50.0), "lambda_dice": 0.0, "synth": _LESION_SYNTH}
_BALANCE = {"max_steps": 150, "schedule_steps": 150, "warmup_steps": 5, "lr": 5e-4, "val_every": 50, "patience": 3,
            "lesion_fraction": 0.5, "class_weights": (1.0, 1.0, 1.0, 10.0), "lambda_dice": 1.0,
            "synth": _LESION_SYNTH}
MEMBER_PLANS: dict[int, list[dict]] = {
    1: [{"max_steps": 300}, dict(_LESION_FOCUS), dict(_LESION_CE), dict(_BALANCE)],
    2: [dict(_SNAPSHOT)],
    3: [dict(_SNAPSHOT)],
}
#: Member k's first stage starts from the final weights of member INIT_FROM[k] (absent: fresh init).
INIT_FROM: dict[int, int] = {2: 1, 3: 1}
LABELS = LabelTable([
    LabelInfo(1, "Grey matter", (240, 200, 60)),
    LabelInfo(2, "White matter", (80, 160, 255)),
    LabelInfo(3, "Lesion", (230, 25, 75)),
])
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)


def member_file(index: int) -> str:
    """Weights file of ensemble member ``index`` (0-based): the primary member is ``weights.safetensors``."""
    return "weights.safetensors" if index == 0 else f"member-{index + 1}.safetensors"


def _stats(values: np.ndarray) -> dict[str, float]:
    pct = np.percentile(values, PERCENTILES)
    out = {"mean": float(values.mean()), "std": float(values.std())}
    out.update({f"p{p:02d}": float(v) for p, v in zip(PERCENTILES, pct)})
    return out


def fingerprint(template: Template, cfg: TrainConfig, cases: int = 8) -> Fingerprint:
    """Intensity statistics of the brain in generated training cases (raw and normalised)."""
    raw, norm, fg = [], [], []
    for n in range(cases):
        case = generate_case(cfg.seed * TRAIN_SEED_STRIDE + n, template, cfg.synth)
        image, stats = normalize(case.image, cfg.normalization)
        brain = case.labels > 0
        raw.append(case.image[brain][::7] / max(stats.upper, 1e-6))
        norm.append(image[brain][::7])
        fg.append(stats.foreground_fraction)
    raw_stats = _stats(np.concatenate(raw))
    raw_stats = {f"{k}_over_upper": v for k, v in raw_stats.items()}
    norm_stats = _stats(np.concatenate(norm))
    norm_stats["foreground_fraction"] = float(np.mean(fg))
    return Fingerprint(spacing_min=(1.0, 1.0, 1.0), spacing_max=(5.0, 5.0, 5.0), intensity_raw=raw_stats,
                       intensity_normalized=norm_stats, cases=cases)


def build_manifest(cfg: TrainConfig, members: int, fp: Fingerprint, training: dict, validation: dict) -> Manifest:
    return Manifest(
        name=NAME, version=VERSION, parent_version=None,
        description=("Brain tissue and lesion segmentation of T1-weighted MRI at 2 mm, trained by "
                     "engine/training on synthetic cases generated from the MNI ICBM152 2009a template."),
        task="segmentation: T1 brain MRI -> background, grey matter, white matter, lesion",
        modality="MR", body_part="BRAIN", input_channels=1,
        target_spacing=(SPACING_MM,) * 3, patch_size=cfg.patch_size,
        normalization=cfg.normalization, labels=LABELS,
        architecture=Architecture("resunet3d", cfg.architecture_params()),
        inference=InferenceSettings(overlap=0.5, sigma_scale=0.125, batch_size=2),
        members=tuple(member_file(i) for i in range(members)),
        fingerprint=fp, validation=validation,
        training={**training, "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")},
        license=("Weights derived from the MNI ICBM152 2009a template. " + template_notice()),
    )
