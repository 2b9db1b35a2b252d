"""Candor's SciPy reimplementation of nnU-Net's resampling against nnU-Net's own function."""

from __future__ import annotations

import numpy as np
import pytest

from engine.inference import nnunet_resample as rs

default_resampling = pytest.importorskip("nnunetv2.preprocessing.resampling.default_resampling")


@pytest.mark.parametrize("spacing,target,order", [
    ((1.3, 0.8, 1.1), (1.0, 1.0, 1.0), 3),       # isotropic target, cubic (images)
    ((1.0, 1.0, 1.0), (1.3, 0.7, 1.0), 1),       # linear (probabilities)
    ((4.0, 0.9, 0.9), (3.0, 0.8, 0.8), 3),       # anisotropic: in-plane cubic, nearest along z
])
def test_resample_matches_nnunet(spacing, target, order):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(2, 9, 14, 12)).astype(np.float32)
    shape = rs.new_shape(data.shape[1:], spacing, target)
    assert tuple(shape) == tuple(default_resampling.compute_new_shape(data.shape[1:], spacing, target))
    ours = rs.resample(data, shape, spacing, target, order=order, order_z=0, force_separate_z=None)
    theirs = default_resampling.resample_data_or_seg_to_shape(data, shape, spacing, target, is_seg=False,
                                                               order=order, order_z=0, force_separate_z=None)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1e-6
