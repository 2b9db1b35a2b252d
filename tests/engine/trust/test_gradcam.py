"""Grad-CAM on the sliding window: the leaf-hook shortcut equals textbook Grad-CAM; regions; ROI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.errors import InputError
from engine.inference.preprocess import normalize
from engine.trust import TrustOptions, model_grid_pass
from engine.trust.gradcam import GradCamConfig, available_layers, gradcam_patch_fn, gradcam_session


def _textbook_gradcam(net, batch, label, layer_name):
    """Grad-CAM the usual way: full autograd graph, parameters requiring grad, hooks keep A and dA."""
    store = {}
    layer = dict(net.named_modules())[layer_name]
    h1 = layer.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    net.eval()
    try:
        logits = net(batch)
        store["a"].retain_grad()
        region = logits.argmax(1, keepdim=True) == label
        (logits[:, label:label + 1] * region).sum().backward()
    finally:
        h1.remove()
        net.zero_grad(set_to_none=True)
    a, g = store["a"].detach(), store["a"].grad
    cam = torch.relu((g.mean(dim=(2, 3, 4), keepdim=True) * a).sum(1, keepdim=True))
    return F.interpolate(cam, size=batch.shape[2:], mode="trilinear", align_corners=False)


@pytest.mark.parametrize("layer", ["decoder.1.block", "encoder.2"])
def test_leaf_hook_gradcam_equals_textbook(tiny_model, layer):
    net = tiny_model.network
    batch = torch.randn(1, 1, 16, 16, 16)
    with torch.no_grad():
        label = int(net(batch).argmax(1).flatten().mode().values)
    expected = _textbook_gradcam(net, batch, label, layer)
    with gradcam_session(net), torch.enable_grad():
        out = gradcam_patch_fn(net, GradCamConfig((label,), layer))(batch)
    assert torch.allclose(out[f"cam{label}"], expected, atol=1e-5, rtol=1e-4)
    assert all(p.requires_grad for p in net.parameters())      # restored after the session
    assert torch.allclose(out["probs"].sum(1), torch.ones(1), atol=1e-5)


def test_layers_listed_and_unknown_layer_refused(tiny_model):
    names = available_layers(tiny_model.network)
    assert names[0].startswith("encoder") and names[-1] == tiny_model.network.default_gradcam_layer
    with pytest.raises(InputError):
        gradcam_patch_fn(tiny_model.network, GradCamConfig((1,), "no.such.layer"))


def test_absent_label_gives_zero_map_and_roi_limits_region(tiny_model, blob_volume):
    image, _ = normalize(blob_volume.array, tiny_model.manifest.normalization)
    g = model_grid_pass(image, blob_volume.geometry, tiny_model,
                        TrustOptions(mc_samples=1, use_ensemble=False, saliency_labels=(1, 2), device="cpu"))
    predicted = set(np.unique(g.probs.argmax(0)).tolist())
    for c in (1, 2):
        sal = g.saliency[c]
        assert sal.shape == image.shape and sal.min() >= 0 and sal.max() <= 1
        if c not in predicted:
            assert sal.max() == 0
    roi = np.zeros(image.shape, bool)
    roi[8:12, 8:12, 8:12] = True
    g2 = model_grid_pass(image, blob_volume.geometry, tiny_model,
                         TrustOptions(mc_samples=1, use_ensemble=False, saliency_labels=(1,), device="cpu"), roi=roi)
    assert g2.saliency[1].max() > 0          # an ROI always has a region, whatever the prediction
