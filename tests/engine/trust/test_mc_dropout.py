"""MC-Dropout with a deterministic trunk: identity with naive sampling, decomposition, seeding, cost."""

from __future__ import annotations

import numpy as np
import torch

from engine.inference.sliding_window import SlidingWindowConfig, sliding_window
from engine.models import mc_dropout
from engine.trust import TrustOptions, model_grid_pass
from engine.trust.entropy import decompose, entropy_np
from engine.trust.mc_dropout import SamplingConfig, sampling_patch_fn, seeded


def test_trunk_once_tail_t_times_equals_naive_mc_sampling(tiny_model):
    """Same seed → the split sampler draws exactly the masks T full MC passes would draw (with
    torch's masks; the faster MaskSampler has the same law: tests/engine/trust/test_mask_sampler.py)."""
    net = tiny_model.network
    batch = torch.randn(2, 1, 16, 16, 16)
    cfg = SamplingConfig(samples=4, tail_stages=2, seed=7)
    with torch.no_grad(), seeded(7, torch.device("cpu")):
        fast = sampling_patch_fn([net], cfg, fast_masks=False)(batch)
    naive = []
    with torch.no_grad(), seeded(7, torch.device("cpu")), mc_dropout(net):
        for _ in range(4):
            naive.append(torch.softmax(net(batch), 1))
    mean = torch.stack(naive).mean(0)
    assert torch.allclose(fast["probs"], mean, atol=1e-5)
    exp_h = torch.stack([-(p * p.clamp_min(1e-8).log()).sum(1, keepdim=True) for p in naive]).mean(0)
    assert torch.allclose(fast["exp_entropy"], exp_h, atol=1e-5)
    assert not net.training  # the context manager restored eval mode


def test_trunk_runs_once_per_patch_and_tail_t_times(tiny_model):
    net = tiny_model.network
    calls = {"encoder": 0, "head": 0}
    hooks = [net.encoder[0].register_forward_hook(lambda *a: calls.__setitem__("encoder", calls["encoder"] + 1)),
             net.head.register_forward_hook(lambda *a: calls.__setitem__("head", calls["head"] + 1))]
    try:
        with torch.no_grad():
            sampling_patch_fn([net], SamplingConfig(samples=10, tail_stages=1))(torch.randn(1, 1, 16, 16, 16))
    finally:
        for h in hooks:
            h.remove()
    assert calls == {"encoder": 1, "head": 10}


def test_decomposition_identity_and_non_negative(tiny_model, blob_volume):
    from engine.inference.preprocess import normalize

    image, _ = normalize(blob_volume.array, tiny_model.manifest.normalization)
    g = model_grid_pass(image, blob_volume.geometry, tiny_model, TrustOptions(mc_samples=4, device="cpu"))
    total, alea, epi = g.maps["total"], g.maps["aleatoric"], g.maps["epistemic"]
    assert np.allclose(total, alea + epi, atol=1e-6)
    for m in (total, alea, epi, g.maps["disagreement"]):
        assert m.min() >= 0.0
    assert epi.max() > 1e-4                      # dropout is on: samples do differ
    assert total.max() <= np.log(3) + 1e-5
    assert np.allclose(g.probs.sum(0), 1.0, atol=1e-4)
    assert np.allclose(total, entropy_np(g.probs), atol=1e-6)


def test_decompose_is_exact_even_with_rounding():
    rng = np.random.default_rng(0)
    p = rng.dirichlet([1, 1, 1], size=(4, 5, 6)).transpose(3, 0, 1, 2).astype(np.float32)
    expected = entropy_np(p) + 1e-7   # a hair above the total: must be capped
    maps = decompose(p, expected)
    assert np.array_equal(maps["total"], maps["aleatoric"] + maps["epistemic"])
    assert maps["epistemic"].min() >= 0


def test_seeded_reproducible_and_seed_matters(tiny_model, blob_volume):
    from engine.inference.preprocess import normalize

    image, _ = normalize(blob_volume.array, tiny_model.manifest.normalization)
    run = lambda seed: model_grid_pass(image, blob_volume.geometry, tiny_model,  # noqa: E731
                                       TrustOptions(mc_samples=3, seed=seed, use_ensemble=False, device="cpu"))
    a, b, c = run(1), run(1), run(2)
    assert np.array_equal(a.maps["epistemic"], b.maps["epistemic"])
    assert not np.array_equal(a.maps["epistemic"], c.maps["epistemic"])


def test_ensemble_disagreement_zero_for_identical_members(tiny_model):
    net = tiny_model.network
    batch = torch.randn(1, 1, 16, 16, 16)
    with torch.no_grad():
        out = sampling_patch_fn([net, net], SamplingConfig(samples=1))(batch)
    from engine.trust.ensemble import member_disagreement

    d = member_disagreement(out["probs"][0].numpy(), out["member_entropy"][0, 0].numpy())
    assert float(d.max()) < 1e-5


def test_sliding_window_blending_keeps_identity(tiny_model):
    """Blended per-patch means keep total ≥ aleatoric voxel-wise (concavity), on overlapping windows."""
    image = np.random.default_rng(1).normal(size=(1, 24, 24, 24)).astype(np.float32)
    cfg = SlidingWindowConfig((16, 16, 16), overlap=0.5)
    with seeded(0, torch.device("cpu")):
        out = sliding_window(image, sampling_patch_fn([tiny_model.network], SamplingConfig(samples=4)), cfg)
    total = entropy_np(out["probs"])
    assert (total - out["exp_entropy"][0]).min() > -1e-5
