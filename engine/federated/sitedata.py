"""Generated sites for ``candor federated simulate`` and the benchmark: a tiny lesion task.

Cases are 24³ volumes at 2 mm: smooth tissue (about 100) with bright lesions (185) and lesions
of a kind the base model misses. The base model is trained with only the bright ones labelled
(its training cases also hold unlabelled dark lesions), so it misses what is not bright — the
systematic error radiologists correct. Each site sees a *different* missed kind on its own
scanner profile (noise), so the sites' corrections teach different things (``PROFILES``):

* ``dark``: hypo-intense balls, 35 (site 1; site 4 at 55);
* ``faint``: low-contrast hypo-intense balls, 82 — a little darker than tissue (site 2);
* ``textured``: balls about the tissue's mean (100) but strongly heterogeneous (σ 45) (site 3).

Each site gets its own Candor home: the base package (with its frozen regression set of
bright-lesion cases and rehearsal cases) installed in its model store and its corrections queued.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

NAME, VERSION = "fed-lesion", "1.0.0"
SIZE = 24
BASE_LR, BASE_AUGMENT = 5e-3, 0.3
ARCH = {"channels": [4, 8, 16], "norm_groups": 4, "dropout": 0.1, "dropout_stages": 1}

TEXTURE_SD = 45.0  # spread of a textured lesion's voxels
KINDS = ("dark", "faint", "textured")


@dataclass(frozen=True)
class Profile:
    """A site's scanner and case mix: the intensity (mean) of the lesions the base model misses
    there, the noise level and the kind of those lesions (one of ``KINDS``)."""

    dark: float = 35.0
    noise: float = 4.0
    kind: str = "dark"


PROFILES = (Profile(35.0, 4.0, "dark"), Profile(82.0, 6.0, "faint"), Profile(100.0, 5.0, "textured"),
            Profile(55.0, 3.0, "dark"))


def make_case(seed: int, bright: int, dark: int, profile: Profile = Profile()):
    """(image, truth with every lesion, labels with only the bright ones) as Volumes; the ``dark``
    lesions are of ``profile.kind``. The default profile gives the cases of earlier versions."""
    from scipy.ndimage import gaussian_filter

    from engine.volume import Geometry, Volume

    geometry = Geometry((SIZE, SIZE, SIZE), (2.0, 2.0, 2.0), (-24.0, -24.0, -24.0))
    rng = np.random.default_rng(seed)
    image = 100 + 120 * gaussian_filter(rng.normal(0, 1, (SIZE,) * 3), 4) + rng.normal(0, profile.noise, (SIZE,) * 3)
    truth = np.zeros((SIZE,) * 3, np.uint8)
    bright_only = np.zeros_like(truth)
    zz, yy, xx = np.mgrid[:SIZE, :SIZE, :SIZE]
    for n in range(bright + dark):
        c, r = rng.integers(5, SIZE - 5, 3), rng.uniform(2.0, 3.5)
        missed = n >= bright
        ball = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r * r
        if missed and profile.kind == "textured":  # about the tissue's mean, strongly heterogeneous
            level = profile.dark + rng.normal(0, TEXTURE_SD, int(ball.sum()))
        else:
            level = profile.dark if missed else 185.0
        image[ball] = level + rng.normal(0, profile.noise, int(ball.sum()))
        truth[ball] = 1
        if n < bright:
            bright_only[ball] = 1
    vol = Volume(image.astype(np.float32), geometry, "MR")
    return vol, vol.with_array(truth), vol.with_array(bright_only)


def manifest():
    from engine.labels import LabelInfo, LabelTable
    from engine.models.manifest import Architecture, InferenceSettings, Manifest, Normalization

    return Manifest(name=NAME, version=VERSION, task="segmentation: lesions", modality="MR",
                    labels=LabelTable([LabelInfo(1, "Lesion", (230, 25, 75))]),
                    architecture=Architecture("resunet3d", ARCH), target_spacing=(2.0, 2.0, 2.0),
                    patch_size=(SIZE, SIZE, SIZE), normalization=Normalization(),
                    inference=InferenceSettings(overlap=0.25, batch_size=1))


def build_base_model(folder: Path, *, epochs: int = 10, steps: int = 12, seed: int = 0) -> Path:
    """Train the base model (bright lesions labelled only) and write it with its regression set."""
    import torch

    from engine.corrections.finetune_data import prepare, write_regression_set, write_rehearsal_set
    from engine.corrections.finetune_train import FinetuneConfig, train_member
    from engine.models.package import save_model
    from engine.models.unet import ResUNet3D

    m = manifest()
    cases = [make_case(100 + i, 2, 1) for i in range(8)]
    train = [prepare(f"t{i}", img, lab, m) for i, (img, _, lab) in enumerate(cases[:6])]
    val = [prepare(f"v{i}", img, lab, m) for i, (img, _, lab) in enumerate(cases[6:])]
    torch.manual_seed(seed)
    net = ResUNet3D(1, 2, channels=tuple(ARCH["channels"]), norm_groups=4, dropout=0.1, dropout_stages=1)
    cfg = FinetuneConfig(epochs=epochs, steps_per_epoch=steps, lr=BASE_LR, patience=epochs,
                         augment_probability=BASE_AUGMENT, schedule="constant")
    train_member(net, train, val, m, cfg, "cpu", seed=seed)
    m = replace(m, training={"augment_probability": BASE_AUGMENT, "lr": BASE_LR, "schedule": "constant"})
    save_model(folder, m, [net])
    write_regression_set(folder, [(f"r{i}", img, truth) for i, (img, truth, _)
                                  in enumerate(make_case(300 + i, 2, 0) for i in range(3))])
    write_rehearsal_set(folder, [(f"h{i:02d}", img, truth) for i, (img, truth, _)
                                 in enumerate(make_case(400 + i, 2, 0) for i in range(6))])
    return folder


def site_cases(site: int, n: int, *, first: int = 0):
    """Site ``site``'s corrected cases (image, truth) with its own profile; ``first`` offsets seeds."""
    profile = PROFILES[site % len(PROFILES)]
    return [make_case(1000 * (site + 1) + first + i, 1, 2, profile)[:2] for i in range(n)]


def make_site(home: Path, site: int, base: Path, corrections: int) -> Path:
    """A Candor home for site ``site``: the base package installed, its corrections queued."""
    from engine.corrections.queue import CorrectionQueue, ModelRef
    from engine.models.package import load_model
    from engine.trust import SEGMENTATION, analyze
    from engine.volume import Volume

    (home / "models").mkdir(parents=True, exist_ok=True)
    shutil.copytree(base, home / "models" / base.name, dirs_exist_ok=True)
    model = load_model(home / "models" / base.name)
    with CorrectionQueue(home / "queue") as queue:
        for i, (image, truth) in enumerate(site_cases(site, corrections)):
            uids = {"study_uid": f"2.25.{site + 1}{i:04d}1", "series_uid": f"2.25.{site + 1}{i:04d}2"}
            image = Volume(image.array, image.geometry, image.modality, uids)
            ai = analyze(image, model, replace(SEGMENTATION, device="cpu")).labels
            queue.add(image, ai, truth, model.manifest.labels, ModelRef(NAME, VERSION))
    return home


def site_environment(home: Path) -> dict[str, str]:
    """The environment of a site process: its own Candor home, one torch thread."""
    return {**os.environ, "CANDOR_HOME": str(home), "OMP_NUM_THREADS": "1"}
