import numpy as np
import pytest
import torch

from engine.errors import Cancelled
from engine.inference import (PatchAccumulator, SlidingWindowConfig, gaussian_importance, iter_patch_batches,
                              sliding_window, window_slices)
from engine.jobs import CancelToken


def test_windows_cover_every_voxel_and_end_flush():
    cfg = SlidingWindowConfig((16, 16, 16), overlap=0.5)
    shape = (40, 16, 33)
    covered = np.zeros(shape, dtype=int)
    slices = window_slices(shape, cfg)
    for sl in slices:
        covered[sl] += 1
        assert all(s.stop <= n for s, n in zip(sl, shape))
    assert covered.min() >= 1
    assert {sl[0].start for sl in slices} == {0, 8, 16, 24}
    assert max(sl[2].stop for sl in slices) == 33


def test_gaussian_importance():
    w = gaussian_importance((9, 8, 7), 0.125)
    assert w.dtype == np.float32 and w.shape == (9, 8, 7)
    assert w.max() == pytest.approx(np.exp(-0.25 / (2 * 1.0 ** 2)), abs=1e-6)  # even x side: no centre voxel
    assert w.min() >= 1e-3
    assert np.unravel_index(w.argmax(), w.shape)[0] == 4
    np.testing.assert_allclose(w, w[::-1, ::-1, ::-1], rtol=1e-6)


@pytest.mark.parametrize("shape", [(1, 30, 21, 40), (2, 10, 12, 5)])
def test_identity_function_reproduces_the_image(shape):
    rng = np.random.default_rng(0)
    image = rng.normal(size=shape).astype(np.float32)
    out = sliding_window(image, lambda x: x * 1.0, SlidingWindowConfig((16, 16, 16), 0.5, batch_size=3))
    assert out.dtype == np.float32 and out.shape == image.shape
    np.testing.assert_allclose(out, image, atol=1e-5)


def test_dict_outputs_and_patch_dependent_function_match_monai():
    monai_inferers = pytest.importorskip("monai.inferers")
    rng = np.random.default_rng(1)
    image = rng.random((1, 37, 29, 45), dtype=np.float32)

    def fn(x):
        return (x - x.mean(dim=(2, 3, 4), keepdim=True)) * 3.0

    cfg = SlidingWindowConfig((16, 16, 16), 0.5, 0.125, 2)
    ours = sliding_window(image, lambda x: {"a": fn(x), "b": torch.cat([fn(x), x], 1)}, cfg)
    with torch.inference_mode():
        ref = monai_inferers.sliding_window_inference(torch.from_numpy(image)[None], (16, 16, 16), 2, fn,
                                                      overlap=0.5, mode="gaussian")[0].numpy()
    np.testing.assert_allclose(ours["a"], ref, atol=1e-4)
    np.testing.assert_allclose(ours["b"][:1], ref, atol=1e-4)
    np.testing.assert_allclose(ours["b"][1], image[0], atol=1e-5)


def test_generic_patch_loop_for_custom_accumulation():
    """The trust layer's pattern: its own per-patch work, Gaussian-blended by the accumulator."""
    image = np.arange(20 * 20 * 20, dtype=np.float32).reshape(1, 20, 20, 20)
    cfg = SlidingWindowConfig((8, 8, 8), 0.5, batch_size=4)
    acc = PatchAccumulator(image.shape[1:], gaussian_importance(cfg.patch_size))
    batches = 0
    for slices, batch in iter_patch_batches(image, cfg):
        assert batch.shape[0] == len(slices) <= 4
        acc.add(slices, batch * 2)
        batches += 1
    assert batches == int(np.ceil(len(window_slices((20, 20, 20), cfg)) / 4))
    np.testing.assert_allclose(acc.result()[0], image[0] * 2, rtol=1e-5)


def test_gradients_flow_when_asked():
    image = np.ones((1, 8, 8, 8), dtype=np.float32)
    weight = torch.tensor(2.0, requires_grad=True)
    grads = []

    def fn(x):
        y = x * weight
        grads.append(torch.autograd.grad(y.sum(), weight)[0].item())
        return y

    out = sliding_window(image, fn, SlidingWindowConfig((8, 8, 8)), grad=True)
    assert grads == [512.0]
    np.testing.assert_allclose(out, 2.0)


def test_cancel_stops_the_loop():
    token = CancelToken()
    calls = []

    def fn(x):
        calls.append(1)
        if len(calls) == 2:
            token.cancel()
        return x

    with pytest.raises(Cancelled):
        sliding_window(np.zeros((1, 32, 32, 32), np.float32), fn, SlidingWindowConfig((8, 8, 8), batch_size=1),
                       cancel=token)
    assert len(calls) == 2
