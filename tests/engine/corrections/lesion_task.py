"""A small generated lesion task with a systematic model error, for the fine-tuning tests.

Cases are 24³ volumes at 2 mm: smooth tissue with mildly dark patches (not lesions), bright
lesions ("type A") and dark lesions ("type B"). The base model is trained on cases where only type A is labelled, so it learns to
miss type B — the kind of systematic under-segmentation radiologists correct.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from engine.corrections.finetune_data import Pair, prepare, write_regression_set, write_rehearsal_set
from engine.corrections.finetune_train import FinetuneConfig, train_member
from engine.labels import LabelInfo, LabelTable
from engine.models.manifest import Architecture, InferenceSettings, Manifest, Normalization
from engine.models.package import save_model
from engine.models.unet import ResUNet3D
from engine.volume import Geometry, Volume

NAME, VERSION = "tiny-lesion", "1.0.0"
SIZE = 24
GEOMETRY = Geometry((SIZE, SIZE, SIZE), (2.0, 2.0, 2.0), (-24.0, -24.0, -24.0))
LABELS = LabelTable([LabelInfo(1, "Lesion", (230, 25, 75))])
BASE_LR, BASE_AUGMENT = 5e-3, 0.3  # the base training; fine-tuning augments as it did (recorded)
ARCH = {"channels": [4, 8, 16], "norm_groups": 4, "dropout": 0.1, "dropout_stages": 1}


def make_case(seed: int, bright: int, dark: int) -> tuple[Volume, Volume, Volume]:
    """(image, truth with every lesion, labels with only the bright ones)."""
    rng = np.random.default_rng(seed)
    tissue = 100 + 15 * gaussian_filter(rng.normal(0, 1, (SIZE,) * 3), 4) * 8
    image = tissue + rng.normal(0, 4, (SIZE,) * 3)
    truth = np.zeros((SIZE,) * 3, np.uint8)
    bright_only = np.zeros_like(truth)
    zz, yy, xx = np.mgrid[:SIZE, :SIZE, :SIZE]
    for _ in range(2):  # mildly dark tissue that is not a lesion, in every case
        c, r = rng.integers(4, SIZE - 4, 3), rng.uniform(2.0, 3.5)
        ball = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r * r
        image[ball] = 72 + rng.normal(0, 4, int(ball.sum()))
    for n in range(bright + dark):
        c = rng.integers(5, SIZE - 5, 3)
        r = rng.uniform(2.0, 3.5)
        ball = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r * r
        is_bright = n < bright
        image[ball] = (185 if is_bright else 35) + rng.normal(0, 4, int(ball.sum()))
        truth[ball] = 1
        if is_bright:
            bright_only[ball] = 1
    vol = Volume(image.astype(np.float32), GEOMETRY, "MR")
    return vol, vol.with_array(truth), vol.with_array(bright_only)


def manifest() -> Manifest:
    return Manifest(name=NAME, version=VERSION, task="segmentation: lesions", modality="MR",
                    labels=LABELS, architecture=Architecture("resunet3d", ARCH),
                    target_spacing=(2.0, 2.0, 2.0), patch_size=(SIZE, SIZE, SIZE),
                    normalization=Normalization(), inference=InferenceSettings(overlap=0.25, batch_size=1))


def build_base_model(folder, seed: int = 0):
    """Train the base model (type A labelled only) and write it with a type-A regression set."""
    m = manifest()
    train = [prepare(f"t{i}", img, bright_only, m)
             for i, (img, _, bright_only) in enumerate(make_case(100 + i, 2, 1) for i in range(6))]
    val: list[Pair] = [prepare(f"v{i}", img, bright_only, m)
                       for i, (img, _, bright_only) in enumerate(make_case(200 + i, 2, 1) for i in range(2))]
    torch.manual_seed(seed)  # the initial weights, too, are reproducible
    net = ResUNet3D(1, 2, channels=tuple(ARCH["channels"]), norm_groups=4, dropout=0.1, dropout_stages=1)
    cfg = FinetuneConfig(epochs=15, steps_per_epoch=12, lr=BASE_LR, patience=15,  # no early stop:
                         # some initial weights learn nothing for 8 epochs, then converge
                         augment_probability=BASE_AUGMENT, schedule="constant")
    train_member(net, train, val, m, cfg, "cpu", seed=seed)
    m = replace(m, training={"augment_probability": BASE_AUGMENT, "lr": BASE_LR, "schedule": "constant"})
    save_model(folder, m, [net])
    write_regression_set(folder, [(f"r{i}", img, truth)
                                  for i, (img, truth, _) in enumerate(make_case(300 + i, 2, 0) for i in range(3))])
    # reference cases of what the model does well, for rehearsal: other seeds than the regression set
    write_rehearsal_set(folder, [(f"h{i:02d}", img, truth)
                                 for i, (img, truth, _) in enumerate(make_case(400 + i, 2, 0) for i in range(12))])
    return m
