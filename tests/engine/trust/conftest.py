"""Fixtures for the trust-layer tests: a tiny random two-member model package, the bundled model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.labels import LabelInfo, LabelTable
from engine.models import Architecture, Manifest, ResUNet3D, load_model, save_model
from engine.volume import Geometry, Volume

TINY_ARCH = {"channels": [4, 8, 16], "dropout": 0.3, "dropout_stages": 2, "norm_groups": 2}


def tiny_manifest(members: int = 2, **changes) -> Manifest:
    base = dict(name="tiny", version="0.1", task="test", modality="MR", body_part="BRAIN",
                labels=LabelTable([LabelInfo(1, "A", (255, 0, 0)), LabelInfo(2, "B", (0, 255, 0))]),
                architecture=Architecture("resunet3d", TINY_ARCH), target_spacing=(2.0, 2.0, 2.0),
                patch_size=(16, 16, 16),
                members=tuple("weights.safetensors" if i == 0 else f"member-{i + 1}.safetensors"
                              for i in range(members)))
    base.update(changes)
    return Manifest(**base)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    torch.manual_seed(0)
    manifest = tiny_manifest()
    nets = [ResUNet3D(1, 3, channels=(4, 8, 16), dropout=0.3, dropout_stages=2, norm_groups=2) for _ in range(2)]
    folder = tmp_path_factory.mktemp("tiny_model")
    save_model(folder, manifest, nets)
    return load_model(folder)


@pytest.fixture()
def blob_volume():
    """A bright ellipsoid in a darker box with noise, 2 mm voxels (the tiny model's grid)."""
    rng = np.random.default_rng(3)
    z, y, x = np.mgrid[:20, :22, :20]
    inside = ((z - 10) / 6.0) ** 2 + ((y - 11) / 7.0) ** 2 + ((x - 10) / 6.0) ** 2 < 1
    arr = np.where(inside, 200.0, 40.0) + rng.normal(0, 5, inside.shape)
    return Volume(arr.astype(np.float32), Geometry((20, 22, 20), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0)), "MR")


@pytest.fixture(scope="session")
def default_model():
    """The bundled default model (trained by engine/training); the tests that need a trained network use it."""
    from engine.errors import ModelError

    try:
        return load_model("candor-brain-t1")
    except ModelError as exc:
        pytest.skip(f"the default model is not bundled yet: {exc}")
