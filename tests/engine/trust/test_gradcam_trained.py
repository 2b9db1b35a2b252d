"""Grad-CAM and its faithfulness check on a network trained (here, in seconds) to find lesions.

A tiny ResUNet3D learns a generated task — a tissue ball with a small brighter lesion in it — so
the test needs no bundled weights: Grad-CAM of the lesion label must peak inside the lesion, and
deleting the voxels it ranks highest must hurt the lesion score more than deleting random tissue.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import binary_dilation

from engine.inference.sliding_window import SlidingWindowConfig
from engine.labels import LabelInfo, LabelTable
from engine.models import Architecture, LoadedModel, Manifest, ResUNet3D
from engine.trust import TrustOptions, model_grid_pass
from engine.trust.faithfulness import deletion_check
from engine.volume import Geometry

SIZE = 24
LESION = 2


def generated_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    z, y, x = np.mgrid[:SIZE, :SIZE, :SIZE].astype(np.float32)
    c = SIZE / 2 + rng.uniform(-1.5, 1.5, 3)
    ball = ((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2) < rng.uniform(8, 10) ** 2
    labels = ball.astype(np.int64)
    lc = c + rng.uniform(-4, 4, 3)
    lesion = (((z - lc[0]) ** 2 + (y - lc[1]) ** 2 + (x - lc[2]) ** 2) < rng.uniform(2.5, 3.5) ** 2) & ball
    labels[lesion] = LESION
    image = np.where(ball, 1.0, 0.0) + np.where(lesion, rng.uniform(0.8, 1.2), 0.0)
    image = image + rng.normal(0, 0.15, image.shape)
    return image.astype(np.float32), labels


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = ResUNet3D(1, 3, channels=(4, 8, 16), dropout=0.1, dropout_stages=1, norm_groups=2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    weights = torch.tensor([0.2, 1.0, 4.0])
    net.train()
    for _ in range(60):
        pairs = [generated_case(rng) for _ in range(2)]
        x = torch.from_numpy(np.stack([p[0] for p in pairs])[:, None])
        y = torch.from_numpy(np.stack([p[1] for p in pairs]))
        loss = torch.nn.functional.cross_entropy(net(x), y, weight=weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    manifest = Manifest(name="lesion-toy", version="1", task="toy", modality="MR",
                        labels=LabelTable([LabelInfo(1, "Tissue", (200, 200, 200)), LabelInfo(2, "Lesion", (230, 25, 75))]),
                        architecture=Architecture("resunet3d", {"channels": [4, 8, 16]}), target_spacing=(1, 1, 1),
                        patch_size=(SIZE, SIZE, SIZE))
    return LoadedModel(manifest, (net,))


def test_gradcam_of_the_lesion_peaks_inside_it_and_beats_random_deletion(trained):
    image, labels = generated_case(np.random.default_rng(123))     # a case never seen in training
    grid = Geometry((SIZE,) * 3, (1.0,) * 3, (0.0,) * 3)
    g = model_grid_pass(image, grid, trained, TrustOptions(mc_samples=1, saliency_labels=(LESION,), device="cpu"))
    predicted = g.probs.argmax(0) == LESION
    truth = labels == LESION
    assert (predicted & truth).sum() > 0.5 * truth.sum(), "the toy network should have learned the lesion"
    sal = g.saliency[LESION]
    peak = np.unravel_index(np.argmax(sal), sal.shape)
    assert binary_dilation(truth, iterations=1)[peak]
    f = deletion_check(image, sal, predicted, g.probs.argmax(0) > 0, LESION, [trained.network],
                       SlidingWindowConfig((SIZE,) * 3), random_draws=3, seed=0)
    assert f.drop_saliency > f.drop_random and f.score > 0.1
