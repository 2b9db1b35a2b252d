"""The MC-Dropout tail's faster dropout masks (engine.trust.mc_dropout.MaskSampler): the law of
torch.nn.Dropout (drop rate, scale), reproducible by seed, channels-last kept, and on the real
default model the same MC mean and spread as torch's own dropout."""

from __future__ import annotations

import math

import pytest
import torch

from engine.models.store import ModelStore
from engine.trust.mc_dropout import MaskSampler, SamplingConfig, member_samples


def test_drop_rate_scale_seed_and_layout():
    x = torch.ones(2, 16, 12, 12, 12).contiguous(memory_format=torch.channels_last_3d)
    out = MaskSampler(7).drop(x, 0.2)
    n = x.numel()
    dropped = float((out == 0).sum()) / n
    assert abs(dropped - 0.2) < 4 * math.sqrt(0.2 * 0.8 / n)
    assert torch.equal(out[out != 0], torch.full_like(out[out != 0], 1.25))
    assert out.is_contiguous(memory_format=torch.channels_last_3d)
    assert torch.equal(out, MaskSampler(7).drop(x, 0.2))          # same seed, same masks
    assert not torch.equal(out, MaskSampler(8).drop(x, 0.2))
    plain = torch.ones(3, 4, 5)
    assert MaskSampler(1).drop(plain, 0.0) is plain
    assert torch.equal(MaskSampler(1).drop(plain, 1.0), torch.zeros_like(plain))
    # the mask does not follow the layout: channel 0 and channel 1 are dropped independently
    c = MaskSampler(3).drop(torch.ones(1, 2, 40, 40, 40), 0.5)
    assert not torch.equal(c[0, 0] == 0, c[0, 1] == 0)


def test_mc_mean_and_spread_match_torch_dropout_on_the_default_model():
    net = ModelStore().load("candor-brain-t1").network.eval()
    torch.manual_seed(0)
    x = torch.randn(1, 1, 16, 16, 16)
    cfg = SamplingConfig(samples=200, tail_stages=1)
    with torch.inference_mode():
        ours = torch.stack([torch.softmax(s, 1) for s in member_samples(net, x, cfg, MaskSampler(0))])
        torch.manual_seed(1)
        theirs = torch.stack([torch.softmax(s, 1) for s in member_samples(net, x, cfg)])
    assert ours.std(0).mean() > 1e-3                              # the tail really is stochastic
    # per voxel and class, the two MC means differ by their sampling error only: |z| is
    # half-normal (mean 0.80) where both have spread, and 4σ outliers are rare
    t = cfg.samples
    spread = (ours.var(0) / t + theirs.var(0) / t).sqrt()
    keep = spread > 1e-4
    z = ((ours.mean(0) - theirs.mean(0)).abs() / spread)[keep]
    assert keep.sum() > 1000
    assert float(z.mean()) < 1.0
    assert float((z > 4).float().mean()) < 0.002
    assert ours.std(0).mean() == pytest.approx(float(theirs.std(0).mean()), rel=0.1)
