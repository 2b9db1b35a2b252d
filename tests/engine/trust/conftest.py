"""Fixtures for the trust-layer tests: a tiny random two-member model package, the bundled model."""

from __future__ import annotations

import numpy as np
import pytest

from engine.models import load_model
from engine.volume import Geometry, Volume
from tests.engine.trust.tiny import save_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return load_model(save_tiny_model(tmp_path_factory.mktemp("tiny_model")))


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

    import os

    try:   # CANDOR_TRUST_TEST_MODEL: a package folder to test instead (e.g. a model being trained)
        return load_model(os.environ.get("CANDOR_TRUST_TEST_MODEL") or "candor-brain-t1")
    except ModelError as exc:
        pytest.skip(f"the default model is not bundled yet: {exc}")
